// DNS UPDATE over UDP/TCP: decode, TSIG and policy checks, the pure update
// core, then a durable store commit before the reply is sent. Every refusal
// changes nothing and is logged; signed requests get signed replies.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { errorResponse } from "../answer/answer.js";
import type { Clock } from "../clock.js";
import { formatName, lowerAscii, type Labels } from "../names.js";
import { overLimit, type RegistrationLimits } from "../registry/limits.js";
import type { Registry, RegistryOp, RegistryView } from "../registry/registry.js";
import type { TokenBuckets } from "./token-buckets.js";
import { addressOf } from "./peer.js";
import type { UpdatePolicy } from "../update/policy.js";
import { processUpdate, type Actor } from "../update/update.js";
import { Opcode, Rcode, rcodeName } from "../wire/constants.js";
import { encodeResponse, ExtendedError, extendedErrorOption, type EdnsOption, type Response } from "../wire/message.js";
import type { TsigKey } from "../wire/tsig.js";
import { authenticate, signerName, type AuthOutcome } from "./auth-stage.js";
import { TsigReplayGuard } from "../update/tsig-replay.js";
import { decodeUpdate, leaseOption, type UpdateMessage } from "../wire/update.js";
import { answerSrp, type SrpOptions } from "./srp-handler.js";

export interface LeasePolicy {
  /** Shortest and longest lease granted, seconds. */
  min: number;
  max: number;
  /** Lease for updates without the Update Lease option; undefined = permanent. */
  default?: number;
}

export interface UpdateDeps {
  registry: Registry;
  clock: Clock;
  log: Logger;
  domains: readonly Labels[];
  keys: readonly TsigKey[];
  policy: UpdatePolicy;
  lease: LeasePolicy;
  limits?: UpdateLimits;
  /** Refuses replayed signed UPDATEs; without one, each UpdateDeps gets its own on the first signed update. */
  replay?: TsigReplayGuard;
  /** Keys (presentation form, as --admin-key names them) that may change any registration but the services file's. */
  adminKeys?: ReadonlySet<string>;
  /** SRP registrations (UPDATEs signed with SIG(0)); undefined = refused. */
  srp?: SrpOptions;
}

/** The registry's limits, and how often one source may update. */
export interface UpdateLimits extends RegistrationLimits {
  /** Updates a second from one source address (burst as many); undefined = unlimited. */
  updateRate?: TokenBuckets;
  /** Sources the update rate does not apply to. */
  updateRateExempt?: (address: string) => boolean;
}

const replayGuards = new WeakMap<UpdateDeps, TsigReplayGuard>();

function replayGuard(deps: UpdateDeps): TsigReplayGuard {
  if (deps.replay) return deps.replay;
  let g = replayGuards.get(deps);
  if (!g) replayGuards.set(deps, (g = new TsigReplayGuard()));
  return g;
}

/** An UPDATE reply (RFC 2136 §3.8): the zone section echoed, OPT when the request had one. */
function reply(u: Pick<UpdateMessage, "id" | "zone" | "edns">, rcode: number, options: EdnsOption[] = []): Response {
  return {
    ...errorResponse(u.id, Opcode.UPDATE, false, rcode),
    question: { name: u.zone.name, type: u.zone.type, class: u.zone.class },
    ...(u.edns ? { edns: { udpSize: 1232, version: 0, dnssecOk: false, options } } : {}),
  };
}

export function grantedLease(requested: number | undefined, p: LeasePolicy): number | undefined {
  if (requested === undefined) return p.default;
  return Math.min(Math.max(requested, p.min), p.max);
}

/**
 * Replies to recent signed UPDATEs whose MAC verified, by the request's exact
 * bytes and source address and port. A client whose reply was lost sends the
 * very same datagram again from the same socket (nsupdate over UDP, every
 * 3 s): it gets the first copy's reply, and the update is neither applied
 * twice nor refused as a replay of itself. Anything else that reuses a MAC
 * meets the replay guard. Unsigned updates are not remembered: the same bytes
 * again (a client with a fixed ID re-registering after a deregistration) are
 * a new update, as they always were.
 */
export class Retransmissions {
  private readonly replies = new Map<string, { reply: Promise<Buffer>; until: number }>();

  constructor(
    private readonly maxEntries = 1024,
    private readonly keepMs = 30_000,
  ) {}

  static key(msg: Buffer, peer: string): string {
    return `${peer}|${createHash("sha256").update(msg).digest("base64")}`;
  }

  get(key: string, now: number): Promise<Buffer> | undefined {
    const e = this.replies.get(key);
    return e && e.until > now ? e.reply : undefined;
  }

  remember(key: string, reply: Promise<Buffer>, now: number): void {
    // oldest first: what has run out goes, then the oldest while over the cap
    for (const [k, e] of this.replies) {
      if (e.until > now && this.replies.size < this.maxEntries) break;
      this.replies.delete(k);
    }
    this.replies.set(key, { reply, until: now + this.keepMs });
  }
}

const retransmissionCaches = new WeakMap<UpdateDeps, Retransmissions>();

export function handleUpdate(msg: Buffer, peer: string, deps: UpdateDeps): Promise<Buffer> {
  let cache = retransmissionCaches.get(deps);
  if (!cache) retransmissionCaches.set(deps, (cache = new Retransmissions()));
  const now = deps.clock.now();
  const key = Retransmissions.key(msg, peer);
  const earlier = cache.get(key, now);
  if (earlier) {
    deps.log.info({ peer }, "update retransmitted: the first copy's reply sent again, nothing applied twice");
    return earlier;
  }
  let verified = false;
  // the MAC (or SIG(0)) is checked before the first await, so `verified` is known when the promise is
  const reply = answerUpdate(msg, peer, deps, () => (verified = true));
  if (verified) cache.remember(key, reply, now);
  return reply;
}

async function answerUpdate(msg: Buffer, peer: string, deps: UpdateDeps, signedAndFresh: () => void): Promise<Buffer> {
  const { log } = deps;
  const now = deps.clock.now();
  const nowSec = Math.floor(now / 1000);
  const address = addressOf(peer);
  const decoded = decodeUpdate(msg);
  if (decoded.kind === "error") {
    log.info({ peer, rcode: rcodeName(decoded.rcode), reason: decoded.reason }, "update rejected: malformed");
    return encodeResponse(errorResponse(decoded.id, Opcode.UPDATE, false, decoded.rcode));
  }
  const u = decoded.update;
  if (u.sig0) return answerSrp(msg, u, peer, deps, signedAndFresh);
  const zone = formatName(u.zone.name);
  // FORMERR is a header only; NOTAUTH echoes the zone section
  const refusal = (rcode: number) =>
    encodeResponse(rcode === Rcode.FORMERR ? errorResponse(u.id, Opcode.UPDATE, false, rcode) : reply(u, rcode));
  const auth: AuthOutcome = authenticate(msg, u, {
    keys: deps.keys,
    nowSec,
    refusal,
    log,
    fields: { peer, zone },
    what: "update refused",
  });
  if (auth.kind === "refused") return auth.reply;
  // a reply is signed only over a request whose signature verified
  const send = (res: Response) => (auth.kind === "signed" ? auth.sign(encodeResponse(res)) : encodeResponse(res));
  const key: TsigKey | undefined = auth.kind === "signed" ? auth.signer.key : undefined;
  const refuse = (rcode: number, reason: string, fields: Record<string, unknown> = {}) => {
    log.warn(
      { peer, zone, key: key && formatName(key.name), rcode: rcodeName(rcode), reason, ...fields },
      "update refused",
    );
    return send(
      reply(u, rcode, [
        extendedErrorOption(rcode === Rcode.REFUSED ? ExtendedError.PROHIBITED : ExtendedError.OTHER, reason),
      ]),
    );
  };

  if (auth.kind === "signed") {
    const request = auth.signer.request;
    // checked and remembered before anything awaits, so two copies racing in cannot both pass; by the
    // configured key's name: the MAC covers the name lower-cased, so "FORGE-KEY" is the same key
    const fresh = replayGuard(deps).admit(signerName(auth.signer), request.timeSigned, request.identity, nowSec);
    if (!fresh.ok) {
      log.warn(
        { peer, zone, key: signerName(auth.signer), tsig: "BADTIME", rule: fresh.rule, reason: fresh.reason },
        "update refused: replayed or stale signed update",
      );
      return auth.sign(encodeResponse(reply(u, Rcode.NOTAUTH)), true);
    }
    signedAndFresh();
    if (!deps.policy.allowsKey(auth.signer.key, u.zone.name))
      return refuse(Rcode.REFUSED, `key ${signerName(auth.signer)} may not update zone ${zone}`);
  } else if (!deps.policy.allowsUnsigned(address)) {
    return refuse(
      Rcode.REFUSED,
      `unsigned updates are not allowed from ${address}; sign with a TSIG key or see --allow-update`,
    );
  }

  const lease = grantedLease(u.lease?.lease, deps.lease);
  const result = await commitUpdate(u, lease, deps, { peer, key: key && formatName(key.name) });
  if ("stored" in result)
    return send(
      reply(u, Rcode.SERVFAIL, [extendedErrorOption(ExtendedError.OTHER, "the registration could not be stored")]),
    );
  if (result.rcode !== Rcode.NOERROR) return refuse(result.rcode, result.reason);
  return send(
    reply(
      u,
      Rcode.NOERROR,
      u.lease && lease !== undefined
        ? [leaseOption(lease, u.lease.keyLease === undefined ? undefined : Math.max(lease, u.lease.keyLease))]
        : [],
    ),
  );
}

/**
 * Who an authorized update comes from: a TSIG key (limited by --key-zone,
 * everything by --admin-key), the HTTP API (its bearer token is the
 * operator's: it may change any registration), or an unsigned sender.
 */
function actorOf(who: Record<string, unknown>, deps: UpdateDeps): Actor {
  if (typeof who.key === "string") {
    const zones = deps.policy.zonesOf(who.key);
    return {
      owner: { kind: "key", name: who.key },
      ...(deps.adminKeys?.has(lowerAscii(who.key)) ? { admin: true } : {}),
      ...(zones ? { zones } : {}),
    };
  }
  if (who.via === "http") return { owner: { kind: "http" }, admin: true };
  return { owner: { kind: "unsigned" } };
}

export type CommitResult =
  | { rcode: number; reason: string; stored?: false; limit?: string }
  | { rcode: typeof Rcode.NOERROR; reason: ""; registered: string[]; removed: string[] };

/**
 * An authorized UPDATE from any frontend (DNS or HTTP): the pure RFC 2136
 * core, then a durable commit, and one log line. `stored: false` = the store
 * failed (SERVFAIL); another rcode = refused, nothing changed.
 */
export async function commitUpdate(
  u: UpdateMessage,
  lease: number | undefined,
  deps: UpdateDeps,
  who: { peer: string } & Record<string, unknown>,
): Promise<CommitResult> {
  const zone = formatName(u.zone.name);
  const limits = deps.limits;
  const refuse = (limit: string, reason: string): CommitResult => {
    limits?.hit?.(limit);
    return { rcode: Rcode.REFUSED, reason, limit };
  };
  const source = addressOf(who.peer);
  if (
    limits?.updateRate &&
    !limits.updateRateExempt?.(source) &&
    limits.updateRate.take(source, deps.clock.now()) !== true
  )
    return refuse("update-rate", `too many updates from ${source}; try again shortly (--update-rate)`);
  const actor = actorOf(who, deps);
  // decided and stored in the registry's write line: nothing changes between the checks and the commit
  const decide = (view: RegistryView): { ops: readonly RegistryOp[]; result: CommitResult } => {
    const processed = processUpdate(
      u,
      view,
      { domains: deps.domains, actor, ...(lease !== undefined ? { leaseSeconds: lease } : {}) },
      deps.clock.now(),
    );
    if (processed.rcode !== Rcode.NOERROR)
      return { ops: [], result: { rcode: processed.rcode, reason: processed.reason ?? rcodeName(processed.rcode) } };
    const ops = processed.ops;
    const over = limits && overLimit(ops, view, limits);
    if (over) return { ops: [], result: refuse(...over) };
    return {
      ops,
      result: { rcode: Rcode.NOERROR, reason: "", registered: processed.registered, removed: processed.removed },
    };
  };
  let result: CommitResult;
  try {
    result = await deps.registry.transact(decide);
  } catch (err) {
    deps.log.error({ err, ...who, zone }, "update not stored: SERVFAIL");
    return { rcode: Rcode.SERVFAIL, reason: "the registration could not be stored", stored: false };
  }
  if (result.rcode !== Rcode.NOERROR || !("registered" in result)) return result;
  deps.log.info({ ...who, zone, registered: result.registered, removed: result.removed, lease }, "update applied");
  return result;
}
