// The one message-authentication stage in front of queries and UPDATEs:
// verify a message's signature, turn a failure into the reply its rcode asks
// for, and sign the reply with the verified request. The rule "nothing is
// signed over a signature that did not verify" lives here only. TSIG (RFC
// 8945 §5.2-5.3) today; SIG(0) (RFC 2931) is one more kind of signature and
// of signer here, not a third copy in the handlers.
import type { Logger } from "pino";
import { formatName } from "../names.js";
import { Rcode } from "../wire/constants.js";
import {
  signReply,
  TsigError,
  tsigLength,
  unsignedErrorReply,
  verifyRequest,
  type TsigKey,
  type TsigRecord,
  type VerifiedRequest,
} from "../wire/tsig.js";

/** Who signed a message whose signature verified. */
export type Signer = { kind: "tsig"; key: TsigKey; request: VerifiedRequest };

/** The signatures a decoded message may carry. */
export interface Signed {
  tsig?: TsigRecord;
}

export type AuthOutcome =
  | { kind: "unsigned" }
  | {
      kind: "signed";
      signer: Signer;
      /** Bytes the reply's signature will add (to keep within a size limit). */
      overhead: number;
      /** The reply, signed for this request; `badTime` for a refusal of a stale or replayed request whose signature verified. */
      sign(reply: Buffer, badTime?: boolean): Buffer;
    }
  | { kind: "refused"; reply: Buffer };

const tsigErrorName = (code: number): string =>
  Object.entries(TsigError).find(([, c]) => c === code)?.[0] ?? String(code);

export interface AuthContext {
  keys: readonly TsigKey[];
  nowSec: number;
  /** The message's unsigned reply with this rcode (FORMERR: a header only). */
  refusal: (rcode: number) => Buffer;
  log: Logger;
  /** Logged with each refusal, and the line's message ("signed query refused"). */
  fields: Record<string, unknown>;
  what: string;
}

/**
 * Authenticate `msg` (whose decoded signatures are `signed`). Refused: the
 * reply to send, FORMERR with no signature for a malformed one (§5.2.2.1:
 * nothing is computed over what the client sent), NOTAUTH with an unsigned
 * BADKEY/BADSIG, or NOTAUTH with a signed BADTIME (its MAC verified). Each
 * refusal is logged once, with the key's name.
 */
export function authenticate(msg: Buffer, signed: Signed, c: AuthContext): AuthOutcome {
  const tsig = signed.tsig;
  if (!tsig) return { kind: "unsigned" };
  const v = verifyRequest(msg, tsig, c.keys, c.nowSec);
  const at = { ...c.fields, key: formatName(tsig.keyName) };
  switch (v.kind) {
    case "verified": {
      const request = v.request;
      return {
        kind: "signed",
        signer: { kind: "tsig", key: request.key, request },
        overhead: tsigLength(request),
        sign: (reply, badTime = false) =>
          signReply(reply, request, c.nowSec, badTime ? TsigError.BADTIME : TsigError.NOERROR),
      };
    }
    case "malformed":
      c.log.warn({ ...at, reason: v.reason, tsig: "FORMERR" }, `${c.what}: malformed TSIG`);
      return { kind: "refused", reply: c.refusal(Rcode.FORMERR) };
    case "refused":
      c.log.warn({ ...at, reason: v.reason, tsig: tsigErrorName(v.error) }, `${c.what}: TSIG check failed`);
      return { kind: "refused", reply: unsignedErrorReply(c.refusal(Rcode.NOTAUTH), tsig, v.error) };
    case "badtime":
      c.log.warn({ ...at, reason: v.reason, tsig: "BADTIME" }, `${c.what}: TSIG check failed`);
      return { kind: "refused", reply: signReply(c.refusal(Rcode.NOTAUTH), v.request, c.nowSec, TsigError.BADTIME) };
  }
}

/** A signer's name as logs and ownership use it (a TSIG key's name, presentation form). */
export function signerName(s: Signer): string {
  return formatName(s.key.name);
}
