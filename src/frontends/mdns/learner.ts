// Learning what the LAN announces: browse actively (service types, then each
// type, with exponential back-off and known answers), keep a cache, and
// mirror complete instances into the registry as source "mdns", leased by
// their TTL. Learned instances never override a registration from another
// source, and are removed on goodbye or expiry.
import type { RemoteInfo } from "node:dgram";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { TokenBuckets } from "../token-buckets.js";
import { RingdnsError } from "../../errors.js";
import { later, reportInternalError } from "../../guard.js";
import {
  LOCAL,
  formatName,
  labelsEqual,
  lowerAscii,
  nameKey,
  parseQueryName,
  SERVICES_ENUM,
  type Labels,
  type ServiceType,
} from "../../names.js";
import type { Registry, RegistryOp, RegistryView } from "../../registry/registry.js";
import { admit, type RegistrationLimits } from "../../registry/limits.js";
import { LOCAL_DOMAIN, sameInstance, type Host, type Instance } from "../../registry/types.js";
import { Type } from "../../wire/constants.js";
import type { DecodedData, DecodedMessage } from "../../wire/decode.js";
import type { ResourceRecord } from "../../wire/message.js";
import { encodeMdnsQuery, nameWireLength, type MdnsQuestion } from "../../wire/mdns.js";
import { DEFAULT_CACHE_LIMITS, MdnsCache, type CacheLimits, type CachedRecord } from "./cache.js";
import type { MdnsTransport } from "./transport.js";

const FIRST_INTERVAL = 1000;
/** Names browsed because a unicast client asked for them (each then backs off to once an hour). */
export const MAX_ASKED_BROWSES = 256;
/**
 * Service types followed because the LAN named them (type enumeration or an
 * announcement). One packet can name hundreds; beyond this bound new ones are
 * not browsed (counted, logged once). avahi follows only what its clients ask
 * for (and caps each browser's lookups at 15); a LAN with more than 256
 * service types in use is far from any seen.
 */
export const MAX_FOLLOWED_TYPES = 256;
/** Of those, at most this many first named by one LAN address, so one host cannot take every place. */
export const MAX_FOLLOWED_TYPES_PER_PEER = 64;
/** A followed type that no cached record has named for this long is no longer browsed. */
export const PRUNE_AFTER = 15 * 60_000;
const MAX_INTERVAL = 3600_000;
/** Names browsed at once because DNS Push clients follow them (RFC 8766 §6); beyond, a subscription is answered from what is known. */
export const MAX_SUBSCRIBED_BROWSES = 256;
/** Records being reconfirmed at once (RFC 8765 §6.5 RECONFIRM); beyond, a RECONFIRM is ignored. */
export const MAX_RECONFIRMING = 64;
/** RFC 6762 §10.4: a reconfirmed record not heard again within this goes. */
const RECONFIRM_WITHIN_MS = 10_000;
/** The second of a reconfirmation's two queries, this long after the first. */
const RECONFIRM_AGAIN_MS = 3_000;
/** RFC 6762 §5.2: one question is asked at most once a second, however many unicast clients ask it. */
const ASK_INTERVAL_MS = 1_000;
/**
 * New questions put on the LAN for unicast clients and DNS Push subscribers,
 * a second in all (a burst of as many): whatever they send, clients cannot
 * make the daemon flood the LAN with multicast. Beyond it a query is answered
 * from what is known and a subscription is followed without a browse.
 */
export const CLIENT_QUESTIONS_PER_SECOND = 20;
/** Of the names browsed for DNS Push, at most this many first asked for by one client address. */
export const MAX_SUBSCRIBED_BROWSES_PER_SOURCE = 64;
/** A browse made for subscriptions outlives its last subscriber this long: a client that subscribes again soon starts nothing new. */
const SUBSCRIBED_LINGER_MS = 60_000;
/** A host asked for by name and not asked again for this long may give its place to another. */
const ASKED_HOST_IDLE_MS = 60_000;
/** The record types an instance is made of (RFC 6763 §4-§6); the cache takes no others. */
const LEARNED_TYPES = new Set<number>([Type.PTR, Type.SRV, Type.TXT, Type.A, Type.AAAA]); // RFC 6762 §5.2: back off to at most an hour

interface Browse {
  name: Labels;
  nextAt: number;
  interval: number;
  /** Why it is browsed: always (the type enumeration), a unicast client asked, the LAN named it, or a DNS Push client follows it. */
  why: "fixed" | "asked" | "followed" | "subscribed";
  /** The last time a cached record named it (as an owner or a PTR target). */
  lastHeard: number;
  /** For a followed type: the address that first named it; for a subscribed one, the client that first followed it. */
  peer?: string;
  /** A subscribed browse whose last subscriber left: dropped at this time unless followed again. */
  lingerUntil?: number;
}

export interface LearnerDeps {
  registry: Registry;
  clock: Clock;
  log: Logger;
  transports: readonly MdnsTransport[];
  /** Names we advertise ourselves: heard back, they are not learned. */
  isOurs(type: ServiceType, instance: string): boolean;
  cacheLimits?: CacheLimits;
  /** The registry's limits: what would go over one is not learned (anyone on the LAN may announce). */
  limits?: RegistrationLimits;
}

/** A limit that keeps LAN announcements out is logged at most this often (with how many were kept out). */
const REFUSAL_LOG_MS = 60_000;

type Ptr = Extract<DecodedData, { type: typeof Type.PTR }>;
type Srv = Extract<DecodedData, { type: typeof Type.SRV }>;

export class MdnsLearner {
  readonly cache: MdnsCache;
  private readonly browses = new Map<string, Browse>();
  private timer: NodeJS.Timeout | undefined;
  private sync: Promise<void> = Promise.resolve();
  private mirrorQueued = false;
  private closed = false;
  /** What this daemon's learner wrote, by learnedKey: in a cluster, others' learned entries are not ours to remove. */
  private readonly publishedInstances = new Map<string, { type: ServiceType; name: string }>();
  private readonly publishedHosts = new Set<string>();
  /** Subtype PTR names heard (`_sub._sub._type._tcp.local`): DNS-SD has no way to list them, so we keep what was announced. */
  private readonly subtypeNames = new Map<string, Labels>();
  private asked = 0;
  private followed = 0;
  /** When each question (name key and type) was last asked for a client, oldest first, so a burst of clients asks once a second. */
  private readonly askedAt = new Map<string, number>();
  /** Hosts (labels in local.) unicast clients asked for, least recently asked first, with when: their addresses are mirrored as an instance's host's are. */
  private readonly askedHosts = new Map<string, number>();
  /** New questions clients may put on the LAN (one bucket for all: UDP sources can be forged). */
  private readonly clientQuestions = new TokenBuckets(CLIENT_QUESTIONS_PER_SECOND);
  /** Browses made for subscriptions, by the client address that first followed each. */
  private readonly subscribedBySource = new Map<string, number>();
  /** How many DNS Push subscriptions follow each browsed name (by name key). */
  private readonly subscribers = new Map<string, number>();
  /** Records being reconfirmed now. */
  private reconfirming = 0;
  private readonly followedByPeer = new Map<string, number>();
  /** Types heard of and not browsed because of the bounds (each time), since start. */
  readonly browsesRefused = { followed: 0, asked: 0, subscribed: 0, rate: 0 };
  /** Announcements kept out by the registry's limits at the last mirror (learnedKey), so each is counted once. */
  private refusedLast = new Set<string>();
  private refusalLoggedAt = -Infinity;
  private refusalsUnlogged = 0;

  constructor(private readonly deps: LearnerDeps) {
    this.cache = new MdnsCache(deps.cacheLimits ?? DEFAULT_CACHE_LIMITS, (what, peer) =>
      deps.log.warn(
        what === "full" ? { limit: "mdns-cache", max: this.cache.size() } : { limit: "mdns-per-peer", peer },
        what === "full"
          ? "mDNS cache full: new records from the LAN are not taken (--mdns-max-records)"
          : "mDNS peer sends more records than allowed: its new ones are not taken (--mdns-max-per-peer)",
      ),
    );
  }

  start(): void {
    this.browse([...SERVICES_ENUM, ...LOCAL], "fixed");
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.sync;
  }

  /** Names browsed now (for tests and the README's bounds). */
  browsing(): { fixed: number; asked: number; followed: number; subscribed: number } {
    const n = { fixed: 0, asked: 0, followed: 0, subscribed: 0 };
    for (const b of this.browses.values()) n[b.why]++;
    return n;
  }

  /** A response heard on `t` (not one of our own). */
  onResponse(msg: DecodedMessage, from: RemoteInfo, t: MdnsTransport): void {
    const now = this.deps.clock.now();
    // only what the learner reads: other types (HINFO, NSEC, unknown ones with raw RDATA) would only take room
    const records = [...msg.answers, ...msg.additionals].filter(
      (r) => LEARNED_TYPES.has(r.type) && r.name.length > 0 && labelsEqual(r.name.slice(-1), LOCAL),
    );
    const changed = this.cache.add(records, now, from.address);
    // service types it names are browsed in turn: from the type enumeration, or from an announcement itself
    // (within the bounds; one refused now is taken when heard of again once there is room)
    for (const r of records) {
      if (r.type !== Type.PTR || r.ttl === 0) continue;
      const kind = parseQueryName(r.name, [LOCAL])?.kind;
      if (kind === "services" && "target" in r.data && parseQueryName(r.data.target, [LOCAL])?.kind === "type")
        this.browse(r.data.target, "followed", from.address);
      if (kind === "type") this.browse(r.name, "followed", from.address);
      if (kind === "subtype" && changed.has(nameKey(r.name))) this.subtypeNames.set(nameKey(r.name), r.name);
    }
    if (changed.size === 0) return;
    this.deps.log.debug({ iface: t.iface, from: from.address, records: records.length }, "mDNS response cached");
    this.mirror();
  }

  /**
   * A unicast client asked for a `.local` type or subtype we know nothing of:
   * browse it on the LAN, so the answer is there when the client asks again
   * (DNS-SD has no query that lists subtypes; a subtype announced before we
   * listened is only found by asking for it). At most MAX_ASKED_BROWSES names.
   * Returns whether it is browsed now.
   */
  askLan(name: Labels): boolean {
    const kind = parseQueryName(name, [LOCAL])?.kind;
    if (kind !== "type" && kind !== "subtype") return false;
    const prior = this.browses.get(nameKey(name));
    if (prior) {
      if ((prior.why === "followed" || prior.why === "subscribed") && this.asked < MAX_ASKED_BROWSES) {
        // a client wants it: no longer pruned when the LAN goes quiet about it, nor dropped with its last subscriber
        this.unfollow(prior);
        delete prior.lingerUntil;
        prior.why = "asked";
        this.asked++;
      }
      return true;
    }
    if (this.asked >= MAX_ASKED_BROWSES) {
      this.browsesRefused.asked++;
      return false;
    }
    this.deps.log.debug({ name: formatName(name) }, "mDNS: browsing a name a unicast client asked for");
    this.browse(name, "asked");
    return this.browses.has(nameKey(name));
  }

  /**
   * Discovery proxy (RFC 8766 §5.5): a unicast query for `name` `type` found
   * nothing. A question the learner is not asking the LAN already starts
   * now, its answers to be mirrored into the registry like any announcement:
   * a type or subtype is browsed from now on; an instance's type is browsed
   * and its SRV and TXT asked for; a host's addresses are asked for and
   * mirrored from then on. Returns whether a new question started (worth
   * holding the query for); false when the LAN is asked already (a browsed
   * type's instances are all known, so nothing is worth waiting for), a bound
   * stops it, or no mDNS question answers it. A host asked for before is
   * asked again (at most once a second), not waited for.
   */
  askNow(name: Labels, type: number): boolean {
    const p = parseQueryName(name, [LOCAL]);
    const any = type === Type.ANY;
    let browsed: Labels | undefined;
    let questions: MdnsQuestion[] = [];
    if ((p?.kind === "type" || p?.kind === "subtype") && (any || type === Type.PTR)) browsed = name;
    else if (p?.kind === "instance" && (any || type === Type.SRV || type === Type.TXT)) {
      // mirrored only from a browsed type's PTR, so the type is browsed too
      browsed = [...p.typeLabels, ...LOCAL];
      questions = [
        { name, type: Type.SRV },
        { name, type: Type.TXT },
      ];
    } else if (p?.kind === "host" && (any || type === Type.A || type === Type.AAAA)) {
      const host = lowerAscii(p.host);
      const now = this.deps.clock.now();
      const askedBefore = this.askedHosts.has(host);
      if (!askedBefore && this.askedHosts.size >= MAX_ASKED_BROWSES) {
        // the least recently asked gives its place, if nobody asked for it lately: junk names cannot hold them all for good
        const [oldest, at] = this.askedHosts.entries().next().value!;
        if (now - at < ASKED_HOST_IDLE_MS) {
          this.browsesRefused.asked++;
          return false;
        }
        this.askedHosts.delete(oldest);
        this.mirror(); // its addresses, if mirrored, go
      }
      this.askedHosts.delete(host); // kept least recently asked first
      this.askedHosts.set(host, now);
      const sent = this.askOnce([
        { name, type: Type.A },
        { name, type: Type.AAAA },
      ]);
      return sent && !askedBefore;
    } else return false;
    if (this.browses.has(nameKey(browsed)) || !this.clientMayAsk() || !this.askLan(browsed)) return false;
    this.askOnce(questions, false); // the new browse asks for its PTRs at once by itself
    return true;
  }

  /** May a client put one more new question on the LAN now (CLIENT_QUESTIONS_PER_SECOND)? Counted when not. */
  private clientMayAsk(): boolean {
    if (this.clientQuestions.take("", this.deps.clock.now()) === true) return true;
    this.browsesRefused.rate++;
    return false;
  }

  /**
   * Send `questions` now, each at most once a second (RFC 6762 §5.2) however
   * many clients ask, and (`rated`) only when a client may ask one more now.
   * Returns whether any went out.
   */
  private askOnce(questions: MdnsQuestion[], rated = true): boolean {
    const now = this.deps.clock.now();
    // oldest first (each is set anew when asked): what is past the interval is at the front
    for (const [k, at] of this.askedAt) {
      if (now - at < ASK_INTERVAL_MS) break;
      this.askedAt.delete(k);
    }
    const due = questions.filter((q) => !this.askedAt.has(`${nameKey(q.name)}|${q.type}`));
    if (due.length === 0 || (rated && !this.clientMayAsk())) return false;
    for (const q of due) this.askedAt.set(`${nameKey(q.name)}|${q.type}`, now);
    this.query(due, now);
    return true;
  }

  /**
   * A DNS Push client follows `name` (RFC 8766 §6): the LAN is asked about it
   * for as long as some subscription does (a type's or subtype's browse, an
   * instance's type's, a host's addresses). Returns the release for when the
   * subscription ends, or undefined when the LAN is not asked for it (a bound,
   * or no mDNS question answers it).
   */
  follow(name: Labels, type: number, source = ""): (() => void) | undefined {
    const p = parseQueryName(name, [LOCAL]);
    if (p?.kind === "host") {
      this.askNow(name, type); // an asked host stays mirrored, its records refreshed while cached: nothing to release
      return undefined;
    }
    const browsed =
      p?.kind === "type" || p?.kind === "subtype"
        ? name
        : p?.kind === "instance"
          ? [...p.typeLabels, ...LOCAL]
          : undefined;
    if (!browsed) return undefined;
    const key = nameKey(browsed);
    const existing = this.browses.get(key);
    if (existing) delete existing.lingerUntil;
    else {
      let subscribedOnly = 0;
      for (const b of this.browses.values()) if (b.why === "subscribed") subscribedOnly++;
      const fromSource = this.subscribedBySource.get(source) ?? 0;
      if (subscribedOnly >= MAX_SUBSCRIBED_BROWSES || fromSource >= MAX_SUBSCRIBED_BROWSES_PER_SOURCE) {
        this.browsesRefused.subscribed++;
        return undefined;
      }
      if (!this.clientMayAsk()) return undefined;
      this.browse(browsed, "subscribed", source);
      if (!this.browses.has(key)) return undefined;
      this.subscribedBySource.set(source, fromSource + 1);
    }
    if (p?.kind === "instance")
      this.askOnce([
        { name, type: Type.SRV },
        { name, type: Type.TXT },
      ]);
    this.subscribers.set(key, (this.subscribers.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.subscribers.get(key) ?? 1) - 1;
      if (n > 0) return void this.subscribers.set(key, n);
      this.subscribers.delete(key);
      // the last subscriber left: a browse made for subscriptions lingers a while, then ends (prune);
      // one asked for or named by the LAN stays
      const b = this.browses.get(key);
      if (b?.why === "subscribed") b.lingerUntil = this.deps.clock.now() + SUBSCRIBED_LINGER_MS;
    };
  }

  /**
   * RECONFIRM (RFC 8765 §6.5) of a record learned here: ask the LAN for it
   * twice; unless it is heard again within ten seconds it goes, and with it
   * the instance it made (RFC 6762 §10.4). Returns whether it is being
   * reconfirmed (false: not a record held, already under way, or too many at once).
   */
  reconfirm(name: Labels, type: number, data: DecodedData): boolean {
    if (this.reconfirming >= MAX_RECONFIRMING) return false;
    const now = this.deps.clock.now();
    const r = this.cache.beginReconfirm(name, type, data, now, RECONFIRM_WITHIN_MS);
    if (!r) return false;
    this.reconfirming++;
    this.deps.log.debug({ name: formatName(name), type }, "mDNS: reconfirming a record a client doubts");
    const ask = () => this.query([{ name: r.name, type: r.type }], this.deps.clock.now());
    ask();
    later("mdns reconfirm", RECONFIRM_AGAIN_MS, () => {
      if (!this.closed && this.cache.get(r.name, r.type).includes(r)) ask(); // not heard again yet
    });
    later("mdns reconfirm end", RECONFIRM_WITHIN_MS, () => this.reconfirming--);
    this.schedule(); // its expiry may now come first
    return true;
  }

  private browse(name: Labels, why: Browse["why"], peer = ""): void {
    const key = nameKey(name);
    if (this.browses.has(key)) return;
    if (nameWireLength(name) === Infinity) return; // a name we could never ask for
    if (why === "followed") {
      const fromPeer = this.followedByPeer.get(peer) ?? 0;
      if (this.followed >= MAX_FOLLOWED_TYPES || fromPeer >= MAX_FOLLOWED_TYPES_PER_PEER) {
        if (this.browsesRefused.followed++ === 0)
          this.deps.log.warn(
            { limit: "mdns-followed-types", max: MAX_FOLLOWED_TYPES, perPeer: MAX_FOLLOWED_TYPES_PER_PEER, peer },
            "mDNS: the LAN names more service types than are followed; new ones are not browsed",
          );
        return;
      }
      this.followed++;
      this.followedByPeer.set(peer, fromPeer + 1);
    }
    if (why === "asked") this.asked++;
    const now = this.deps.clock.now();
    this.browses.set(key, {
      name,
      nextAt: now,
      interval: FIRST_INTERVAL,
      why,
      lastHeard: now,
      ...(why === "followed" || why === "subscribed" ? { peer } : {}),
    });
    // what the LAN announced before we browsed it may be in the cache already (and the query's
    // known answers keep responders quiet about it): mirror it now
    if (this.cache.get(name, Type.PTR, now).length > 0) this.mirror();
    this.schedule(0);
  }

  private unfollow(b: Browse): void {
    if (b.why === "subscribed") {
      const n = (this.subscribedBySource.get(b.peer ?? "") ?? 1) - 1;
      if (n > 0) this.subscribedBySource.set(b.peer ?? "", n);
      else this.subscribedBySource.delete(b.peer ?? "");
      return;
    }
    if (b.why !== "followed") return;
    this.followed--;
    const n = (this.followedByPeer.get(b.peer ?? "") ?? 1) - 1;
    if (n > 0) this.followedByPeer.set(b.peer ?? "", n);
    else this.followedByPeer.delete(b.peer ?? "");
  }

  /**
   * Stop browsing followed types that no cached record has named for
   * PRUNE_AFTER: their instances are gone and no client asked for them. One
   * heard of again is followed again.
   */
  private prune(now: number): void {
    const named = new Set<string>();
    for (const r of this.cache.get([...SERVICES_ENUM, ...LOCAL], Type.PTR, now))
      named.add(nameKey((r.data as Ptr).target));
    for (const [key, b] of this.browses) {
      if (b.lingerUntil !== undefined && b.lingerUntil <= now && !this.subscribers.has(key)) {
        this.browses.delete(key);
        this.unfollow(b);
        continue;
      }
      if (b.why !== "followed" || this.subscribers.has(key)) continue;
      if (named.has(key) || this.cache.get(b.name, Type.PTR, now).length > 0) b.lastHeard = now;
      else if (now - b.lastHeard >= PRUNE_AFTER) {
        this.browses.delete(key);
        this.unfollow(b);
      }
    }
  }

  private schedule(delay?: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    if (delay === undefined) {
      const now = this.deps.clock.now();
      let next = Math.min(this.cache.nextEvent() ?? Infinity, now + 60_000);
      for (const b of this.browses.values()) next = Math.min(next, b.nextAt);
      delay = Math.max(10, next - now);
    }
    this.timer = later("mdns learner tick", delay, () => this.tick());
  }

  private tick(): void {
    // whatever happens below, the next tick is scheduled: a fault here must not stop the learner
    try {
      this.tickNow();
    } finally {
      this.schedule();
    }
  }

  private tickNow(): void {
    const now = this.deps.clock.now();
    this.prune(now);
    const questions: MdnsQuestion[] = [];
    for (const b of this.browses.values()) {
      if (b.nextAt > now) continue;
      questions.push({ name: b.name, type: Type.PTR });
      b.interval = Math.min(b.interval * 2, MAX_INTERVAL);
      b.nextAt = now + b.interval;
    }
    // §5.2: ask again for records at 80-95 % of their TTL, if still of interest
    for (const r of this.cache.refreshDue(now)) questions.push({ name: r.name, type: r.type });
    // instances we know of but cannot resolve yet
    for (const { target } of this.instancePtrs(now)) {
      if (this.cache.get(target, Type.SRV, now).length === 0)
        questions.push({ name: target, type: Type.SRV }, { name: target, type: Type.TXT });
    }
    if (this.cache.expire(now).size > 0) this.mirror();
    if (questions.length > 0) this.query(dedupe(questions), now);
  }

  private query(questions: MdnsQuestion[], now: number): void {
    // §7.1: known answers, so responders holding nothing new stay quiet
    const known: ResourceRecord[] = [];
    for (const q of questions) {
      for (const r of this.cache.get(q.name, q.type, now)) {
        const remaining = (r.expiresAt - now) / 1000;
        if (r.type === Type.PTR && remaining > r.ttl / 2)
          known.push({
            name: r.name,
            ttl: Math.floor(remaining),
            data: { type: Type.PTR, target: (r.data as Ptr).target },
          });
      }
    }
    for (const wire of encodeMdnsQuery(questions, known)) for (const t of this.deps.transports) t.send(wire);
  }

  /**
   * The instances the browsed types and subtypes list (one found only under
   * a subtype is an instance of its type too, RFC 6763 §7.1: some responders,
   * python-zeroconf's among them, answer for the subtype alone), each once,
   * with its longest-lived PTR.
   */
  private instancePtrs(now: number): { type: ServiceType; ptr: CachedRecord; target: Labels }[] {
    const found = new Map<string, { type: ServiceType; ptr: CachedRecord; target: Labels }>();
    for (const b of this.browses.values()) {
      const parsed = parseQueryName(b.name, [LOCAL]);
      if (parsed?.kind !== "type" && parsed?.kind !== "subtype") continue;
      for (const ptr of this.cache.get(b.name, Type.PTR, now)) {
        const target = (ptr.data as Ptr).target;
        const p = parseQueryName(target, [LOCAL]);
        if (p?.kind !== "instance" || p.type.service !== parsed.type.service || p.type.proto !== parsed.type.proto)
          continue;
        const key = nameKey(target);
        const prior = found.get(key);
        if (!prior || prior.ptr.expiresAt < ptr.expiresAt) found.set(key, { type: parsed.type, ptr, target });
      }
    }
    return [...found.values()];
  }

  /** The subtypes each instance (by name key) is announced under, from the cached subtype PTRs. */
  private subtypesByInstance(now: number): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const [key, name] of this.subtypeNames) {
      const ptrs = this.cache.get(name, Type.PTR, now);
      if (ptrs.length === 0) {
        this.subtypeNames.delete(key); // gone from the cache (bounded by its limits), so gone from here
        continue;
      }
      const p = parseQueryName(name, [LOCAL]);
      if (p?.kind !== "subtype") continue;
      for (const ptr of ptrs) {
        const target = (ptr.data as Ptr).target;
        const t = parseQueryName(target, [LOCAL]);
        if (t?.kind !== "instance" || t.type.service !== p.type.service || t.type.proto !== p.type.proto) continue;
        const k = nameKey(target);
        out.set(k, (out.get(k) ?? new Set()).add(p.subtype));
      }
    }
    return out;
  }

  /** Bring the registry's mDNS-learned entries in line with the cache. */
  private mirror(): void {
    // one run waiting is enough: it reads the cache as it is when it starts, so a flood of
    // responses coalesces into it instead of queueing one run per packet without bound
    if (this.mirrorQueued) return;
    this.mirrorQueued = true;
    this.sync = this.sync
      .then(() => {
        this.mirrorQueued = false;
        return this.mirrorNow();
      })
      .catch((err: unknown) => {
        // a store that cannot take it now (RINGDNS_E_STORE) is an outage, logged; anything else is a fault of ours, counted too
        if (err instanceof RingdnsError) this.deps.log.error({ err }, "could not store what mDNS announced");
        else reportInternalError("mdns learner mirror", err);
      });
  }

  private async mirrorNow(): Promise<void> {
    if (this.closed) return;
    const { registry } = this.deps;
    // planned in the registry's write line, so an UPDATE that lands meanwhile is not overwritten
    const ops = await registry.transact((view) => {
      const planned = this.plan(view);
      return { ops: planned, result: planned };
    });
    if (ops.length === 0) return;
    for (const o of ops) {
      if (o.op === "put-instance")
        this.publishedInstances.set(learnedKey(o.instance.type, o.instance.name), {
          type: o.instance.type,
          name: o.instance.name,
        });
      else if (o.op === "remove-instance") this.publishedInstances.delete(learnedKey(o.type, o.name));
      else if (o.op === "put-host") this.publishedHosts.add(o.host.name);
      else if (o.op === "remove-host") this.publishedHosts.delete(o.name);
    }
    this.deps.log.info(
      {
        changes: ops.map(
          (o) =>
            `${o.op} ${"instance" in o ? formatName([o.instance.name, o.instance.type.service, o.instance.type.proto, "local"]) : "name" in o ? o.name : "host" in o ? o.host.name : ""}`,
        ),
      },
      "mDNS: registry updated from the LAN",
    );
  }

  /** The registry changes that make it match what the cache holds now. */
  private plan(registry: RegistryView): RegistryOp[] {
    const now = this.deps.clock.now();
    const wantInstances = new Map<string, Instance>();
    const wantHosts = new Map<string, Host>();
    const subtypesOf = this.subtypesByInstance(now);
    for (const { type, ptr, target } of this.instancePtrs(now)) {
      const label = target[0]!;
      if (this.deps.isOurs(type, label)) continue; // our own announcement, heard back
      const existing = registry.instance(type, label, LOCAL_DOMAIN); // what answers in local.: a name registered elsewhere does not clash
      if (existing && existing.source !== "mdns") continue; // never shadow a registration from another source
      const srvRec = this.cache.get(target, Type.SRV, now)[0];
      if (!srvRec) continue;
      const srv = srvRec.data as Srv;
      const txtRec = this.cache.get(target, Type.TXT, now)[0];
      const hostLocal = srv.target.length === 2 && labelsEqual(srv.target.slice(1), LOCAL);
      const hostLabel = lowerAscii(srv.target[0] ?? "");
      const expiresAt = Math.min(ptr.expiresAt, srvRec.expiresAt);
      wantInstances.set(learnedKey(type, label), {
        name: label,
        type,
        subtypes: [...(subtypesOf.get(nameKey(target)) ?? [])].sort(),
        host: hostLocal ? [hostLabel] : srv.target.map(lowerAscii),
        port: srv.port,
        priority: srv.priority,
        weight: srv.weight,
        txt:
          txtRec && "strings" in txtRec.data
            ? txtRec.data.strings.filter((s) => s.length > 0).map((s) => new Uint8Array(s))
            : [],
        source: "mdns",
        expiresAt,
      });
      if (hostLocal) this.wantHost(hostLabel, registry, now, wantHosts);
    }
    // hosts a unicast client asked for by name, whether or not a service names them
    for (const host of this.askedHosts.keys()) {
      if (!wantHosts.has(host)) this.wantHost(host, registry, now, wantHosts);
    }
    const ops: RegistryOp[] = [];
    for (const h of wantHosts.values()) {
      const cur = registry.host(h.name, LOCAL_DOMAIN);
      if (!cur || cur.addresses.join() !== h.addresses.join() || Math.abs((cur.expiresAt ?? 0) - h.expiresAt!) > 1000)
        ops.push({ op: "put-host", host: h });
    }
    for (const i of wantInstances.values()) {
      const cur = registry.instance(i.type, i.name, LOCAL_DOMAIN);
      if (!cur || !sameInstance(cur, i, 1000)) ops.push({ op: "put-instance", instance: i });
    }
    // only what this learner wrote is looked at: O(learned), not O(registry)
    for (const [key, { type, name }] of this.publishedInstances) {
      if (wantInstances.has(key)) continue;
      const cur = registry.instance(type, name, LOCAL_DOMAIN);
      if (cur?.source === "mdns") ops.push({ op: "remove-instance", type, name: cur.name });
      else this.publishedInstances.delete(key); // expired, or taken over by another source: no longer ours
    }
    for (const name of this.publishedHosts) {
      if (wantHosts.has(name)) continue;
      if (registry.host(name, LOCAL_DOMAIN)?.source === "mdns") ops.push({ op: "remove-host", name });
      else this.publishedHosts.delete(name);
    }
    return this.withinLimits(ops, registry);
  }

  /** `label`.local with the addresses cached for it, unless none are or another source registered it. */
  private wantHost(label: string, registry: RegistryView, now: number, want: Map<string, Host>): void {
    const name = [label, ...LOCAL];
    const addrs = [...this.cache.get(name, Type.A, now), ...this.cache.get(name, Type.AAAA, now)];
    const existing = registry.host(label, LOCAL_DOMAIN);
    if (addrs.length === 0 || (existing && existing.source !== "mdns")) return;
    want.set(label, {
      name: label,
      addresses: [...new Set(addrs.map((a) => (a.data as { address: string }).address))],
      source: "mdns",
      expiresAt: Math.max(...addrs.map((a) => a.expiresAt)),
    });
  }

  /** The planned ops that fit the registry's limits; what is kept out is counted once and logged at most once a minute. */
  private withinLimits(ops: RegistryOp[], registry: RegistryView): RegistryOp[] {
    const limits = this.deps.limits;
    if (!limits) return ops;
    const { admitted, refused } = admit(ops, registry, { ...limits, hit: undefined });
    const refusedNow = new Set<string>();
    for (const r of refused) {
      const key =
        r.op.op === "put-instance"
          ? learnedKey(r.op.instance.type, r.op.instance.name)
          : r.op.op === "put-host"
            ? `host/${r.op.host.name}`
            : "";
      refusedNow.add(key);
      if (this.refusedLast.has(key)) continue;
      limits.hit?.(r.limit);
      this.refusalsUnlogged++;
      const now = this.deps.clock.now();
      if (now - this.refusalLoggedAt >= REFUSAL_LOG_MS) {
        this.deps.log.warn(
          { limit: r.limit, notLearned: this.refusalsUnlogged },
          `mDNS: announcements not learned: ${r.reason}`,
        );
        this.refusalLoggedAt = now;
        this.refusalsUnlogged = 0;
      }
    }
    this.refusedLast = refusedNow;
    return admitted;
  }
}

/** A learned instance's key among this learner's own: type and instance name, ASCII lower-cased. */
function learnedKey(type: ServiceType, name: string): string {
  return `${type.service}.${type.proto}/${lowerAscii(name)}`;
}

function dedupe(qs: MdnsQuestion[]): MdnsQuestion[] {
  const seen = new Set<string>();
  return qs.filter((q) => {
    const k = `${nameKey(q.name)}|${q.type}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
