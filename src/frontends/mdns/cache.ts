// The mDNS record cache (RFC 6762 §10). Pure: time comes in as an argument.
// - a record lives for its TTL; a goodbye (TTL 0) ends it one second later (§10.1)
// - the cache-flush bit replaces the RRset, except records received in the last second (§10.2)
// - refresh queries are due at 80, 85, 90 and 95 % of a record's TTL (§5.2)
import { createHash } from "node:crypto";
import { nameKey, type Labels } from "../../names.js";
import type { DecodedData, DecodedRecord } from "../../wire/decode.js";

export const CACHE_FLUSH = 0x8000;

export interface CachedRecord {
  name: Labels;
  type: number;
  data: DecodedData;
  ttl: number;
  receivedAt: number;
  expiresAt: number;
  /** Which refresh points (0..3 for 80/85/90/95 %) have been asked for. */
  refreshed: number;
  /** The address that first sent it (what per-peer limits count against). */
  peer: string;
  /** Being reconfirmed (RFC 6762 §10.4): it goes at expiresAt unless the LAN sends it again. */
  reconfirming?: true;
}

/** Bounds on what the LAN may make us hold; new records beyond them are not taken. */
export interface CacheLimits {
  maxRecords: number;
  maxPerPeer: number;
  /** RDATA bytes held in all (default 16 MiB): 10,000 TXT records of 8 KB each would otherwise be 80 MB and more. */
  maxBytes?: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { maxRecords: 10_000, maxPerPeer: 1_000 };
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** What a record's data takes, roughly: its RDATA bytes, names at their text length. */
function dataSize(d: DecodedData): number {
  if ("strings" in d) return d.strings.reduce((n, s) => n + 1 + s.length, 0);
  if ("raw" in d) return d.raw.length;
  if ("target" in d) return d.target.reduce((n, l) => n + 1 + l.length, 8);
  return 16;
}

const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95];

function dataKey(d: DecodedData): string {
  // TXT and raw data by a digest, not their bytes twice over in hex (the key is kept as long as the record)
  if ("strings" in d)
    return `txt:${createHash("sha256")
      .update(Buffer.concat(d.strings.flatMap((x) => [Buffer.from([x.length]), x])))
      .digest("base64")}`;
  if ("raw" in d) return `raw:${d.type}:${createHash("sha256").update(d.raw).digest("base64")}`;
  return JSON.stringify(d);
}

/**
 * The same record data, names compared as DNS does (ASCII case aside): a
 * client reconfirms the record as we answered it, which may spell a name
 * otherwise than the responder did.
 */
function sameData(a: DecodedData, b: DecodedData): boolean {
  if (a.type !== b.type) return false;
  if ("target" in a && "target" in b) {
    if (nameKey(a.target) !== nameKey(b.target)) return false;
    return !("port" in a && "port" in b) || (a.port === b.port && a.priority === b.priority && a.weight === b.weight);
  }
  if ("address" in a && "address" in b) return a.address.toLowerCase() === b.address.toLowerCase();
  return dataKey(a) === dataKey(b);
}

export class MdnsCache {
  // name key -> type -> data key -> record
  private readonly records = new Map<string, Map<number, Map<string, CachedRecord>>>();
  private total = 0;
  private bytes = 0;
  private readonly perPeer = new Map<string, number>();
  /** New records not taken because of the limits, since start. */
  readonly refused = { full: 0, perPeer: 0 };
  /** Peers (and "" for the whole cache) whose limit was reported, until they are below it again. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly limits: CacheLimits = DEFAULT_CACHE_LIMITS,
    /** Called the first time a peer, or the whole cache, hits its limit. */
    private readonly onLimit?: (what: "full" | "per-peer", peer: string) => void,
  ) {}

  private forget(r: CachedRecord): void {
    this.total--;
    this.bytes -= dataSize(r.data);
    const n = (this.perPeer.get(r.peer) ?? 1) - 1;
    if (n > 0) this.perPeer.set(r.peer, n);
    else this.perPeer.delete(r.peer);
    if (n < this.limits.maxPerPeer) this.reported.delete(r.peer);
    if (this.total < this.limits.maxRecords && this.bytes < (this.limits.maxBytes ?? DEFAULT_MAX_BYTES))
      this.reported.delete("");
  }

  /** Take in a response's records (from `peer`); returns the name keys whose data changed. */
  add(records: readonly DecodedRecord[], now: number, peer = ""): Set<string> {
    const changed = new Set<string>();
    // §10.2: with the cache-flush bit, older records of that RRset go (after a second's grace)
    for (const r of records) {
      if (!(r.class & CACHE_FLUSH) || r.ttl === 0) continue;
      const set = this.records.get(nameKey(r.name))?.get(r.type);
      for (const c of set?.values() ?? []) {
        if (c.receivedAt < now - 1000 && c.expiresAt > now + 1000) c.expiresAt = now + 1000;
      }
    }
    for (const r of records) {
      const key = nameKey(r.name);
      const dk = dataKey(r.data);
      const existing = this.records.get(key)?.get(r.type)?.get(dk);
      if (r.ttl === 0) {
        // goodbye: gone in one second (§10.1); for a record we do not hold, nothing to do and nothing made
        if (existing) {
          if (existing.expiresAt > now + 1000) existing.expiresAt = now + 1000;
          changed.add(key);
        }
        continue;
      }
      if (!existing) {
        // the limits are checked before anything is made for the record
        const fromPeer = this.perPeer.get(peer) ?? 0;
        const size = dataSize(r.data);
        if (this.total >= this.limits.maxRecords || this.bytes + size > (this.limits.maxBytes ?? DEFAULT_MAX_BYTES)) {
          this.refused.full++;
          if (!this.reported.has("")) {
            this.reported.add("");
            this.onLimit?.("full", peer);
          }
          continue;
        }
        if (fromPeer >= this.limits.maxPerPeer) {
          this.refused.perPeer++;
          if (!this.reported.has(peer)) {
            this.reported.add(peer);
            this.onLimit?.("per-peer", peer);
          }
          continue;
        }
        this.total++;
        this.bytes += size;
        this.perPeer.set(peer, fromPeer + 1);
        changed.add(key);
      }
      let byType = this.records.get(key);
      if (!byType) this.records.set(key, (byType = new Map()));
      let set = byType.get(r.type);
      if (!set) byType.set(r.type, (set = new Map()));
      set.set(dk, {
        name: r.name,
        type: r.type,
        data: r.data,
        ttl: r.ttl,
        receivedAt: now,
        expiresAt: now + r.ttl * 1000,
        refreshed: 0,
        peer: existing?.peer ?? peer,
      });
    }
    return changed;
  }

  /** Live records of a name (and type). */
  get(name: Labels, type?: number, now = -Infinity): CachedRecord[] {
    const byType = this.records.get(nameKey(name));
    if (!byType) return [];
    const sets = type === undefined ? [...byType.values()] : [byType.get(type) ?? new Map<string, CachedRecord>()];
    return sets.flatMap((s) => [...s.values()]).filter((r) => r.expiresAt > now);
  }

  /**
   * RFC 6762 §10.4: a client doubts this record. Unless it is heard again
   * within `withinMs` (a fresh copy replaces this one), it expires then.
   * Returns the record, or undefined when it is not held or is already being reconfirmed.
   */
  beginReconfirm(
    name: Labels,
    type: number,
    data: DecodedData,
    now: number,
    withinMs: number,
  ): CachedRecord | undefined {
    let r: CachedRecord | undefined;
    for (const c of this.records.get(nameKey(name))?.get(type)?.values() ?? []) if (sameData(c.data, data)) r = c;
    if (!r || r.reconfirming || r.expiresAt <= now) return undefined;
    r.reconfirming = true;
    r.expiresAt = Math.min(r.expiresAt, now + withinMs);
    return r;
  }

  /** Drop what has expired; returns the name keys that lost records. */
  expire(now: number): Set<string> {
    const changed = new Set<string>();
    for (const [key, byType] of this.records) {
      for (const [type, set] of byType) {
        for (const [dk, r] of set) {
          if (r.expiresAt <= now) {
            set.delete(dk);
            this.forget(r);
            changed.add(key);
          }
        }
        if (set.size === 0) byType.delete(type);
      }
      if (byType.size === 0) this.records.delete(key);
    }
    return changed;
  }

  /** Records whose next refresh point has passed (each point is reported once). */
  refreshDue(now: number): CachedRecord[] {
    const due: CachedRecord[] = [];
    for (const byType of this.records.values()) {
      for (const set of byType.values()) {
        for (const r of set.values()) {
          const point = REFRESH_POINTS[r.refreshed];
          if (point !== undefined && r.ttl > 1 && now >= r.receivedAt + r.ttl * 1000 * point) {
            r.refreshed++;
            due.push(r);
          }
        }
      }
    }
    return due;
  }

  /** The earliest moment something expires or needs refreshing. */
  nextEvent(): number | undefined {
    let next: number | undefined;
    for (const byType of this.records.values()) {
      for (const set of byType.values()) {
        for (const r of set.values()) {
          const point = REFRESH_POINTS[r.refreshed];
          const t = Math.min(r.expiresAt, point === undefined ? Infinity : r.receivedAt + r.ttl * 1000 * point);
          if (next === undefined || t < next) next = t;
        }
      }
    }
    return next;
  }

  size(): number {
    return this.total;
  }

  /** How many entries each internal map holds (tests check that refused records leave nothing behind). */
  internalSizes(): { names: number; rrsets: number; peers: number; reported: number } {
    let rrsets = 0;
    for (const byType of this.records.values()) rrsets += byType.size;
    return { names: this.records.size, rrsets, peers: this.perPeer.size, reported: this.reported.size };
  }
}
