// The ring's points, sorted by (position, identity), kept in chunks: chunk c
// holds the positions whose top bits are c, with its own small index. A
// change copies only the chunks it touches (a join at 100,000 instances:
// 16 chunks of ~200 points instead of 1.6 million), and a ring kept by an
// answer in flight still sees its own chunks: nothing is changed in place.
import { mix32 } from "./hash.js";

/** Points in ring order: positions and each one's owner (a slot). */
export interface SortedPoints {
  readonly pos: Uint32Array;
  readonly owner: Uint32Array;
}

/** Makes a zeroed array of `n` words: a build's own, or one in memory it manages (src/ring/aside-worker.ts). */
export type Words = (n: number) => Uint32Array;
export const newWords: Words = (n) => new Uint32Array(n);

/** Everything a PointSet is made of, in a few flat arrays: a worker thread builds these and hands them over without a copy. */
export interface PointParts {
  readonly chunkBits: number;
  readonly bucketBits: number;
  /** Where chunk c starts among the points; one more entry than chunks. */
  readonly starts: Uint32Array;
  /** The chunks' arrays (chunkArray) one after the other: chunk c's is chunks[starts[c] + c·(2^bucketBits + PAD), starts[c + 1] + (c + 1)·(2^bucketBits + PAD)). */
  readonly chunks: Uint32Array;
  /** The points' owners, in ring order. */
  readonly owner: Uint32Array;
}

/** A point: its chunk and its place in it. */
export interface At {
  c: number;
  i: number;
}

/**
 * Small chunks, because a chunk a change makes usually outlives a few young
 * collections (it stays until a later change touches it) and its arrays are
 * memory outside V8's heap: at 1,024 points a change at 100,000 left ~85 KiB
 * of it to the next full collection, and under 50 changes a second V8 started
 * one for "external memory pressure" about every half minute (a 17 ms pause,
 * and marking steps of up to 16 ms). At 256, ~16 KiB a change; lookups and
 * joins are no slower (the chunk table, 8,192 entries at 100,000, is copied
 * per change and dies young).
 */
const POINTS_PER_CHUNK = 256;
/**
 * A chunk's positions are followed by PAD sentinels, no position below them:
 * a probe compares the WINDOW points from its bucket's start without a bounds
 * test, and counts those below it instead of branching on each (a
 * mispredicted branch per probe cost more than the reads).
 */
const WINDOW = 4;
const PAD = WINDOW;
const SENTINEL = 0xffffffff;

/** A ring this small is one chunk: a change copies it all (≤ 48 KB), and a lookup needs no chunk table (nearestOwnerInOne). */
const ONE_CHUNK_POINTS = 4096;

function chunkBitsFor(points: number): number {
  if (points <= ONE_CHUNK_POINTS) return 0;
  return Math.min(16, Math.max(1, Math.round(Math.log2(points / POINTS_PER_CHUNK))));
}

/**
 * Buckets of about 2 points, so a probe mostly finds its point within the
 * WINDOW from its bucket's start; about 4 in rings past 2^18 points (~16,000
 * instances), where the index (one word per bucket) would take ~42 bytes per
 * instance instead of ~21 (at 100,000) and lookups wait on memory more than on
 * the extra scans (no difference in speed measurable there on this machine).
 * One bucket size for every chunk, so a probe needs nothing of its chunk but
 * its array.
 */
function bucketBitsFor(points: number, chunkBits: number): number {
  const pointsPerBucketLog2 = points > 2 ** 18 ? 2 : 1;
  return Math.min(16, Math.max(1, Math.round(Math.log2(Math.max(1, points))) - chunkBits - pointsPerBucketLog2));
}

/**
 * Chunk c's array, all a probe reads of it: its index (2^bucketBits words:
 * word b = where in this array the chunk's first point of bucket b or after
 * is), its positions, then PAD sentinels. One typed array per chunk, not
 * three: each one a probe goes through costs it a dependent read.
 */
function chunkArray(
  pos: Uint32Array,
  chunkBits: number,
  bucketBits: number,
  out: Uint32Array = new Uint32Array((1 << bucketBits) + pos.length + PAD),
): Uint32Array {
  const buckets = 1 << bucketBits;
  const shift = 32 - bucketBits;
  out.fill(0, 0, buckets);
  // counts shifted by one bucket, then summed from the first position's place
  for (let i = 0; i < pos.length; i++) {
    const b = (pos[i]! << chunkBits) >>> shift;
    if (b + 1 < buckets) out[b + 1]!++;
  }
  out[0] = buckets;
  for (let b = 1; b < buckets; b++) out[b]! += out[b - 1]!;
  // (a change merges the positions into their place here already: no copy, and no clone of the source)
  if (pos.buffer !== out.buffer || pos.byteOffset !== out.byteOffset + buckets * 4) out.set(pos, buckets);
  out.fill(SENTINEL, buckets + pos.length);
  return out;
}

/** Cut sorted points into chunks and index each: pure, so a worker thread can run it. */
export function chunkParts(pts: SortedPoints, words: Words = newWords): PointParts {
  const { pos, owner } = pts;
  const chunkBits = chunkBitsFor(pos.length);
  const bucketBits = bucketBitsFor(pos.length, chunkBits);
  const count = 1 << chunkBits;
  const cshift = 32 - chunkBits;
  const starts = words(count + 1);
  for (let i = 0; i < pos.length; i++) starts[(chunkBits === 0 ? 0 : pos[i]! >>> cshift) + 1]!++;
  for (let c = 1; c <= count; c++) starts[c]! += starts[c - 1]!;
  const extra = (1 << bucketBits) + PAD;
  const chunks = words(pos.length + count * extra);
  for (let c = 0; c < count; c++) {
    const a = starts[c]!;
    const b = starts[c + 1]!;
    chunkArray(pos.subarray(a, b), chunkBits, bucketBits, chunks.subarray(a + c * extra, b + (c + 1) * extra));
  }
  return { chunkBits, bucketBits, starts, chunks, owner };
}

/**
 * Where in a chunk's array the first position at or after `p` is, from its
 * bucket's start `s`: counted within the window (WINDOW compares written out,
 * no branch per point), scanned past it (rare). The sentinels stop the scan.
 */
function firstAtOrAfter(arr: Uint32Array, s: number, p: number): number {
  const i = s + +(arr[s]! < p) + +(arr[s + 1]! < p) + +(arr[s + 2]! < p) + +(arr[s + 3]! < p);
  return i === s + WINDOW ? scanFrom(arr, i, p) : i;
}

function scanFrom(arr: Uint32Array, i: number, p: number): number {
  while (arr[i]! < p) i++;
  return i;
}

/** Per chunk, its array (chunkArray) and its owners, in two arrays of typed arrays. */
export class PointSet {
  readonly size: number;
  /** Chunk c's index, positions and sentinels (chunkArray). */
  private readonly chunks: readonly Uint32Array[];
  /** Chunk c's owners: as many as its points. */
  private readonly owners: readonly Uint32Array[];
  private readonly chunkBits: number;
  private readonly bucketBits: number;
  /** Where a chunk's positions start in its array: after its index. */
  private readonly first: number;
  private readonly cshift: number;
  private readonly cmask: number;
  /** next[c]: the first non-empty chunk after c, going round (c itself when it is the only one). */
  private readonly next: Int32Array;

  private constructor(
    chunks: readonly Uint32Array[],
    owners: readonly Uint32Array[],
    chunkBits: number,
    bucketBits: number,
    size: number,
    next?: Int32Array,
  ) {
    this.chunks = chunks;
    this.owners = owners;
    this.chunkBits = chunkBits;
    this.bucketBits = bucketBits;
    this.first = 1 << bucketBits;
    this.cshift = 32 - chunkBits;
    this.cmask = (1 << chunkBits) - 1;
    this.size = size;
    this.next = next ?? nextNonEmpty(owners);
  }

  static fromParts(p: PointParts): PointSet {
    const chunks: Uint32Array[] = [];
    const owners: Uint32Array[] = [];
    const extra = (1 << p.bucketBits) + PAD;
    for (let c = 0; c < 1 << p.chunkBits; c++) {
      const a = p.starts[c]!;
      const b = p.starts[c + 1]!;
      chunks.push(p.chunks.subarray(a + c * extra, b + (c + 1) * extra));
      owners.push(p.owner.subarray(a, b));
    }
    return new PointSet(chunks, owners, p.chunkBits, p.bucketBits, p.owner.length);
  }

  static fromSorted(pts: SortedPoints): PointSet {
    return PointSet.fromParts(chunkParts(pts));
  }

  /** Buckets in the index, all chunks together, as a power of two: about a quarter or half of the points. */
  get indexBits(): number {
    return this.chunkBits + this.bucketBits;
  }

  /** The chunk a position falls in. */
  private chunkOf(p: number): number {
    return (p >>> this.cshift) & this.cmask; // with no chunk bits, p >>> 32 is p itself, masked to 0
  }

  /** Chunk c's positions without its index and sentinels. */
  private positions(c: number): Uint32Array {
    return this.chunks[c]!.subarray(this.first, this.first + this.owners[c]!.length);
  }

  /** Where among its chunk's points the first one at or after `p` is (the chunk's length: none). */
  private placeOf(c: number, p: number): number {
    const arr = this.chunks[c]!;
    let i = arr[(p << this.chunkBits) >>> (32 - this.bucketBits)]!;
    while (arr[i]! < p) i++; // stops at the sentinels at the latest
    return i - this.first;
  }

  /**
   * The owner of the point that follows one of `probes` positions most
   * closely: probe j is mix(a + j·step) (docs/hash.md). The hot loop of every
   * `_hash` answer: no object per probe, and small helpers V8 inlines.
   */
  nearestOwner(a: number, step: number, probes: number): number {
    if (this.cmask === 0) return this.nearestOwnerInOne(a, step, probes);
    // `| 0`: untagged once here; a field read as it is was checked and untagged again on every probe
    const chunks = this.chunks;
    const cb = this.chunkBits | 0;
    const bshift = (32 - this.bucketBits) | 0;
    const cshift = this.cshift | 0;
    const cmask = this.cmask | 0;
    const next = this.next;
    const first = this.first | 0;
    const n = probes | 0;
    const stride = step | 0;
    let best = 0xffffffff;
    let bestC = 0;
    let bestI = 0;
    for (let j = 0, x = a | 0; j < n; j++, x = (x + stride) | 0) {
      const p = mix32(x);
      let c = (p >>> cshift) & cmask;
      let arr = chunks[c]!;
      const s = arr[(p << cb) >>> bshift]!;
      let i = firstAtOrAfter(arr, s, p);
      if (i >= arr.length - PAD) {
        c = next[c]!;
        arr = chunks[c]!;
        i = first;
      }
      // a closer point takes over, without a branch: the new best is a random probe (a branch mispredicted
      // ~4 times per lookup, and each time the reads of the probes after it started over)
      const d = (arr[i]! - p) >>> 0;
      const closer = -(+(d < best) | +(j === 0)); // (the first probe's point is the best so far, even at distance 2^32 - 1)
      best = (best ^ ((best ^ d) & closer)) >>> 0;
      bestC ^= (bestC ^ c) & closer;
      bestI ^= (bestI ^ i) & closer;
    }
    // the owner only of the winner: one read, not one per probe
    return this.owners[bestC]![bestI - first]!;
  }

  /**
   * nearestOwner for a ring of one chunk (ONE_CHUNK_POINTS or fewer points,
   * N = 100 at weight 1): its array read once, not once per probe, and past
   * the last point the first, without the table of next chunks.
   */
  private nearestOwnerInOne(a: number, step: number, probes: number): number {
    const arr = this.chunks[0]!;
    const bshift = (32 - this.bucketBits) | 0;
    const first = this.first | 0;
    const end = (arr.length - PAD) | 0;
    const n = probes | 0;
    const stride = step | 0;
    let best = 0xffffffff;
    let bestI = 0;
    for (let j = 0, x = a | 0; j < n; j++, x = (x + stride) | 0) {
      const p = mix32(x);
      const s = arr[p >>> bshift]!;
      let i = firstAtOrAfter(arr, s, p);
      i ^= (i ^ first) & -+(i >= end); // past the last point: the first
      const d = (arr[i]! - p) >>> 0;
      const closer = -(+(d < best) | +(j === 0));
      best = (best ^ ((best ^ d) & closer)) >>> 0;
      bestI ^= (bestI ^ i) & closer;
    }
    return this.owners[0]![bestI - first]!;
  }

  /** The first point at or clockwise of position `p`. */
  successor(p: number): At {
    const c = this.chunkOf(p);
    const i = this.placeOf(c, p);
    return i < this.owners[c]!.length ? { c, i } : { c: this.next[c]!, i: 0 };
  }

  /** The point after `at`, going round. */
  step(at: At): At {
    return at.i + 1 < this.owners[at.c]!.length ? { c: at.c, i: at.i + 1 } : { c: this.next[at.c]!, i: 0 };
  }

  position(at: At): number {
    return this.chunks[at.c]![this.first + at.i]!;
  }

  owner(at: At): number {
    return this.owners[at.c]![at.i]!;
  }

  /** The point at position `p` owned by `slot`, if there is one. */
  find(p: number, slot: number): At | undefined {
    const c = this.chunkOf(p);
    const pos = this.positions(c);
    const owner = this.owners[c]!;
    for (let i = this.placeOf(c, p); i < owner.length && pos[i] === p; i++) if (owner[i] === slot) return { c, i };
    return undefined;
  }

  /** Slots of the points at position `p`, in ring order. */
  ownersAt(p: number): number[] {
    const c = this.chunkOf(p);
    const pos = this.positions(c);
    const owner = this.owners[c]!;
    const out: number[] = [];
    for (let i = this.placeOf(c, p); i < owner.length && pos[i] === p; i++) out.push(owner[i]!);
    return out;
  }

  /** Every point whose owner is marked in `gone`. */
  pointsOwnedBy(gone: Uint8Array): At[] {
    const out: At[] = [];
    for (let c = 0; c < this.owners.length; c++) {
      const owner = this.owners[c]!;
      for (let i = 0; i < owner.length; i++) if (gone[owner[i]!]) out.push({ c, i });
    }
    return out;
  }

  /** `removed` as indices into the flat ring order. */
  private flatIndices(removed: readonly At[]): Int32Array {
    const offsets: number[] = [];
    let at = 0;
    for (const owner of this.owners) {
      offsets.push(at);
      at += owner.length;
    }
    return Int32Array.from(removed, (r) => offsets[r.c]! + r.i).sort();
  }

  /** All points in ring order, in two flat arrays. */
  toSorted(): SortedPoints {
    return allSteps(this.toSortedInSteps(Infinity));
  }

  /**
   * `toSorted`, pausing (a yield) after each ~`pointsPerStep` points copied:
   * the caller can give the event loop a turn between steps (copying 1.6
   * million points at once holds it for 10-17 ms). The set is immutable, so
   * the copy is of one ring however long it takes.
   */
  *toSortedInSteps(pointsPerStep: number): Generator<void, SortedPoints, void> {
    const pos = new Uint32Array(this.size);
    const owner = new Uint32Array(this.size);
    let at = 0;
    let sinceYield = 0;
    for (let c = 0; c < this.owners.length; c++) {
      const chunk = this.owners[c]!;
      pos.set(this.positions(c), at);
      owner.set(chunk, at);
      at += chunk.length;
      sinceYield += chunk.length;
      if (sinceYield >= pointsPerStep) {
        sinceYield = 0;
        yield;
      }
    }
    return { pos, owner };
  }

  /**
   * These points less `removed`, plus `added` (sorted in ring order);
   * `before(existingOwner, addedOwner)` orders two points on one position.
   * Only the chunks touched are copied.
   */
  change(
    removed: readonly At[],
    added: SortedPoints,
    before: (existing: number, joining: number) => boolean,
  ): PointSet {
    const size = this.size - removed.length + added.pos.length;
    const chunkBits = chunkBitsFor(size);
    const indexBits = chunkBits + bucketBitsFor(size, chunkBits);
    if (Math.abs(chunkBits - this.chunkBits) >= 2 || Math.abs(indexBits - this.indexBits) >= 2) {
      // grown or shrunk fourfold past its chunking or its index (a ring of one chunk grows only its buckets: kept
      // as built, one joiner at a time from empty left 8 buckets for 4,000 points, and every probe scanned
      // hundreds): cut anew (rare, and O(points) like the growth itself)
      return PointSet.fromSorted(mergeInto(this.toSorted(), this.flatIndices(removed), added, before));
    }
    const touched = new Map<number, { removed: number[]; from: number; to: number }>();
    const entry = (c: number) => touched.get(c) ?? touched.set(c, { removed: [], from: 0, to: 0 }).get(c)!;
    for (const r of removed) entry(r.c).removed.push(r.i);
    for (let k = 0; k < added.pos.length; ) {
      const c = this.chunkOf(added.pos[k]!);
      const e = entry(c);
      e.from = k;
      while (k < added.pos.length && this.chunkOf(added.pos[k]!) === c) k++;
      e.to = k;
    }
    const chunks = this.chunks.slice();
    const owners = this.owners.slice();
    let emptiness = false;
    for (const [c, e] of touched) {
      const old = { pos: this.positions(c), owner: this.owners[c]! };
      // the positions are merged straight into the new chunk array, after its index: one array fewer a chunk
      const first = this.first;
      let arr: Uint32Array | undefined;
      const merged = mergeInto(
        old,
        Int32Array.from(e.removed).sort(),
        { pos: added.pos.subarray(e.from, e.to), owner: added.owner.subarray(e.from, e.to) },
        before,
        (n) => (arr = new Uint32Array(first + n + PAD)).subarray(first, first + n),
      );
      chunks[c] = chunkArray(merged.pos, this.chunkBits, this.bucketBits, arr);
      owners[c] = merged.owner;
      if ((old.owner.length === 0) !== (merged.owner.length === 0)) emptiness = true;
    }
    return new PointSet(chunks, owners, this.chunkBits, this.bucketBits, size, emptiness ? undefined : this.next);
  }
}

/** What a stepped computation (one that yields between steps) gives, run without a pause. */
export function allSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function nextNonEmpty(chunks: readonly Uint32Array[]): Int32Array {
  const next = new Int32Array(chunks.length);
  let first = chunks.findIndex((ch) => ch.length > 0);
  if (first < 0) first = 0;
  let following = first; // the first non-empty chunk at or after c+1, going round
  for (let c = chunks.length - 1; c >= 0; c--) {
    next[c] = following;
    if (chunks[c]!.length > 0) following = c;
  }
  return next;
}

function lowerBound(a: Uint32Array, p: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < p) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * `old` less the points at `removed` (ascending indices) plus `added`
 * (sorted), in ring order. Runs of untouched points are block copies.
 */
function mergeInto(
  old: SortedPoints,
  removed: Int32Array,
  added: SortedPoints,
  before: (existing: number, joining: number) => boolean,
  /** Where the merged positions go (`total` words), when not in an array of their own. */
  posOut: (total: number) => Uint32Array = (total) => new Uint32Array(total),
): SortedPoints {
  const n = old.pos.length;
  const total = n - removed.length + added.pos.length;
  const pos = posOut(total);
  const owner = new Uint32Array(total);
  // where each added point goes among the old ones: after every old point before it in ring order
  const insertAt = new Int32Array(added.pos.length);
  for (let k = 0; k < added.pos.length; k++) {
    const p = added.pos[k]!;
    let i = lowerBound(old.pos, p);
    while (i < n && old.pos[i] === p && before(old.owner[i]!, added.owner[k]!)) i++;
    insertAt[k] = i;
  }
  let o = 0;
  let w = 0;
  let r = 0;
  let k = 0;
  for (;;) {
    const stop = Math.min(r < removed.length ? removed[r]! : n, k < insertAt.length ? insertAt[k]! : n);
    if (stop > o) {
      pos.set(old.pos.subarray(o, stop), w);
      owner.set(old.owner.subarray(o, stop), w);
      w += stop - o;
      o = stop;
    }
    if (k < insertAt.length && insertAt[k] === o) {
      pos[w] = added.pos[k]!;
      owner[w++] = added.owner[k++]!;
    } else if (r < removed.length && removed[r] === o) {
      o++;
      r++;
    } else if (o >= n) break;
  }
  return { pos, owner };
}
