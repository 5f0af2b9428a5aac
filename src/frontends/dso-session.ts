// DNS Stateful Operations on one connection (RFC 8490): what a DSO message
// from the client does. A Keepalive request establishes the session and
// agrees its timers (the server's inactivity timeout; the client's keepalive
// interval, raised to at least 10 s); a DNS Push SUBSCRIBE (RFC 8765) is handed
// to the session's push state; an operation ringdns does not implement gets
// DSOTYPENI; errors RFC 8490 calls fatal close the connection after their
// reply. Only over TLS: on plain TCP every DSO request gets DSOTYPENI.
// Pure: the transport sends the bytes and applies the outcome.
import { Rcode } from "../wire/constants.js";
import {
  decodeDso,
  DsoType,
  DSOTYPENI,
  encodeDso,
  keepaliveTlv,
  parseKeepalive,
  type DsoMessage,
  type Keepalive,
} from "../wire/dso.js";
import { WireError } from "../wire/name.js";
import type { Labels } from "../names.js";
import { parseReconfirm, parseSubscribe } from "./dns-push.js";
import type { DecodedData } from "../wire/decode.js";

export interface DsoPolicy {
  /** The inactivity timeout the server gives (RFC 8490 §6.2: 15 s by default), ms. */
  inactivityMs: number;
  /** A client asking for a shorter keepalive interval gets this (RFC 8490 §6.5: at least 10 s), ms. */
  minKeepaliveMs: number;
  /** The keepalive interval of a session a SUBSCRIBE established, before any Keepalive (RFC 8490 §6.2: 15 s), ms. */
  defaultKeepaliveMs: number;
}

/** The longest keepalive interval the server agrees to, ms. */
export const MAX_KEEPALIVE_MS = 3_600_000;

export const DEFAULT_DSO_POLICY: DsoPolicy = {
  inactivityMs: 15_000,
  minKeepaliveMs: 10_000,
  defaultKeepaliveMs: 15_000,
};

export type DsoOutcome =
  /** Send `reply`; with `session`, the session is established (or its timers changed) to these. */
  | { kind: "reply"; reply: Buffer; session?: Keepalive }
  /** Send `reply` when there is one, then close the connection. */
  | { kind: "close"; reason: string; reply?: Buffer }
  /** A unidirectional message taken in: nothing to send. */
  | { kind: "none" }
  /** DNS Push (RFC 8765): a SUBSCRIBE request, for the session to answer (its rcode) and then push. */
  | { kind: "subscribe"; id: number; question: { name: Labels; type: number; class: number } }
  /** DNS Push: UNSUBSCRIBE of the subscription made by request `subscribeId`. */
  | { kind: "unsubscribe"; subscribeId: number }
  /** DNS Push: RECONFIRM, the client doubts this record (RFC 8765 §6.5). */
  | { kind: "reconfirm"; record: { name: Labels; type: number; class: number; data: DecodedData } };

export interface DsoContext {
  /** The connection is DNS over TLS (where DSO is offered). */
  tls: boolean;
  policy?: DsoPolicy;
}

/** A DSO response: the request's ID, an rcode, TLVs when it has any. */
export const response = (id: number, rcode: number, tlvs: DsoMessage["tlvs"] = []) =>
  encodeDso({ id, response: true, rcode, tlvs });

/** What the DSO message `msg` (opcode 6) from the client does to its connection. */
export function answerDso(msg: Buffer, ctx: DsoContext): DsoOutcome {
  const policy = ctx.policy ?? DEFAULT_DSO_POLICY;
  const id = msg.length >= 2 ? msg.readUInt16BE(0) : 0;
  let m: DsoMessage;
  try {
    m = decodeDso(msg);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    // §5.4: a malformed request is answered FORMERR; then the connection cannot be trusted to be in step
    return { kind: "close", reason: e.message, ...(id !== 0 ? { reply: response(id, Rcode.FORMERR) } : {}) };
  }
  // we send no DSO requests, so a response from the client answers nothing (§5.4.1: abort)
  if (m.response) return { kind: "close", reason: "a DSO response with no request outstanding" };
  const primary = m.tlvs[0];
  if (m.id === 0) {
    // §5.4.2, §7.1.2: a Keepalive from the client must be a request; only the server pushes
    if (primary?.type === DsoType.KEEPALIVE)
      return { kind: "close", reason: "a unidirectional Keepalive from a client" };
    if (primary?.type === DsoType.PUSH) return { kind: "close", reason: "a PUSH from a client" };
    if (ctx.tls && primary?.type === DsoType.UNSUBSCRIBE) {
      if (primary.data.length !== 2) return { kind: "close", reason: "an UNSUBSCRIBE TLV is a message ID (2 bytes)" };
      return { kind: "unsubscribe", subscribeId: primary.data.readUInt16BE(0) };
    }
    if (ctx.tls && primary?.type === DsoType.RECONFIRM) {
      try {
        return { kind: "reconfirm", record: parseReconfirm(primary) };
      } catch (e) {
        // unidirectional: nothing to answer, and the session cannot be trusted to be in step (§5.4)
        return { kind: "close", reason: `malformed RECONFIRM: ${(e as Error).message}` };
      }
    }
    return { kind: "none" }; // unidirectional TLVs we do not know: nothing to do
  }
  if (!ctx.tls) return { kind: "reply", reply: response(m.id, DSOTYPENI) };
  if (!primary) return { kind: "close", reason: "a DSO request without a TLV", reply: response(m.id, Rcode.FORMERR) };
  switch (primary.type) {
    case DsoType.KEEPALIVE: {
      let asked: Keepalive;
      try {
        asked = parseKeepalive(primary);
      } catch (e) {
        return { kind: "close", reason: (e as Error).message, reply: response(m.id, Rcode.FORMERR) };
      }
      const session = {
        inactivityMs: policy.inactivityMs,
        // raised to the least the server accepts; at most an hour, so a client cannot keep a dead session for weeks
        keepaliveMs: Math.min(Math.max(asked.keepaliveMs, policy.minKeepaliveMs), MAX_KEEPALIVE_MS),
      };
      return { kind: "reply", reply: response(m.id, Rcode.NOERROR, [keepaliveTlv(session)]), session };
    }
    case DsoType.SUBSCRIBE:
      try {
        return { kind: "subscribe", id: m.id, question: parseSubscribe(primary) };
      } catch (e) {
        return { kind: "close", reason: (e as Error).message, reply: response(m.id, Rcode.FORMERR) };
      }
    case DsoType.RETRY_DELAY:
    case DsoType.ENCRYPTION_PADDING:
      // §7.2, §7.3: only the server sends Retry Delay; Padding is never primary
      return {
        kind: "close",
        reason: `TLV ${primary.type} cannot be a request's primary TLV`,
        reply: response(m.id, Rcode.FORMERR),
      };
    default:
      return { kind: "reply", reply: response(m.id, DSOTYPENI) };
  }
}
