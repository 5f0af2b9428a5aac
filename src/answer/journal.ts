// IXFR's journal (RFC 1995): per transferred zone, the last changes as steps
// from one state of the zone to the next, each the records it removed and
// added, and each state the serials it was served under. Made from the
// registry's change feed; a secondary whose serial is still in the journal
// gets the steps since it, any other a full transfer (§4).
//
// Kept in the store too (Store.journal, under meta/journal/), so a restarted
// daemon, or another daemon of an etcd cluster, answers IXFR from serials
// served before it started. A step is written by the daemon whose change it
// is, right after the change's own commit, not in it: its records are known
// only once the change is applied (served-everywhere records a zone's own
// hide, the `_services` lines). What is read back is not trusted because it
// was written, but checked: every step carries the zone's digest after it (a
// sum of a hash per registration, README "Hidden primary"), so a step missing
// from the chain, or anything that changed the zone without a step (a crash
// between the two commits, leases that ended while the daemon was down, the
// services file or --ttl edited), shows as a digest that does not match the
// zone loaded, and the steps before it are dropped: those secondaries get a
// full transfer, as before.
import { hash } from "node:crypto";
// a turn of the event loop for others (queries) between two slices of the measuring
import { setImmediate as nextTurn } from "node:timers/promises";
import { formatServiceType, lowerAscii, type Labels } from "../names.js";
import { domainKey, hostKey, instanceId, instanceKey, type Registry } from "../registry/registry.js";
import { servedIn } from "../registry/scopes.js";
import { compareSerial } from "../registry/serial.js";
import type { JournalEntry, JournalStore } from "../registry/store-contract.js";
import type { Change, Host, Instance } from "../registry/types.js";
import { Type } from "../wire/constants.js";
import type { ResourceRecord } from "../wire/message.js";
import { reportInternalError, sleep } from "../guard.js";
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

// ---- the zone's digest ----

/**
 * What a zone holds, as four 32-bit lanes, each the sum (mod 2^32) of one word
 * of an MD5 of each registration the zone's records are made from (AdHash): a
 * change adds the new registration's hash and takes the old one's, so it is
 * kept up to date per change, and equal digests mean equal zones but by a
 * 128-bit accident. Keyed with the store's secret (JournalStore.salt): sums of
 * hashes anyone can compute fall to generalized-birthday searches (a
 * registrant picking registrations that sum to a stale journal's digest),
 * and XOR to plain linear algebra.
 */
export type Digest = readonly [number, number, number, number];
export const NO_CHANGE: Digest = [0, 0, 0, 0];

function hashOf(salt: string, text: string): Digest {
  const h = hash("md5", `${salt}\u0000${text}`, "buffer");
  return [h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)];
}

function plus(a: Digest, b: Digest, sign: 1 | -1 = 1): Digest {
  return [
    (a[0] + sign * b[0]) >>> 0,
    (a[1] + sign * b[1]) >>> 0,
    (a[2] + sign * b[2]) >>> 0,
    (a[3] + sign * b[3]) >>> 0,
  ];
}

const same = (a: Digest, b: Digest) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
const digestText = (d: Digest) => d.map((w) => w.toString(16).padStart(8, "0")).join("");
function parseDigest(t: unknown): Digest | undefined {
  if (typeof t !== "string" || !/^[0-9a-f]{32}$/.test(t)) return undefined;
  return [0, 8, 16, 24].map((i) => Number.parseInt(t.slice(i, i + 8), 16)) as unknown as Digest;
}

/** An instance as far as its records go (names compared without case, as records are), keyed with `salt`. */
export function instanceDigest(salt: string, i: Instance): Digest {
  return hashOf(
    salt,
    JSON.stringify([
      "i",
      formatServiceType(i.type),
      lowerAscii(i.name),
      [...new Set(i.subtypes.map(lowerAscii))].sort(),
      i.priority,
      i.weight,
      i.port,
      i.host.map(lowerAscii),
      i.txt.map((t) => Buffer.from(t).toString("base64")),
    ]),
  );
}

export function hostDigest(salt: string, h: Host): Digest {
  return hashOf(salt, JSON.stringify(["h", lowerAscii(h.name), [...new Set(h.addresses)].sort()]));
}

// ---- one zone's journal ----

/** A step as held: the change, its digest difference, and where it stands with the store. */
interface HeldStep extends JournalStep {
  removed: readonly ResourceRecord[];
  added: readonly ResourceRecord[];
  /** The registrations it took out and put in, as a digest difference. */
  delta: Digest;
  /** The zone's digest after it, once known (a daemon measures its zone after it starts). */
  digest: Digest | undefined;
  /** Written by this daemon: its own change (a peer writes the steps of its own). */
  own: boolean;
  /** In the store (read from it, or written): removed from it when it leaves the journal. */
  stored: boolean;
  /** Not written as it is now. */
  dirty: boolean;
}

/** A step's id in the store: its serial, 8 hex digits. */
const stepId = (to: number) => (to >>> 0).toString(16).padStart(8, "0");
/** The id of the marker a daemon with a store of its own (LMDB) leaves when it stops: the serials its last state had. */
const END_ID = "end";
/** The journal's entry format; a newer one is not read (the journal starts without it). */
export const JOURNAL_FORMAT = 1;

/**
 * One zone's changes, oldest first, between states of the zone, each state
 * the run of serials it was served under: state i runs from the serial of
 * step i-1 (or `first`) to the serial step i left it at (or `newest`). A
 * change that leaves the zone as it was (a lease renewed, a change in another
 * zone) adds no step: the run of the zone's current state grows, so a run of
 * them costs nothing and does not push real changes out of the journal.
 */
export class ZoneJournal {
  private steps: HeldStep[] = [];
  /** The first serial of the oldest state, and the newest serial of the current one. */
  private first: number | undefined;
  private newest: number | undefined;
  /** The current state's serial before `newest`, if it had one: a fold may give `newest` to the next state. */
  private beforeNewest: number | undefined;
  private records = 0;
  /** The zone's digest now, once measured; and what changed since this journal began, to measure from. */
  digest: Digest | undefined;
  private sinceStart: Digest = NO_CHANGE;
  /** Ids of stored steps that left the journal: to be removed from the store. */
  readonly gone: string[] = [];

  constructor(private readonly limits: JournalLimits) {}

  /**
   * Append a change; one that does not start at the newest serial (a gap)
   * starts the journal again. A change that keeps the serial (another change
   * of one etcd commit) is folded into the change that made the serial.
   * `delta`: the registrations it changed, as a digest difference; `own`: a
   * change of this daemon's (not a peer's), whose step it writes.
   */
  add(step: JournalStep, delta: Digest = NO_CHANGE, own = false): void {
    this.sinceStart = plus(this.sinceStart, delta);
    if (this.digest) this.digest = plus(this.digest, delta);
    if (this.newest === undefined || this.newest !== step.from) this.restart(step.from);
    if (step.from === step.to) {
      this.fold(step, delta, own);
      return;
    }
    if (step.removed.length === 0 && step.added.length === 0 && same(delta, NO_CHANGE)) {
      this.beforeNewest = this.newest;
      this.newest = step.to;
      return;
    }
    this.steps.push({
      from: step.from,
      to: step.to,
      removed: step.removed,
      added: step.added,
      delta,
      digest: this.digest,
      own,
      stored: false,
      dirty: own,
    });
    this.newest = step.to;
    this.beforeNewest = undefined;
    this.records += step.removed.length + step.added.length;
    this.trim();
  }

  /** One more change at the newest serial: into the step that made that serial, as one net diff (RFC 1995 §4). */
  private fold(step: JournalStep, delta: Digest, own: boolean): void {
    if (step.removed.length === 0 && step.added.length === 0 && same(delta, NO_CHANGE)) return;
    let made = this.steps[this.steps.length - 1];
    if (!made || made.to !== this.newest) {
      // the serial also names the state before this change: from now on it names the new state alone
      if (this.beforeNewest === undefined) {
        this.restart(step.to); // nobody can be at the state before: it had no serial of its own
        return;
      }
      made = {
        from: this.beforeNewest,
        to: step.to,
        removed: [],
        added: [],
        delta: NO_CHANGE,
        digest: undefined,
        own,
        stored: false,
        dirty: own,
      };
      this.steps.push(made);
      this.beforeNewest = undefined;
    }
    const removed = new Map(made.removed.map((r) => [recordKey(r), r]));
    const added = new Map(made.added.map((r) => [recordKey(r), r]));
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
    this.records += removed.size + added.size - made.removed.length - made.added.length;
    made.removed = [...removed.values()];
    made.added = [...added.values()];
    made.delta = plus(made.delta, delta);
    made.digest = this.digest;
    made.own ||= own;
    made.dirty = made.own;
    this.trim();
  }

  private trim(): void {
    while (
      this.steps.length > 0 &&
      (this.steps.length > this.limits.maxSteps || this.records > this.limits.maxRecords)
    ) {
      const gone = this.steps.shift()!;
      this.first = gone.to;
      this.records -= gone.removed.length + gone.added.length;
      if (gone.stored) this.gone.push(stepId(gone.to));
    }
  }

  /** Forget every step: the zone is at `serial`, and nothing before it is known. */
  private restart(serial: number): void {
    for (const s of this.steps) if (s.stored) this.gone.push(stepId(s.to));
    this.steps = [];
    this.records = 0;
    this.first = serial;
    this.newest = serial;
    this.beforeNewest = undefined;
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
    const newest = this.newest;
    if (newest === undefined || this.first === undefined) return undefined;
    if (serial === newest || compareSerial(serial, newest) === 1) return [];
    const n = this.steps.length;
    let at = -1;
    for (let i = n; i >= 0; i--) {
      const lo = i === 0 ? this.first : this.steps[i - 1]!.to;
      const hi = i < n ? this.steps[i]!.from : newest;
      if (compareSerial(serial, lo) !== -1 && compareSerial(serial, hi) !== 1) {
        at = i;
        break;
      }
    }
    if (at < 0) return undefined;
    // the zone at `serial` is as at the state's newest serial: from there, each change to the next state's newest
    const out: JournalStep[] = [];
    let from = serial;
    for (let i = at; i < n; i++) {
      const s = this.steps[i]!;
      const to = i + 1 < n ? this.steps[i + 1]!.from : newest;
      out.push({ from, to, removed: s.removed, added: s.added });
      from = to;
    }
    // at the newest state already, only by an older serial: one step that changes nothing
    if (out.length === 0) out.push({ from, to: newest, removed: [], added: [] });
    return out;
  }

  /**
   * The zone measured at `start` (this journal's first serial): `digest` is
   * what it held then. Every step since gets its digest, and may be written.
   */
  measured(digest: Digest): void {
    let d = plus(digest, this.sinceStart);
    this.digest = d;
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const s = this.steps[i]!;
      s.digest = d;
      d = plus(d, s.delta, -1);
    }
  }

  /**
   * Take in the steps the store held from before this journal began at
   * `start`, measured as `digest`: the newest of them must leave the zone as
   * it was measured, and each must start where the one before it ended, or
   * it and those before it are left out (and removed from the store). A
   * store of one daemon's own (LMDB) needs the marker it left on a clean stop:
   * without it the serials it served last are not known, and nothing is taken.
   */
  restore(stored: StoredJournal, start: number, digest: Digest, shared: boolean, floor?: number): number {
    const end = stored.end;
    this.gone.push(...stored.unreadable); // not ours to read (a newer format, damaged): the journal does without them
    // from after our start: a peer's, which this journal has from the change itself
    const history = stored.steps.filter((s) => compareSerial(s.to, start) !== 1);
    history.sort((a, b) => compareSerial(a.to, b.to) ?? 0);
    let keep = history.length;
    let lastFirst: number | undefined;
    const newest = history[history.length - 1];
    if (newest ? same(newest.digest!, digest) : false) {
      lastFirst = newest!.to;
      keep = history.length - 1;
      while (keep > 0) {
        const next = history[keep]!;
        const prev = history[keep - 1]!;
        if (!same(plus(next.digest!, next.delta, -1), prev.digest!) || compareSerial(next.from, prev.to) === -1) break;
        keep--;
      }
    }
    if (!shared) {
      // the serials of the last state: as the marker says, if it is of this zone as measured
      const fits =
        end !== undefined &&
        same(end.digest, digest) &&
        // left by the run just before this one: a run since (which crashed) reserved serials anew
        end.floor === floor &&
        (lastFirst === undefined || end.first === lastFirst) &&
        compareSerial(end.newest, start) !== 1;
      if (!fits) {
        lastFirst = undefined;
        keep = history.length;
      } else lastFirst = end!.first;
    }
    // nothing changed since start: the journal begins there
    if (this.newest === undefined) this.first = this.newest = start;
    // the steps since start no longer reach back to it (a burst of changes): nothing to join them to
    if (this.first !== start) lastFirst = undefined;
    if (lastFirst === undefined) keep = history.length;
    for (const s of history.slice(0, keep)) this.gone.push(stepId(s.to));
    if (lastFirst === undefined) return 0;
    const taken = history.slice(keep);
    for (const s of taken) this.records += s.removed.length + s.added.length;
    this.steps = [...taken, ...this.steps];
    // the oldest state taken begins at the serial it had before its step: all that is known of it
    this.first = taken.length > 0 ? taken[0]!.from : lastFirst;
    this.trim();
    return taken.length;
  }

  /** Steps to write (this daemon's, with their digests) and ids to remove, taken now. */
  takeWrites(): { put: { id: string; value: unknown }[]; remove: string[] } {
    const put: { id: string; value: unknown }[] = [];
    for (const s of this.steps)
      if (s.dirty && s.digest) {
        put.push({ id: stepId(s.to), value: encodeStep(s) });
        s.dirty = false;
        s.stored = true;
      }
    const remove = this.gone.splice(0);
    return { put, remove };
  }

  /**
   * The marker a daemon with a store of its own leaves on a clean stop: its
   * current state's serials, and the serial reservation the next run starts
   * from (registry/serial.ts), by which that run knows the marker is the last
   * run's and not an older one's (a run in between reserved anew).
   */
  endMarker(floor: number | undefined): { id: string; value: unknown } | undefined {
    if (!this.digest || this.newest === undefined || this.first === undefined) return undefined;
    const first = this.steps.length > 0 ? this.steps[this.steps.length - 1]!.to : this.first;
    return {
      id: END_ID,
      value: {
        v: JOURNAL_FORMAT,
        first,
        newest: this.newest,
        digest: digestText(this.digest),
        ...(floor !== undefined ? { floor } : {}),
      },
    };
  }
}

// ---- the stored form (versioned, as store/codec.ts versions entries) ----

/** A record as JSON: owner labels, TTL, and the data of the types a zone transfers. */
type StoredRecord =
  | { n: string[]; t: number; a: string }
  | { n: string[]; t: number; aaaa: string }
  | { n: string[]; t: number; ptr: string[] }
  | { n: string[]; t: number; ns: string[] }
  | { n: string[]; t: number; srv: [number, number, number, string[]] }
  | { n: string[]; t: number; txt: string[] };

function encodeRecord(r: ResourceRecord): StoredRecord {
  const n = [...r.name];
  const t = r.ttl;
  const d = r.data;
  switch (d.type) {
    case Type.A:
      return { n, t, a: d.address };
    case Type.AAAA:
      return { n, t, aaaa: d.address };
    case Type.PTR:
      return { n, t, ptr: [...d.target] };
    case Type.NS:
      return { n, t, ns: [...d.target] };
    case Type.SRV:
      return { n, t, srv: [d.srv.priority, d.srv.weight, d.srv.port, [...d.srv.target]] };
    case Type.TXT:
      return { n, t, txt: d.strings.map((s) => Buffer.from(s).toString("base64")) };
    default:
      throw new Error(`journal: a zone has no ${d.type} records`);
  }
}

const isLabels = (x: unknown): x is string[] => Array.isArray(x) && x.every((l) => typeof l === "string");
const isUint = (x: unknown, max: number): x is number =>
  Number.isInteger(x) && (x as number) >= 0 && (x as number) <= max;

function decodeRecord(raw: unknown): ResourceRecord {
  const r = raw as Record<string, unknown>;
  if (!r || !isLabels(r.n) || !isUint(r.t, 2 ** 31 - 1)) throw new Error("not a record");
  const name = r.n;
  const ttl = r.t;
  if (typeof r.a === "string") return { name, ttl, data: { type: Type.A, address: r.a } };
  if (typeof r.aaaa === "string") return { name, ttl, data: { type: Type.AAAA, address: r.aaaa } };
  if (isLabels(r.ptr)) return { name, ttl, data: { type: Type.PTR, target: r.ptr } };
  if (isLabels(r.ns)) return { name, ttl, data: { type: Type.NS, target: r.ns } };
  if (Array.isArray(r.srv)) {
    const [priority, weight, port, target] = r.srv as unknown[];
    if (!isUint(priority, 65535) || !isUint(weight, 65535) || !isUint(port, 65535) || !isLabels(target))
      throw new Error("not an SRV");
    return { name, ttl, data: { type: Type.SRV, srv: { priority, weight, port, target } } };
  }
  if (Array.isArray(r.txt) && r.txt.every((s) => typeof s === "string"))
    return { name, ttl, data: { type: Type.TXT, strings: r.txt.map((s: string) => Buffer.from(s, "base64")) } };
  throw new Error("not a record");
}

function encodeStep(s: HeldStep): unknown {
  return {
    v: JOURNAL_FORMAT,
    from: s.from,
    to: s.to,
    digest: digestText(s.digest!),
    delta: digestText(s.delta),
    removed: s.removed.map(encodeRecord),
    added: s.added.map(encodeRecord),
  };
}

/** A stored step, or undefined when it is not one this version reads (a newer format, damage). */
function decodeStep(raw: unknown): HeldStep | undefined {
  const w = raw as Record<string, unknown>;
  if (!w || typeof w !== "object" || w.v !== JOURNAL_FORMAT) return undefined;
  const digest = parseDigest(w.digest);
  const delta = parseDigest(w.delta);
  if (!isUint(w.from, 2 ** 32 - 1) || !isUint(w.to, 2 ** 32 - 1) || !digest || !delta) return undefined;
  if (!Array.isArray(w.removed) || !Array.isArray(w.added)) return undefined;
  try {
    return {
      from: w.from,
      to: w.to,
      removed: w.removed.map(decodeRecord),
      added: w.added.map(decodeRecord),
      delta,
      digest,
      own: false,
      stored: true,
      dirty: false,
    };
  } catch {
    return undefined;
  }
}

function decodeEnd(raw: unknown): StoredJournal["end"] {
  const w = raw as Record<string, unknown>;
  const digest = parseDigest(w?.digest);
  if (!w || w.v !== JOURNAL_FORMAT || !isUint(w.first, 2 ** 32 - 1) || !isUint(w.newest, 2 ** 32 - 1) || !digest)
    return undefined;
  if (w.floor !== undefined && !isUint(w.floor, 2 ** 32 - 1)) return undefined;
  return { first: w.first, newest: w.newest, digest, ...(w.floor !== undefined ? { floor: w.floor } : {}) };
}

/** One zone's entries as read from the store, decoded. */
interface StoredJournal {
  steps: HeldStep[];
  end?: { first: number; newest: number; digest: Digest; floor?: number };
  /** Ids of entries this version does not read. */
  unreadable: string[];
}

/** Stored steps decoded per turn of the event loop (each up to ~100 records). */
const DECODE_SLICE = 50;

async function decodeStored(entries: readonly { id: string; value: unknown }[]): Promise<StoredJournal> {
  const out: StoredJournal = { steps: [], unreadable: [] };
  for (const [i, e] of entries.entries()) {
    if (i > 0 && i % DECODE_SLICE === 0) await nextTurn();
    if (e.id === END_ID) {
      const end = decodeEnd(e.value);
      if (end) out.end = end;
      continue;
    }
    const s = decodeStep(e.value);
    if (s && stepId(s.to) === e.id) out.steps.push(s);
    else out.unreadable.push(e.id);
  }
  return out;
}

// ---- the journals of the transferred zones ----

/** Where the journals are kept, and what else the zones' records are made from. */
export interface JournalPersistence {
  store: JournalStore;
  /** The store's key for the digests (JournalStore.salt), asked before the journals are made: changes are hashed as they come. */
  salt: string;
  /** What the records depend on besides the registrations (--zone-ns, DNS Push), asked once serving: a change of it is a change of every zone. */
  settings: string | (() => string);
  /** A read or write of the store that failed (the journal goes on in memory; what was not written is a gap the next start finds). */
  onError?: (err: unknown) => void;
}

/** How long a stop waits for the journal's last writes. */
const CLOSE_WAIT_MS = 3_000;

/** Registrations measured per turn of the event loop when a zone is measured after start-up. */
const MEASURE_SLICE = 1_000;

/**
 * The journals of the transferred zones, fed by the registry. Every change
 * moves the one serial, so every zone gets a step for it, empty when the
 * change is not in that zone: a secondary of any zone can follow the serial.
 */
export class ZoneJournals {
  private readonly journals = new Map<string, { zone: Labels; journal: ZoneJournal }>();
  private readonly zoneListeners = new Set<(zone: Labels) => void>();
  private serial: number;
  private readonly start: number;
  private readonly stop: () => void;
  /** The registrations each zone held at start: measured after start-up, a slice at a time. */
  private startState: Map<string, { instances: Instance[]; hosts: Host[] }> | undefined;
  /** Steps are written once the zones are measured and the store's steps taken in. */
  private ready = false;
  private closed = false;
  private writeScheduled = false;
  private writes: Promise<void> = Promise.resolve();
  private restoring: Promise<number> | undefined;

  constructor(
    private readonly registry: Registry,
    zones: readonly Labels[],
    private readonly ttl: number,
    private readonly t: TransferOptions,
    limits: JournalLimits,
    private readonly persist?: JournalPersistence,
  ) {
    for (const zone of zones) this.journals.set(domainKey(zone), { zone, journal: new ZoneJournal(limits) });
    this.serial = registry.serial();
    this.start = this.serial;
    if (persist) {
      // references only (registrations are immutable): hashed after start-up, a slice at a time
      this.startState = new Map();
      for (const scope of this.journals.keys()) {
        const instances: Instance[] = [];
        for (const type of registry.serviceTypes(scope))
          for (const i of registry.instancesHeld(type, scope)?.values() ?? [])
            if (transferable(i, t)) instances.push(i);
        this.startState.set(scope, { instances, hosts: registry.allHosts(scope).filter((h) => transferable(h, t)) });
      }
    }
    this.stop = registry.onChange((c) => this.record(c));
  }

  /**
   * Measure each zone as it was at start and take in the steps the store held
   * from before (see ZoneJournal.restore); from then on, steps are written.
   * Without a store, nothing. Resolves when done; a failure leaves the
   * journals in memory (reported), as they were before journals were kept.
   */
  restore(): Promise<number> {
    this.restoring ??= this.restoreNow().catch((err: unknown) => {
      this.persist?.onError?.(err);
      return 0;
    });
    return this.restoring;
  }

  /** Steps taken in from the store, every zone's together. */
  private async restoreNow(): Promise<number> {
    const persist = this.persist;
    if (!persist || !this.startState) return 0;
    const store = persist.store;
    const loaded = await store.loadJournal();
    // the marker of the last clean stop names serials of that run: gone now, so a crash of this one cannot reuse it
    if (!store.shared)
      await store.writeJournal(
        [],
        loaded.filter((e) => e.id === END_ID).map((e) => ({ zone: e.zone, id: e.id })),
      );
    const byZone = new Map<string, JournalEntry[]>();
    for (const e of loaded) {
      if (!byZone.has(e.zone)) byZone.set(e.zone, []);
      byZone.get(e.zone)!.push(e);
    }
    const given = typeof persist.settings === "string" ? persist.settings : persist.settings();
    const salt = persist.salt;
    const settings = hashOf(salt, JSON.stringify(["s", given, this.ttl, this.t.learned]));
    let taken = 0;
    for (const [scope, { journal }] of this.journals) {
      const state = this.startState.get(scope)!;
      let d = settings;
      let n = 0;
      for (const i of state.instances) {
        d = plus(d, instanceDigest(salt, i));
        if (++n % MEASURE_SLICE === 0) await nextTurn();
      }
      for (const h of state.hosts) {
        d = plus(d, hostDigest(salt, h));
        if (++n % MEASURE_SLICE === 0) await nextTurn();
      }
      const stored = await decodeStored(byZone.get(scope) ?? []);
      if (this.closed) return 0;
      journal.measured(d);
      taken += journal.restore(stored, this.start, d, store.shared, this.registry.serialFloorAtStart());
      byZone.delete(scope);
    }
    this.startState = undefined;
    // zones no longer served: their steps are of no use
    const stale = [...byZone.values()].flat().map((e) => ({ zone: e.zone, id: e.id }));
    if (stale.length > 0) this.queueWrite([], stale);
    this.ready = true;
    this.flush();
    return taken;
  }

  /** Write what changed, after the change in hand is applied in full (the changes of one commit come together). */
  private scheduleWrite(): void {
    if (!this.persist || !this.ready || this.writeScheduled || this.closed) return;
    this.writeScheduled = true;
    this.writes = this.writes.then(() => {
      this.writeScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const put: JournalEntry[] = [];
    const remove: { zone: string; id: string }[] = [];
    for (const [scope, { journal }] of this.journals) {
      const w = journal.takeWrites();
      for (const p of w.put) put.push({ zone: scope, ...p });
      for (const id of w.remove) remove.push({ zone: scope, id });
    }
    this.queueWrite(put, remove);
  }

  /** Writes go one after another, in the order the changes were made. */
  private queueWrite(put: readonly JournalEntry[], remove: readonly { zone: string; id: string }[]): void {
    const persist = this.persist;
    if (!persist || (put.length === 0 && remove.length === 0)) return;
    const write = this.writes.then(() => persist.store.writeJournal(put, remove));
    this.writes = write.catch((err: unknown) => persist.onError?.(err));
  }

  /** Kept in a store (not in memory only). */
  get kept(): boolean {
    return this.persist !== undefined;
  }

  /** Resolves once every write asked for so far is done (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writes;
  }

  /** Stop following the registry; with a store, what is left is written, and (LMDB) the serials of the current state. */
  async close(): Promise<void> {
    this.stop();
    if (this.closed) return;
    this.closed = true;
    if (!this.persist || !this.ready) return;
    this.flush();
    if (!this.persist.store.shared) {
      const ends: JournalEntry[] = [];
      for (const [scope, { journal }] of this.journals) {
        const end = journal.endMarker(this.registry.serialReservation());
        if (end) ends.push({ zone: scope, ...end });
      }
      this.queueWrite(ends, []);
    }
    // a store out of reach (etcd) holds up no shutdown: what is not written is a gap the next start finds
    await Promise.race([this.writes, sleep(CLOSE_WAIT_MS)]);
  }

  journal(zone: Labels): ZoneJournal | undefined {
    return this.journals.get(domainKey(zone))?.journal;
  }

  private record(c: Change): void {
    const to = this.registry.serial();
    const own = !this.registry.changeFromPeer();
    let changed = false;
    // one registration served in every zone is the same object in each: hashed once per change, not once per zone
    const digests = new Map<Instance | Host, Digest>();
    const digestOf = (salt: string, r: Instance | Host): Digest => {
      let d = digests.get(r);
      if (!d) digests.set(r, (d = "type" in r ? instanceDigest(salt, r) : hostDigest(salt, r)));
      return d;
    };
    for (const [scope, { zone, journal }] of this.journals) {
      const { before, after, was, now } =
        c.kind === "instance"
          ? this.instanceChange(c.instance, c.previous, c.op, zone, scope)
          : this.hostChange(c.host, c.previous, c.op, zone, scope);
      const diff = recordDiff(before, after);
      let delta = NO_CHANGE;
      if (was !== now && this.persist) {
        const salt = this.persist.salt;
        if (now) delta = plus(delta, digestOf(salt, now));
        if (was) delta = plus(delta, digestOf(salt, was), -1);
      }
      journal.add({ from: this.serial, to, ...diff }, delta, own);
      if (diff.removed.length > 0 || diff.added.length > 0 || !same(delta, NO_CHANGE)) changed = true;
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
    if (changed) this.scheduleWrite();
  }

  /** Hear of each change to a zone's records (not of serials moving alone: a lease renewed). Returns an unsubscribe. */
  onZoneChange(listener: (zone: Labels) => void): () => void {
    this.zoneListeners.add(listener);
    return () => this.zoneListeners.delete(listener);
  }

  /** The records of the instance's name in `zone` before and after the change (an instance's type never changes), and the registrations they come from. */
  private instanceChange(
    inst: Instance,
    previous: Instance | undefined,
    op: Change["op"],
    zone: Labels,
    scope: string,
  ): { before: ResourceRecord[]; after: ResourceRecord[]; was?: Instance; now?: Instance } {
    const none = { before: [], after: [] };
    // a registration in another served domain (local., another zone) is not this zone's
    if (inst.domain !== undefined && !servedIn(inst, scope)) return none;
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
      ...(before ? { was: before } : {}),
      ...(after ? { now: after } : {}),
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
  ): { before: ResourceRecord[]; after: ResourceRecord[]; was?: Host; now?: Host } {
    if (
      (host.domain !== undefined && !servedIn(host, scope)) ||
      (host.domain === undefined && this.registry.hostRecord(hostKey(host.name, scope)))
    )
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
      ...(before ? { was: before } : {}),
      ...(after ? { now: after } : {}),
    };
  }
}
