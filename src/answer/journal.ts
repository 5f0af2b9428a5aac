// IXFR's journal (RFC 1995): per transferred zone, the last changes as steps
// from one serial to the next, each the records it removed and added. Made
// from the registry's change feed; a secondary whose serial is still in the
// journal gets the steps since it, any other a full transfer (§4).
//
// Kept in memory: a restarted daemon, or another daemon of a cluster, has
// none of the steps before its start, so its secondaries take one AXFR first
// (README "Hidden primary").
import { reportInternalError } from "../guard.js";
import type { Labels } from "../names.js";
import { domainKey, hostKey, instanceId, instanceKey, type Registry } from "../registry/registry.js";
import { servedIn } from "../registry/scopes.js";
import type { Change, Host, Instance } from "../registry/types.js";
import type { ResourceRecord } from "../wire/message.js";
import { compareSerial } from "../registry/serial.js";
import {
  hostRecords,
  instanceRecords,
  recordDiff,
  recordKey,
  servicesPtr,
  transferable,
  typeHasOthers,
  type TransferOptions,
} from "./zone.js";

export interface JournalStep {
  readonly from: number;
  readonly to: number;
  readonly removed: readonly ResourceRecord[];
  readonly added: readonly ResourceRecord[];
}

export interface JournalLimits {
  /** Steps kept per zone at most. */
  maxSteps: number;
  /** Records (removed and added) kept per zone at most: a few huge steps cannot hold much memory. */
  maxRecords: number;
}

/** Serials one state of a zone keeps at most (changes elsewhere, lease renewals): the oldest are forgotten first. */
const MAX_SERIALS_PER_STATE = 10_000;

/**
 * One zone's changes, oldest first. A change that leaves the zone as it was
 * (a lease renewed, a change in another zone) adds no step: its serial joins
 * the serials of the zone's current state, so a run of them costs nothing
 * and does not push real changes out of the journal.
 */
export class ZoneJournal {
  /** states[i]: the serials at which the zone was in state i, in order; steps[i] goes from state i to i+1. */
  private states: State[] = [];
  private steps: { removed: readonly ResourceRecord[]; added: readonly ResourceRecord[] }[] = [];
  private records = 0;

  constructor(private readonly limits: JournalLimits) {}

  /**
   * Append a change; one that does not start at the newest serial (a gap)
   * starts the journal again. A change that keeps the serial (another change
   * of one etcd commit) is folded into the change that made the serial.
   */
  add(step: JournalStep): void {
    const last = this.states[this.states.length - 1];
    if (!last || last.newest !== step.from) {
      this.clear();
      this.states.push(state(step.from));
    }
    if (step.from === step.to) {
      this.fold(step);
      return;
    }
    if (step.removed.length === 0 && step.added.length === 0) {
      const now = this.states[this.states.length - 1]!;
      now.serials.add(step.to);
      now.newest = step.to;
      if (now.serials.size > MAX_SERIALS_PER_STATE) now.serials.delete(now.serials.values().next().value!);
      return;
    }
    this.steps.push({ removed: step.removed, added: step.added });
    this.states.push(state(step.to));
    this.records += step.removed.length + step.added.length;
    while (
      this.steps.length > 0 &&
      (this.steps.length > this.limits.maxSteps || this.records > this.limits.maxRecords)
    ) {
      const gone = this.steps.shift()!;
      this.states.shift();
      this.records -= gone.removed.length + gone.added.length;
    }
  }

  /** One more change at the newest serial: into the step that made that serial, as one net diff (RFC 1995 §4). */
  private fold(step: JournalStep): void {
    if (step.removed.length === 0 && step.added.length === 0) return;
    const now = this.states[this.states.length - 1]!;
    const made = this.steps.length > 0 && now.serials.size === 1 ? this.steps[this.steps.length - 1] : undefined;
    if (!made) {
      // the serial also names the state before this change: from now on it names the new state alone
      now.serials.delete(step.to);
      if (now.serials.size === 0) {
        this.clear(); // nobody can be at the state before: it had no serial of its own
        this.states.push(state(step.to));
        return;
      }
      now.newest = [...now.serials].pop()!;
      this.steps.push({ removed: [], added: [] });
      this.states.push(state(step.to));
    }
    const target = this.steps[this.steps.length - 1]!;
    const removed = new Map(target.removed.map((r) => [recordKey(r), r]));
    const added = new Map(target.added.map((r) => [recordKey(r), r]));
    for (const r of step.removed) {
      const k = recordKey(r);
      if (added.has(k)) added.delete(k);
      else removed.set(k, r);
    }
    for (const r of step.added) {
      const k = recordKey(r);
      if (removed.has(k)) removed.delete(k);
      else added.set(k, r);
    }
    this.records += removed.size + added.size - target.removed.length - target.added.length;
    this.steps[this.steps.length - 1] = { removed: [...removed.values()], added: [...added.values()] };
  }

  clear(): void {
    this.states = [];
    this.steps = [];
    this.records = 0;
  }

  /** Changes (not serials) held. */
  get size(): number {
    return this.steps.length;
  }

  /**
   * What brings a secondary at `serial` to the newest serial, as steps whose
   * serials chain from `serial` to the newest: [] when `serial` is the newest
   * or ahead of it, undefined when the journal does not reach back to it (a
   * full transfer is needed).
   */
  since(serial: number): JournalStep[] | undefined {
    const last = this.states[this.states.length - 1];
    if (!last) return undefined;
    const newest = last.newest;
    if (serial === newest || compareSerial(serial, newest) === 1) return [];
    const at = this.states.findIndex((s) => s.serials.has(serial));
    if (at < 0) return undefined;
    // the zone at `serial` is as at the state's other serials: from there, each change to the next state's newest serial
    const out: JournalStep[] = [];
    let from = serial;
    for (let i = at; i < this.steps.length; i++) {
      const to = this.states[i + 1]!.newest;
      out.push({ from, to, ...this.steps[i]! });
      from = to;
    }
    // at the newest state already, only by an older serial: one step that changes nothing
    if (out.length === 0) out.push({ from, to: newest, removed: [], added: [] });
    return out;
  }
}

/** A state of the zone: the serials it had, the newest last. */
interface State {
  serials: Set<number>;
  newest: number;
}

const state = (serial: number): State => ({ serials: new Set([serial]), newest: serial });

/**
 * The journals of the transferred zones, fed by the registry. Every change
 * moves the one serial, so every zone gets a step for it, empty when the
 * change is not in that zone: a secondary of any zone can follow the serial.
 */
export class ZoneJournals {
  private readonly journals = new Map<string, { zone: Labels; journal: ZoneJournal }>();
  private readonly zoneListeners = new Set<(zone: Labels) => void>();
  private serial: number;
  private readonly stop: () => void;

  constructor(
    private readonly registry: Registry,
    zones: readonly Labels[],
    private readonly ttl: number,
    private readonly t: TransferOptions,
    limits: JournalLimits,
  ) {
    for (const zone of zones) this.journals.set(domainKey(zone), { zone, journal: new ZoneJournal(limits) });
    this.serial = registry.serial();
    this.stop = registry.onChange((c) => this.record(c));
  }

  close(): void {
    this.stop();
  }

  journal(zone: Labels): ZoneJournal | undefined {
    return this.journals.get(domainKey(zone))?.journal;
  }

  private record(c: Change): void {
    const to = this.registry.serial();
    for (const [scope, { zone, journal }] of this.journals) {
      const { before, after } =
        c.kind === "instance"
          ? this.instanceChange(c.instance, c.previous, c.op, zone, scope)
          : this.hostChange(c.host, c.previous, c.op, zone, scope);
      const diff = recordDiff(before, after);
      journal.add({ from: this.serial, to, ...diff });
      if (diff.removed.length > 0 || diff.added.length > 0)
        for (const l of this.zoneListeners) {
          try {
            l(zone);
          } catch (err) {
            reportInternalError("zone change listener", err);
          }
        }
    }
    this.serial = to;
  }

  /** Hear of each change to a zone's records (not of serials moving alone: a lease renewed). Returns an unsubscribe. */
  onZoneChange(listener: (zone: Labels) => void): () => void {
    this.zoneListeners.add(listener);
    return () => this.zoneListeners.delete(listener);
  }

  /** The records of the instance's name in `zone` before and after the change (an instance's type never changes). */
  private instanceChange(
    inst: Instance,
    previous: Instance | undefined,
    op: Change["op"],
    zone: Labels,
    scope: string,
  ): { before: ResourceRecord[]; after: ResourceRecord[] } {
    const none = { before: [], after: [] };
    // a record served everywhere, hidden in this zone by the zone's own one: nothing changed here
    if (inst.domain === undefined && this.registry.instanceRecord(instanceKey(inst.type, inst.name, scope)))
      return none;
    const gone = op === "remove" || op === "expire";
    let was: Instance | undefined = gone ? inst : previous;
    // the zone's own record now hides the one served everywhere: that one was answering before
    if (!gone && !previous && inst.domain !== undefined)
      was = this.registry.instanceRecord(instanceKey(inst.type, inst.name));
    const keep = (i: Instance | undefined) => (i && servedIn(i, scope) && transferable(i, this.t) ? i : undefined);
    const before = keep(was);
    const after = keep(this.registry.instance(inst.type, inst.name, scope));
    if (!before && !after) return none;
    const out = {
      before: before ? instanceRecords(zone, before, this.ttl) : [],
      after: after ? instanceRecords(zone, after, this.ttl) : [],
    };
    // the type's line in `_services._dns-sd._udp` comes with its first instance and goes with its last
    if (!before !== !after && !typeHasOthers(this.registry, inst.type, scope, instanceId(inst.name), this.t))
      (before ? out.before : out.after).push(servicesPtr(zone, inst.type, this.ttl));
    return out;
  }

  private hostChange(
    host: Host,
    previous: Host | undefined,
    op: Change["op"],
    zone: Labels,
    scope: string,
  ): { before: ResourceRecord[]; after: ResourceRecord[] } {
    if (host.domain === undefined && this.registry.hostRecord(hostKey(host.name, scope)))
      return { before: [], after: [] };
    const gone = op === "remove" || op === "expire";
    let was: Host | undefined = gone ? host : previous;
    if (!gone && !previous && host.domain !== undefined) was = this.registry.hostRecord(hostKey(host.name));
    const keep = (h: Host | undefined) => (h && servedIn(h, scope) && transferable(h, this.t) ? h : undefined);
    const before = keep(was);
    const after = keep(this.registry.host(host.name, scope));
    return {
      before: before ? hostRecords(zone, before, this.ttl) : [],
      after: after ? hostRecords(zone, after, this.ttl) : [],
    };
  }
}
