// The registry: service types, instances, hosts, leases and a change feed.
// Writes go to the store first and reach memory only once durable, one at a
// time in arrival order (queued ones share a commit); reads are synchronous
// and never touch the store. The clock is injected.
import { reportInternalError, sleep } from "../guard.js";
import type { Clock } from "../clock.js";
import { formatServiceType, lowerAscii, type ServiceType } from "../names.js";
import {
  DEFAULT_POINTS_PER_WEIGHT,
  PROBES,
  Ring,
  ringWeight,
  type RingMember,
  type RingOptions,
  type RingWorkAside,
  type ShareSummary,
} from "../ring/ring.js";
import { StoreConflict, type Store, type StoreEntry, type StoreOp } from "./store-contract.js";
import {
  claimKey,
  hostGroup,
  hostIdAt,
  hostKey,
  hostStoreKey,
  instanceGroup,
  instanceId,
  instanceIdAt,
  instanceKey,
  instanceStoreKey,
  servedIn,
  slotInstance,
} from "./scopes.js";
import { Records } from "./records.js";
import { ServedInstances } from "./served-instances.js";
import {
  countPerKey,
  LOCAL_DOMAIN,
  owningKey,
  sameInstance,
  sameOwner,
  servedDomain,
  whoOwns,
  type Change,
  type ChangeOp,
  type Claim,
  type Host,
  type Instance,
} from "./types.js";
import { compactHost, compactInstance } from "./compact.js";
import { ExpiryHeap, type ExpiryEntry } from "./expiry-heap.js";
import { PendingView, type RegistryOp, type RegistryView } from "./pending-view.js";
import { addSerial, compareSerial, nextSerial, SERIAL_RESERVATION, type SerialKeeper } from "./serial.js";

export type { RegistryOp, RegistryView } from "./pending-view.js";

/** A write waiting for its turn: its plan reads the registry and says what to change. */
interface QueuedWrite {
  plan: (view: RegistryView) => { ops: readonly RegistryOp[]; result: unknown };
  done: (result: unknown) => void;
  failed: (err: unknown) => void;
}
/** Times a group is planned again after a StoreConflict before its writes fail. */
const MAX_CONFLICT_RETRIES = 4;
/**
 * Ops per group commit when the store sets no limit of its own (LMDB, memory):
 * every write queued during the last fsync goes in the next (an SRP
 * registration is 4 ops), bounded so one transaction stays short.
 */
const MAX_GROUP_OPS = 1024;

interface TypeState {
  readonly type: ServiceType;
  /** By ring identity: read from the records, no map of its own. */
  readonly instances: ServedInstances;
  /** The ring as of the last read (none before its first build); `ringStale` ids changed since and are merged in on the next read. */
  ring: Ring | undefined;
  ringStale: Set<string>;
  /** A build aside is under way: reads use `ring` as it is until it lands. */
  building: boolean;
  /** The instances' ring weights together (--max-ring-weight). */
  weight: number;
  /** Of those, what the mDNS learner holds: instances and their weights (see RegistryView.learned). */
  learned: { instances: number; weight: number };
  /** Instance ids by subtype (lower-cased), in the order they were listed: a subtype browse reads only its own. */
  readonly bySubtype: Map<string, Set<string>>;
}

/**
 * Ring work done on the read (query) path at most: a ring of more points
 * than this is built, or a change adding more is applied, aside (a worker
 * thread) while queries go on. ~2 ms here; a change to a bigger ring copies
 * its arrays but hashes only the changed instances, ~1 ms per 400,000 points.
 */
export const RING_POINTS_BUILT_INLINE = 20_000;

/** (probe, point) pairs a lookup on a ring that is catching up visits at most: ~50 µs. */
const CATCH_UP_VISITS = PROBES * 64;
/** Pairs a successors list visits at most (HTTP, `ringdns hash`): a few ms, however heavy the instances on the way. */
const SUCCESSOR_VISITS = 1 << 16;

/**
 * What one served domain answers per type: the instances (and ring), derived
 * from the records (scopes.ts). Its hosts are looked up in the records as
 * asked (`hostIn`): a map of them per domain held every host twice.
 */
interface Scope {
  readonly types: Map<string, TypeState>;
}

export { domainKey, hostKey, hostStoreKey, instanceId, instanceKey, instanceStoreKey } from "./scopes.js";

export interface RegistryOptions {
  clock: Clock;
  store: Store;
  /** `aside`: where big rings are built and their shares computed (the daemon: a worker thread); without it, inline. */
  ring?: RingOptions & { aside?: RingWorkAside };
  /** Keeps the SOA serial rising across restarts (the LMDB store's data directory); without it, the clock alone. */
  serials?: SerialKeeper;
}

export class Registry implements RegistryView {
  private readonly clock: Clock;
  private readonly store: Store;
  private readonly ringOptions: RingOptions;
  private readonly aside: RingWorkAside | undefined;
  /** Shares being computed aside, by ring: asked twice, computed once. */
  private readonly sharesUnderWay = new WeakMap<Ring, Promise<ShareSummary>>();
  /** The last share computation in line; and per ring (domain and type) the one waiting its turn. */
  private sharesTurn: Promise<unknown> = Promise.resolve();
  private readonly sharesNext = new Map<string, Promise<{ ring: Ring; summary: ShareSummary }>>();
  /** Every registration by store key: the source of truth the scopes are derived from. */
  private readonly instanceRecords = new Records<Instance>(instanceIdAt);
  private readonly hostRecords = new Records<Host>(hostIdAt);
  /** Per type, whatever the domain: its groups in instanceRecords (one per domain), and their instances together. */
  private readonly byType = new Map<string, { type: ServiceType; groups: Set<string>; count: number }>();
  /** Per served domain (domainKey), what it answers; made when first read or written. */
  private readonly scopes = new Map<string, Scope>();
  private lastScope: { domain: string; scope: Scope } | undefined;
  private readonly listeners = new Set<(c: Change) => void>();
  private readonly expiries = new ExpiryHeap();
  /** Instances, and hosts, per TSIG key that owns them (for --max-registrations-per-key). */
  private readonly perKey = new Map<string, number>();
  private readonly hostsPerKeyCount = new Map<string, number>();
  /** SRP claims by the store key of the record they claim, and the records each key claims. */
  private readonly claims = new Map<string, Claim>();
  private readonly claimsByKey = new Map<string, Set<string>>();
  private unwatch: (() => void) | undefined;
  private serialNumber: number;
  private readonly serials: SerialKeeper | undefined;
  /** Serials up to this one are reserved with `serials`. */
  private serialReserved: number | undefined;
  /** The reservation an earlier run left, as read at start. */
  private readonly floorAtStart: number | undefined;
  /** Applying what the store committed or delivered (its changeRevision names it), not a change of our own (static). */
  private fromStore = false;
  /** Applying what another writer of a shared store wrote (the watch), not our own commit. */
  private watched = false;
  /** A store with revisions: the revision the serial was last made from, and changes made outside the store since start. */
  private serialRevision: number | undefined;
  private localChanges = 0;
  /** Every ring's weight together, in every domain made so far. */
  private totalWeight = 0;
  /** What the mDNS learner holds of the totals: instance and host records, and ring weight in every domain. */
  private readonly learnedTotal = { instances: 0, hosts: 0, weight: 0 };
  /** The last write in line: writes run one at a time, in the order they were asked for. */
  private writes: Promise<unknown> = Promise.resolve();
  /** Writes that arrived while the line was busy: planned and committed together when their turn comes. */
  private gathering: QueuedWrite[] | undefined;

  constructor(options: RegistryOptions) {
    this.clock = options.clock;
    this.store = options.store;
    this.ringOptions = {
      ...(options.ring?.pointsPerWeight !== undefined ? { pointsPerWeight: options.ring.pointsPerWeight } : {}),
    };
    this.aside = options.ring?.aside;
    this.serials = options.serials;
    const floor = this.serials?.floor;
    this.floorAtStart = floor;
    const clock = this.clockSerial();
    // above whatever an earlier run served, and never behind the clock (a fresh store starts at the time)
    this.serialNumber = floor !== undefined && compareSerial(floor, clock) !== -1 ? addSerial(floor, 1) : clock;
    this.reserveSerials();
  }

  /** Before a serial past the reservation is served, the next block is kept (one write per SERIAL_RESERVATION changes). */
  private reserveSerials(): void {
    if (!this.serials) return;
    if (this.serialReserved !== undefined && compareSerial(this.serialNumber, this.serialReserved) === -1) return;
    const upTo = addSerial(this.serialNumber, SERIAL_RESERVATION);
    try {
      this.serials.reserve(upTo);
      this.serialReserved = upTo;
    } catch (err) {
      // a full or failing disk: the change still stands and every listener hears of it (journals, pushes);
      // the reservation is tried again at the next change, and the fault is logged and counted
      reportInternalError("SOA serial reservation", err);
    }
  }

  /**
   * SOA serial (RFC 1982 arithmetic): moves forward on every change, at least
   * the clock's seconds, and above every serial an earlier run served when a
   * SerialKeeper keeps them.
   */
  serial(): number {
    return this.serialNumber;
  }

  /** Is the change being heard another daemon's (a shared store's watch), not this registry's own? */
  changeFromPeer(): boolean {
    return this.watched;
  }

  /** The serial reservation read at start (an earlier run's last), and the one a run after this would read: what ties a stop's record to the next start. */
  serialFloorAtStart(): number | undefined {
    return this.floorAtStart;
  }

  serialReservation(): number | undefined {
    return this.serialReserved;
  }

  /** A replica takes its primary's serial, so every process answers the same SOA. */
  followSerial(serial: number): void {
    this.serialNumber = serial >>> 0;
  }

  private clockSerial(): number {
    return Math.floor(this.clock.now() / 1000) >>> 0;
  }

  /** Load what the store holds and follow changes other writers make to it. */
  async open(): Promise<void> {
    const stored = await this.store.load();
    // a store with revisions (etcd) gives the serial: the same on every daemon sharing it
    const revision = this.store.changeRevision?.();
    if (revision !== undefined) {
      this.serialNumber = revision >>> 0;
      this.serialRevision = revision;
    }
    // leases are absolute times: what ended while we were down is removed, not served
    const now = this.clock.now();
    const ended: string[] = [];
    for (const [key, e] of stored) if (e.value.expiresAt !== undefined && e.value.expiresAt <= now) ended.push(key);
    if (ended.length > 0) await this.store.commit(ended.map((key) => ({ op: "delete" as const, key })));
    for (const key of ended) stored.delete(key);
    this.storeChanges(() => {
      for (const entry of stored.values()) this.applyEntry(entry);
    });
    this.unwatch = this.store.watch((ops) =>
      this.storeChanges(() => {
        try {
          for (const o of ops) {
            this.watched = !o.mine;
            this.applyStoreOp(o);
          }
        } finally {
          this.watched = false;
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Static registrations (services file): served, never written to the store. */
  loadStatic(instances: readonly Instance[], hosts: readonly Host[]): void {
    for (const h of hosts) this.setHost(h);
    for (const i of instances) this.setInstance(i);
  }

  /**
   * Swap in a new set of static registrations (the services file reloaded):
   * what is gone is removed, what changed is updated, the rest stays as it is.
   * Registrations from other sources are not touched. Done in the write line,
   * so an UPDATE planned before the swap cannot land on top of it.
   */
  replaceStatic(instances: readonly Instance[], hosts: readonly Host[]): Promise<void> {
    this.gathering = undefined;
    return this.exclusive(async () => {
      const wantInstances = new Set(instances.map(instanceStoreKey));
      const wantHosts = new Set(hosts.map(hostStoreKey));
      for (const [key, i] of [...this.instanceRecords])
        if (i.source === "static" && !wantInstances.has(key)) this.deleteInstanceRecord(key, "remove");
      for (const [key, h] of [...this.hostRecords])
        if (h.source === "static" && !wantHosts.has(key)) this.deleteHostRecord(key, "remove");
      this.loadStatic(instances, hosts);
    });
  }

  /**
   * Run `plan` against the registry as every earlier write left it, then make
   * its ops durable and visible. Nothing changes between a plan's reading and
   * its commit: an UPDATE's prerequisites hold when it is applied (RFC 2136
   * §3.7), and a lease that ran out is not removed over the registration
   * that renewed it. Writes that queue up meanwhile are planned one after
   * another and committed in one store transaction (group commit), so
   * serializing them costs one fsync per group, not one per write.
   */
  transact<T>(plan: (view: RegistryView) => { ops: readonly RegistryOp[]; result: T }): Promise<T> {
    return new Promise<T>((done, failed) => {
      if (!this.gathering) {
        const group: QueuedWrite[] = [];
        this.gathering = group;
        this.exclusive(() => {
          if (this.gathering === group) this.gathering = undefined;
          return this.commitGroup(group);
        });
      }
      this.gathering.push({ plan, done: done as (r: unknown) => void, failed });
    });
  }

  private exclusive<T>(write: () => Promise<T>): Promise<T> {
    const run = this.writes.then(write);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async commitGroup(group: readonly QueuedWrite[]): Promise<void> {
    let conflicts = 0;
    const maxOps = this.store.maxCommitOps ?? MAX_GROUP_OPS;
    const settled = new Set<QueuedWrite>();
    for (let next = 0; next < group.length; ) {
      const first = next;
      const view = new PendingView(this);
      const ops: RegistryOp[] = [];
      const planned: { write: QueuedWrite; result: unknown }[] = [];
      while (next < group.length) {
        const write = group[next]!;
        if (settled.has(write)) {
          next++; // failed in its planning before a conflict sent the batch round again
          continue;
        }
        try {
          const p = write.plan(view);
          // a write that would take the commit past the limit waits for the next one, planned again there
          if (p.ops.length > 0 && planned.length > 0 && ops.length + p.ops.length > maxOps) break;
          next++;
          view.add(p.ops);
          ops.push(...p.ops);
          planned.push({ write, result: p.result });
        } catch (err) {
          next++;
          settled.add(write);
          write.failed(err);
        }
      }
      try {
        if (ops.length > 0) await this.commitAndShow(ops);
      } catch (err) {
        // another daemon wrote first what these plans read (an SRP claim): nothing was written; once this
        // replica has heard of it, the same writes are planned again and see it (the loser gets YXDOMAIN)
        if (err instanceof StoreConflict && conflicts < MAX_CONFLICT_RETRIES) {
          conflicts++;
          await sleep(50 * conflicts);
          next = first;
          continue;
        }
        // later plans in the group read what earlier ones planned: none of them stands
        for (const p of planned) p.write.failed(err);
        continue;
      }
      for (const p of planned) p.write.done(p.result);
    }
  }

  /** Apply all ops or none: durable in the store first, then visible. */
  apply(ops: readonly RegistryOp[]): Promise<void> {
    return this.transact(() => ({ ops, result: undefined }));
  }

  private async commitAndShow(ops: readonly RegistryOp[]): Promise<void> {
    // a claim's write carries the claim this registry holds now, as its plan read it: no await since
    await this.store.commit(
      ops.map((o) => {
        const op = toStoreOp(o);
        if (o.op !== "put-claim" && o.op !== "remove-claim") return op;
        return { ...op, expect: this.claims.get(o.op === "put-claim" ? o.claim.record : o.record) ?? null };
      }),
    );
    this.storeChanges(() => this.show(ops));
  }

  /** Apply what the store took (or delivered): its changes carry the store's revision into the serial. */
  private storeChanges(apply: () => void): void {
    this.fromStore = true;
    try {
      apply();
    } finally {
      this.fromStore = false;
    }
  }

  private show(ops: readonly RegistryOp[]): void {
    for (const o of ops) {
      if (o.op === "put-instance") this.setInstance(o.instance);
      else if (o.op === "remove-instance") this.deleteInstanceRecord(instanceKey(o.type, o.name, o.domain), "remove");
      else if (o.op === "put-host") this.setHost(o.host);
      else if (o.op === "remove-host") this.deleteHostRecord(hostKey(o.name, o.domain), "remove");
      else if (o.op === "put-claim") this.setClaim(o.claim);
      else this.deleteClaim(o.record);
    }
  }

  register(instance: Instance, hosts: readonly Host[] = []): Promise<void> {
    return this.apply([...hosts.map((host) => ({ op: "put-host" as const, host })), { op: "put-instance", instance }]);
  }

  deregister(type: ServiceType, name: string, domain?: string): Promise<void> {
    return this.apply([{ op: "remove-instance", type, name, ...(domain !== undefined ? { domain } : {}) }]);
  }

  // ---- leases ----

  /** The registration a heap entry stands for (its id is the store key), if it still ends then. */
  private leaseOf(e: ExpiryEntry): Instance | Host | Claim | undefined {
    const r =
      e.kind === "instance"
        ? this.instanceRecords.get(e.id)
        : e.kind === "host"
          ? this.hostRecords.get(e.id)
          : this.claims.get(e.id);
    return r?.expiresAt === e.at ? r : undefined;
  }

  /** Earliest lease end, for the daemon's timer. */
  nextExpiry(): number | undefined {
    for (let top = this.expiries.peek(); top; top = this.expiries.peek()) {
      if (this.leaseOf(top)) return top.at;
      this.expiries.pop(); // renewed, changed or gone since
    }
    return undefined;
  }

  /**
   * Remove every registration whose lease has ended, and the update-registered
   * hosts that only expiring instances used; returns how many went.
   */
  expireDue(): Promise<number> {
    this.gathering = undefined; // writes asked for after this one go after it
    return this.exclusive(() => this.expireNow());
  }

  private async expireNow(): Promise<number> {
    const now = this.clock.now();
    const dueInstances = new Map<string, Instance>();
    const dueHosts = new Map<string, Host>();
    const dueClaims: string[] = [];
    for (let top = this.expiries.peek(); top && top.at <= now; top = this.expiries.peek()) {
      this.expiries.pop();
      const r = this.leaseOf(top);
      if (!r) continue;
      if (top.kind === "instance") dueInstances.set(top.id, r as Instance);
      else if (top.kind === "host") dueHosts.set(top.id, r as Host);
      else dueClaims.push(top.id);
    }
    // an update-registered host goes with the last instance of its domain that used it, when
    // they have one owner: another owner's instance pointing at it must not take it along
    const hostOf = (i: Instance) => (i.host.length === 1 ? hostKey(i.host[0]!, i.domain) : "");
    const freed = new Map<string, Instance[]>();
    for (const i of dueInstances.values())
      if (hostOf(i) !== "") freed.set(hostOf(i), [...(freed.get(hostOf(i)) ?? []), i]);
    if (freed.size > 0) {
      const due = new Set(dueInstances.values());
      for (const i of this.instanceRecords.values()) if (!due.has(i)) freed.delete(hostOf(i));
      for (const [key, users] of freed) {
        const h = this.hostRecords.get(key);
        const owner = h && whoOwns(h); // none: stored before owners were recorded, used by no one else now
        if (h && h.source === "update" && (!owner || users.some((i) => sameOwner(whoOwns(i), owner))))
          dueHosts.set(key, h);
      }
    }
    // an SRP host's lease ending takes its key's services still on it (docs/srp.md): left behind, they would
    // point at a name another key may claim once the host's claim ends, and send their clients there
    for (const h of dueHosts.values()) {
      const owner = whoOwns(h);
      if (h.source !== "srp" || owner?.kind !== "srp") continue;
      for (const record of this.claimsByKey.get(owner.key) ?? []) {
        const i = this.instanceRecords.get(record);
        if (i && i.domain === h.domain && i.host.length === 1 && i.host[0] === h.name && sameOwner(whoOwns(i), owner))
          dueInstances.set(record, i);
      }
    }
    const ops: StoreOp[] = [
      ...[...dueInstances].filter(([, i]) => i.source !== "static").map(([key]) => ({ op: "delete" as const, key })),
      ...[...dueHosts].filter(([, h]) => h.source !== "static").map(([key]) => ({ op: "delete" as const, key })),
      ...dueClaims.map((record) => ({ op: "delete" as const, key: claimKey(record) })),
    ];
    if (ops.length > 0) await this.store.commit(ops);
    // static registrations expire without a store write: their changes count as our own
    this.fromStore = ops.length > 0;
    try {
      for (const key of dueInstances.keys()) this.deleteInstanceRecord(key, "expire");
      for (const key of dueHosts.keys()) this.deleteHostRecord(key, "expire");
      for (const record of dueClaims) this.deleteClaim(record);
    } finally {
      this.fromStore = false;
    }
    return dueInstances.size + dueHosts.size;
  }

  // ---- change feed ----

  onChange(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- reads ----

  /** Everything served, static registrations included, as store entries: a replica's starting point. */
  entries(): Map<string, StoreEntry> {
    const out = new Map<string, StoreEntry>();
    for (const [key, h] of this.hostRecords) out.set(key, { kind: "host", value: h });
    for (const [key, i] of this.instanceRecords) out.set(key, { kind: "instance", value: i });
    return out;
  }

  instanceRecord(key: string): Instance | undefined {
    return this.instanceRecords.get(key);
  }

  hostRecord(key: string): Host | undefined {
    return this.hostRecords.get(key);
  }

  /** Service types with at least one instance (in `domain`; without it, anywhere). */
  serviceTypes(domain?: string): ServiceType[] {
    if (domain === undefined) return [...this.byType.values()].map((t) => t.type);
    return [...this.scope(domain).types.values()].filter((s) => s.instances.size > 0).map((s) => s.type);
  }

  /** The instances of `type` served in `domain`; without a domain, every registration of the type. */
  instances(type: ServiceType, domain?: string): Instance[] {
    if (domain === undefined)
      return [...(this.byType.get(formatServiceType(type))?.groups ?? [])].flatMap((g) => [
        ...(this.instanceRecords.group(g)?.values() ?? []),
      ]);
    return [...(this.scope(domain).types.get(formatServiceType(type))?.instances.values() ?? [])];
  }

  /**
   * The instances of `type` served in `domain` as held, no copy: read them now,
   * do not keep the map. A browse of a large type reads only the ones it sends.
   */
  instancesHeld(type: ServiceType, domain: string): ReadonlyMap<string, Instance> | undefined {
    return this.scope(domain).types.get(formatServiceType(type))?.instances;
  }

  /** How many instances the TSIG key `key` owns, in O(1). */
  registrationsByKey(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** How many hosts the TSIG key `key` owns, in O(1). */
  hostsByKey(key: string): number {
    return this.hostsPerKeyCount.get(key) ?? 0;
  }

  instanceTotal(): number {
    return this.instanceRecords.size;
  }

  hostTotal(): number {
    return this.hostRecords.size;
  }

  /** How many instances `type` has (in `domain`; without it, anywhere), in O(1). */
  instanceCount(type: ServiceType, domain?: string): number {
    const tk = formatServiceType(type);
    if (domain === undefined) return this.byType.get(tk)?.count ?? 0;
    return this.scope(domain).types.get(tk)?.instances.size ?? 0;
  }

  /**
   * Instances, and hosts, by source, and those with a lease by source: one
   * pass over the records, no lists made (a metrics scrape at 100,000 copied
   * every type's instances twice: 35 ms).
   */
  countBySource(): { instances: Map<string, number>; hosts: Map<string, number>; leased: Map<string, number> } {
    const instances = new Map<string, number>();
    const hosts = new Map<string, number>();
    const leased = new Map<string, number>();
    for (const i of this.instanceRecords.values()) {
      instances.set(i.source, (instances.get(i.source) ?? 0) + 1);
      if (i.expiresAt !== undefined) leased.set(i.source, (leased.get(i.source) ?? 0) + 1);
    }
    for (const h of this.hostRecords.values()) {
      hosts.set(h.source, (hosts.get(h.source) ?? 0) + 1);
      if (h.expiresAt !== undefined) leased.set(h.source, (leased.get(h.source) ?? 0) + 1);
    }
    return { instances, hosts, leased };
  }

  totalRingWeight(): number {
    return this.totalWeight;
  }

  learned(type?: ServiceType, domain = LOCAL_DOMAIN): { instances: number; hosts: number; weight: number } {
    if (type === undefined) return { ...this.learnedTotal };
    const s = this.scope(domain).types.get(formatServiceType(type));
    return { instances: s?.learned.instances ?? 0, hosts: 0, weight: s?.learned.weight ?? 0 };
  }

  /** The ring weights of the type's instances in `domain` together. */
  ringWeight(type: ServiceType, domain = LOCAL_DOMAIN): number {
    return this.scope(domain).types.get(formatServiceType(type))?.weight ?? 0;
  }

  instancesWithSubtype(type: ServiceType, subtype: string, domain?: string): Instance[] {
    const sub = lowerAscii(subtype);
    if (domain === undefined) return this.instances(type).filter((i) => i.subtypes.includes(sub));
    const s = this.scope(domain).types.get(formatServiceType(type));
    const ids = s?.bySubtype.get(sub);
    return ids ? Array.from(ids, (id) => s!.instances.get(id)!) : [];
  }

  /** The instance answering for `name` in `domain`; without a domain, local.'s, else any domain's. */
  instance(type: ServiceType, name: string, domain?: string): Instance | undefined {
    const tk = formatServiceType(type);
    const id = instanceId(name);
    if (domain !== undefined) return this.scope(domain).types.get(tk)?.instances.get(id);
    const local = this.scope(LOCAL_DOMAIN).types.get(tk)?.instances.get(id);
    if (local) return local;
    for (const s of this.scopes.values()) {
      const i = s.types.get(tk)?.instances.get(id);
      if (i) return i;
    }
    return undefined;
  }

  host(name: string, domain?: string): Host | undefined {
    const id = lowerAscii(name);
    if (domain !== undefined) {
      this.scope(domain);
      return this.hostIn(domain, id);
    }
    this.scope(LOCAL_DOMAIN);
    const local = this.hostIn(LOCAL_DOMAIN, id);
    if (local) return local;
    for (const d of this.scopes.keys()) {
      const h = this.hostIn(d, id);
      if (h) return h;
    }
    return undefined;
  }

  /** The hosts served in `domain`; without it, every host registration. */
  allHosts(domain?: string): Host[] {
    if (domain === undefined) return [...this.hostRecords.values()];
    this.scope(domain);
    const own = this.hostRecords.group(hostGroup(domain));
    const out = [...(own?.values() ?? [])];
    for (const [id, h] of this.hostRecords.group(hostGroup()) ?? [])
      if (!own?.has(id) && servedIn(h, domain)) out.push(h);
    return out;
  }

  /** The host record answering for `id` (a lower-cased name) in `domain`: its own, else one served everywhere (scopes.ts). */
  private hostIn(domain: string, id: string): Host | undefined {
    const own = this.hostRecords.group(hostGroup(domain))?.get(id);
    if (own) return own;
    const shared = this.hostRecords.group(hostGroup())?.get(id);
    return shared && servedIn(shared, domain) ? shared : undefined;
  }

  /** The ring of `type` in `domain` (default local.); empty while its first build is under way. */
  ring(type: ServiceType, domain = LOCAL_DOMAIN): Ring {
    const s = this.scope(domain).types.get(formatServiceType(type));
    return (s && this.currentRing(s)) ?? Ring.empty(this.ringOptions);
  }

  /**
   * How the type's ring stands: `ready`; `building` (its first build is under
   * way: no owner can be given yet); `catching-up` (answers come from the ring
   * as it was, a rebuild is under way: fine to answer, not to keep).
   */
  ringState(type: ServiceType, domain = LOCAL_DOMAIN): "ready" | "building" | "catching-up" {
    const s = this.scope(domain).types.get(formatServiceType(type));
    if (!s?.building) return "ready";
    return s.ring ? "catching-up" : "building";
  }

  /** The instance that owns `key` on the type's ring in `domain` (default local.). */
  ownerOf(type: ServiceType, key: Uint8Array | string, domain = LOCAL_DOMAIN): Instance | undefined {
    const s = this.scope(domain).types.get(formatServiceType(type));
    const ring = s && this.currentRing(s);
    if (!ring) return undefined;
    const owner = s.instances.get(ring.ownerOf(key) ?? "");
    if (owner || !s.building) return owner;
    // catching up: the ring as it was may name one that has left; the next one on it takes over.
    // Bounded: past that, no owner until the new ring lands (answered Not Ready).
    for (const id of ring.successors(key, 16, CATCH_UP_VISITS)) if (s.instances.has(id)) return s.instances.get(id);
    return undefined;
  }

  successors(type: ServiceType, key: Uint8Array | string, n: number, domain = LOCAL_DOMAIN): Instance[] {
    const s = this.scope(domain).types.get(formatServiceType(type));
    const ring = s && this.currentRing(s);
    if (!ring) return [];
    const out: Instance[] = [];
    for (const id of ring.successors(key, s.building ? n + 16 : n, SUCCESSOR_VISITS)) {
      const i = s.instances.get(id);
      if (i && out.length < n) out.push(i);
    }
    return out;
  }

  /**
   * The exact shares of the type's ring in `domain`, with the ring they are
   * of: a big ring's computed aside, one computation at a time. Asks that come
   * while one is under way wait for it, then share one computation per type
   * for the ring as it is by then (a ring that changes 50 times a second is
   * not computed 50 times, and the worker's queue cannot grow).
   */
  shares(type: ServiceType, domain = LOCAL_DOMAIN): Promise<{ ring: Ring; summary: ShareSummary }> {
    const ring = this.ring(type, domain);
    const known = ring.knownShares();
    if (known) return Promise.resolve({ ring, summary: known });
    if (!this.aside || ring.pointCount <= RING_POINTS_BUILT_INLINE)
      return Promise.resolve({ ring, summary: ring.shareSummary() });
    const under = this.sharesUnderWay.get(ring);
    if (under) return under.then((summary) => ({ ring, summary }));
    const k = `${domain} ${formatServiceType(type)}`;
    let next = this.sharesNext.get(k);
    if (!next) {
      next = this.sharesTurn.then(() => {
        this.sharesNext.delete(k);
        const latest = this.ring(type, domain);
        const summary = latest.knownShares();
        if (summary) return { ring: latest, summary };
        let p = this.sharesUnderWay.get(latest);
        if (!p) {
          this.sharesUnderWay.set(latest, (p = this.aside!.shares(latest)));
          p.catch(() => this.sharesUnderWay.delete(latest)); // a failure (the worker died) is not kept: the next ask tries again
        }
        return p.then((s) => ({ ring: latest, summary: s }));
      });
      this.sharesNext.set(k, next);
      this.sharesTurn = next.catch(() => undefined);
    }
    return next;
  }

  /** The ring with its shares at hand (a small ring's are computed now); a big ring's are started aside and come later. */
  ringWithShares(type: ServiceType, domain = LOCAL_DOMAIN): Ring | undefined {
    const ring = this.ring(type, domain);
    if (ring.knownShares() || !this.aside || ring.pointCount <= RING_POINTS_BUILT_INLINE) {
      ring.shareSummary();
      return ring;
    }
    this.shares(type, domain).catch((err: unknown) => reportInternalError("ring shares", err));
    return undefined;
  }

  /** Types whose first ring is still being built: their `_hash` names cannot be answered yet. */
  ringsBuilding(): number {
    let n = 0;
    for (const sc of this.scopes.values()) for (const s of sc.types.values()) if (s.building && !s.ring) n++;
    return n;
  }

  /**
   * Make the views of the served `domains` (domainKey) and build every ring
   * in them now (big ones aside), so that no query is the first to ask: the
   * first read of a domain visits every registration.
   */
  warm(domains: readonly string[]): void {
    for (const d of domains) this.scope(d);
    for (const sc of this.scopes.values()) for (const s of sc.types.values()) this.currentRing(s);
  }

  /**
   * Rings are brought up to date when read, so a burst of registrations costs
   * one merge; a big build or change goes aside and the ring as it was keeps
   * answering until it lands.
   */
  private currentRing(s: TypeState): Ring | undefined {
    if (s.building || (s.ring && s.ringStale.size === 0)) return s.ring;
    if (!s.ring) {
      if (this.aside && s.weight * this.pointsPerWeight() > RING_POINTS_BUILT_INLINE) return this.rebuildAside(s);
      s.ring = Ring.build(this.members(s), this.ringOptions);
      s.ringStale.clear();
      return s.ring;
    }
    if (this.aside && this.stalePoints(s) > RING_POINTS_BUILT_INLINE) return this.rebuildAside(s);
    const add: RingMember[] = [];
    const remove: string[] = [];
    for (const id of s.ringStale) {
      const inst = s.instances.get(id);
      if (inst) add.push({ id, weight: inst.weight });
      else remove.push(id);
    }
    s.ring = s.ring.change(add, remove);
    s.ringStale.clear();
    return s.ring;
  }

  private members(s: TypeState): RingMember[] {
    return Array.from(s.instances, ([id, inst]) => ({ id, weight: inst.weight }));
  }

  private pointsPerWeight(): number {
    return this.ringOptions.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
  }

  /**
   * Points a merge of the changes since the last read would move: those of
   * the instances as they are now plus those they had on the ring (a leave of
   * a weight-65535 instance removes a million points, as its join added them).
   */
  private stalePoints(s: TypeState): number {
    const perWeight = this.pointsPerWeight();
    if (s.ringStale.size * perWeight > RING_POINTS_BUILT_INLINE) return s.ringStale.size * perWeight; // enough to know: a change moves at least one weight (one that came and went, none: an aside build then)
    let w = 0;
    for (const id of s.ringStale) {
      const inst = s.instances.get(id);
      w += (inst ? ringWeight(inst.weight) : 0) + (s.ring?.weightOf(id) ?? 0);
    }
    return w * perWeight;
  }

  private rebuildAside(s: TypeState): Ring | undefined {
    s.building = true;
    s.ringStale.clear(); // the build takes every member as of now; what changes meanwhile is merged in after
    const ids: string[] = [];
    const weights: number[] = [];
    for (const [id, inst] of s.instances) {
      ids.push(id);
      weights.push(inst.weight);
    }
    this.aside!.build(ids, weights, this.ringOptions).then(
      (ring) => {
        s.ring = ring;
        s.building = false;
      },
      (err: unknown) => {
        reportInternalError("ring build", err);
        s.building = false;
        for (const id of s.instances.keys()) s.ringStale.add(id); // asked again on the next read
      },
    );
    return s.ring;
  }

  // ---- in-memory state ----

  /** A domain's view, made (from the records served everywhere) the first time it is read or written. */
  private scope(domain: string): Scope {
    if (domain === this.lastScope?.domain) return this.lastScope.scope; // a query reads one domain several times
    let sc = this.scopes.get(domain);
    if (sc) {
      this.lastScope = { domain, scope: sc };
      return sc;
    }
    sc = { types: new Map() };
    this.scopes.set(domain, sc);
    // each answering record once: the one a name's own record hides is not placed
    for (const i of this.instanceRecords.values())
      if (servedIn(i, domain) && slotInstance((k) => this.instanceRecords.get(k), domain, i.type, i.name) === i)
        this.placeInstance(domain, i.type, instanceId(i.name), undefined);
    return sc;
  }

  /** A host registered in a domain makes that domain's view, as an instance there does. */
  private seeDomainOf(h: Host): void {
    const d = servedDomain(h);
    if (d !== undefined) this.scope(d);
  }

  /** The domains a change to `r` shows in: its own, or every domain seen so far. */
  private domainsOf(r: Instance | Host): string[] {
    const d = servedDomain(r);
    return d === undefined ? [...this.scopes.keys()] : [d];
  }

  /**
   * Before the records of instance `id` change from `was` to `now`: the domains
   * it shows in, each with the instance answering for it there so far (the
   * views read the records, so what they said before is asked now).
   */
  private answeringBefore(
    type: ServiceType,
    id: string,
    was: Instance | undefined,
    now: Instance | undefined,
  ): [string, Instance | undefined][] {
    const domains = new Set<string>();
    for (const r of [was, now]) if (r) for (const d of this.domainsOf(r)) domains.add(d);
    const tk = formatServiceType(type);
    return Array.from(domains, (d) => [d, this.scope(d).types.get(tk)?.instances.get(id)]);
  }

  /** Count in `domain` whichever record answers for instance `id` there now, in place of `before`. */
  private placeInstance(domain: string, type: ServiceType, id: string, before: Instance | undefined): void {
    const sc = this.scope(domain);
    const tk = formatServiceType(type);
    let s = sc.types.get(tk);
    if (!s) {
      const instances = new ServedInstances(
        this.instanceRecords,
        domain,
        instanceGroup(type, domain),
        instanceGroup(type),
      );
      if (!instances.get(id)) return;
      s = {
        type,
        instances,
        ring: undefined,
        ringStale: new Set(),
        building: false,
        weight: 0,
        learned: { instances: 0, weight: 0 },
        bySubtype: new Map(),
      };
      sc.types.set(tk, s);
    }
    const winner = s.instances.get(id);
    if (before === winner) return;
    const dw = (winner ? ringWeight(winner.weight) : 0) - (before ? ringWeight(before.weight) : 0);
    s.weight += dw;
    this.totalWeight += dw;
    const learnedWeight =
      (learnedRecord(winner) ? ringWeight(winner!.weight) : 0) -
      (learnedRecord(before) ? ringWeight(before!.weight) : 0);
    s.learned.weight += learnedWeight;
    s.learned.instances += Number(learnedRecord(winner)) - Number(learnedRecord(before));
    this.learnedTotal.weight += learnedWeight;
    indexSubtypes(s.bySubtype, id, before?.subtypes ?? [], winner?.subtypes ?? []);
    s.instances.size += Number(winner !== undefined) - Number(before !== undefined);
    if (!before || !winner || before.weight !== winner.weight) s.ringStale.add(id);
  }

  private applyStoreOp(o: StoreOp): void {
    if (o.op === "put") this.applyEntry(o.entry);
    else if (o.key.startsWith("instance")) this.deleteInstanceRecord(o.key, "remove");
    else if (o.key.startsWith("host")) this.deleteHostRecord(o.key, "remove");
    else if (o.key.startsWith("claim/")) this.deleteClaim(o.key.slice("claim/".length));
  }

  private applyEntry(entry: StoreEntry): void {
    if (entry.kind === "instance") this.setInstance(entry.value);
    else if (entry.kind === "host") this.setHost(entry.value);
    else this.setClaim(entry.value);
  }

  // ---- SRP claims (no change event: a claim is not served, only consulted by the SRP registrar) ----

  claim(record: string): Claim | undefined {
    return this.claims.get(record);
  }

  claimsOf(key: string): string[] {
    return [...(this.claimsByKey.get(key) ?? [])];
  }

  claimTotal(): number {
    return this.claims.size;
  }

  private setClaim(c: Claim): void {
    const previous = this.claims.get(c.record);
    if (previous && previous.key !== c.key) this.unindexClaim(previous);
    this.claims.set(c.record, c);
    let records = this.claimsByKey.get(c.key);
    if (!records) this.claimsByKey.set(c.key, (records = new Set()));
    records.add(c.record);
    if (c.expiresAt !== previous?.expiresAt)
      this.expiries.push({ at: c.expiresAt, kind: "claim", typeKey: "", id: c.record });
  }

  private deleteClaim(record: string): void {
    const c = this.claims.get(record);
    if (!c) return;
    this.claims.delete(record);
    this.unindexClaim(c);
  }

  private unindexClaim(c: Claim): void {
    const records = this.claimsByKey.get(c.key);
    records?.delete(c.record);
    if (records?.size === 0) this.claimsByKey.delete(c.key);
  }

  /**
   * The serial of a change. A store with revisions: the revision of the state
   * taken in, plus the changes made outside the store (static registrations:
   * the same on daemons with the same services file), so every daemon gives
   * one state one serial; the changes of one commit share it (they are shown
   * together). Otherwise one more, at least the clock's seconds.
   */
  private nextSerialNumber(): number {
    const revision = this.store.changeRevision?.();
    if (revision === undefined) return nextSerial(this.serialNumber, this.clockSerial());
    if (!this.fromStore) this.localChanges++;
    else if (revision === this.serialRevision) return this.serialNumber; // one more change of the same commit
    this.serialRevision = revision;
    const made = addSerial(revision >>> 0, this.localChanges % 2 ** 31);
    // never back: a change heard out of order (a peer's commit before our own's reply) moves it on by one
    return compareSerial(made, this.serialNumber) === 1 ? made : addSerial(this.serialNumber, 1);
  }

  private emit(c: Change): void {
    this.serialNumber = this.nextSerialNumber();
    this.reserveSerials();
    // a listener's fault (a frontend's bug) must neither stop the others hearing the change
    // nor leave this change half applied: reported, and the registry goes on
    for (const l of this.listeners) {
      try {
        l(c);
      } catch (err) {
        reportInternalError("registry change listener", err);
      }
    }
  }

  private setInstance(given: Instance): void {
    const inst = compactInstance(given);
    const group = instanceGroup(inst.type, inst.domain);
    const id = instanceId(inst.name);
    const previous = this.instanceRecords.group(group)?.get(id);
    if (previous && sameInstance(previous, inst) && previous.key === inst.key) return;
    const answering = this.answeringBefore(inst.type, id, previous, inst);
    this.instanceRecords.set(group, id, inst);
    this.learnedTotal.instances += Number(learnedRecord(inst)) - Number(learnedRecord(previous));
    const key = group + id;
    const tk = formatServiceType(inst.type);
    if (!previous) {
      let t = this.byType.get(tk);
      if (!t) this.byType.set(tk, (t = { type: inst.type, groups: new Set(), count: 0 }));
      t.groups.add(group);
      t.count++;
    }
    if (inst.expiresAt !== undefined && inst.expiresAt !== previous?.expiresAt)
      this.expiries.push({ at: inst.expiresAt, kind: "instance", typeKey: tk, id: key });
    countPerKey(this.perKey, owningKey(previous), -1);
    countPerKey(this.perKey, owningKey(inst), 1);
    for (const [d, before] of answering) this.placeInstance(d, inst.type, id, before);
    const op: ChangeOp = previous ? "update" : "add";
    this.emit(previous ? { op, kind: "instance", instance: inst, previous } : { op, kind: "instance", instance: inst });
  }

  private deleteInstanceRecord(key: string, op: ChangeOp): void {
    const gone = this.instanceRecords.get(key);
    if (!gone) return;
    const id = instanceId(gone.name);
    const answering = this.answeringBefore(gone.type, id, gone, undefined);
    const inst = this.instanceRecords.delete(key)!;
    this.learnedTotal.instances -= Number(learnedRecord(inst));
    const tk = formatServiceType(inst.type);
    const t = this.byType.get(tk);
    if (t && --t.count === 0) this.byType.delete(tk);
    else if (t && !this.instanceRecords.group(key.slice(0, instanceIdAt(key))))
      t.groups.delete(key.slice(0, instanceIdAt(key)));
    countPerKey(this.perKey, owningKey(inst), -1);
    for (const [d, before] of answering) this.placeInstance(d, inst.type, id, before);
    this.emit({ op, kind: "instance", instance: inst });
  }

  private setHost(given: Host): void {
    const host = compactHost(given);
    const group = hostGroup(host.domain);
    const id = lowerAscii(host.name);
    const previous = this.hostRecords.group(group)?.get(id);
    if (previous && sameHost(previous, host)) return;
    this.hostRecords.set(group, id, host);
    this.learnedTotal.hosts += Number(learnedRecord(host)) - Number(learnedRecord(previous));
    const key = group + id;
    if (host.expiresAt !== undefined && host.expiresAt !== previous?.expiresAt)
      this.expiries.push({ at: host.expiresAt, kind: "host", typeKey: "", id: key });
    countPerKey(this.hostsPerKeyCount, owningKey(previous), -1);
    countPerKey(this.hostsPerKeyCount, owningKey(host), 1);
    this.seeDomainOf(host);
    this.emit(previous ? { op: "update", kind: "host", host, previous } : { op: "add", kind: "host", host });
  }

  private deleteHostRecord(key: string, op: ChangeOp): void {
    const host = this.hostRecords.delete(key);
    if (!host) return;
    this.learnedTotal.hosts -= Number(learnedRecord(host));
    countPerKey(this.hostsPerKeyCount, owningKey(host), -1);
    this.seeDomainOf(host);
    this.emit({ op, kind: "host", host });
  }
}

/** Was `r` learned from the LAN by mDNS (unauthenticated)? */
function learnedRecord(r: Instance | Host | undefined): boolean {
  return r?.source === "mdns";
}

/** A change as the store op that makes a replica follow it. */
export function changeToStoreOp(c: Change): StoreOp {
  const gone = c.op === "remove" || c.op === "expire";
  if (c.kind === "host")
    return gone
      ? { op: "delete", key: hostStoreKey(c.host) }
      : { op: "put", key: hostStoreKey(c.host), entry: { kind: "host", value: c.host } };
  const key = instanceStoreKey(c.instance);
  return gone ? { op: "delete", key } : { op: "put", key, entry: { kind: "instance", value: c.instance } };
}

function toStoreOp(o: RegistryOp): StoreOp {
  switch (o.op) {
    case "put-instance":
      return { op: "put", key: instanceStoreKey(o.instance), entry: { kind: "instance", value: o.instance } };
    case "remove-instance":
      return { op: "delete", key: instanceKey(o.type, o.name, o.domain) };
    case "put-host":
      return { op: "put", key: hostStoreKey(o.host), entry: { kind: "host", value: o.host } };
    case "remove-host":
      return { op: "delete", key: hostKey(o.name, o.domain) };
    case "put-claim":
      return { op: "put", key: claimKey(o.claim.record), entry: { kind: "claim", value: o.claim } };
    case "remove-claim":
      return { op: "delete", key: claimKey(o.record) };
  }
}

function sameHost(a: Host, b: Host): boolean {
  return (
    a.source === b.source &&
    a.expiresAt === b.expiresAt &&
    a.domain === b.domain &&
    sameOwner(whoOwns(a), whoOwns(b)) &&
    a.addresses.join() === b.addresses.join()
  );
}

/** Move `id` from the subtypes it was listed under to those it is listed under now; an instance that keeps a subtype keeps its place. */
function indexSubtypes(
  bySubtype: Map<string, Set<string>>,
  id: string,
  was: readonly string[],
  now: readonly string[],
): void {
  for (const sub of was) {
    if (now.includes(sub)) continue;
    const ids = bySubtype.get(sub);
    ids?.delete(id);
    if (ids?.size === 0) bySubtype.delete(sub);
  }
  for (const sub of now) {
    if (was.includes(sub)) continue;
    let ids = bySubtype.get(sub);
    if (!ids) bySubtype.set(sub, (ids = new Set()));
    ids.add(id);
  }
}
