// The one TSIG stage in front of queries and UPDATEs (RFC 8945 §5.2-5.3):
// a signed message is verified here and its refusals are made here, so the
// rule "nothing is signed over a MAC that did not verify" lives in one place.
import type { Logger } from "pino";
import { formatName } from "../names.js";
import { Rcode } from "../wire/constants.js";
import { signReply, TsigError, unsignedErrorReply, verifyRequest, type TsigKey, type TsigRecord, type VerifiedRequest } from "../wire/tsig.js";

export type TsigOutcome = { kind: "verified"; request: VerifiedRequest } | { kind: "refused"; reply: Buffer };

export const tsigErrorName = (code: number): string => Object.entries(TsigError).find(([, c]) => c === code)?.[0] ?? String(code);

/**
 * Verify `msg`'s TSIG. Refused: the reply to send, made from `refusal(rcode)`
 * (the message's unsigned reply with that rcode): FORMERR with no TSIG record
 * for a malformed one (§5.2.2.1: nothing is computed over what the client
 * sent), NOTAUTH with an unsigned BADKEY/BADSIG, or NOTAUTH with a signed
 * BADTIME (its MAC verified). Each refusal is logged once, with `fields` and
 * the key's name, as `what` ("signed query refused").
 */
export function checkTsig(msg: Buffer, tsig: TsigRecord, keys: readonly TsigKey[], nowSec: number, refusal: (rcode: number) => Buffer, log: Logger, fields: Record<string, unknown>, what: string): TsigOutcome {
  const v = verifyRequest(msg, tsig, keys, nowSec);
  if (v.kind === "verified") return v;
  const at = { ...fields, key: formatName(tsig.keyName), reason: v.reason };
  switch (v.kind) {
    case "malformed":
      log.warn({ ...at, tsig: "FORMERR" }, `${what}: malformed TSIG`);
      return { kind: "refused", reply: refusal(Rcode.FORMERR) };
    case "refused":
      log.warn({ ...at, tsig: tsigErrorName(v.error) }, `${what}: TSIG check failed`);
      return { kind: "refused", reply: unsignedErrorReply(refusal(Rcode.NOTAUTH), tsig, v.error) };
    case "badtime":
      log.warn({ ...at, tsig: "BADTIME" }, `${what}: TSIG check failed`);
      return { kind: "refused", reply: signReply(refusal(Rcode.NOTAUTH), v.request, nowSec, TsigError.BADTIME) };
  }
}
