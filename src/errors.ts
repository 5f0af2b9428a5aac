// Coded errors for faults a user can fix (bad files, flags, input). Messages
// name the file, entry and field; docs/errors.md lists the codes.
export type ErrorCode = "RINGDNS_E_BAD_SERVICES_FILE" | "RINGDNS_E_BAD_CONFIG" | "RINGDNS_E_LISTEN" | "RINGDNS_E_STORE";

export class RingdnsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RingdnsError";
  }
}

/** Run `parse`; what it throws becomes a RINGDNS_E_BAD_CONFIG error naming `setting`. */
export function parseSetting<T>(setting: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RingdnsError) throw e;
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${setting}: ${(e as Error).message}`);
  }
}
