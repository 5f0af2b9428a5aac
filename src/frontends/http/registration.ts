// Register and deregister over HTTP with exactly the validation, store and
// acknowledgement of DNS UPDATE: the request becomes the UPDATE a client
// would send (the same one our client library builds), goes through the wire
// decoder and the RFC 2136 core, and is answered once it is durable.
import { deregistrationUpdate, registrationUpdate, type ServiceInstance } from "../../update/registration-ops.js";
import { RingdnsError } from "../../errors.js";
import { parseServiceType, type Labels } from "../../names.js";
import { domainKey } from "../../registry/registry.js";
import type { Instance } from "../../registry/types.js";
import { Rcode, rcodeName } from "../../wire/constants.js";
import { decodeUpdate, encodeUpdate, type UpdateOp } from "../../wire/update.js";
import { commitUpdate, grantedLease, type UpdateDeps } from "../update-handler.js";

/** The HTTP status, and the rcode a DNS UPDATE would have got (for metrics; none when the request never got that far). */
export type HttpOutcome = { status: number; rcode?: number; error?: string; lease?: number | null };

const FIELDS: Record<string, "string" | "number" | "strings" | "txt"> = {
  instance: "string",
  host: "string",
  port: "number",
  addresses: "strings",
  subtypes: "strings",
  txt: "txt",
  priority: "number",
  weight: "number",
  lease: "number",
};

/** The JSON body's problem, in words, or undefined when it has the shape of a registration. */
export function registrationProblem(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "the body must be a JSON object";
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!(k in FIELDS)) return `unknown field "${k}" (fields: ${Object.keys(FIELDS).join(", ")})`;
  for (const k of ["instance", "host", "port"]) if (b[k] === undefined) return `"${k}" is required`;
  for (const [k, kind] of Object.entries(FIELDS)) {
    const v = b[k];
    if (v === undefined) continue;
    const ok =
      kind === "string"
        ? typeof v === "string"
        : kind === "number"
          ? Number.isInteger(v)
          : kind === "strings"
            ? Array.isArray(v) && v.every((x) => typeof x === "string")
            : isTxt(v);
    if (!ok)
      return `"${k}" must be ${{ string: "a string", number: "an integer", strings: "a list of strings", txt: 'an object of "key": value, or a list of strings' }[kind]}`;
  }
  return undefined;
}

function isTxt(v: unknown): boolean {
  if (Array.isArray(v)) return v.every((x) => typeof x === "string");
  return (
    typeof v === "object" &&
    v !== null &&
    Object.values(v).every((x) => typeof x === "string" || typeof x === "number" || x === true)
  );
}

async function commit(
  zone: Labels,
  ops: UpdateOp[],
  lease: number | undefined,
  deps: UpdateDeps & { settled?: () => Promise<void> },
  peer: string,
): Promise<HttpOutcome> {
  let wire: Buffer;
  try {
    wire = encodeUpdate({ id: 0, zone, updates: ops });
  } catch (e) {
    return { status: 400, error: (e as Error).message }; // a name or record the wire cannot carry
  }
  const decoded = decodeUpdate(wire);
  if (decoded.kind === "error") return { status: 400, error: decoded.reason };
  const r = await commitUpdate(decoded.update, lease, deps, { peer, via: "http" });
  if ("stored" in r) return { status: 503, rcode: r.rcode, error: r.reason };
  if (r.rcode !== Rcode.NOERROR) {
    const status = "limit" in r && r.limit === "update-rate" ? 429 : r.rcode === Rcode.REFUSED ? 409 : 422;
    return { status, rcode: r.rcode, error: `${rcodeName(r.rcode)}: ${r.reason}` };
  }
  await deps.settled?.();
  return { status: 200, rcode: r.rcode, lease: lease ?? null };
}

/** `zone`: the served domain to register in (default the first, local.). */
export async function registerOverHttp(
  type: string,
  body: unknown,
  deps: UpdateDeps & { settled?: () => Promise<void> },
  peer: string,
  zone: Labels = deps.domains[0]!,
): Promise<HttpOutcome> {
  const problem = registrationProblem(body);
  if (problem) return { status: 400, error: problem };
  const { lease: requested, ...fields } = body as ServiceInstance & { lease?: number };
  let ops: UpdateOp[];
  try {
    ops = registrationUpdate({ ...fields, type }, zone);
  } catch (e) {
    if (e instanceof RingdnsError || e instanceof Error) return { status: 400, error: e.message };
    throw e;
  }
  return commit(zone, ops, grantedLease(requested, deps.lease), deps, peer);
}

/** The served domain an instance was registered in (the first domain, local., for one served everywhere or not found); `within`: looked up there. */
function zoneOf(type: string, instance: string, deps: UpdateDeps, within?: string): Labels {
  let found: Instance | undefined;
  try {
    found = deps.registry.instance(parseServiceType(type), instance, within);
  } catch {
    return deps.domains[0]!; // a bad type: deregistrationUpdate says what is wrong with it
  }
  return (found?.domain !== undefined && deps.domains.find((d) => domainKey(d) === found.domain)) || deps.domains[0]!;
}

/** `domain`: the served domain (presentation form) whose instance goes; default the one it is found in, local. first. */
export async function deregisterOverHttp(
  type: string,
  instance: string,
  deps: UpdateDeps & { settled?: () => Promise<void> },
  peer: string,
  domain?: string,
): Promise<HttpOutcome> {
  const zone = zoneOf(type, instance, deps, domain);
  let ops: UpdateOp[];
  try {
    ops = deregistrationUpdate(type, instance, zone);
  } catch (e) {
    return { status: 400, error: (e as Error).message };
  }
  return commit(zone, ops, undefined, deps, peer);
}
