// The registry: service types, instances, hosts, leases and a change feed.
// Writes go to the store first and reach memory only once durable, one at a
// time in arrival order (queued ones share a commit); reads are synchronous
// and never touch the store. The clock is injected.
import type { Clock } from "../clock.js";
import { formatServiceType, lowerAscii, type ServiceType } from "../names.js";
import { Ring, type RingMember, type RingOptions } from "../ring/ring.js";
import type { Store, StoreEntry, StoreOp } from "../store/store.js";
import { sameInstance, type Change, type ChangeOp, type Host, type Instance } from "./types.js";
import { ExpiryHeap, type ExpiryEntry } from "./expiry-heap.js";
import { PendingView, type RegistryOp, type RegistryView } from "./pending-view.js";

export type { RegistryOp, RegistryView } from "./pending-view.js";

/** A write waiting for its turn: its plan reads the registry and says what to change. */
interface QueuedWrite {
  plan: (view: RegistryView) => { ops: readonly RegistryOp[]; result: unknown };
  done: (result: unknown) => void;
  failed: (err: unknown) => void;
}
/** Ops per group commit: under etcd's default limit of 128 per transaction. */
const MAX_GROUP_OPS = 64;

interface TypeState {
  readonly type: ServiceType;
  readonly instances: Map<string, Instance>; // by ring identity
  /** The ring as of the last read; `ringStale` ids changed since and are merged in on the next read. */
  ring: Ring;
  ringStale: Set<string>;
}

export function instanceId(name: string): string {
  return lowerAscii(name);
}

export function instanceKey(type: ServiceType, name: string): string {
  return `instance/${formatServiceType(type)}/${instanceId(name)}`;
}

export function hostKey(name: string): string {
  return `host/${lowerAscii(name)}`;
}

export interface RegistryOptions {
  clock: Clock;
  store: Store;
  ring?: RingOptions;
}

export class Registry implements RegistryView {
  private readonly clock: Clock;
  private readonly store: Store;
  private readonly ringOptions: RingOptions;
  private readonly types = new Map<string, TypeState>();
  private readonly hosts = new Map<string, Host>();
  private readonly listeners = new Set<(c: Change) => void>();
  private readonly expiries = new ExpiryHeap();
  /** Instances per TSIG key that registered them (for --max-registrations-per-key). */
  private readonly perKey = new Map<string, number>();
  private unwatch: (() => void) | undefined;
  private serialNumber: number;
  /** The last write in line: writes run one at a time, in the order they were asked for. */
  private writes: Promise<unknown> = Promise.resolve();
  /** Writes that arrived while the line was busy: planned and committed together when their turn comes. */
  private gathering: QueuedWrite[] | undefined;

  constructor(options: RegistryOptions) {
    this.clock = options.clock;
    this.store = options.store;
    this.ringOptions = options.ring ?? {};
    this.serialNumber = this.clockSerial();
  }

  /** SOA serial: moves forward on every change, seconds-based so it also grows across restarts. */
  serial(): number {
    return this.serialNumber;
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
    // leases are absolute times: what ended while we were down is removed, not served
    const now = this.clock.now();
    const ended = new Set([...stored].filter(([, e]) => e.value.expiresAt !== undefined && e.value.expiresAt <= now).map(([key]) => key));
    if (ended.size > 0) await this.store.commit([...ended].map((key) => ({ op: "delete" as const, key })));
    for (const [key, entry] of stored) if (!ended.has(key)) this.applyEntry(entry);
    this.unwatch = this.store.watch((ops) => {
      for (const o of ops) this.applyStoreOp(o);
    });
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
      const wantInstances = new Set(instances.map((i) => instanceKey(i.type, i.name)));
      const wantHosts = new Set(hosts.map((h) => lowerAscii(h.name)));
      for (const s of this.types.values()) {
        for (const i of [...s.instances.values()]) if (i.source === "static" && !wantInstances.has(instanceKey(i.type, i.name))) this.deleteInstance(i.type, i.name, "remove");
      }
      for (const h of [...this.hosts.values()]) if (h.source === "static" && !wantHosts.has(lowerAscii(h.name))) this.deleteHost(h.name, "remove");
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
    for (let next = 0; next < group.length; ) {
      const view = new PendingView(this);
      const ops: RegistryOp[] = [];
      const planned: { write: QueuedWrite; result: unknown }[] = [];
      while (next < group.length) {
        const write = group[next]!;
        try {
          const p = write.plan(view);
          // a write that would take the commit past the limit waits for the next one, planned again there
          if (p.ops.length > 0 && planned.length > 0 && ops.length + p.ops.length > MAX_GROUP_OPS) break;
          next++;
          view.add(p.ops);
          ops.push(...p.ops);
          planned.push({ write, result: p.result });
        } catch (err) {
          next++;
          write.failed(err);
        }
      }
      try {
        if (ops.length > 0) await this.commitAndShow(ops);
      } catch (err) {
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
    await this.store.commit(ops.map(toStoreOp));
    for (const o of ops) {
      if (o.op === "put-instance") this.setInstance(o.instance);
      else if (o.op === "remove-instance") this.deleteInstance(o.type, o.name, "remove");
      else if (o.op === "put-host") this.setHost(o.host);
      else this.deleteHost(o.name, "remove");
    }
  }

  register(instance: Instance, hosts: readonly Host[] = []): Promise<void> {
    return this.apply([...hosts.map((host) => ({ op: "put-host" as const, host })), { op: "put-instance", instance }]);
  }

  deregister(type: ServiceType, name: string): Promise<void> {
    return this.apply([{ op: "remove-instance", type, name }]);
  }

  // ---- leases ----

  /** The registration a heap entry stands for, if it still ends then. */
  private leaseOf(e: ExpiryEntry): Instance | Host | undefined {
    const r = e.kind === "instance" ? this.types.get(e.typeKey)?.instances.get(e.id) : this.hosts.get(e.id);
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
    const dueInstances: Instance[] = [];
    const dueHostSet = new Map<string, Host>();
    const seen = new Set<string>();
    for (let top = this.expiries.peek(); top && top.at <= now; top = this.expiries.peek()) {
      this.expiries.pop();
      const r = this.leaseOf(top);
      const ref = `${top.kind}/${top.typeKey}/${top.id}`;
      if (!r || seen.has(ref)) continue;
      seen.add(ref);
      if (top.kind === "instance") dueInstances.push(r as Instance);
      else dueHostSet.set(top.id, r as Host);
    }
    // an update-registered host goes with the last instance that used it
    const hostOf = (i: Instance) => (i.host.length === 1 ? i.host[0]! : "");
    const freed = new Set(dueInstances.map(hostOf));
    freed.delete("");
    if (freed.size > 0) {
      const dueIds = new Set(dueInstances);
      for (const s of this.types.values()) for (const i of s.instances.values()) if (!dueIds.has(i)) freed.delete(hostOf(i));
      for (const name of freed) {
        const h = this.hosts.get(lowerAscii(name));
        if (h && h.source === "update") dueHostSet.set(lowerAscii(name), h);
      }
    }
    const dueHosts = [...dueHostSet.values()];
    const ops: StoreOp[] = [
      ...dueInstances.filter((i) => i.source !== "static").map((i) => ({ op: "delete" as const, key: instanceKey(i.type, i.name) })),
      ...dueHosts.filter((h) => h.source !== "static").map((h) => ({ op: "delete" as const, key: hostKey(h.name) })),
    ];
    if (ops.length > 0) await this.store.commit(ops);
    for (const i of dueInstances) this.deleteInstance(i.type, i.name, "expire");
    for (const h of dueHosts) this.deleteHost(h.name, "expire");
    return dueInstances.length + dueHosts.length;
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
    for (const h of this.hosts.values()) out.set(hostKey(h.name), { kind: "host", value: h });
    for (const s of this.types.values()) for (const i of s.instances.values()) out.set(instanceKey(i.type, i.name), { kind: "instance", value: i });
    return out;
  }

  /** Service types with at least one instance. */
  serviceTypes(): ServiceType[] {
    return [...this.types.values()].filter((s) => s.instances.size > 0).map((s) => s.type);
  }

  instances(type: ServiceType): Instance[] {
    return [...(this.types.get(formatServiceType(type))?.instances.values() ?? [])];
  }

  /** How many instances the TSIG key `key` has registered, in O(1). */
  registrationsByKey(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  private countKey(key: string | undefined, delta: number): void {
    if (key === undefined) return;
    const n = (this.perKey.get(key) ?? 0) + delta;
    if (n > 0) this.perKey.set(key, n);
    else this.perKey.delete(key);
  }

  /** How many instances `type` has, in O(1). */
  instanceCount(type: ServiceType): number {
    return this.types.get(formatServiceType(type))?.instances.size ?? 0;
  }

  instancesWithSubtype(type: ServiceType, subtype: string): Instance[] {
    const sub = lowerAscii(subtype);
    return this.instances(type).filter((i) => i.subtypes.includes(sub));
  }

  instance(type: ServiceType, name: string): Instance | undefined {
    return this.types.get(formatServiceType(type))?.instances.get(instanceId(name));
  }

  host(name: string): Host | undefined {
    return this.hosts.get(lowerAscii(name));
  }

  allHosts(): Host[] {
    return [...this.hosts.values()];
  }

  ring(type: ServiceType): Ring {
    const s = this.types.get(formatServiceType(type));
    return s ? this.currentRing(s) : Ring.empty(this.ringOptions);
  }

  /** The instance that owns `key` on the type's ring. */
  ownerOf(type: ServiceType, key: Uint8Array | string): Instance | undefined {
    const s = this.types.get(formatServiceType(type));
    const id = s && this.currentRing(s).ownerOf(key);
    return id === undefined ? undefined : s!.instances.get(id);
  }

  successors(type: ServiceType, key: Uint8Array | string, n: number): Instance[] {
    const s = this.types.get(formatServiceType(type));
    if (!s) return [];
    return this.currentRing(s).successors(key, n).map((id) => s.instances.get(id)!);
  }

  /** Rings are brought up to date when read: a burst of registrations costs one merge, not one each. */
  private currentRing(s: TypeState): Ring {
    if (s.ringStale.size === 0) return s.ring;
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

  // ---- in-memory state ----

  private applyStoreOp(o: StoreOp): void {
    if (o.op === "put") return this.applyEntry(o.entry);
    const [kind, a, b] = splitKey(o.key);
    if (kind === "instance" && b !== undefined) {
      const s = this.types.get(a);
      const inst = s?.instances.get(b);
      if (inst) this.deleteInstance(inst.type, inst.name, "remove");
    } else if (kind === "host") {
      this.deleteHost(a, "remove");
    }
  }

  private applyEntry(entry: StoreEntry): void {
    if (entry.kind === "instance") this.setInstance(entry.value);
    else this.setHost(entry.value);
  }

  private emit(c: Change): void {
    this.serialNumber = Math.max(this.serialNumber + 1, this.clockSerial()) >>> 0;
    for (const l of this.listeners) l(c);
  }

  private setInstance(inst: Instance): void {
    const key = formatServiceType(inst.type);
    let s = this.types.get(key);
    if (!s) {
      s = { type: inst.type, instances: new Map(), ring: Ring.empty(this.ringOptions), ringStale: new Set() };
      this.types.set(key, s);
    }
    const id = instanceId(inst.name);
    const previous = s.instances.get(id);
    if (previous && sameInstance(previous, inst) && previous.key === inst.key) return;
    s.instances.set(id, inst);
    if (inst.expiresAt !== undefined && inst.expiresAt !== previous?.expiresAt) this.expiries.push({ at: inst.expiresAt, kind: "instance", typeKey: key, id });
    this.countKey(previous?.key, -1);
    this.countKey(inst.key, 1);
    if (!previous || previous.weight !== inst.weight) s.ringStale.add(id);
    const op: ChangeOp = previous ? "update" : "add";
    this.emit(previous ? { op, kind: "instance", instance: inst, previous } : { op, kind: "instance", instance: inst });
  }

  private deleteInstance(type: ServiceType, name: string, op: ChangeOp): void {
    const s = this.types.get(formatServiceType(type));
    const id = instanceId(name);
    const inst = s?.instances.get(id);
    if (!s || !inst) return;
    s.instances.delete(id);
    this.countKey(inst.key, -1);
    s.ringStale.add(id);
    this.emit({ op, kind: "instance", instance: inst });
  }

  private setHost(host: Host): void {
    const key = lowerAscii(host.name);
    const previous = this.hosts.get(key);
    if (previous && sameHost(previous, host)) return;
    this.hosts.set(key, host);
    if (host.expiresAt !== undefined && host.expiresAt !== previous?.expiresAt) this.expiries.push({ at: host.expiresAt, kind: "host", typeKey: "", id: key });
    this.emit(previous ? { op: "update", kind: "host", host, previous } : { op: "add", kind: "host", host });
  }

  private deleteHost(name: string, op: ChangeOp): void {
    const key = lowerAscii(name);
    const host = this.hosts.get(key);
    if (!host) return;
    this.hosts.delete(key);
    this.emit({ op, kind: "host", host });
  }
}

/** A change as the store op that makes a replica follow it. */
export function changeToStoreOp(c: Change): StoreOp {
  const gone = c.op === "remove" || c.op === "expire";
  if (c.kind === "host") return gone ? { op: "delete", key: hostKey(c.host.name) } : { op: "put", key: hostKey(c.host.name), entry: { kind: "host", value: c.host } };
  const key = instanceKey(c.instance.type, c.instance.name);
  return gone ? { op: "delete", key } : { op: "put", key, entry: { kind: "instance", value: c.instance } };
}

function toStoreOp(o: RegistryOp): StoreOp {
  switch (o.op) {
    case "put-instance":
      return { op: "put", key: instanceKey(o.instance.type, o.instance.name), entry: { kind: "instance", value: o.instance } };
    case "remove-instance":
      return { op: "delete", key: instanceKey(o.type, o.name) };
    case "put-host":
      return { op: "put", key: hostKey(o.host.name), entry: { kind: "host", value: o.host } };
    case "remove-host":
      return { op: "delete", key: hostKey(o.name) };
  }
}

function splitKey(key: string): [string, string, string | undefined] {
  const [kind = "", a = "", ...rest] = key.split("/");
  return [kind, a, rest.length ? rest.join("/") : undefined];
}

function sameHost(a: Host, b: Host): boolean {
  return a.source === b.source && a.expiresAt === b.expiresAt && a.addresses.join() === b.addresses.join();
}
