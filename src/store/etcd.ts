// The shared store: every daemon of a cluster keeps its registrations in one
// etcd under a key prefix. A commit is one etcd transaction (all or nothing,
// acknowledged once the etcd cluster has it); `watch` follows the prefix from
// the revision `load` read, so each daemon's registry is a replica fed by the
// watch, and what one daemon writes reaches the others.
import { hostname } from "node:os";
import { Etcd3, type IKeyValue, type IWatchResponse, type Lease, type Watcher } from "etcd3";
import { every, guarded, later } from "../guard.js";
import { RingdnsError } from "../errors.js";
import { decodeEntry, encodeEntry } from "./codec.js";
import { CommitStore, type StoreEntry, type StoreOp, type StoreStatus } from "./store.js";

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
  if (!m) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--store: "${url}" is not etcd://host:port[,host:port…][/prefix]`);
  const hosts = m[1]!.split(",").map((h) => `http://${h}`);
  const prefix = m[2] && m[2] !== "/" ? m[2].replace(/\/?$/, "/") : "/ringdns/";
  return { hosts, prefix };
}

/** Whole seconds left on an entry's lease (at least 1), or undefined when it has none. */
function remainingSeconds(e: StoreEntry): number | undefined {
  return e.value.expiresAt === undefined ? undefined : Math.max(1, Math.ceil((e.value.expiresAt - Date.now()) / 1000));
}

const HEARTBEAT_INTERVAL_MS = 2000;
/** The heartbeat key lives on a lease, so a killed daemon's key goes away by itself. */
const HEARTBEAT_LEASE_SECONDS = 30;

export class EtcdStore extends CommitStore {
  readonly kind = "etcd";
  private readonly client: Etcd3;
  /** The endpoints as dialled: https:// with TLS. */
  private readonly hosts: string[];
  readonly nodeName: string;
  private revision = "0";
  private readonly watchers = new Set<Watcher>();
  /** Keys this replica holds (from load and the watch), so a resync can tell what went away. */
  private readonly known = new Set<string>();
  private connected = true;
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
    this.client = new Etcd3({
      hosts: this.hosts,
      dialTimeout: 3000,
      ...(tls ? { credentials: { rootCertificate: tls.ca, ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}) } } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    });
    this.heartbeatKey = `${options.prefix}meta/heartbeat/${this.nodeName}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** An entry as read back: a `writer` naming this node is dropped (what we wrote reads back as we put it). */
  private decode(kv: IKeyValue): StoreEntry {
    const entry = decodeEntry(JSON.parse(kv.value.toString()), `etcd ${kv.key.toString()}`);
    if (entry.value.writer !== this.nodeName) return entry;
    const { writer: _, ...value } = entry.value;
    return { ...entry, value } as StoreEntry;
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

  private full(key: string): string {
    return this.options.prefix + key;
  }

  status(): StoreStatus {
    return {
      healthy: this.connected,
      location: `${this.hosts.join(",")} ${this.options.prefix}`,
      node: this.nodeName,
      revision: this.revision,
      ...(this.lastEventAt !== undefined ? { lastEventAt: this.lastEventAt } : {}),
      ...(this.currentLag() !== undefined ? { lagMs: this.currentLag() } : {}),
    };
  }

  async load(): Promise<Map<string, StoreEntry>> {
    let res;
    try {
      res = await this.client.getAll().prefix(this.options.prefix).exec();
    } catch (e) {
      // gRPC errors run over several lines; the user gets one
      throw new RingdnsError("RINGDNS_E_STORE", `etcd at ${this.hosts.join(",")}: ${(e as Error).message.replace(/\s+/g, " ").trim()}`);
    }
    this.revision = String(res.header.revision);
    const out = new Map<string, StoreEntry>();
    for (const kv of res.kvs) {
      const key = kv.key.toString().slice(this.options.prefix.length);
      if (key.startsWith("meta/")) continue;
      out.set(key, this.decode(kv));
    }
    this.known.clear();
    for (const k of out.keys()) this.known.add(k);
    return out;
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
    // a comparison that always holds: etcd applies the whole "then" list in one transaction
    await this.client
      .if(this.full("meta/format"), "Version", ">", -1)
      .then(...[...last.values()].map(op))
      .commit();
  }

  watch(listener: (ops: readonly StoreOp[]) => void): () => void {
    const toOp = (kv: IKeyValue, deleted: boolean): StoreOp | undefined => {
      const key = kv.key.toString().slice(this.options.prefix.length);
      if (key.startsWith("meta/")) return undefined;
      return deleted ? { op: "delete", key } : { op: "put", key, entry: this.decode(kv) };
    };
    let stopped = false;
    const where = { etcd: this.hosts.join(","), prefix: this.options.prefix };
    const deliver = (ops: StoreOp[]) => {
      for (const o of ops) (o.op === "put" ? this.known.add(o.key) : this.known.delete(o.key));
      if (ops.length > 0) listener(ops);
    };
    const follow = (fromRevision: string) =>
      void this.client
        .watch()
        .prefix(this.options.prefix)
        .startRevision(fromRevision)
        .create()
        .then((w) => {
          if (stopped) return void w.cancel();
          this.watchers.add(w);
          w.on(
            "disconnected",
            guarded("etcd watch", () => {
              this.connected = false;
              this.log?.warn(where, "etcd out of reach: answering from the local replica, which may be stale; updates get SERVFAIL");
            }),
          );
          w.on(
            "connected",
            guarded("etcd watch", () => {
              this.connected = true;
              this.log?.info(where, "etcd watch connected: replica following the shared registry");
            }),
          );
          w.on(
            "data",
            guarded("etcd watch", (res: IWatchResponse) => {
              this.revision = String(res.header.revision);
              for (const e of res.events) this.heartbeatSeen(e.kv);
              if (res.events.some((e) => !e.kv.key.toString().startsWith(`${this.options.prefix}meta/`))) this.lastEventAt = Date.now();
            }),
          );
          w.on("data", guarded("etcd watch", (res: IWatchResponse) => deliver(res.events.map((e) => toOp(e.kv, e.type === "Delete")).filter((o): o is StoreOp => o !== undefined))));
          w.on(
            "error",
            guarded("etcd watch", () => {
              // the revision we resume from was compacted away (or the watch was canceled): read everything again
              this.watchers.delete(w);
              void w.cancel();
              if (!stopped) return resync();
            }),
          );
        }, () => !stopped && later("etcd resync", 1000, resync));
    const resync = async () => {
      try {
        const before = new Set(this.known);
        const all = await this.load();
        this.log?.warn(where, "etcd watch lost its place (compaction): replica read again in full");
        deliver([...[...all].map(([key, entry]): StoreOp => ({ op: "put", key, entry })), ...[...before].filter((k) => !all.has(k)).map((key): StoreOp => ({ op: "delete", key }))]);
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
