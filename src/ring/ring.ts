// Ring v2 (docs/hash.md): multi-probe consistent hashing over one service
// type's live instances. Each instance has 16 points per unit of weight, all
// from one SHA-256 of its identity; a key is looked up with 21 probes and goes
// to the instance whose point follows a probe most closely.
//
// Immutable: `change` returns a new ring, so an answer in flight always sees
// one consistent ring. A change hashes only the instances that change and
// copies only the chunks of points they touch (points.ts).
import { identityBytes, instanceSeed, keySeed, keySeedInto, sequenceAt } from "./hash.js";
import {
  allSteps,
  chunkParts,
  newWords,
  PointSet,
  type At,
  type PointParts,
  type SortedPoints,
  type Words,
} from "./points.js";

export type { PointParts, SortedPoints } from "./points.js";

export interface RingMember {
  /** Identity on the ring: the instance label, ASCII lower-cased. */
  readonly id: string;
  /** SRV weight; 0 counts as 1. */
  readonly weight: number;
}

export interface RingOptions {
  /** Points per unit of weight (docs/hash.md `Q`); every daemon and client must agree on it. */
  readonly pointsPerWeight?: number;
}

export const DEFAULT_POINTS_PER_WEIGHT = 16;
/** Builds a ring of these members (ids[k] with weights[k]) somewhere other than the caller's thread (src/ring/aside.ts). */
export type RingBuilder = (ids: readonly string[], weights: readonly number[], options: RingOptions) => Promise<Ring>;

/** Ring work done off the caller's thread: building, and computing exact shares (src/ring/aside.ts). */
export interface RingWorkAside {
  build: RingBuilder;
  shares(ring: Ring): Promise<ShareSummary>;
}
/** Probes per key (docs/hash.md `K`): the busiest share stays within about 1/K of the mean. */
export const PROBES = 21;
export const MAX_WEIGHT = 65535;

/** The weight a member counts with: its SRV weight, 0 (or anything invalid) as 1. */
export function ringWeight(weight: number): number {
  return Number.isFinite(weight) ? Math.min(Math.max(1, Math.floor(weight)), MAX_WEIGHT) : 1;
}

const TWO32 = 2 ** 32;
const PAGE_BITS = 10;
const PAGE = 1 << PAGE_BITS;

/**
 * Slot → member, in pages of 1,024: a change copies the pages it touches
 * (copying one array of 100,000 names took 0.7 ms, most of a join's cost).
 * Identities and weights are kept side by side, not as an object per member
 * (40 B each at 100,000).
 */
class Slots {
  private constructor(
    private readonly ids: readonly (readonly (string | undefined)[])[],
    private readonly weights: readonly Uint32Array[],
    readonly length: number,
  ) {}

  static of(ids: readonly string[], weights: Uint32Array): Slots {
    const idPages: string[][] = [];
    const weightPages: Uint32Array[] = [];
    for (let at = 0; at < ids.length; at += PAGE) {
      idPages.push(ids.slice(at, at + PAGE));
      weightPages.push(weights.slice(at, at + PAGE));
    }
    return new Slots(idPages, weightPages, ids.length);
  }

  /** The member's identity on `slot`; undefined for a free slot. */
  id(slot: number): string | undefined {
    return this.ids[slot >>> PAGE_BITS]?.[slot & (PAGE - 1)];
  }

  /** The member's ring weight on `slot` (0: free). */
  weight(slot: number): number {
    return this.weights[slot >>> PAGE_BITS]?.[slot & (PAGE - 1)] ?? 0;
  }

  /** These slots with `changes` made; a slot at `length` or past it grows the table. */
  with(changes: ReadonlyMap<number, RingMember | undefined>): Slots {
    const ids = this.ids.slice();
    const weights = this.weights.slice();
    const copied = new Set<number>();
    let length = this.length;
    for (const [slot, m] of changes) {
      const p = Math.floor(slot / PAGE);
      if (!copied.has(p)) {
        ids[p] = (ids[p] ?? []).slice();
        const w = new Uint32Array(PAGE);
        if (weights[p]) w.set(weights[p]!);
        weights[p] = w;
        copied.add(p);
      }
      (ids[p] as (string | undefined)[])[slot % PAGE] = m?.id;
      weights[p]![slot % PAGE] = m ? m.weight : 0;
      length = Math.max(length, slot + 1);
    }
    return new Slots(ids, weights, length);
  }

  forEach(fn: (id: string, weight: number, slot: number) => void): void {
    for (let p = 0; p < this.ids.length; p++) {
      const page = this.ids[p]!;
      for (let i = 0; i < page.length; i++) if (page[i] !== undefined) fn(page[i]!, this.weights[p]![i]!, p * PAGE + i);
    }
  }
}

/** Where ownerOf puts a key's seed: no object per lookup. */
const lookupSeed = new Int32Array(2);

const NO_POINTS = PointSet.fromSorted({ pos: new Uint32Array(0), owner: new Uint32Array(0) });

export class Ring {
  readonly pointsPerWeight: number;
  /** Slot → member; undefined for a free slot (so a leave renumbers nothing). */
  private readonly slots: Slots;
  /** Slots left free by leavers, for the next joiners. */
  private readonly free: readonly number[];
  private readonly live: number;
  private readonly pts: PointSet;
  private summary: ShareSummary | undefined;

  private constructor(pointsPerWeight: number, slots: Slots, free: readonly number[], pts: PointSet) {
    this.pointsPerWeight = pointsPerWeight;
    this.slots = slots;
    this.free = free;
    this.live = slots.length - free.length;
    this.pts = pts;
  }

  static empty(options: RingOptions = {}): Ring {
    return new Ring(checkPointsPerWeight(options.pointsPerWeight), Slots.of([], new Uint32Array(0)), [], NO_POINTS);
  }

  static build(members: Iterable<RingMember>, options: RingOptions = {}): Ring {
    const q = checkPointsPerWeight(options.pointsPerWeight);
    const byId = new Map<string, number>();
    for (const m of members) byId.set(m.id, ringWeight(m.weight));
    const ids = [...byId.keys()];
    const weights = Uint32Array.from(byId.values());
    return Ring.fromParts(ids, weights, buildPoints(ids, weights, q), options);
  }

  /** A ring from the points built elsewhere (a worker thread) by `buildPoints(ids, weights)`. */
  static fromParts(ids: readonly string[], weights: Uint32Array, parts: PointParts, options: RingOptions = {}): Ring {
    return new Ring(
      checkPointsPerWeight(options.pointsPerWeight),
      Slots.of(ids, weights),
      [],
      PointSet.fromParts(parts),
    );
  }

  get size(): number {
    return this.live;
  }

  get pointCount(): number {
    return this.pts.size;
  }

  has(id: string): boolean {
    return this.slotOf(id) >= 0;
  }

  /** The weight `id` has on this ring (0: not on it). */
  weightOf(id: string): number {
    const slot = this.slotOf(id);
    return slot < 0 ? 0 : this.slots.weight(slot);
  }

  members(): RingMember[] {
    const out: RingMember[] = [];
    this.slots.forEach((id, weight) => {
      out.push({ id, weight });
    });
    return out;
  }

  /** A ring with `member` added, or re-weighted when already present. */
  with(member: RingMember): Ring {
    return this.change([member], []);
  }

  without(id: string): Ring {
    return this.change([], [id]);
  }

  /**
   * Many changes at once: `remove` ids leave, `add` members join (or are
   * re-weighted). Each chunk of points is copied at most once.
   */
  change(add: readonly RingMember[], remove: readonly string[]): Ring {
    const joining = new Map<string, number>();
    for (const m of add) joining.set(m.id, ringWeight(m.weight));
    for (const id of remove) joining.delete(id);
    const leaving: { id: string; slot: number; weight: number }[] = [];
    for (const id of new Set(remove)) {
      const slot = this.slotOf(id);
      if (slot >= 0) leaving.push({ id, slot, weight: this.slots.weight(slot) });
    }
    for (const [id, w] of joining) {
      const slot = this.slotOf(id);
      if (slot < 0) continue;
      const was = this.slots.weight(slot);
      if (was === w) joining.delete(id);
      else leaving.push({ id, slot, weight: was }); // re-weighted: its points are made anew
    }
    if (joining.size === 0 && leaving.length === 0) return this;

    const q = this.pointsPerWeight;
    const changes = new Map<number, RingMember | undefined>();
    const free = this.free.slice();
    for (const l of leaving) {
      changes.set(l.slot, undefined);
      free.push(l.slot);
    }
    const joiners: string[] = [];
    const joinSlots: number[] = [];
    let grow = this.slots.length;
    for (const [id, weight] of joining) {
      const slot = free.pop() ?? grow++;
      changes.set(slot, { id, weight });
      joiners.push(id);
      joinSlots.push(slot);
    }
    const slots = this.slots.with(changes);
    const idOf = (slot: number) => slots.id(slot)!;

    const removed = this.leaverPoints(leaving);
    const added = sortPoints(
      newPoints(
        joiners,
        Uint32Array.from(joiners, (id) => joining.get(id)!),
        q,
        joinSlots,
      ),
      idOf,
    );
    // on one position, an existing point goes first when its identity is smaller
    const before = (existing: number, joiner: number) => compareIdentity(this.slots.id(existing)!, idOf(joiner)) < 0;
    return new Ring(q, slots, free, this.pts.change(removed, added, before));
  }

  /** The slot of `id`, found through its first point: no map from identity to slot to copy on every change. */
  private slotOf(id: string): number {
    if (this.pts.size === 0) return -1;
    for (const slot of this.pts.ownersAt(sequenceAt(instanceSeed(id), 0))) if (this.slots.id(slot) === id) return slot;
    return -1;
  }

  /** Where the leavers' points are. */
  private leaverPoints(leaving: readonly { id: string; slot: number; weight: number }[]): At[] {
    let count = 0;
    for (const l of leaving) count += l.weight * this.pointsPerWeight;
    if (count > this.pts.size / 8) {
      // many leave at once: one pass over every point beats a search per point
      const gone = new Uint8Array(this.slots.length);
      for (const l of leaving) gone[l.slot] = 1;
      return this.pts.pointsOwnedBy(gone);
    }
    const out: At[] = [];
    for (const l of leaving) {
      const seed = instanceSeed(l.id);
      for (let j = 0; j < l.weight * this.pointsPerWeight; j++) out.push(this.pts.find(sequenceAt(seed, j), l.slot)!);
    }
    return out;
  }

  /** The instance that owns `key`, or undefined on an empty ring. */
  ownerOf(key: Uint8Array | string): string | undefined {
    if (this.pts.size === 0) return undefined;
    keySeedInto(key, lookupSeed);
    return this.slots.id(this.pts.nearestOwner(lookupSeed[0]!, lookupSeed[1]! | 1, PROBES));
  }

  /**
   * The owner followed by the next distinct instances: every probe walks
   * clockwise at once, (probe, point) pairs visited by distance (ties: lower
   * probe, then ring order), each instance listed the first time. Up to `n`
   * ids; fewer when `maxVisits` (probe, point) pairs were visited first (a
   * heavy instance's points can stand between a key and the next instance):
   * the list is then the start of the whole one.
   */
  successors(key: Uint8Array | string, n: number, maxVisits = Infinity): string[] {
    const out: string[] = [];
    const total = this.pts.size;
    const want = Math.min(n, this.live);
    if (total === 0 || want <= 0) return out;
    const seed = keySeed(key);
    const probe = Array.from({ length: PROBES }, (_, j) => sequenceAt(seed, j));
    const at = probe.map((p) => this.pts.successor(p));
    const steps = new Int32Array(PROBES);
    const seen = new Set<number>();
    for (let visits = 0; out.length < want && visits < maxVisits; visits++) {
      let pick = -1;
      let best = Infinity;
      for (let j = 0; j < PROBES; j++) {
        if (steps[j]! >= total) continue;
        const d = (this.pts.position(at[j]!) - probe[j]!) >>> 0;
        if (d < best) {
          best = d;
          pick = j;
        }
      }
      if (pick < 0) break;
      const o = this.pts.owner(at[pick]!);
      if (!seen.has(o)) {
        seen.add(o);
        out.push(this.slots.id(o)!);
      }
      at[pick] = this.pts.step(at[pick]!);
      steps[pick]!++;
    }
    return out;
  }

  /**
   * The circle in `slices` equal slices, each with the instance whose point
   * follows the slice's midpoint: a picture of the points at a resolution a
   * screen can draw.
   */
  picture(slices: number): (string | undefined)[] {
    if (this.pts.size === 0) return new Array<undefined>(slices).fill(undefined);
    return Array.from({ length: slices }, (_, i) =>
      this.slots.id(this.pts.owner(this.pts.successor(Math.floor(((i + 0.5) / slices) * TWO32) >>> 0))),
    );
  }

  /** The exact fraction of keys each instance owns (see `shareSummary`), computed once per ring. */
  shares(): Map<string, number> {
    const { bySlot } = this.shareSummary();
    const out = new Map<string, number>();
    this.slots.forEach((id, _weight, slot) => {
      out.set(id, bySlot[slot]!);
    });
    return out;
  }

  /** The shares, busiest first, and how even they are; computed here, or elsewhere and adopted. */
  shareSummary(): ShareSummary {
    return this.summary ?? this.adoptShares(shareSummaryOf(this.flatPoints()));
  }

  knownShares(): ShareSummary | undefined {
    return this.summary;
  }

  /** One instance's share, if the shares are known. */
  shareOf(id: string): number | undefined {
    const slot = this.slotOf(id);
    return this.summary && slot >= 0 ? this.summary.bySlot[slot] : undefined;
  }

  /** The instance on a slot (as in `ShareSummary.busiest`). */
  idAt(slot: number): string | undefined {
    return this.slots.id(slot);
  }

  /** What `shareSummaryOf` takes: the points in two flat arrays (a copy, to hand over) and each slot's weight (0: free). */
  flatPoints(): ShareInput {
    return allSteps(this.flatPointsInSteps(Infinity));
  }

  /** `flatPoints`, pausing after each ~`pointsPerStep` points copied (see PointSet.toSortedInSteps). */
  *flatPointsInSteps(pointsPerStep: number): Generator<void, ShareInput, void> {
    const weights = new Uint32Array(this.slots.length);
    this.slots.forEach((_id, weight, slot) => {
      weights[slot] = weight;
    });
    return { pts: yield* this.pts.toSortedInSteps(pointsPerStep), weights };
  }

  /** Shares computed elsewhere by `shareSummaryOf(flatPoints())`: kept as this ring's. */
  adoptShares(summary: ShareSummary): ShareSummary {
    this.summary = summary;
    return summary;
  }
}

export interface ShareInput {
  pts: SortedPoints;
  /** By slot; 0 for a free slot. */
  weights: Uint32Array;
}

export interface ShareSummary {
  bySlot: Float64Array;
  /** Slots by share, busiest first (at most SUMMARY_TOP). */
  busiest: Int32Array;
  /** The highest and lowest share over the share its weight asks for (1 is exact). */
  highest: number;
  lowest: number;
}

/** The busiest slots a summary lists: as many as a view may ask for. */
export const SUMMARY_TOP = 10_000;

/** The shares (`sharesBySlot`), busiest first, and how even: pure, so a worker thread can do it for a big ring. */
export function shareSummaryOf({ pts, weights }: ShareInput): ShareSummary {
  const bySlot = sharesBySlot(pts, weights.length);
  let total = 0;
  for (const w of weights) total += w;
  let highest = 0;
  let lowest = total > 0 ? Infinity : 0;
  for (let slot = 0; slot < weights.length; slot++) {
    if (weights[slot] === 0) continue;
    const r = bySlot[slot]! / (weights[slot]! / total);
    if (r > highest) highest = r;
    if (r < lowest) lowest = r;
  }
  // the busiest few without sorting every slot: the cut-off from a typed-array sort of the shares
  const sorted = bySlot.slice().sort();
  const cutoff = sorted.length > SUMMARY_TOP ? sorted[sorted.length - SUMMARY_TOP]! : -Infinity;
  const top: number[] = [];
  for (let slot = 0; slot < weights.length; slot++) if (weights[slot] !== 0 && bySlot[slot]! >= cutoff) top.push(slot);
  top.sort((a, b) => bySlot[b]! - bySlot[a]! || a - b);
  return { bySlot, busiest: Int32Array.from(top.slice(0, SUMMARY_TOP)), highest, lowest };
}

/**
 * The exact fraction of keys each slot owns. With probes independent and
 * uniform, a probe's distance to its successor has CDF F(x) = Σ min(x, L)
 * over the arcs L, and the point ending arc L wins K·∫₀ᴸ (1 − F(x))^(K−1) dx
 * of the keys: one pass over the arcs sorted by length. Pure, so a worker
 * thread can run it (a ring of 1.6 million points: ~100 ms).
 */
function sharesBySlot({ pos, owner }: SortedPoints, slots: number): Float64Array {
  const n = pos.length;
  const bySlot = new Float64Array(slots);
  if (n === 1) bySlot[owner[0]!] = 1;
  if (n <= 1) return bySlot;
  const arc = new Uint32Array(n);
  for (let i = 1; i < n; i++) arc[i] = pos[i]! - pos[i - 1]!;
  arc[0] = (pos[0]! - pos[n - 1]!) >>> 0;
  const byLength = radixSort({ pos: arc, owner });
  let integral = 0; // ∫₀ˣ (1 − F)^(K−1) up to the current length x
  let shorter = 0; // Σ of the arcs shorter than x
  let prev = 0;
  for (let r = 0; r < n; r++) {
    const l = byLength.pos[r]! / TWO32;
    const longer = n - r; // on [prev, l], F(x) = shorter + longer·x
    if (l > prev)
      integral +=
        ((1 - shorter - longer * prev) ** PROBES - Math.max(0, 1 - shorter - longer * l) ** PROBES) / (longer * PROBES);
    bySlot[byLength.owner[r]!] += PROBES * integral;
    shorter += l;
    prev = l;
  }
  return bySlot;
}

function checkPointsPerWeight(p: number | undefined): number {
  const q = p ?? DEFAULT_POINTS_PER_WEIGHT;
  if (!Number.isInteger(q) || q < 1) throw new Error(`pointsPerWeight must be a positive integer, got ${q}`);
  return q;
}

/** Unsorted points of the given instances: slot `slots[k]` for `ids[k]`. */
function newPoints(
  ids: readonly string[],
  weights: Uint32Array,
  q: number,
  slots: readonly number[],
  words: Words = newWords,
): SortedPoints {
  let total = 0;
  for (const w of weights) total += w * q;
  const pos = words(total);
  const owner = words(total);
  let k = 0;
  ids.forEach((id, m) => {
    const seed = instanceSeed(id);
    for (let j = 0, c = weights[m]! * q; j < c; j++, k++) {
      pos[k] = sequenceAt(seed, j);
      owner[k] = slots[m]!;
    }
  });
  return { pos, owner };
}

/**
 * Every member's points, sorted and cut into chunks: member k has slot k.
 * Pure, so a worker thread can run it; `words` makes its arrays (zeroed).
 */
export function buildPoints(
  ids: readonly string[],
  weights: Uint32Array,
  q: number,
  words: Words = newWords,
): PointParts {
  return chunkParts(
    sortPoints(
      newPoints(
        ids,
        weights,
        q,
        ids.map((_, k) => k),
        words,
      ),
      (slot) => ids[slot]!,
      words,
    ),
    words,
  );
}

/** Sort by position (a two-pass radix sort for many points), then order equal positions by identity bytes. */
function sortPoints(p: SortedPoints, idOf: (slot: number) => string, words: Words = newWords): SortedPoints {
  const n = p.pos.length;
  let out: SortedPoints;
  if (n < 2048) {
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((x, y) => p.pos[x]! - p.pos[y]!);
    out = { pos: order.map((i) => p.pos[i]!), owner: order.map((i) => p.owner[i]!) };
  } else {
    out = radixSort(p, words);
  }
  const { pos, owner } = out;
  for (let i = 1; i < n; i++) {
    if (pos[i] !== pos[i - 1]) continue;
    let end = i + 1;
    while (end < n && pos[end] === pos[i]) end++;
    const run = Array.from(owner.subarray(i - 1, end)).sort((x, y) => compareIdentity(idOf(x), idOf(y)));
    owner.set(run, i - 1);
    i = end - 1;
  }
  return out;
}

function radixSort(p: SortedPoints, words: Words = newWords): SortedPoints {
  const n = p.pos.length;
  let srcPos: Uint32Array = p.pos;
  let srcOwner: Uint32Array = p.owner;
  let dstPos: Uint32Array = words(n);
  let dstOwner: Uint32Array = words(n);
  const count = words(65537);
  for (const shift of [0, 16]) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((srcPos[i]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 1; d < 65537; d++) count[d]! += count[d - 1]!;
    for (let i = 0; i < n; i++) {
      const at = count[(srcPos[i]! >>> shift) & 0xffff]!++;
      dstPos[at] = srcPos[i]!;
      dstOwner[at] = srcOwner[i]!;
    }
    [srcPos, dstPos] = [dstPos, srcPos];
    [srcOwner, dstOwner] = [dstOwner, srcOwner];
  }
  return { pos: srcPos, owner: srcOwner };
}

function compareIdentity(a: string, b: string): number {
  return Buffer.compare(identityBytes(a), identityBytes(b));
}
