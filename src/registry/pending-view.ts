// The registry as the writes planned so far in one group commit will leave
// it. Writes are planned one after another, each against what the ones
// before it did, and committed together in one store transaction; until that
// commit nothing is visible to queries, so the planned changes live here.
import { formatServiceType, lowerAscii, type ServiceType } from "../names.js";
import type { Host, Instance } from "./types.js";

/** One change the registry is asked to make. */
export type RegistryOp =
  | { op: "put-instance"; instance: Instance }
  | { op: "remove-instance"; type: ServiceType; name: string }
  | { op: "put-host"; host: Host }
  | { op: "remove-host"; name: string };

/** What a write's plan may read. */
export interface RegistryView {
  serial(): number;
  serviceTypes(): ServiceType[];
  instances(type: ServiceType): Instance[];
  instanceCount(type: ServiceType): number;
  instancesWithSubtype(type: ServiceType, subtype: string): Instance[];
  instance(type: ServiceType, name: string): Instance | undefined;
  host(name: string): Host | undefined;
  allHosts(): Host[];
  registrationsByKey(key: string): number;
}

const bump = (m: Map<string, number>, k: string, d: number) => d !== 0 && m.set(k, (m.get(k) ?? 0) + d);

export class PendingView implements RegistryView {
  /** Planned instances by type, then lower-cased name; undefined = removed. */
  private readonly planned = new Map<string, { type: ServiceType; byId: Map<string, Instance | undefined> }>();
  private readonly plannedHosts = new Map<string, Host | undefined>();
  private readonly countDelta = new Map<string, number>();
  private readonly keyDelta = new Map<string, number>();

  constructor(private readonly base: RegistryView) {}

  /** Take in the ops of one planned write, so the next plan sees them. */
  add(ops: readonly RegistryOp[]): void {
    for (const o of ops) {
      if (o.op === "put-host") this.plannedHosts.set(lowerAscii(o.host.name), o.host);
      else if (o.op === "remove-host") this.plannedHosts.set(lowerAscii(o.name), undefined);
      else {
        const type = o.op === "put-instance" ? o.instance.type : o.type;
        const name = o.op === "put-instance" ? o.instance.name : o.name;
        const after = o.op === "put-instance" ? o.instance : undefined;
        const before = this.instance(type, name);
        const tk = formatServiceType(type);
        let t = this.planned.get(tk);
        if (!t) this.planned.set(tk, (t = { type, byId: new Map() }));
        t.byId.set(lowerAscii(name), after);
        bump(this.countDelta, tk, Number(after !== undefined) - Number(before !== undefined));
        if (before?.key !== undefined) bump(this.keyDelta, before.key, -1);
        if (after?.key !== undefined) bump(this.keyDelta, after.key, 1);
      }
    }
  }

  serial(): number {
    return this.base.serial();
  }

  serviceTypes(): ServiceType[] {
    const all = new Map(this.base.serviceTypes().map((t) => [formatServiceType(t), t]));
    for (const [tk, t] of this.planned) all.set(tk, t.type);
    return [...all.values()].filter((t) => this.instanceCount(t) > 0);
  }

  instances(type: ServiceType): Instance[] {
    const t = this.planned.get(formatServiceType(type));
    if (!t) return this.base.instances(type);
    const out = new Map(this.base.instances(type).map((i) => [lowerAscii(i.name), i]));
    for (const [id, i] of t.byId) {
      if (i) out.set(id, i);
      else out.delete(id);
    }
    return [...out.values()];
  }

  instanceCount(type: ServiceType): number {
    return this.base.instanceCount(type) + (this.countDelta.get(formatServiceType(type)) ?? 0);
  }

  instancesWithSubtype(type: ServiceType, subtype: string): Instance[] {
    const sub = lowerAscii(subtype);
    return this.instances(type).filter((i) => i.subtypes.includes(sub));
  }

  instance(type: ServiceType, name: string): Instance | undefined {
    const byId = this.planned.get(formatServiceType(type))?.byId;
    const id = lowerAscii(name);
    return byId?.has(id) ? byId.get(id) : this.base.instance(type, name);
  }

  host(name: string): Host | undefined {
    const id = lowerAscii(name);
    return this.plannedHosts.has(id) ? this.plannedHosts.get(id) : this.base.host(name);
  }

  allHosts(): Host[] {
    if (this.plannedHosts.size === 0) return this.base.allHosts();
    const out = new Map(this.base.allHosts().map((h) => [lowerAscii(h.name), h]));
    for (const [id, h] of this.plannedHosts) {
      if (h) out.set(id, h);
      else out.delete(id);
    }
    return [...out.values()];
  }

  registrationsByKey(key: string): number {
    return this.base.registrationsByKey(key) + (this.keyDelta.get(key) ?? 0);
  }
}
