// SRP registrations (RFC 9665): UPDATEs signed with SIG(0) by a key the
// device made itself. Checks run cheapest first, so a stranger's packet costs
// no cryptography: the source (--srp-from), the structure (update/srp.ts),
// the signature-check budget per source, one signature check, then the
// registry (first come, first served) and a durable commit before the reply.
// Only NOERROR, SERVFAIL, REFUSED and YXDOMAIN come back (§3.3.5).
import { errorResponse } from "../answer/answer.js";
import { formatName } from "../names.js";
import { overLimit } from "../registry/limits.js";
import type { RegistryOp, RegistryView } from "../registry/registry.js";
import { grantSrpLeases, parseSrpUpdate, planSrp, type SrpLeasePolicy } from "../update/srp.js";
import { Opcode, Rcode, rcodeName } from "../wire/constants.js";
import { encodeResponse, ExtendedError, extendedErrorOption, type EdnsOption } from "../wire/message.js";
import { canonicalSignature, keyId, keyTag, encodeKeyRdata, SIG0_CLOCK_SKEW, verifySig0 } from "../wire/sig0.js";
import { leaseOption, type UpdateMessage } from "../wire/update.js";
import { addressOf } from "./peer.js";
import type { TokenBuckets } from "./token-buckets.js";
import type { UpdateDeps } from "./update-handler.js";

export interface SrpOptions {
  /** Sources that may register by SRP (--srp-from). */
  from: (address: string) => boolean;
  /** Signature checks a second per source (--srp-verify-rate); undefined = unlimited. */
  verifyRate?: TokenBuckets;
  /**
   * Signature checks a second from all sources together: a source address is cheap (an on-link IPv6 /64;
   * UDP sources inside --srp-from can be forged, and the check comes before any reply), so a per-source budget
   * alone does not bound the CPU. undefined = unlimited.
   */
  verifyRateTotal?: TokenBuckets;
  lease: SrpLeasePolicy;
  /** Signatures seen lately: the same signed update again is a replay (a retransmission gets the first reply earlier). */
  seen?: SeenSignatures;
  /** Told of each refusal, by kind (the metrics count them). */
  refused?: (why: SrpRefusal) => void;
}

/** Why an SRP update was refused, as the metrics label it. */
export type SrpRefusal =
  | "off"
  | "source"
  | "structure"
  | "rate"
  | "signature"
  | "replay"
  | "name-taken"
  | "limit"
  | "store";

/**
 * Signatures of SRP updates accepted lately. A SIG(0) from a device without a
 * clock (inception = expiration = 0) is valid forever: one captured on the LAN
 * could be sent again later to undo a change made since. Within the window it
 * is refused; a signature with a clock is remembered until it expires (and the
 * clock skew allowed after), however long after the window that is, up to a
 * day. Bounded, the oldest forgotten first.
 */
export class SeenSignatures {
  /** Signature -> until when it is refused (ms). */
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs = 600_000,
    private readonly max = 65_536,
    private readonly longestMs = 86_400_000,
  ) {}

  /** True when `signature` is new (and now remembered, until `validUntil` when that is later than the window). */
  admit(signature: Buffer, now: number, validUntil = now): boolean {
    const k = signature.toString("base64");
    const until = this.seen.get(k);
    if (until !== undefined && now < until) return false;
    for (const [old, t] of this.seen) {
      if (now < t && this.seen.size < this.max) break;
      this.seen.delete(old);
    }
    this.seen.delete(k);
    this.seen.set(k, Math.min(Math.max(now + this.windowMs, validUntil), now + this.longestMs));
    return true;
  }
}

const seenByDeps = new WeakMap<SrpOptions, SeenSignatures>();

/** The reply: header and one OPT, with the granted leases on success (RFC 9665 §5.1) and the reason otherwise. */
function srpReply(id: number, rcode: number, options: EdnsOption[]): Buffer {
  return encodeResponse({
    ...errorResponse(id, Opcode.UPDATE, false, rcode),
    edns: { udpSize: 1232, version: 0, dnssecOk: false, options },
  });
}

/** `signedAndFresh` is called, before anything awaits, once the signature has verified and is new. */
export async function answerSrp(
  msg: Buffer,
  u: UpdateMessage,
  peer: string,
  deps: UpdateDeps,
  signedAndFresh: () => void,
): Promise<Buffer> {
  const { log } = deps;
  const srpOptions = deps.srp;
  const address = addressOf(peer);
  const refuse = (why: SrpRefusal, rcode: number, reason: string, fields: Record<string, unknown> = {}) => {
    srpOptions?.refused?.(why);
    log.warn({ peer, rcode: rcodeName(rcode), reason, ...fields }, "srp update refused");
    return srpReply(u.id, rcode, [
      extendedErrorOption(rcode === Rcode.REFUSED ? ExtendedError.PROHIBITED : ExtendedError.OTHER, reason),
    ]);
  };
  if (!srpOptions) return refuse("off", Rcode.REFUSED, "SRP registration is off (--srp-from none)");
  if (!srpOptions.from(address))
    return refuse("source", Rcode.REFUSED, `SRP registrations are not accepted from ${address} (--srp-from)`);
  if (u.tsig) return refuse("structure", Rcode.REFUSED, "signed with both TSIG and SIG(0)");
  const parsed = parseSrpUpdate(u, deps.domains);
  if (!parsed.ok) return refuse("structure", Rcode.REFUSED, parsed.reason);
  const srp = parsed.srp;
  // for the log lines, written for refusals and at info level: not worked out for every update
  const host = () => formatName([srp.host, ...srp.zone]);
  const tag = () => keyTag(encodeKeyRdata(srp.key));
  const now = deps.clock.now();
  if (
    (srpOptions.verifyRate && srpOptions.verifyRate.take(address, now) !== true) ||
    (srpOptions.verifyRateTotal && srpOptions.verifyRateTotal.take("", now) !== true)
  )
    return refuse(
      "rate",
      Rcode.REFUSED,
      `too many SRP updates from ${address}; try again shortly (--srp-verify-rate)`,
      { host: host() },
    );
  const nowSec = Math.floor(now / 1000);
  const checked = verifySig0(msg, u.sig0!, srp.key, nowSec);
  if (!checked.ok) return refuse("signature", Rcode.REFUSED, checked.reason, { host: host(), keyTag: tag() });
  let seen = srpOptions.seen ?? seenByDeps.get(srpOptions);
  if (!seen) seenByDeps.set(srpOptions, (seen = new SeenSignatures()));
  const sig = u.sig0!;
  // a signature with a clock is valid until its expiration and the skew allowed after it (serial arithmetic)
  const validFor = sig.inception === 0 && sig.expiration === 0 ? 0 : (sig.expiration + SIG0_CLOCK_SKEW - nowSec) | 0;
  if (!seen.admit(canonicalSignature(sig), now, now + Math.max(0, validFor) * 1000))
    return refuse("replay", Rcode.REFUSED, "this signed update was already applied (a replay)", {
      host: host(),
      keyTag: tag(),
    });
  signedAndFresh(); // a retransmission of these bytes from this peer gets this reply, not a replay refusal

  const grant = grantSrpLeases(srp, srpOptions.lease);
  type Outcome = { rcode: number; reason: string; why?: SrpRefusal; registered?: string[]; removed?: string[] };
  const decide = (view: RegistryView): { ops: readonly RegistryOp[]; result: Outcome } => {
    const plan = planSrp(srp, view, grant, deps.clock.now());
    if (!plan.ok) {
      const why = plan.rcode === Rcode.YXDOMAIN ? "name-taken" : "structure";
      return { ops: [], result: { rcode: plan.rcode, reason: plan.reason, why } };
    }
    // names held after their registrations end are bounded too: twice --max-registrations in all
    const newClaims = plan.ops.filter((o) => o.op === "put-claim" && !view.claim(o.claim.record)).length;
    const maxClaims = 2 * (deps.limits?.maxRegistrations ?? Number.POSITIVE_INFINITY);
    if (newClaims > 0 && view.claimTotal() + newClaims > maxClaims) {
      deps.limits?.hit?.("srp-claims");
      const reason = `too many names held by SRP keys (${view.claimTotal()}; at most twice --max-registrations)`;
      return { ops: [], result: { rcode: Rcode.REFUSED, reason, why: "limit" } };
    }
    // and per key, as a TSIG key's registrations are: a LEASE 0 update visits and rewrites every name its key holds
    const id = keyId(srp.key);
    const newForKey = plan.ops.filter((o) => o.op === "put-claim" && view.claim(o.claim.record)?.key !== id).length;
    const maxPerKey = deps.limits?.maxPerKey ?? Number.POSITIVE_INFINITY;
    if (newForKey > 0 && view.claimsOf(id).length + newForKey > maxPerKey) {
      deps.limits?.hit?.("srp-claims-per-key");
      const reason = `this key holds ${view.claimsOf(id).length} names; at most --max-registrations-per-key`;
      return { ops: [], result: { rcode: Rcode.REFUSED, reason, why: "limit" } };
    }
    const over = deps.limits && overLimit(plan.ops, view, deps.limits);
    if (over) {
      deps.limits?.hit?.(over[0]);
      return { ops: [], result: { rcode: Rcode.REFUSED, reason: over[1], why: "limit" } };
    }
    return {
      ops: plan.ops,
      result: { rcode: Rcode.NOERROR, reason: "", registered: plan.registered, removed: plan.removed },
    };
  };
  let result: Outcome;
  try {
    result = await deps.registry.transact(decide);
  } catch (err) {
    srpOptions.refused?.("store");
    log.error({ err, peer, host: host() }, "srp update not stored: SERVFAIL");
    return srpReply(u.id, Rcode.SERVFAIL, [
      extendedErrorOption(ExtendedError.OTHER, "the registration could not be stored"),
    ]);
  }
  if (result.rcode !== Rcode.NOERROR)
    return refuse(result.why ?? "structure", result.rcode, result.reason, {
      host: host(),
      keyTag: tag(),
    });
  if (log.isLevelEnabled("info"))
    log.info(
      { peer, host: host(), keyTag: tag(), registered: result.registered, removed: result.removed, ...grant },
      grant.lease === 0 ? "srp host removed" : "srp update applied",
    );
  // the granted leases in the form asked for: 4 bytes (LEASE) or 8 (and KEY-LEASE), RFC 9664 §4.3; none when not asked
  return srpReply(
    u.id,
    Rcode.NOERROR,
    srp.lease === undefined ? [] : [leaseOption(grant.lease, srp.keyLease === undefined ? undefined : grant.keyLease)],
  );
}
