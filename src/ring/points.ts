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

interface Chunk extends SortedPoints {
  /** index[b] = the number of the chunk's points whose bucket (the bits below the chunk's) is < b. */
  readonly index: Uint32Array;
  /** A position's bucket: (p << chunkBits) >>> shift. */
  readonly shift: number;
}

/** Everything a PointSet is made of, in a few flat arrays: a worker thread builds these and hands them over without a copy. */
export interface PointParts extends SortedPoints {
  readonly chunkBits: number;
  /** Where chunk c starts among the points; one more entry than chunks. */
  readonly starts: Uint32Array;
  /** The chunks' indexes one after the other; chunk c's starts at indexStarts[c]. */
  readonly indexes: Uint32Array;
  readonly indexStarts: Uint32Array;
}

/** A point: its chunk and its place in it. */
export interface At {
  c: number;
  i: number;
}

const POINTS_PER_CHUNK = 1024;
const EMPTY_CHUNK: Chunk = { pos: new Uint32Array(0), owner: new Uint32Array(0), index: new Uint32Array(3), shift: 31 };

function chunkBitsFor(points: number): number {
  return Math.min(16, Math.max(0, Math.round(Math.log2(Math.max(1, points) / POINTS_PER_CHUNK))));
}

/** Buckets of 4–8 points: a lookup's scan stays within a cache line, and the index is ≤ 1 word per 4 points. */
function bucketBits(points: number): number {
  return Math.min(20, Math.max(1, Math.floor(Math.log2(Math.max(1, points))) - 2));
}

/** Cut sorted points into chunks and index each: pure, so a worker thread can run it. */
export function chunkParts(pts: SortedPoints): PointParts {
  const { pos, owner } = pts;
  const chunkBits = chunkBitsFor(pos.length);
  const chunks = 1 << chunkBits;
  const cshift = 32 - chunkBits;
  const starts = new Uint32Array(chunks + 1);
  for (let i = 0; i < pos.length; i++) starts[(chunkBits === 0 ? 0 : pos[i]! >>> cshift) + 1]!++;
  for (let c = 1; c <= chunks; c++) starts[c]! += starts[c - 1]!;
  const indexStarts = new Uint32Array(chunks + 1);
  for (let c = 0; c < chunks; c++) indexStarts[c + 1] = indexStarts[c]! + (1 << bucketBits(starts[c + 1]! - starts[c]!)) + 1;
  const indexes = new Uint32Array(indexStarts[chunks]!);
  for (let c = 0; c < chunks; c++) {
    const a = starts[c]!;
    const b = starts[c + 1]!;
    fillIndex(pos.subarray(a, b), chunkBits, bucketBits(b - a), indexes.subarray(indexStarts[c]!, indexStarts[c + 1]!));
  }
  return { pos, owner, chunkBits, starts, indexes, indexStarts };
}

function fillIndex(pos: Uint32Array, chunkBits: number, bits: number, index: Uint32Array): void {
  const shift = 32 - bits;
  for (let i = 0; i < pos.length; i++) index[((pos[i]! << chunkBits) >>> shift) + 1]!++;
  for (let b = 1; b < index.length; b++) index[b]! += index[b - 1]!;
}

function makeChunk(pts: SortedPoints, chunkBits: number): Chunk {
  if (pts.pos.length === 0) return EMPTY_CHUNK;
  const bits = bucketBits(pts.pos.length);
  const index = new Uint32Array((1 << bits) + 1);
  fillIndex(pts.pos, chunkBits, bits, index);
  return { pos: pts.pos, owner: pts.owner, index, shift: 32 - bits };
}

export class PointSet {
  readonly size: number;
  private readonly chunks: readonly Chunk[];
  private readonly chunkBits: number;
  private readonly cshift: number;
  private readonly cmask: number;
  /** next[c]: the first non-empty chunk after c, going round (c itself when it is the only one). */
  private readonly next: Int32Array;

  private constructor(chunks: readonly Chunk[], chunkBits: number, size: number, next?: Int32Array) {
    this.chunks = chunks;
    this.chunkBits = chunkBits;
    this.cshift = 32 - chunkBits;
    this.cmask = (1 << chunkBits) - 1;
    this.size = size;
    this.next = next ?? nextNonEmpty(chunks);
  }

  static fromParts(p: PointParts): PointSet {
    const chunks: Chunk[] = [];
    for (let c = 0; c < 1 << p.chunkBits; c++) {
      const a = p.starts[c]!;
      const b = p.starts[c + 1]!;
      const index = p.indexes.subarray(p.indexStarts[c]!, p.indexStarts[c + 1]!);
      chunks.push(a === b ? EMPTY_CHUNK : { pos: p.pos.subarray(a, b), owner: p.owner.subarray(a, b), index, shift: 32 - Math.log2(index.length - 1) });
    }
    return new PointSet(chunks, p.chunkBits, p.pos.length);
  }

  static fromSorted(pts: SortedPoints): PointSet {
    return PointSet.fromParts(chunkParts(pts));
  }

  /** The chunk a position falls in. */
  private chunkOf(p: number): number {
    return (p >>> this.cshift) & this.cmask; // with no chunk bits, p >>> 32 is p itself, masked to 0
  }

  /**
   * The owner of the point that follows one of `probes` positions most
   * closely: probe j is mix(a + j·step) (docs/hash.md). The hot loop of every
   * `_hash` answer, with the hashing written out in place.
   */
  nearestOwner(a: number, step: number, probes: number): number {
    const chunks = this.chunks;
    const next = this.next;
    const cb = this.chunkBits;
    const cshift = this.cshift;
    const cmask = this.cmask;
    let best = 2 ** 32;
    let owner = 0;
    for (let j = 0, x = a; j < probes; j++, x = (x + step) | 0) {
      let h = x ^ (x >>> 16);
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      const p = (h ^ (h >>> 16)) >>> 0;
      const ch = chunks[(p >>> cshift) & cmask]!;
      const pos = ch.pos;
      const b = (p << cb) >>> ch.shift;
      let i = ch.index[b]!;
      const end = ch.index[b + 1]!;
      while (i < end && pos[i]! < p) i++;
      let d: number;
      let o: number;
      if (i < pos.length) {
        d = (pos[i]! - p) >>> 0;
        o = ch.owner[i]!;
      } else {
        const first = chunks[next[(p >>> cshift) & cmask]!]!;
        d = (first.pos[0]! - p) >>> 0;
        o = first.owner[0]!;
      }
      if (d < best) {
        best = d;
        owner = o;
      }
    }
    return owner;
  }

  /** The first point at or clockwise of position `p`. */
  successor(p: number): At {
    const c = this.chunkOf(p);
    const ch = this.chunks[c]!;
    const b = (p << this.chunkBits) >>> ch.shift;
    let i = ch.index[b]!;
    const end = ch.index[b + 1]!;
    while (i < end && ch.pos[i]! < p) i++;
    return i < ch.pos.length ? { c, i } : { c: this.next[c]!, i: 0 };
  }

  /** The point after `at`, going round. */
  step(at: At): At {
    return at.i + 1 < this.chunks[at.c]!.pos.length ? { c: at.c, i: at.i + 1 } : { c: this.next[at.c]!, i: 0 };
  }

  position(at: At): number {
    return this.chunks[at.c]!.pos[at.i]!;
  }

  owner(at: At): number {
    return this.chunks[at.c]!.owner[at.i]!;
  }

  /** The point at position `p` owned by `slot`, if there is one. */
  find(p: number, slot: number): At | undefined {
    const c = this.chunkOf(p);
    const { pos, owner } = this.chunks[c]!;
    for (let i = lowerBound(pos, p); i < pos.length && pos[i] === p; i++) if (owner[i] === slot) return { c, i };
    return undefined;
  }

  /** Slots of the points at position `p`, in ring order. */
  ownersAt(p: number): number[] {
    const { pos, owner } = this.chunks[this.chunkOf(p)]!;
    const out: number[] = [];
    for (let i = lowerBound(pos, p); i < pos.length && pos[i] === p; i++) out.push(owner[i]!);
    return out;
  }

  /** Every point whose owner is marked in `gone`. */
  pointsOwnedBy(gone: Uint8Array): At[] {
    const out: At[] = [];
    this.chunks.forEach((ch, c) => ch.owner.forEach((o, i) => gone[o] && out.push({ c, i })));
    return out;
  }

  /** `removed` as indices into the flat ring order. */
  private flatIndices(removed: readonly At[]): Int32Array {
    const offsets: number[] = [];
    let at = 0;
    for (const ch of this.chunks) {
      offsets.push(at);
      at += ch.pos.length;
    }
    return Int32Array.from(removed, (r) => offsets[r.c]! + r.i).sort();
  }

  /** All points in ring order, in two flat arrays. */
  toSorted(): SortedPoints {
    const steps = this.toSortedInSteps(Infinity);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
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
    for (const ch of this.chunks) {
      pos.set(ch.pos, at);
      owner.set(ch.owner, at);
      at += ch.pos.length;
      sinceYield += ch.pos.length;
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
  change(removed: readonly At[], added: SortedPoints, before: (existing: number, joining: number) => boolean): PointSet {
    const size = this.size - removed.length + added.pos.length;
    if (Math.abs(chunkBitsFor(size) - this.chunkBits) >= 2) {
      // grown or shrunk fourfold past its chunking: cut anew (rare, and O(points) like the growth itself)
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
    let emptiness = false;
    for (const [c, e] of touched) {
      const old = this.chunks[c]!;
      const merged = mergeInto(old, Int32Array.from(e.removed).sort(), { pos: added.pos.subarray(e.from, e.to), owner: added.owner.subarray(e.from, e.to) }, before);
      chunks[c] = makeChunk(merged, this.chunkBits);
      if ((old.pos.length === 0) !== (merged.pos.length === 0)) emptiness = true;
    }
    return new PointSet(chunks, this.chunkBits, size, emptiness ? undefined : this.next);
  }
}

function nextNonEmpty(chunks: readonly Chunk[]): Int32Array {
  const next = new Int32Array(chunks.length);
  let first = chunks.findIndex((ch) => ch.pos.length > 0);
  if (first < 0) first = 0;
  let following = first; // the first non-empty chunk at or after c+1, going round
  for (let c = chunks.length - 1; c >= 0; c--) {
    next[c] = following;
    if (chunks[c]!.pos.length > 0) following = c;
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
function mergeInto(old: SortedPoints, removed: Int32Array, added: SortedPoints, before: (existing: number, joining: number) => boolean): SortedPoints {
  const n = old.pos.length;
  const total = n - removed.length + added.pos.length;
  const pos = new Uint32Array(total);
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
