// Bytes in, bytes out: the glue every DNS transport shares. Decodes with the
// accept policy, asks the core, encodes within the transport's size limit.
// A thrown error here is a bug: it becomes SERVFAIL and a log line, never a crash.
import type { Logger } from "pino";
import { answerQuery, errorResponse, replyEdns, type AnswerOptions } from "../answer/answer.js";
import type { Clock } from "../clock.js";
import type { Registry } from "../registry/registry.js";
import { CLASSIC_UDP_SIZE, Class, Opcode, Rcode, rcodeName, Type, typeName } from "../wire/constants.js";
import { encodeResponse, type Edns } from "../wire/message.js";
import { decodeQuery, questionType } from "../wire/query.js";
import type { QueryMetrics } from "../metrics.js";
import { performance } from "node:perf_hooks";
import { formatName, hasSuffix, LOCAL, lowerAscii, parseQueryName, type Labels } from "../names.js";
import type { DecodedData } from "../wire/decode.js";
import { authenticate } from "./auth-stage.js";
import { handleUpdate, type UpdateDeps } from "./update-handler.js";
import { AnswerCache } from "./answer-cache.js";
import { typeVersionsOf } from "../answer/type-versions.js";
import type { ResponseRateLimiter } from "./rrl.js";
import { addressOf } from "./peer.js";
import { COOKIE_OPTION, COOKIE_REPLY_BYTES, readCookie, type CookieJar } from "./cookies.js";
import type { TransferDeps } from "./xfr.js";
import { appendEdnsOption, isTruncated, isUpdateRequest, messageId, replyRcode } from "../wire/patch.js";

export type Transport = "udp" | "tcp";

/** What the handler tells the transport about the reply it made, beside its bytes. */
export interface ReplyNotes {
  /** The client returned a server cookie we made for its address (RFC 7873): it is no spoofed source, so rate limits let it through. */
  sourceProven?: boolean;
}

export interface DnsHandlerDeps {
  /** DNS UPDATE processing; without it UPDATE gets NOTIMP. */
  update?: UpdateDeps;
  registry: Registry;
  answer: AnswerOptions;
  clock: Clock;
  log: Logger;
  /** Largest UDP reply we send, whatever the client offers. */
  maxUdpPayload: number;
  /** Encoded replies reused for up to a second while the registry does not change. */
  cache?: AnswerCache;
  /** "key=value" lines for `status.ringdns. CH TXT` (like BIND's version.bind); `detailed` adds where the store is. */
  status?: (detailed: boolean) => string[];
  /** Sources told the store's location and node name in status (anyone else gets the health verdict only). */
  statusDetailsTo?: (address: string) => boolean;
  /**
   * A query worker answers plain IN-class queries from its replica and hands
   * everything else (UPDATE, signed messages, CHAOS) to the process that
   * holds the store and the keys.
   */
  delegate?: (msg: Buffer, transport: Transport, peer: string) => Promise<Buffer | null>;
  /** Resolves once every process answering queries has seen the registry as it is now; an UPDATE is acknowledged after it. */
  settled?: () => Promise<void>;
  metrics?: QueryMetrics;
  /** Fraction of answered queries logged, one line each (0 = none, 1 = all). */
  queryLogRate?: number;
  /** DNS Cookies (RFC 7873); undefined = the option is ignored. */
  cookies?: CookieJar;
  /** UDP response-rate limiting (see rrl.ts); undefined or rate 0 = off. */
  rrl?: ResponseRateLimiter;
  /**
   * Discovery proxy (RFC 8766): a query for a `.local` type, subtype,
   * instance or host that nothing answers is held while the LAN is asked,
   * and answered once the answer is learned or the wait is over. A
   * LocalMissHandOff: a query worker hands such a query to the primary, which
   * holds it (a bounded number at once).
   */
  localProxy?: LocalProxy | LocalMissHandOff;
  /** Zone transfers (AXFR, IXFR) over TCP; without it they are REFUSED (answer.ts). */
  transfer?: TransferDeps;
  /** Shutting down: new messages are dropped; updates under way are tracked so shutdown can wait for them. */
  lifecycle?: { draining: boolean; inflight: Set<Promise<unknown>> };
}

/** The discovery proxy (RFC 8766) as the DNS frontends use it; mDNS (frontends/mdns) provides it. */
export interface LocalProxy {
  /** Ask the LAN about `name` `type`; resolves once `found()` holds or the wait ends; undefined = answer now. */
  hold(name: Labels, type: number, found: () => boolean): Promise<void> | undefined;
  /** A DNS Push subscription to a `.local` name: the LAN is asked about it until the release is called. */
  follow(name: Labels, type: number, source: string): (() => void) | undefined;
  /** A DNS Push client doubts a learned record (RECONFIRM): the LAN is asked, and it goes unless heard again. */
  reconfirm(name: Labels, type: number, data: DecodedData): void;
}

/**
 * A query worker's hand-off of local misses to the primary: at most `max` at
 * once, so a flood of them (UDP, from anyone) cannot pile up in the worker or
 * the primary; beyond, the worker answers at once from what it knows.
 */
export class LocalMissHandOff {
  inFlight = 0;
  constructor(readonly max = 64) {}
}

/** The discovery proxy itself, where this process holds queries (not a worker's hand-off). */
export function lanProxy(deps: Pick<DnsHandlerDeps, "localProxy">): LocalProxy | undefined {
  return deps.localProxy instanceof LocalMissHandOff ? undefined : deps.localProxy;
}

const PROXIED_KINDS = new Set(["type", "subtype", "instance", "host"]);

/** A `.local` name the discovery proxy may ask the LAN about (not the apex, the type list or a `_hash` name). */
function proxiedName(name: Labels): boolean {
  if (!hasSuffix(name, LOCAL)) return false;
  const kind = parseQueryName(name, [LOCAL])?.kind;
  return kind !== undefined && PROXIED_KINDS.has(kind);
}

/** CHAOS-class names the daemon answers about itself. */
function statusQuery(q: { name: readonly string[]; type: number; class: number }): "status" | "version" | undefined {
  if (q.class !== Class.CH || (q.type !== Type.TXT && q.type !== Type.ANY) || q.name.length !== 2) return undefined;
  const [a, b] = q.name.map(lowerAscii);
  if (a === "status" && b === "ringdns") return "status";
  if (a === "version" && (b === "ringdns" || b === "bind")) return "version";
  return undefined;
}

/** The UDP size limit for a reply: 512 without EDNS, else the client's size within [512, server max]. */
export function udpLimit(edns: Edns | undefined, serverMax: number): number {
  if (!edns) return CLASSIC_UDP_SIZE;
  return Math.max(CLASSIC_UDP_SIZE, Math.min(edns.udpSize, serverMax));
}

/** The reply to send, or null to send nothing; UPDATEs are answered once durable, so later. */
export function handleDnsMessage(
  msg: Buffer,
  transport: Transport,
  peer: string,
  deps: DnsHandlerDeps,
  notes?: ReplyNotes,
): Buffer | null | Promise<Buffer | null> {
  const { metrics, queryLogRate = 0, lifecycle } = deps;
  if (lifecycle?.draining) return null; // the client retries, elsewhere or after the restart
  if (!metrics && queryLogRate === 0 && !lifecycle) return answerMessage(msg, transport, peer, deps, notes);
  const started = metrics ? performance.now() : 0; // read only where metrics are kept
  const reply = answerMessage(msg, transport, peer, deps, notes);
  if (reply instanceof Promise) {
    if (lifecycle) {
      lifecycle.inflight.add(reply);
      void reply.finally(() => lifecycle.inflight.delete(reply));
    }
    // an UPDATE, or a query the discovery proxy held, is counted when answered; a message a worker hands on is counted by the primary
    if (metrics && !deps.delegate)
      void reply.then((r) => {
        const rcode = r ? replyRcode(r) : undefined;
        if (rcode === undefined) return;
        if (isUpdateRequest(msg)) metrics.observeUpdate(transport, rcode);
        else metrics.observeQuery(transport, questionType(msg) ?? 0, rcode, (performance.now() - started) / 1000);
      });
  } else if (reply && replyRcode(reply) !== undefined) {
    metrics?.observeQuery(transport, questionType(msg) ?? 0, replyRcode(reply)!, (performance.now() - started) / 1000);
    if (queryLogRate >= 1 || (queryLogRate > 0 && Math.random() < queryLogRate))
      logQuery(msg, reply, transport, peer, deps.log);
  }
  return reply;
}

/** One line for a sampled query (decoded again: only the sampled ones pay for it). */
function logQuery(msg: Buffer, reply: Buffer, transport: Transport, peer: string, log: Logger): void {
  const d = decodeQuery(msg);
  const q = d.kind === "query" ? d.query.question : undefined;
  log.info(
    {
      peer,
      transport,
      qname: q ? formatName(q.name) : undefined,
      qtype: q ? typeName(q.type) : undefined,
      rcode: rcodeName(replyRcode(reply) ?? 0),
      bytes: reply.length,
    },
    "query",
  );
}

function answerMessage(
  msg: Buffer,
  transport: Transport,
  peer: string,
  deps: DnsHandlerDeps,
  notes: ReplyNotes | undefined,
): Buffer | null | Promise<Buffer | null> {
  const isUpdate = isUpdateRequest(msg);
  if (isUpdate && deps.delegate) return deps.delegate(msg, transport, peer);
  if (isUpdate && deps.update) {
    const settled = deps.settled;
    const reply = handleUpdate(msg, peer, deps.update);
    return (settled ? reply.then((r) => settled().then(() => r)) : reply).catch((err) => {
      deps.log.error({ err, peer, transport }, "internal error processing update");
      return encodeResponse(errorResponse(messageId(msg), Opcode.UPDATE, false, Rcode.SERVFAIL));
    });
  }
  const decoded = decodeQuery(msg);
  if (decoded.kind === "drop") {
    deps.log.debug({ peer, transport, reason: decoded.reason }, "dropped message");
    return null;
  }
  if (decoded.kind === "error") {
    deps.log.debug(
      { peer, transport, rcode: rcodeName(decoded.rcode), reason: decoded.reason },
      "malformed or unsupported request",
    );
    return encodeResponse(
      errorResponse(
        decoded.id,
        decoded.opcode,
        decoded.rd,
        decoded.rcode,
        replyEdns(decoded.edns, deps.answer.udpPayloadSize),
      ),
    );
  }
  const q = decoded.query;
  // every reply to a query with an OPT has one, errors included (RFC 6891 §6.1.1)
  const edns = () => replyEdns(q.edns, deps.answer.udpPayloadSize);
  if (deps.delegate && (q.tsig || q.question.class !== Class.IN)) return deps.delegate(msg, transport, peer);
  let limit = transport === "udp" ? udpLimit(q.edns, deps.maxUdpPayload) : 65535;
  const nowSec = Math.floor(deps.clock.now() / 1000);
  let sign = (wire: Buffer) => wire;
  // RFC 8945: a signed query is checked first and gets a signed reply (nsupdate signs its SOA lookups).
  // Signed queries are not replay-checked (update/tsig-replay.ts is for UPDATEs): a replayed query
  // changes nothing, and its signed answer is signed over a MAC the key holder made, not one the
  // replayer chose, so it is no oracle; it tells the replayer only today's answer to the question
  // the key holder asked, and the same is served to unsigned queries.
  if (q.tsig) {
    // only a signed query pays for the stage (its refusal and log context): the rest is the hot path
    // FORMERR is a header only; NOTAUTH echoes the question
    const refusal = (rcode: number) =>
      encodeResponse(
        rcode === Rcode.FORMERR
          ? errorResponse(q.id, q.opcode, q.rd, rcode, edns())
          : { ...errorResponse(q.id, q.opcode, q.rd, rcode, edns()), question: q.question },
      );
    const auth = authenticate(msg, q, {
      keys: deps.update?.keys ?? [],
      nowSec,
      refusal,
      log: deps.log,
      fields: { peer, transport },
      what: "signed query refused",
    });
    if (auth.kind === "refused") return auth.reply;
    if (auth.kind === "signed") {
      limit -= auth.overhead;
      sign = (wire) => auth.sign(wire);
    }
  }
  const about = deps.status && !q.tsig ? statusQuery(q.question) : undefined;
  if (about) {
    const lines = deps.status!(deps.statusDetailsTo?.(addressOf(peer)) ?? false).filter(
      (l) => about === "status" || l.startsWith("version="),
    );
    const txt = { type: Type.TXT, strings: lines.map((l) => Buffer.from(l.slice(0, 255))) } as const;
    const res = {
      ...errorResponse(q.id, q.opcode, q.rd, Rcode.NOERROR, edns()),
      aa: true,
      question: q.question,
      answers: [{ name: q.question.name, ttl: 0, class: Class.CH, data: txt }],
    };
    return encodeResponse(res, limit);
  }
  // DNS Cookies: the reply carries the client's cookie and a server cookie, added after caching (they differ per client)
  let finish = (wire: Buffer) => wire;
  const cookie = deps.cookies && !q.tsig ? readCookie(q.edns?.options) : undefined;
  if (cookie?.kind === "malformed") {
    deps.log.debug({ peer, transport, length: cookie.length }, "malformed DNS cookie: FORMERR");
    return encodeResponse({ ...errorResponse(q.id, q.opcode, q.rd, Rcode.FORMERR, edns()), question: q.question });
  }
  if (cookie?.kind === "cookie") {
    const jar = deps.cookies!;
    const address = addressOf(peer);
    const verified = cookie.server !== undefined && jar.verify(cookie.client, cookie.server, address, nowSec);
    const data = Buffer.concat([cookie.client, jar.serverCookie(cookie.client, address, nowSec)]);
    limit -= COOKIE_REPLY_BYTES;
    if (verified && notes) notes.sourceProven = true;
    finish = (wire) => appendEdnsOption(wire, COOKIE_OPTION, data);
  }
  // An answer too large for the message: over TCP the PTRs that fit are kept with TC=1, since no larger
  // transport is left. Over UDP none, with TC=1, as Knot does (libknot knot_pkt_put: an RRset whole or
  // not at all, TC when it does not fit) and as RFC 2181 §9 expects clients to treat a TC reply anyway
  // (ignore it, ask again over TCP); a partial UDP set would only add bytes for a forged source to
  // receive. README "Large types". The replies differ by transport, so it is part of the cache key.
  const keepPartialAnswer = transport === "tcp";
  const cacheKey =
    deps.cache && !q.tsig && !q.question.rawName
      ? AnswerCache.key(q.question, limit, q.edns?.version, transport, q.edns?.dnssecOk)
      : undefined;
  if (cacheKey !== undefined) {
    const versions = typeVersionsOf(deps.registry);
    const hit = deps.cache!.get(cacheKey, deps.registry.serial(), deps.clock.now(), q.id, q.rd, q.cd, (k) =>
      versions.version(k),
    );
    if (hit) return finish(hit);
  }
  try {
    const res = answerQuery(q, deps.registry, deps.answer, deps.clock.now(), limit);
    const proxyMiss =
      deps.localProxy !== undefined &&
      res.answers.length === 0 &&
      (res.rcode === Rcode.NOERROR || res.rcode === Rcode.NXDOMAIN) &&
      proxiedName(q.question.name);
    if (proxyMiss) {
      const handOff = deps.localProxy;
      if (handOff instanceof LocalMissHandOff) {
        if (deps.delegate && handOff.inFlight < handOff.max) {
          handOff.inFlight++;
          return deps.delegate(msg, transport, peer).finally(() => handOff.inFlight--);
        }
      } else if (handOff) {
        const { registry, answer, clock } = deps;
        const held = handOff.hold(
          q.question.name,
          q.question.type,
          () => answerQuery(q, registry, answer, clock.now(), limit).answers.length > 0,
        );
        // answered afresh once held, as if it had just arrived (signature, cookie and cache included)
        if (held)
          return held.then(() =>
            answerMessage(msg, transport, peer, { ...deps, localProxy: undefined, cache: undefined }, notes),
          );
      }
    }
    const wire = sign(encodeResponse(res, limit, { keepPartialAnswer }));
    // what the LAN may answer any moment is not kept: the next query asks again
    if (cacheKey !== undefined && !res.uncacheable && !proxyMiss) {
      // a browse too large for one message (TC) is kept until its type changes, not until anything does
      const only = isTruncated(wire) ? res.onlyType : undefined;
      const type = only
        ? { key: only.key, version: typeVersionsOf(deps.registry).version(only.key), timeless: only.timeless }
        : undefined;
      deps.cache!.set(cacheKey, wire, deps.registry.serial(), deps.clock.now(), type);
    }
    return finish(wire);
  } catch (e) {
    deps.log.error(
      { err: e, peer, transport, qname: formatName(q.question.name), qtype: typeName(q.question.type) },
      "internal error answering query",
    );
    const res = errorResponse(q.id, q.opcode, q.rd, Rcode.SERVFAIL, edns());
    return sign(encodeResponse({ ...res, question: q.question }, limit));
  }
}
