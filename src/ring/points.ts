// The ring's points, sorted by (position, identity), kept in chunks: chunk c
// holds the positions whose top bits are c, with its own small index. A
// change copies only the chunks it touches (a join at 100,000 instances:
// 16 chunks of ~4,000 points instead of 1.6 million), and a ring kept by an
// answer in flight still sees its own chunks: nothing is changed in place.

/** Points in ring order: positions and each one's owner (a slot). */
export interface SortedPoints {
  readonly pos: Uint32Array;
  readonly owner: Uint32Array;
}

/**
 * A chunk's index: index[b] = the number of the chunk's points whose bucket
 * (the bits below the chunk's) is < b. 16 bits while no chunk holds more
 * than 65,535 points (always, short of rings far past the limits).
 */
type Index = Uint16Array | Uint32Array;

/** Everything a PointSet is made of, in a few flat arrays: a worker thread builds these and hands them over without a copy. */
export interface PointParts {
  readonly chunkBits: number;
  readonly bucketBits: number;
  /** Where chunk c starts among the points; one more entry than chunks. */
  readonly starts: Uint32Array;
  /** Chunk c's positions, then PAD sentinels: padded[starts[c] + c·PAD, starts[c + 1] + (c + 1)·PAD). */
  readonly padded: Uint32Array;
  /** The points' owners, in ring order (no padding). */
  readonly owner: Uint32Array;
  /** The chunks' indexes one after the other, 2^bucketBits entries each. */
  readonly indexes: Index;
}

/** A point: its chunk and its place in it. */
export interface At {
  c: number;
  i: number;
}

const POINTS_PER_CHUNK = 1024;
const MAX_INDEXED_16 = 0xffff;
/**
 * Every chunk's positions are followed by PAD sentinels, no position below
 * them: a probe compares the first WINDOW points from its bucket's start
 * without a bounds test, and counts those below it instead of branching on
 * each (a mispredicted branch per probe cost more than the reads).
 */
const WINDOW = 4;
const PAD = WINDOW;
const SENTINEL = 0xffffffff;

function chunkBitsFor(points: number): number {
  return Math.min(16, Math.max(0, Math.round(Math.log2(Math.max(1, points) / POINTS_PER_CHUNK))));
}

/**
 * Buckets of about BUCKET_POINTS points: a probe mostly finds its point
 * within the WINDOW from its bucket's start. One bucket size for every
 * chunk, so a probe needs nothing of its chunk but its arrays.
 */
const BUCKET_POINTS_LOG2 = 1;
function bucketBitsFor(points: number, chunkBits: number): number {
  return Math.min(16, Math.max(1, Math.round(Math.log2(Math.max(1, points))) - chunkBits - BUCKET_POINTS_LOG2));
}

function indexArrayFor(largestChunk: number): Uint16ArrayConstructor | Uint32ArrayConstructor {
  return largestChunk > MAX_INDEXED_16 ? Uint32Array : Uint16Array;
}

/** Cut sorted points into chunks and index each: pure, so a worker thread can run it. */
export function chunkParts(pts: SortedPoints): PointParts {
  const { pos, owner } = pts;
  const chunkBits = chunkBitsFor(pos.length);
  const bucketBits = bucketBitsFor(pos.length, chunkBits);
  const chunks = 1 << chunkBits;
  const cshift = 32 - chunkBits;
  const starts = new Uint32Array(chunks + 1);
  for (let i = 0; i < pos.length; i++) starts[(chunkBits === 0 ? 0 : pos[i]! >>> cshift) + 1]!++;
  let largest = 0;
  for (let c = 0; c < chunks; c++) largest = Math.max(largest, starts[c + 1]!);
  for (let c = 1; c <= chunks; c++) starts[c]! += starts[c - 1]!;
  const buckets = 1 << bucketBits;
  const indexes = new (indexArrayFor(largest))(chunks * buckets);
  const padded = new Uint32Array(pos.length + chunks * PAD);
  for (let c = 0; c < chunks; c++) {
    const a = starts[c]!;
    const b = starts[c + 1]!;
    padded.set(pos.subarray(a, b), a + c * PAD);
    padded.fill(SENTINEL, b + c * PAD, b + (c + 1) * PAD);
    fillIndex(pos.subarray(a, b), chunkBits, bucketBits, indexes.subarray(c * buckets, (c + 1) * buckets));
  }
  return { chunkBits, bucketBits, starts, padded, owner, indexes };
}

/** `pos`: the chunk's positions, without its sentinels. */
function fillIndex(pos: Uint32Array, chunkBits: number, bucketBits: number, index: Index): void {
  const shift = 32 - bucketBits;
  // counts shifted by one bucket, then summed: index[b] = points before bucket b
  for (let i = 0; i < pos.length; i++) {
    const b = (pos[i]! << chunkBits) >>> shift;
    if (b + 1 < index.length) index[b + 1]!++;
  }
  for (let b = 1; b < index.length; b++) index[b]! += index[b - 1]!;
}

/**
 * Per chunk, its positions (padded), owners and index, each in an array of
 * its own (arrays of typed arrays, not chunk objects): a probe loads the
 * chunk's index and positions without going through an object first.
 */
export class PointSet {
  readonly size: number;
  /** Chunk c's positions, then PAD sentinels. */
  private readonly pos: readonly Uint32Array[];
  /** Chunk c's owners: as many as its points. */
  private readonly owners: readonly Uint32Array[];
  private readonly index: readonly Index[];
  private readonly chunkBits: number;
  private readonly bucketBits: number;
  private readonly cshift: number;
  private readonly cmask: number;
  /** next[c]: the first non-empty chunk after c, going round (c itself when it is the only one). */
  private readonly next: Int32Array;

  private constructor(pos: readonly Uint32Array[], owners: readonly Uint32Array[], index: readonly Index[], chunkBits: number, bucketBits: number, size: number, next?: Int32Array) {
    this.pos = pos;
    this.owners = owners;
    this.index = index;
    this.chunkBits = chunkBits;
    this.bucketBits = bucketBits;
    this.cshift = 32 - chunkBits;
    this.cmask = (1 << chunkBits) - 1;
    this.size = size;
    this.next = next ?? nextNonEmpty(owners);
  }

  static fromParts(p: PointParts): PointSet {
    const pos: Uint32Array[] = [];
    const owners: Uint32Array[] = [];
    const index: Index[] = [];
    const buckets = 1 << p.bucketBits;
    for (let c = 0; c < 1 << p.chunkBits; c++) {
      const a = p.starts[c]!;
      const b = p.starts[c + 1]!;
      pos.push(p.padded.subarray(a + c * PAD, b + (c + 1) * PAD));
      owners.push(p.owner.subarray(a, b));
      index.push(p.indexes.subarray(c * buckets, (c + 1) * buckets));
    }
    return new PointSet(pos, owners, index, p.chunkBits, p.bucketBits, p.owner.length);
  }

  static fromSorted(pts: SortedPoints): PointSet {
    return PointSet.fromParts(chunkParts(pts));
  }

  /** The chunk a position falls in. */
  private chunkOf(p: number): number {
    return (p >>> this.cshift) & this.cmask; // with no chunk bits, p >>> 32 is p itself, masked to 0
  }

  /** Chunk c's positions without its sentinels. */
  private positions(c: number): Uint32Array {
    return this.pos[c]!.subarray(0, this.owners[c]!.length);
  }

  /** Where among its chunk's points the first one at or after `p` is (the chunk's length: none). */
  private placeOf(c: number, p: number): number {
    const pos = this.pos[c]!;
    let i = this.index[c]![(p << this.chunkBits) >>> (32 - this.bucketBits)]!;
    while (pos[i]! < p) i++; // stops at the sentinels at the latest
    return i;
  }

  /**
   * The owner of the point that follows one of `probes` positions most
   * closely: probe j is mix(a + j·step) (docs/hash.md). The hot loop of every
   * `_hash` answer, with the hashing written out in place.
   */
  nearestOwner(a: number, step: number, probes: number): number {
    const posOf = this.pos;
    const indexOf = this.index;
    const cb = this.chunkBits;
    const bshift = 32 - this.bucketBits;
    const cshift = this.cshift;
    const cmask = this.cmask;
    let best = 2 ** 32;
    let bestC = 0;
    let bestI = 0;
    for (let j = 0, x = a; j < probes; j++, x = (x + step) | 0) {
      let h = x ^ (x >>> 16);
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      const p = (h ^ (h >>> 16)) >>> 0;
      let c = (p >>> cshift) & cmask;
      let pos = posOf[c]!;
      const s = indexOf[c]![(p << cb) >>> bshift]!;
      // the first point at or after p: counted within the window, scanned past it (rare)
      let i = s + +(pos[s]! < p) + +(pos[s + 1]! < p) + +(pos[s + 2]! < p) + +(pos[s + 3]! < p);
      if (i === s + WINDOW) while (pos[i]! < p) i++;
      if (i >= pos.length - PAD) {
        c = this.next[c]!;
        pos = posOf[c]!;
        i = 0;
      }
      const d = (pos[i]! - p) >>> 0;
      if (d < best) {
        best = d;
        bestC = c;
        bestI = i;
      }
    }
    // the owner only of the winner: one read, not one per probe
    return this.owners[bestC]![bestI]!;
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
    return this.pos[at.c]![at.i]!;
  }

  owner(at: At): number {
    return this.owners[at.c]![at.i]!;
  }

  /** The point at position `p` owned by `slot`, if there is one. */
  find(p: number, slot: number): At | undefined {
    const c = this.chunkOf(p);
    const pos = this.pos[c]!;
    const owner = this.owners[c]!;
    for (let i = this.placeOf(c, p); i < owner.length && pos[i] === p; i++) if (owner[i] === slot) return { c, i };
    return undefined;
  }

  /** Slots of the points at position `p`, in ring order. */
  ownersAt(p: number): number[] {
    const c = this.chunkOf(p);
    const pos = this.pos[c]!;
    const owner = this.owners[c]!;
    const out: number[] = [];
    for (let i = this.placeOf(c, p); i < owner.length && pos[i] === p; i++) out.push(owner[i]!);
    return out;
  }

  /** Every point whose owner is marked in `gone`. */
  pointsOwnedBy(gone: Uint8Array): At[] {
    const out: At[] = [];
    this.owners.forEach((owner, c) => owner.forEach((o, i) => gone[o] && out.push({ c, i })));
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
    const pos = new Uint32Array(this.size);
    const owner = new Uint32Array(this.size);
    let at = 0;
    this.owners.forEach((chunk, c) => {
      pos.set(this.positions(c), at);
      owner.set(chunk, at);
      at += chunk.length;
    });
    return { pos, owner };
  }

  /**
   * These points less `removed`, plus `added` (sorted in ring order);
   * `before(existingOwner, addedOwner)` orders two points on one position.
   * Only the chunks touched are copied.
   */
  change(removed: readonly At[], added: SortedPoints, before: (existing: number, joining: number) => boolean): PointSet {
    const size = this.size - removed.length + added.pos.length;
    const anew = () => PointSet.fromSorted(mergeInto(this.toSorted(), this.flatIndices(removed), added, before));
    // grown or shrunk fourfold past its chunking: cut anew (rare, and O(points) like the growth itself)
    if (Math.abs(chunkBitsFor(size) - this.chunkBits) >= 2) return anew();
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
    const pos = this.pos.slice();
    const owners = this.owners.slice();
    const index = this.index.slice();
    const IndexArray = this.index[0] instanceof Uint32Array ? Uint32Array : Uint16Array;
    let emptiness = false;
    for (const [c, e] of touched) {
      const old = { pos: this.positions(c), owner: this.owners[c]! };
      const merged = mergeInto(old, Int32Array.from(e.removed).sort(), { pos: added.pos.subarray(e.from, e.to), owner: added.owner.subarray(e.from, e.to) }, before, PAD);
      const n = merged.owner.length;
      // a chunk past what a 16-bit index counts (only far past the limits): cut anew with wide indexes
      if (n > MAX_INDEXED_16 && IndexArray === Uint16Array) return anew();
      pos[c] = merged.pos;
      owners[c] = merged.owner;
      index[c] = new IndexArray(1 << this.bucketBits);
      fillIndex(merged.pos.subarray(0, n), this.chunkBits, this.bucketBits, index[c]!);
      if ((old.owner.length === 0) !== (n === 0)) emptiness = true;
    }
    return new PointSet(pos, owners, index, this.chunkBits, this.bucketBits, size, emptiness ? undefined : this.next);
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
 * `pad` sentinels follow the positions (the owners have none).
 */
function mergeInto(old: SortedPoints, removed: Int32Array, added: SortedPoints, before: (existing: number, joining: number) => boolean, pad = 0): SortedPoints {
  const n = old.pos.length;
  const total = n - removed.length + added.pos.length;
  const pos = new Uint32Array(total + pad).fill(SENTINEL, total);
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
