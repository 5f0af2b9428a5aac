// The shared store: every daemon of a cluster keeps its registrations in one
// etcd under a key prefix. A commit is one etcd transaction (all or nothing,
// acknowledged once the etcd cluster has it); `watch` follows the prefix from
// the revision `load` read, so each daemon's registry is a replica fed by the
// watch, and what one daemon writes reaches the others.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
// a turn of the event loop for others (queries) between two slices of a long read
import { setImmediate as nextTurn } from "node:timers/promises";
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from "cockatiel";
import {
  GRPCResourceExhastedError,
  isRecoverableError,
  Range,
  type IKeyValue,
  type IWatchResponse,
  type Lease,
  type Watcher,
} from "etcd3";
import { every, guarded, later } from "../guard.js";
import { RingdnsError } from "../errors.js";
import { decodeEntry, encodeEntry } from "./codec.js";
import { StoreConflict } from "../registry/store-contract.js";
import { EtcdClient, type RangeReply } from "./etcd-range.js";
import {
  CommitStore,
  JOURNAL_PREFIX,
  JOURNAL_SALT_KEY,
  journalKey,
  parseJournalKey,
  type JournalEntry,
  type JournalStore,
  type StoreEntry,
  type StoreOp,
  type StoreStatus,
} from "./store.js";

export interface EtcdOptions {
  /** Client URLs, e.g. ["http://127.0.0.1:2379"]. */
  hosts: string[];
  /** Key prefix shared by the cluster's daemons. */
  prefix: string;
  /** TLS: the CA to verify etcd with, and a client certificate when etcd asks for one. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** This daemon's name in the cluster, written with its registrations (default: the host name). */
  nodeName?: string;
}

/** Where the store reports that its replica may be stale (etcd out of reach) and fresh again. */
export interface StoreHealthLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** "etcd://h1:2379,h2:2379/prefix" (prefix optional, default /ringdns/). */
export function parseEtcdUrl(url: string): EtcdOptions {
  const m = /^etcd:\/\/([^/]+)(\/.*)?$/.exec(url);
  if (!m)
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--store: "${url}" is not etcd://host:port[,host:port…][/prefix]`);
  const hosts = m[1]!.split(",").map((h) => `http://${h}`);
  const prefix = m[2] && m[2] !== "/" ? m[2].replace(/\/?$/, "/") : "/ringdns/";
  return { hosts, prefix };
}

/** Whole seconds left on an entry's lease (at least 1), or undefined when it has none. */
function remainingSeconds(e: StoreEntry): number | undefined {
  return e.value.expiresAt === undefined ? undefined : Math.max(1, Math.ceil((e.value.expiresAt - Date.now()) / 1000));
}

// Reading the prefix: the gRPC client takes replies up to a size, so one range over
// ~10,000 registrations would fail and no daemon could start. It is read in pages instead:
// keys first (with their mod revisions), then the values of ranges between known keys.
// etcd 3.4 counts the whole rest of a range on every request with a limit, so pages of an
// open range cost O(n²); bounded ranges cost what they hold.
/** The first page of values, before any size is known. */
const FIRST_PAGE_KEYS = 100;
/**
 * At most this many values in a start-up page, whatever the last page's size said: 2,500
 * of the largest entries an UPDATE can make (~87 KB as JSON) still fit MAX_REPLY_BYTES. A
 * page over that limit must never happen: etcd3 retries RESOURCE_EXHAUSTED, resets its
 * connections and opens its circuit breaker, so no smaller retry could follow (found in
 * review: small hosts, then 2,000 large instances, and the daemon could not start). A
 * reply that large only comes with that many bytes of registrations, which the daemon
 * holds anyway.
 */
const MAX_PAGE_KEYS = 2_500;
/** Values per page in a resync, which runs while queries are answered: each page is decoded in one turn of the event loop (~1 ms). */
const RESYNC_PAGE_KEYS = 200;
/**
 * Keys per keys-only page at start-up, when nothing is answered from the replica yet: few
 * pages of the open range, which etcd counts to its end each time (~3 MB a page).
 */
const START_KEYS_PAGE = 50_000;
/**
 * Keys per keys-only page in a resync, its range bounded by keys the last read saw
 * (`splits`), so etcd's cost is what the page holds. Few calls: grpc-js's own garbage per
 * call, promoted while calls are in flight, made scavenges of ~10 ms at 500 keys a page.
 */
const RESYNC_KEYS_PAGE = 5_000;
/** Keys compared per turn of the event loop in a resync (~1 ms). */
const RESYNC_KEYS_SLICE = 1_000;
/** Keys-only ranges asked for together in a resync. */
const KEY_RANGES_AT_ONCE = 2;
/** Value pages asked for together: each is a bounded range, cheap for etcd, and the round trips overlap. */
const PAGES_AT_ONCE = 8;
/** What a value page aims at. */
const PAGE_TARGET_BYTES = 2 << 20;
const MAX_REPLY_BYTES = 256 << 20;
/** Entries of the replica's key map restored per turn of the event loop after a resync's marking. */
const SWEEP_CHUNK = 5_000;

/** A journal write's transaction at most: ops (etcd's default --max-txn-ops is 128) and bytes (its request limit is 1.5 MiB). */
const JOURNAL_TXN_OPS = 64;
const JOURNAL_TXN_BYTES = 1 << 20;

const HEARTBEAT_INTERVAL_MS = 2000;
/**
 * The watch's reconnect delays: doubling from 250 ms up to 2 s, so the replica follows
 * again (and reports healthy) within about 2 s of etcd answering, where etcd3's default
 * waits up to 30 s. A reconnect attempt is one cheap stream open.
 */
class WatchBackoff {
  constructor(readonly duration = 250) {}
  next(): WatchBackoff {
    return new WatchBackoff(Math.min(2000, this.duration * 2));
  }
}
const OUTAGE_LOG_INTERVAL_MS = 60_000;
/** The heartbeat key lives on a lease, so a killed daemon's key goes away by itself. */
const HEARTBEAT_LEASE_SECONDS = 30;

/** The prefix as of one revision, compared with what the replica held (all of it new at start-up). */
interface PrefixSnapshot {
  revision: string;
  /** Entries new or changed (by mod revision), decoded, and their mod revisions. */
  entries: Map<string, StoreEntry>;
  modRevisions: Map<string, number>;
  /** Keys the replica held that etcd no longer has. */
  removed: string[];
  /** How many keys etcd has. */
  count: number;
  /** Keys about RESYNC_KEYS_PAGE apart, in etcd's order: bounds for the next read's keys-only ranges. */
  splits: Buffer[];
  pages: number;
  bytes: number;
}

export class EtcdStore extends CommitStore {
  readonly kind = "etcd";
  /** Under etcd's default limit of 128 operations per transaction (`--max-txn-ops`). */
  readonly maxCommitOps = 64;
  private readonly client: EtcdClient;
  /** The endpoints as dialled: https:// with TLS. */
  private readonly hosts: string[];
  readonly nodeName: string;
  private revision = "0";
  /** The revision of what the registry is taking in now (Store.changeRevision). */
  private applied: number | undefined;
  private readonly watchers = new Set<Watcher>();
  /**
   * Keys this replica holds (from load and the watch) with their mod revision, so a resync can tell
   * what went away or changed. A resync marks each key it finds in etcd by negating its revision, in
   * place: a second map of every key would be 200,000 strings to allocate, promote and collect while
   * queries wait on the garbage collector.
   */
  private known = new Map<string, number>();
  /** Keys about RESYNC_KEYS_PAGE apart as of the last full read: bounds for a resync's keys-only ranges. */
  private splits: Buffer[] = [];
  /** The mod revision of each SRP claim value handed to the registry: what a claim write compares against. */
  private readonly revisions = new WeakMap<object, number>();
  /** Keys of this daemon's commits under way: the watch may bring them back before the commit's reply. */
  private readonly inFlight = new Map<string, number>();
  private connected = true;
  /** Since when etcd has been out of reach, and when that was last logged (the watch reports each failed reconnect). */
  private outage: { since: number; loggedAt: number; reconnects: number } | undefined;
  /** A full read after compaction under way: the replica may be stale until it is done. */
  private resyncing: { since: number; attempts: number } | undefined;
  private lastEventAt: number | undefined;
  // lag: a heartbeat written under meta/ and timed until this replica's watch brings it back
  private readonly heartbeatKey: string;
  private heartbeatLease: Lease | undefined;
  private heartbeat: { token: string; sentAt: number } | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lagMs: number | undefined;

  constructor(
    private readonly options: EtcdOptions,
    private readonly log?: StoreHealthLog,
  ) {
    super();
    const tls = options.tls;
    this.nodeName = options.nodeName ?? hostname();
    this.hosts = tls ? options.hosts.map((h) => h.replace(/^http:/, "https:")) : options.hosts;
    this.client = new EtcdClient({
      hosts: this.hosts,
      dialTimeout: 3000,
      // reconnects as the watch does (250 ms doubling to 2 s): gRPC's own backoff grows to 2 minutes,
      // and a replica cut off for a few seconds then waited 5 s more after etcd was back
      grpcOptions: {
        "grpc.max_receive_message_length": MAX_REPLY_BYTES,
        "grpc.initial_reconnect_backoff_ms": 250,
        "grpc.max_reconnect_backoff_ms": 2000,
      },
      // etcd3's own breaker, after 3 failures, refuses every call for 5 s: etcd back, the replica
      // still waited that long to read again. 1 s, like the reconnects.
      faultHandling: {
        watchBackoff: new WatchBackoff(),
        host: () =>
          circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      },
      ...(tls
        ? {
            credentials: {
              rootCertificate: tls.ca,
              ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}),
            },
          }
        : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    });
    this.heartbeatKey = `${options.prefix}meta/heartbeat/${this.nodeName}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** An entry as read back: a `writer` naming this node is dropped (what we wrote reads back as we put it). */
  private decode(key: string, value: string, modRevision: number): StoreEntry {
    let entry = decodeEntry(JSON.parse(value), `etcd ${this.options.prefix}${key}`);
    if (entry.value.writer === this.nodeName) {
      const { writer: _, ...rest } = entry.value;
      entry = { ...entry, value: rest } as StoreEntry;
    }
    // what a claim's next write compares against: the revision of the value the registry holds
    if (entry.kind === "claim") this.revisions.set(entry.value, modRevision);
    return entry;
  }

  /** Current lag: the last measured one, or longer if the heartbeat now on its way is older. */
  private currentLag(): number | undefined {
    const outstanding = this.heartbeat ? Date.now() - this.heartbeat.sentAt : undefined;
    if (outstanding === undefined) return this.lagMs;
    return Math.max(this.lagMs ?? 0, outstanding);
  }

  private async sendHeartbeat(): Promise<void> {
    // one at a time; one lost on the way is replaced after a while, timed from the first
    if (this.heartbeat && Date.now() - this.heartbeat.sentAt < 5 * HEARTBEAT_INTERVAL_MS) return;
    const token = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    this.heartbeat = { token, sentAt: this.heartbeat?.sentAt ?? Date.now() };
    try {
      this.heartbeatLease ??= this.client.lease(HEARTBEAT_LEASE_SECONDS);
      await this.heartbeatLease.put(this.heartbeatKey).value(token);
    } catch {
      // etcd out of reach: the watch reports that, the outstanding heartbeat keeps counting,
      // and the next one starts over with a new lease
      const lease = this.heartbeatLease;
      this.heartbeatLease = undefined;
      lease?.release();
    }
  }

  private heartbeatSeen(kv: IKeyValue): void {
    if (this.heartbeat && kv.key.toString() === this.heartbeatKey && kv.value.toString() === this.heartbeat.token) {
      this.lagMs = Date.now() - this.heartbeat.sentAt;
      this.heartbeat = undefined;
    }
  }

  private lostEtcd(where: object): void {
    this.connected = false;
    const now = Date.now();
    if (!this.outage) {
      this.outage = { since: now, loggedAt: now, reconnects: 0 };
      this.log?.warn(
        where,
        "etcd out of reach: answering from the local replica, which may be stale; updates get SERVFAIL",
      );
      return;
    }
    // the watch reports every failed reconnect: one line a minute while it lasts
    this.outage.reconnects++;
    if (now - this.outage.loggedAt < OUTAGE_LOG_INTERVAL_MS) return;
    this.outage.loggedAt = now;
    this.log?.warn(
      { ...where, seconds: Math.round((now - this.outage.since) / 1000), reconnects: this.outage.reconnects },
      "etcd still out of reach: answering from the local replica, which may be stale; updates get SERVFAIL",
    );
  }

  private reachedEtcd(where: object): void {
    this.connected = true;
    const outage = this.outage;
    this.outage = undefined;
    this.log?.info(
      outage
        ? { ...where, seconds: Math.round((Date.now() - outage.since) / 1000), reconnects: outage.reconnects }
        : where,
      "etcd watch connected: replica following the shared registry",
    );
  }

  private full(key: string): string {
    return this.options.prefix + key;
  }

  status(): StoreStatus {
    const reason = !this.connected
      ? `etcd out of reach${this.outage ? ` for ${Math.round((Date.now() - this.outage.since) / 1000)} s (${this.outage.reconnects} reconnects failed)` : ""}: answering from a possibly stale replica`
      : this.resyncing
        ? "reading the replica again in full after etcd compacted its history: answering from a possibly stale replica"
        : undefined;
    return {
      healthy: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      location: `${this.hosts.join(",")} ${this.options.prefix}`,
      node: this.nodeName,
      revision: this.revision,
      ...(this.lastEventAt !== undefined ? { lastEventAt: this.lastEventAt } : {}),
      ...(this.currentLag() !== undefined ? { lagMs: this.currentLag() } : {}),
    };
  }

  async load(): Promise<Map<string, StoreEntry>> {
    const started = Date.now();
    const read = await this.readPrefix(false);
    this.log?.info(
      {
        etcd: this.hosts.join(","),
        prefix: this.options.prefix,
        entries: read.count,
        pages: read.pages,
        bytes: read.bytes,
        revision: read.revision,
        ms: Date.now() - started,
      },
      "etcd prefix read",
    );
    this.known = read.modRevisions;
    this.splits = read.splits;
    this.revision = read.revision;
    this.applied = lastDataRevision(read.modRevisions);
    return read.entries;
  }

  /**
   * Everything under the prefix as of one revision, read in pages: the first page's
   * revision is asked of every later one, so the pages make one consistent snapshot
   * that the watch can follow from. A page whose revision was compacted away meanwhile
   * starts the read over. `resync`: compared with the replica's keys, and only what
   * differs is fetched; otherwise (start-up) everything is new.
   */
  private async readPrefix(resync: boolean): Promise<PrefixSnapshot> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readPages(resync);
      } catch (e) {
        const message = (e as Error).message.replace(/\s+/g, " ").trim();
        if (attempt < 3 && /compacted/.test(message)) continue;
        // gRPC errors run over several lines; the user gets one
        throw new RingdnsError("RINGDNS_E_STORE", `etcd at ${this.hosts.join(",")}: ${message}`);
      }
    }
  }

  /**
   * Every key with its mod revision first (keys only), then the values in
   * ranges that end where each page does: of every key at start-up, or in a
   * resync only of those whose mod revision differs from what the replica
   * holds (a resync after a compaction fetches and decodes what changed, not
   * 40 MB). A resync lists the keys in ranges bounded by the last read's
   * `splits`, small pages with a turn of the event loop between them, and
   * compares them with the replica's map in place.
   */
  private async readPages(resync: boolean): Promise<PrefixSnapshot> {
    const prefixBytes = Buffer.byteLength(this.options.prefix);
    const end = Range.prefix(this.options.prefix).end;
    const known = resync ? this.known : new Map<string, number>();
    const bounds = resync
      ? [Buffer.from(this.options.prefix), ...this.splits, end]
      : [Buffer.from(this.options.prefix), end];
    const keyRanges = bounds.slice(1).map((to, i) => ({
      from: bounds[i]!,
      to,
      count: 0,
      /** keys whose values are to be read, and their places in the range */
      wanted: [] as Buffer[],
      wantedAt: [] as number[],
      splits: [] as Buffer[],
    }));
    const keysPage = resync ? RESYNC_KEYS_PAGE : START_KEYS_PAGE;
    let revision: number | undefined;
    let pages = 0;
    const listKeys = async (r: (typeof keyRanges)[number]) => {
      for (let start = r.from; ; ) {
        const res = await this.client.rangeReply({
          key: start,
          rangeEnd: r.to,
          limit: keysPage,
          keysOnly: true,
          revision: revision ?? 0,
        });
        revision ??= res.revision;
        pages++;
        for (let i = 0; i < res.length; i++) {
          if (resync && i % RESYNC_KEYS_SLICE === 0) await nextTurn();
          const key = res.key(i, prefixBytes);
          if (key.startsWith("meta/")) continue;
          const modRevision = res.modRevision[i]!;
          const held = known.get(key);
          if (held !== undefined && held > 0) known.set(key, -held);
          if (held === undefined || Math.abs(held) !== modRevision) {
            r.wanted.push(res.keyBytes(i));
            r.wantedAt.push(r.count);
          }
          if (r.count % RESYNC_KEYS_PAGE === 0) r.splits.push(res.keyBytes(i));
          r.count++;
        }
        if (!res.more || res.length === 0) return;
        start = Buffer.concat([res.keyBytes(res.length - 1), Buffer.from([0])]);
      }
    };
    let complete = false;
    const removed: string[] = [];
    try {
      // the first range alone, for the revision every other page is read at
      await listKeys(keyRanges[0]!);
      let next = 1;
      await Promise.all(
        Array.from({ length: KEY_RANGES_AT_ONCE }, async () => {
          for (let r = keyRanges[next++]; r; r = keyRanges[next++]) await listKeys(r);
        }),
      );
      const wanted: Buffer[] = [];
      const wantedAt: number[] = [];
      let count = 0;
      for (const r of keyRanges) {
        for (const [i, key] of r.wanted.entries()) {
          wanted.push(key);
          wantedAt.push(count + r.wantedAt[i]!);
        }
        count += r.count;
      }

      let bytes = 0;
      const entries = new Map<string, StoreEntry>();
      const modRevisions = new Map<string, number>();
      // each page is taken in as it arrives, so the decoding is spread over turns of the event loop
      const take = async (res: RangeReply) => {
        pages++;
        if (resync) await nextTurn();
        for (let i = 0; i < res.length; i++) {
          const key = res.key(i, prefixBytes);
          if (key.startsWith("meta/")) continue;
          const modRevision = res.modRevision[i]!;
          const held = known.get(key);
          if (held !== undefined && Math.abs(held) === modRevision) continue; // one the replica has, between two wanted
          bytes += res.keyEnd[i]! - res.keyStart[i]! + res.valueLength(i);
          entries.set(key, this.decode(key, res.value(i), modRevision));
          modRevisions.set(key, modRevision);
        }
      };
      const maxKeys = resync ? RESYNC_PAGE_KEYS : MAX_PAGE_KEYS;
      let limit = Math.min(FIRST_PAGE_KEYS, maxKeys);
      for (let w = 0; w < wanted.length; ) {
        // a few pages at once, each as many keys as fit the target at the bytes per key seen so far; a
        // page runs from one wanted key to the last within its size, unwanted ones between included
        const ranges: [number, number][] = [];
        for (let k = 0, n = w === 0 ? 1 : PAGES_AT_ONCE; k < n && w < wanted.length; k++) {
          const from = w;
          while (w + 1 < wanted.length && wantedAt[w + 1]! - wantedAt[from]! < limit) w++;
          ranges.push([from, ++w]);
        }
        await Promise.all(
          ranges.map(async ([from, to]) => {
            for (const reply of await this.readRange(wanted, from, to, revision!)) await take(reply);
          }),
        );
        limit = Math.min(
          maxKeys,
          Math.max(1, Math.floor(PAGE_TARGET_BYTES / Math.max(1, bytes / Math.max(1, entries.size)))),
        );
      }
      complete = true;
      return {
        revision: String(revision),
        entries,
        modRevisions,
        removed,
        count,
        splits: keyRanges.flatMap((r) => r.splits),
        pages,
        bytes,
      };
    } finally {
      // `removed` is the array returned: filled here, before the caller sees it
      if (resync) await this.unmark(complete ? removed : undefined);
    }
  }

  /** Takes a resync's marks off the replica's keys, a slice at a time; the keys left unmarked (not in etcd) go to `gone`. */
  private async unmark(gone?: string[]): Promise<void> {
    let n = 0;
    for (const [key, modRevision] of this.known) {
      if (modRevision < 0) this.known.set(key, -modRevision);
      else gone?.push(key);
      if (++n % SWEEP_CHUNK === 0) await nextTurn();
    }
  }

  /** The values of wanted[from, to) and of the keys between them, as of `revision`; halved until a part fits the reply limit. */
  private async readRange(
    wanted: readonly Buffer[],
    from: number,
    to: number,
    revision: number,
  ): Promise<RangeReply[]> {
    try {
      return [
        await this.client.rangeReply({
          key: wanted[from]!,
          rangeEnd: Buffer.concat([wanted[to - 1]!, Buffer.from([0])]),
          revision,
        }),
      ];
    } catch (e) {
      if (!(e instanceof GRPCResourceExhastedError) || to - from < 2) throw e;
      const mid = (from + to) >> 1;
      return [
        ...(await this.readRange(wanted, from, mid, revision)),
        ...(await this.readRange(wanted, mid, to, revision)),
      ];
    }
  }

  async commit(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return;
    // etcd refuses a key twice in one transaction: the last op on a key is the one that counts
    const last = new Map<string, StoreOp>();
    for (const o of ops) {
      last.delete(o.key);
      last.set(o.key, o);
    }
    // leased registrations get an etcd lease of the remaining time, so they expire in etcd even
    // when no daemon is left to expire them; one lease per distinct TTL in the commit
    const leases = new Map<number, string>();
    for (const o of last.values()) {
      const ttl = o.op === "put" ? remainingSeconds(o.entry) : undefined;
      if (ttl !== undefined && !leases.has(ttl)) {
        const lease = this.client.lease(ttl, { autoKeepAlive: false });
        leases.set(ttl, await lease.grant());
        lease.release(); // no keep-alive: renewal is a new UPDATE, with a new lease
      }
    }
    const op = (o: StoreOp) => {
      if (o.op === "delete") return this.client.delete().key(this.full(o.key));
      // which node wrote it travels with it, so the others can tell a peer's registration from their own
      const entry = { ...o.entry, value: { ...o.entry.value, writer: this.nodeName } } as StoreEntry;
      const put = this.client.put(this.full(o.key)).value(JSON.stringify(encodeEntry(entry)));
      const ttl = remainingSeconds(o.entry);
      return ttl === undefined ? put : put.lease(leases.get(ttl)!);
    };
    // one transaction for every op. An SRP claim is first come, first served across the cluster: each one
    // written or removed must be as this replica last saw it (absent: absent), or another daemon got there first
    let txn = this.client.if(this.full("meta/format"), "Version", ">", -1);
    const claims = [...last.values()].filter((o) => o.key.startsWith("claim/"));
    for (const o of claims) {
      // the revision of the claim the write was planned against (the watch may have brought a newer one since)
      // a resync's mark is a negated revision: the revision is its absolute value
      const held = this.known.get(o.key);
      const expected = o.expect === undefined ? held && Math.abs(held) : o.expect && this.revisions.get(o.expect);
      txn =
        expected === undefined || expected === null
          ? txn.and(this.full(o.key), "Create", "==", 0)
          : txn.and(this.full(o.key), "Mod", "==", expected);
    }
    for (const key of last.keys()) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let res: Awaited<ReturnType<typeof txn.commit>>;
    try {
      res = await txn.then(...[...last.values()].map(op)).commit();
    } finally {
      for (const key of last.keys()) {
        const n = this.inFlight.get(key)! - 1;
        if (n === 0) this.inFlight.delete(key);
        else this.inFlight.set(key, n);
      }
    }
    if (!res.succeeded) throw new StoreConflict("another daemon changed an SRP claim this write read");
    // the claim values written are known by their revision at once, not when the watch brings them back: the
    // registry holds these very objects until then, and the next claim write compares against them
    const revision = res.header?.revision;
    if (revision !== undefined && revision !== null) {
      for (const o of claims) if (o.op === "put") this.revisions.set(o.entry.value, Number(revision));
      this.applied = Number(revision);
    }
  }

  readonly journal: JournalStore = {
    shared: true,
    salt: async () => {
      // the first daemon to ask makes it; every other reads that one
      const key = this.full(JOURNAL_SALT_KEY);
      await this.client
        .if(key, "Create", "==", 0)
        .then(this.client.put(key).value(randomBytes(16).toString("hex")))
        .commit();
      const salt = await this.client.get(key).string();
      if (salt === null) throw new Error("etcd: the journal's salt is gone");
      return salt;
    },
    loadJournal: async () => {
      const all = await this.client.getAll().prefix(this.full(JOURNAL_PREFIX)).strings();
      const out: JournalEntry[] = [];
      for (const [key, value] of Object.entries(all)) {
        try {
          const at = parseJournalKey(key.slice(this.full("").length));
          if (at) out.push({ ...at, value: JSON.parse(value) });
        } catch {
          // not JSON: not ours to read, the journal does without it
        }
      }
      return out;
    },
    writeJournal: async (put, remove) => {
      const key = (zone: string, id: string) => this.full(journalKey(zone, id));
      const ops = [
        ...remove.map((r) => ({ key: key(r.zone, r.id), value: undefined as string | undefined })),
        ...put.map((e) => ({ key: key(e.zone, e.id), value: JSON.stringify(e.value) })),
      ].filter((o) => o.value === undefined || o.value.length <= JOURNAL_TXN_BYTES); // too big for etcd: left out, a gap the journal's chain check finds
      // in transactions etcd takes; each whole or not at all, in order
      for (let at = 0; at < ops.length; ) {
        const txn: typeof ops = [];
        let bytes = 0;
        while (at < ops.length && txn.length < JOURNAL_TXN_OPS) {
          const size = ops[at]!.key.length + (ops[at]!.value?.length ?? 0);
          if (txn.length > 0 && bytes + size > JOURNAL_TXN_BYTES) break;
          txn.push(ops[at++]!);
          bytes += size;
        }
        await this.client
          .if(this.full("meta/format"), "Version", ">", -1)
          .then(
            ...txn.map((o) =>
              o.value === undefined ? this.client.delete().key(o.key) : this.client.put(o.key).value(o.value),
            ),
          )
          .commit();
      }
    },
  };

  changeRevision(): number | undefined {
    return this.applied;
  }

  watch(listener: (ops: readonly StoreOp[]) => void): () => void {
    let stopped = false;
    const where = { etcd: this.hosts.join(","), prefix: this.options.prefix };
    const changes = (res: IWatchResponse): StoreOp[] => {
      const ops: StoreOp[] = [];
      for (const e of res.events) {
        const key = e.kv.key.toString().slice(this.options.prefix.length);
        if (key.startsWith("meta/")) continue;
        this.applied = Math.max(this.applied ?? 0, Number(e.kv.mod_revision));
        const mine = this.inFlight.has(key) ? { mine: true as const } : {};
        if (e.type === "Delete") {
          this.known.delete(key);
          ops.push({ op: "delete", key, ...mine });
        } else {
          this.known.set(key, Number(e.kv.mod_revision));
          ops.push({
            op: "put",
            key,
            entry: this.decode(key, e.kv.value.toString(), Number(e.kv.mod_revision)),
            ...mine,
          });
        }
      }
      return ops;
    };
    const follow = (fromRevision: string) =>
      void this.client
        .watch()
        .prefix(this.options.prefix)
        .startRevision(fromRevision)
        .create()
        .then(
          (w) => {
            if (stopped) return void w.cancel();
            this.watchers.add(w);
            w.on(
              "disconnected",
              guarded("etcd watch", () => this.lostEtcd(where)),
            );
            w.on(
              "connected",
              guarded("etcd watch", () => this.reachedEtcd(where)),
            );
            w.on(
              "data",
              guarded("etcd watch", (res: IWatchResponse) => {
                this.revision = String(res.header.revision);
                for (const e of res.events) this.heartbeatSeen(e.kv);
                if (res.events.some((e) => !e.kv.key.toString().startsWith(`${this.options.prefix}meta/`)))
                  this.lastEventAt = Date.now();
              }),
            );
            w.on(
              "data",
              guarded("etcd watch", (res: IWatchResponse) => {
                const ops = changes(res);
                if (ops.length > 0) listener(ops);
              }),
            );
            w.on(
              "error",
              guarded("etcd watch", () => {
                // the revision we resume from was compacted away (or the watch was canceled): read everything again
                this.watchers.delete(w);
                void w.cancel();
                if (!stopped) return resync();
              }),
            );
          },
          () => !stopped && later("etcd resync", 1000, resync),
        );
    // The replica is read again in pages while queries go on being answered from it; what
    // differs (by mod revision) reaches the registry in one call, so no query sees half of it.
    const resync = async () => {
      this.resyncing ??= { since: Date.now(), attempts: 0 };
      if (this.resyncing.attempts++ === 0)
        this.log?.warn(
          { ...where, entries: this.known.size },
          "etcd watch lost its place (compaction): reading the replica again in full; not ready until done",
        );
      try {
        // only what changed is fetched and decoded: a compaction usually leaves most entries as they were
        const read = await this.readPrefix(true);
        if (stopped) return;
        const ops: StoreOp[] = [];
        for (const [key, entry] of read.entries) ops.push({ op: "put", key, entry });
        for (const key of read.removed) ops.push({ op: "delete", key });
        // the registry first: if that fails, the next try still compares against what it holds
        this.applied = lastDataRevision(read.modRevisions);
        if (ops.length > 0) listener(ops);
        for (const [key, modRevision] of read.modRevisions) this.known.set(key, modRevision);
        for (const key of read.removed) this.known.delete(key);
        this.splits = read.splits;
        this.revision = read.revision;
        this.log?.info(
          {
            ...where,
            entries: read.count,
            changed: read.entries.size,
            removed: read.removed.length,
            pages: read.pages,
            bytes: read.bytes,
            ms: Date.now() - this.resyncing.since,
            attempts: this.resyncing.attempts,
          },
          "etcd replica read again in full: following the shared registry",
        );
        this.resyncing = undefined;
        follow(String(BigInt(this.revision) + 1n));
      } catch {
        if (!stopped) later("etcd resync", 1000, resync);
      }
    };
    follow(String(BigInt(this.revision) + 1n));
    void this.sendHeartbeat();
    this.heartbeatTimer = every("etcd heartbeat", HEARTBEAT_INTERVAL_MS, () => this.sendHeartbeat());
    return () => {
      stopped = true;
      clearInterval(this.heartbeatTimer);
      for (const w of this.watchers) void w.cancel();
      this.watchers.clear();
    };
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    for (const w of this.watchers) await w.cancel();
    // best effort: the lease would remove the key anyway
    await this.heartbeatLease?.revoke().catch(() => undefined);
    this.client.close();
  }
}

/**
 * The revision of the registrations as read: the newest of their mod
 * revisions, not the read's own revision, which heartbeats under meta/ move
 * too (two daemons starting a second apart would read different ones). A
 * removal after the newest write leaves no trace in a read: a daemon started
 * then names the state by a lower serial than its peers until the next change.
 */
function lastDataRevision(modRevisions: ReadonlyMap<string, number>): number {
  let newest = 0;
  for (const r of modRevisions.values()) if (Math.abs(r) > newest) newest = Math.abs(r);
  return newest;
}
