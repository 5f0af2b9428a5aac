// The registry as the writes planned so far in one group commit will leave
// it. Writes are planned one after another, each against what the ones
// before it did, and committed together in one store transaction; until that
// commit nothing is visible to queries, so the planned changes live here.
// Records are tracked by store key; what a domain sees is worked out with the
// same rule as the registry's (scopes.ts).
import { formatServiceType, lowerAscii, type ServiceType } from "../names.js";
import { hostKey, hostStoreKey, instanceKey, instanceStoreKey, slotHost, slotInstance } from "./scopes.js";
import { countPerKey, LOCAL_DOMAIN, owningKey, type Claim, type Host, type Instance } from "./types.js";
import { ringWeight } from "../ring/ring.js";

/** One change the registry is asked to make. `domain`: the registration's own domain (absent: one served everywhere). */
export type RegistryOp =
  | { op: "put-instance"; instance: Instance }
  | { op: "remove-instance"; type: ServiceType; name: string; domain?: string }
  | { op: "put-host"; host: Host }
  | { op: "remove-host"; name: string; domain?: string }
  /** SRP: a name held by a key (types.ts `Claim`), by the store key of the record it claims. */
  | { op: "put-claim"; claim: Claim }
  | { op: "remove-claim"; record: string };

/**
 * What a write's plan may read. `domain` (a served domain, "a.example."):
 * what is served there; without it, instances/serviceTypes/allHosts list
 * every registration whatever its domain, and instance/host look in local.
 * first, then in the other domains.
 */
export interface RegistryView {
  serial(): number;
  serviceTypes(domain?: string): ServiceType[];
  instances(type: ServiceType, domain?: string): Instance[];
  instanceCount(type: ServiceType, domain?: string): number;
  /** The ring weights of the type's instances in `domain` (default local.) together. */
  ringWeight(type: ServiceType, domain?: string): number;
  /** The ring weights of every type in every domain together (--max-total-ring-weight). */
  totalRingWeight(): number;
  /**
   * What the mDNS learner holds (source "mdns", unauthenticated): of the ring
   * of `type` in `domain` (default local.), or without a type, of every total.
   * Authenticated writers are not held to the LAN's share (limits.ts).
   */
  learned(type?: ServiceType, domain?: string): { instances: number; hosts: number; weight: number };
  instancesWithSubtype(type: ServiceType, subtype: string, domain?: string): Instance[];
  instance(type: ServiceType, name: string, domain?: string): Instance | undefined;
  host(name: string, domain?: string): Host | undefined;
  allHosts(domain?: string): Host[];
  /** A registration by its store key (scopes.ts). */
  instanceRecord(key: string): Instance | undefined;
  hostRecord(key: string): Host | undefined;
  /** Instances, and hosts, the TSIG key `key` owns; all in O(1). */
  registrationsByKey(key: string): number;
  hostsByKey(key: string): number;
  /** Instances and hosts held, every domain and source. */
  instanceTotal(): number;
  hostTotal(): number;
  /** The SRP claim on a host or instance, by the record's store key, whether or not its key lease has ended. */
  claim(record: string): Claim | undefined;
  /** Store keys of the records claimed by SRP key `key`. */
  claimsOf(key: string): string[];
  claimTotal(): number;
}

export class PendingView implements RegistryView {
  /** Planned records by store key; undefined = removed. */
  private readonly plannedInstances = new Map<string, Instance | undefined>();
  private readonly plannedHosts = new Map<string, Host | undefined>();
  /** Per type: the instance names planned writes touched, and how the type's record count moves. */
  private readonly touched = new Map<string, { type: ServiceType; names: Set<string>; delta: number }>();
  private readonly touchedHosts = new Set<string>();
  private instanceDelta = 0;
  private hostDelta = 0;
  /** How the rings' weight moves; a record served in every domain counted once (the limits count it in local.). */
  private weightDelta = 0;
  private readonly keyDelta = new Map<string, number>();
  private readonly hostKeyDelta = new Map<string, number>();
  private readonly plannedClaims = new Map<string, Claim | undefined>();
  private claimDelta = 0;
  /**
   * Per type, per domain asked about: the instances served there and their ring
   * weight, kept in step by `add` (only the name an op writes can change what a
   * domain serves), so the limits' checks cost the same for the 50th write of a
   * group as for the first, not a walk over every name planned before it.
   */
  private readonly served = new Map<string, Map<string, { count: number; weight: number }>>();

  constructor(private readonly base: RegistryView) {}

  /** Take in the ops of one planned write, so the next plan sees them. */
  add(ops: readonly RegistryOp[]): void {
    for (const o of ops) {
      if (o.op === "put-claim" || o.op === "remove-claim") {
        const record = o.op === "put-claim" ? o.claim.record : o.record;
        const after = o.op === "put-claim" ? o.claim : undefined;
        this.claimDelta += Number(after !== undefined) - Number(this.claim(record) !== undefined);
        this.plannedClaims.set(record, after);
        continue;
      }
      if (o.op === "put-host" || o.op === "remove-host") {
        const key = o.op === "put-host" ? hostStoreKey(o.host) : hostKey(o.name, o.domain);
        const before = this.hostRecord(key);
        const after = o.op === "put-host" ? o.host : undefined;
        this.plannedHosts.set(key, after);
        this.touchedHosts.add(lowerAscii(o.op === "put-host" ? o.host.name : o.name));
        this.hostDelta += Number(after !== undefined) - Number(before !== undefined);
        countPerKey(this.hostKeyDelta, owningKey(before), -1);
        countPerKey(this.hostKeyDelta, owningKey(after), 1);
        continue;
      }
      const type = o.op === "put-instance" ? o.instance.type : o.type;
      const name = o.op === "put-instance" ? o.instance.name : o.name;
      const key = o.op === "put-instance" ? instanceStoreKey(o.instance) : instanceKey(o.type, o.name, o.domain);
      const before = this.instanceRecord(key);
      const after = o.op === "put-instance" ? o.instance : undefined;
      const tk = formatServiceType(type);
      const served = this.served.get(tk);
      if (served) for (const [domain, s] of served) this.moveServed(s, -1, this.instance(type, name, domain));
      this.plannedInstances.set(key, after);
      if (served) for (const [domain, s] of served) this.moveServed(s, 1, this.instance(type, name, domain));
      let t = this.touched.get(tk);
      if (!t) this.touched.set(tk, (t = { type, names: new Set(), delta: 0 }));
      t.names.add(lowerAscii(name));
      const d = Number(after !== undefined) - Number(before !== undefined);
      t.delta += d;
      this.instanceDelta += d;
      this.weightDelta += (after ? ringWeight(after.weight) : 0) - (before ? ringWeight(before.weight) : 0);
      countPerKey(this.keyDelta, owningKey(before), -1);
      countPerKey(this.keyDelta, owningKey(after), 1);
    }
  }

  serial(): number {
    return this.base.serial();
  }

  instanceRecord(key: string): Instance | undefined {
    return this.plannedInstances.has(key) ? this.plannedInstances.get(key) : this.base.instanceRecord(key);
  }

  hostRecord(key: string): Host | undefined {
    return this.plannedHosts.has(key) ? this.plannedHosts.get(key) : this.base.hostRecord(key);
  }

  serviceTypes(domain?: string): ServiceType[] {
    const all = new Map(this.base.serviceTypes(domain).map((t) => [formatServiceType(t), t]));
    for (const [tk, t] of this.touched) all.set(tk, t.type);
    return [...all.values()].filter((t) => this.instanceCount(t, domain) > 0);
  }

  instances(type: ServiceType, domain?: string): Instance[] {
    const t = this.touched.get(formatServiceType(type));
    if (!t) return this.base.instances(type, domain);
    if (domain === undefined) {
      const out = new Map(this.base.instances(type).map((i) => [instanceStoreKey(i), i]));
      for (const [key, i] of this.plannedInstances) {
        if (i) {
          if (formatServiceType(i.type) === formatServiceType(type)) out.set(key, i);
        } else out.delete(key);
      }
      return [...out.values()];
    }
    const out = new Map(this.base.instances(type, domain).map((i) => [lowerAscii(i.name), i]));
    for (const id of t.names) {
      const i = this.instance(type, id, domain);
      if (i) out.set(id, i);
      else out.delete(id);
    }
    return [...out.values()];
  }

  instanceCount(type: ServiceType, domain?: string): number {
    const t = this.touched.get(formatServiceType(type));
    if (!t) return this.base.instanceCount(type, domain);
    if (domain === undefined) return this.base.instanceCount(type) + t.delta;
    return this.servedIn(type, domain).count;
  }

  ringWeight(type: ServiceType, domain = LOCAL_DOMAIN): number {
    if (!this.touched.has(formatServiceType(type))) return this.base.ringWeight(type, domain);
    return this.servedIn(type, domain).weight;
  }

  /** What `domain` serves of a type planned writes touched: worked out once, then kept by `add`. */
  private servedIn(type: ServiceType, domain: string): { count: number; weight: number } {
    const tk = formatServiceType(type);
    let byDomain = this.served.get(tk);
    if (!byDomain) this.served.set(tk, (byDomain = new Map()));
    let s = byDomain.get(domain);
    if (s) return s;
    s = { count: this.base.instanceCount(type, domain), weight: this.base.ringWeight(type, domain) };
    for (const id of this.touched.get(tk)?.names ?? []) {
      this.moveServed(s, 1, this.instance(type, id, domain));
      this.moveServed(s, -1, this.base.instance(type, id, domain));
    }
    byDomain.set(domain, s);
    return s;
  }

  private moveServed(s: { count: number; weight: number }, sign: 1 | -1, i: Instance | undefined): void {
    if (!i) return;
    s.count += sign;
    s.weight += sign * ringWeight(i.weight);
  }

  totalRingWeight(): number {
    return this.base.totalRingWeight() + this.weightDelta;
  }

  /** As the registry has it: writes planned in a group are UPDATE and HTTP ones, which never add a learned record. */
  learned(type?: ServiceType, domain?: string): { instances: number; hosts: number; weight: number } {
    return this.base.learned(type, domain);
  }

  instancesWithSubtype(type: ServiceType, subtype: string, domain?: string): Instance[] {
    const sub = lowerAscii(subtype);
    return this.instances(type, domain).filter((i) => i.subtypes.includes(sub));
  }

  instance(type: ServiceType, name: string, domain?: string): Instance | undefined {
    const record = (k: string) => this.instanceRecord(k);
    if (domain !== undefined) return slotInstance(record, domain, type, name);
    if (!this.touched.get(formatServiceType(type))?.names.has(lowerAscii(name))) return this.base.instance(type, name);
    const local = slotInstance(record, LOCAL_DOMAIN, type, name);
    if (local) return local;
    for (const i of this.instances(type)) if (lowerAscii(i.name) === lowerAscii(name)) return i;
    return undefined;
  }

  host(name: string, domain?: string): Host | undefined {
    const record = (k: string) => this.hostRecord(k);
    if (domain !== undefined) return slotHost(record, domain, name);
    if (!this.touchedHosts.has(lowerAscii(name))) return this.base.host(name);
    return slotHost(record, LOCAL_DOMAIN, name) ?? this.allHosts().find((h) => h.name === lowerAscii(name));
  }

  allHosts(domain?: string): Host[] {
    if (this.touchedHosts.size === 0) return this.base.allHosts(domain);
    if (domain !== undefined) {
      const out = new Map(this.base.allHosts(domain).map((h) => [lowerAscii(h.name), h]));
      for (const name of this.touchedHosts) {
        const h = this.host(name, domain);
        if (h) out.set(name, h);
        else out.delete(name);
      }
      return [...out.values()];
    }
    const out = new Map(this.base.allHosts().map((h) => [hostStoreKey(h), h]));
    for (const [key, h] of this.plannedHosts) {
      if (h) out.set(key, h);
      else out.delete(key);
    }
    return [...out.values()];
  }

  registrationsByKey(key: string): number {
    return this.base.registrationsByKey(key) + (this.keyDelta.get(key) ?? 0);
  }

  hostsByKey(key: string): number {
    return this.base.hostsByKey(key) + (this.hostKeyDelta.get(key) ?? 0);
  }

  instanceTotal(): number {
    return this.base.instanceTotal() + this.instanceDelta;
  }

  hostTotal(): number {
    return this.base.hostTotal() + this.hostDelta;
  }

  claim(record: string): Claim | undefined {
    return this.plannedClaims.has(record) ? this.plannedClaims.get(record) : this.base.claim(record);
  }

  claimsOf(key: string): string[] {
    const out = new Set(this.base.claimsOf(key));
    for (const [record, c] of this.plannedClaims) {
      if (c?.key === key) out.add(record);
      else out.delete(record);
    }
    return [...out];
  }

  claimTotal(): number {
    return this.base.claimTotal() + this.claimDelta;
  }
}
