// Consistent-hash ring over one service type's live instances (DESIGN.md "The ring").
// Immutable: `with`/`without` return a new ring, so an answer in flight always
// sees one consistent ring, and a change costs a merge, not a rebuild.
import { instancePoints, keyPosition, type Position } from "./hash.js";

export interface RingMember {
  /** Identity on the ring: the instance label, ASCII lower-cased. */
  readonly id: string;
  /** SRV weight; 0 counts as 1. */
  readonly weight: number;
}

export interface RingOptions {
  /** Virtual points per unit of weight. */
  readonly pointsPerWeight?: number;
}

/** Chosen from bench data: 100 equal instances stay within 1.10× of the mean share. */
export const DEFAULT_POINTS_PER_WEIGHT = 1024;
/** Weights above this count as this, bounding one instance to 64 × 1024 points. */
export const MAX_EFFECTIVE_WEIGHT = 64;

export function effectiveWeight(weight: number): number {
  return Math.min(Math.max(1, Math.floor(weight)), MAX_EFFECTIVE_WEIGHT);
}

interface Points {
  hi: Uint32Array;
  lo: Uint32Array;
  owner: Uint32Array; // index into ids
}

const EMPTY: Points = { hi: new Uint32Array(0), lo: new Uint32Array(0), owner: new Uint32Array(0) };

export class Ring {
  readonly pointsPerWeight: number;
  private readonly ids: readonly string[];
  private readonly weights: ReadonlyMap<string, number>;
  private readonly pts: Points;
  /** Where each top-bits prefix of a position starts among the points; built on the first lookup. */
  private prefixIndex: Uint32Array | undefined;
  private prefixShift = 32;

  private constructor(pointsPerWeight: number, ids: readonly string[], weights: ReadonlyMap<string, number>, pts: Points) {
    this.pointsPerWeight = pointsPerWeight;
    this.ids = ids;
    this.weights = weights;
    this.pts = pts;
  }

  static empty(options: RingOptions = {}): Ring {
    const p = options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
    if (!Number.isInteger(p) || p < 1) throw new Error(`pointsPerWeight must be a positive integer, got ${p}`);
    return new Ring(p, [], new Map(), EMPTY);
  }

  static build(members: Iterable<RingMember>, options: RingOptions = {}): Ring {
    return Ring.empty(options).change([...members], []);
  }

  get size(): number {
    return this.ids.length;
  }

  get pointCount(): number {
    return this.pts.hi.length;
  }

  has(id: string): boolean {
    return this.weights.has(id);
  }

  members(): RingMember[] {
    return this.ids.map((id) => ({ id, weight: this.weights.get(id)! }));
  }

  /** A ring with `member` added, or re-weighted when already present. */
  with(member: RingMember): Ring {
    return this.weights.get(member.id) === effectiveWeight(member.weight) ? this : this.change([member], []);
  }

  without(id: string): Ring {
    return this.has(id) ? this.change([], [id]) : this;
  }

  /**
   * Many changes at once: `remove` ids leave, `add` members join (or are
   * re-weighted). One pass over the existing points, whatever the number of
   * changes, so a burst of registrations costs one merge.
   */
  change(add: readonly RingMember[], remove: readonly string[]): Ring {
    const joining = new Map<string, number>();
    for (const m of add) joining.set(m.id, effectiveWeight(m.weight));
    for (const id of remove) joining.delete(id);
    const leaving = new Set(remove.filter((id) => this.weights.has(id)));
    for (const [id, w] of joining) {
      if (this.weights.get(id) === w) joining.delete(id); // unchanged
      else if (this.weights.has(id)) leaving.add(id); // re-weighted: its points are made anew
    }
    if (joining.size === 0 && leaving.size === 0) return this;

    const kept = this.ids.filter((id) => !leaving.has(id));
    const ids = [...kept, ...joining.keys()];
    const weights = new Map<string, number>();
    for (const id of kept) weights.set(id, this.weights.get(id)!);
    for (const [id, w] of joining) weights.set(id, w);

    // the existing points minus the leavers, owners renumbered
    const renumber = new Int32Array(this.ids.length).fill(-1);
    const oldIndex = new Map(this.ids.map((id, i) => [id, i]));
    kept.forEach((id, i) => (renumber[oldIndex.get(id)!] = i));
    let base = this.pts;
    if (leaving.size > 0) {
      let n = 0;
      for (const o of this.pts.owner) if (renumber[o]! >= 0) n++;
      base = { hi: new Uint32Array(n), lo: new Uint32Array(n), owner: new Uint32Array(n) };
      for (let i = 0, j = 0; i < this.pts.hi.length; i++) {
        const o = renumber[this.pts.owner[i]!]!;
        if (o < 0) continue;
        base.hi[j] = this.pts.hi[i]!;
        base.lo[j] = this.pts.lo[i]!;
        base.owner[j++] = o;
      }
    } else if (kept.length !== this.ids.length || kept.some((id, i) => id !== this.ids[i])) {
      base = { ...base, owner: base.owner.map((o) => renumber[o]!) };
    }
    const parts = [...joining].map(([id, w], k) => sortedPoints(id, this.pointsPerWeight * w, kept.length + k));
    return new Ring(this.pointsPerWeight, ids, weights, mergeAll([base, ...parts], ids));
  }

  /** Index of the first point at or clockwise of `p`. */
  private seek(p: Position): number {
    const { hi, lo } = this.pts;
    // the prefix index narrows the search to the few points sharing p's top bits: a binary search
    // over all of them touched ~17 cache lines per lookup and cost more than hashing the key
    const index = this.prefixIndex ?? this.buildPrefixIndex();
    const prefix = p.hi >>> this.prefixShift;
    let a = index[prefix]!;
    let b = index[prefix + 1]!;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (hi[m]! < p.hi || (hi[m] === p.hi && lo[m]! < p.lo)) a = m + 1;
      else b = m;
    }
    return a === hi.length ? 0 : a;
  }

  /** About one prefix per point (at most 2^16), so the index is no bigger than the points. */
  private buildPrefixIndex(): Uint32Array {
    const { hi } = this.pts;
    const bits = Math.min(16, Math.max(1, Math.ceil(Math.log2(Math.max(2, hi.length)))));
    const shift = 32 - bits;
    const index = new Uint32Array((1 << bits) + 1);
    let i = 0;
    for (let prefix = 0; prefix < index.length; prefix++) {
      while (i < hi.length && hi[i]! >>> shift < prefix) i++;
      index[prefix] = i;
    }
    this.prefixShift = shift;
    this.prefixIndex = index;
    return index;
  }

  /** The instance that owns `key`, or undefined on an empty ring. */
  ownerOf(key: Uint8Array | string): string | undefined {
    if (this.pts.hi.length === 0) return undefined;
    return this.ids[this.pts.owner[this.seek(keyPosition(key))]!];
  }

  /** The owner followed by the next distinct instances clockwise: up to `n` ids. */
  successors(key: Uint8Array | string, n: number): string[] {
    const out: string[] = [];
    const total = this.pts.hi.length;
    if (total === 0 || n <= 0) return out;
    const want = Math.min(n, this.ids.length);
    const seen = new Set<number>();
    for (let i = this.seek(keyPosition(key)), step = 0; step < total && out.length < want; step++, i = (i + 1) % total) {
      const o = this.pts.owner[i]!;
      if (!seen.has(o)) {
        seen.add(o);
        out.push(this.ids[o]!);
      }
    }
    return out;
  }

  /**
   * The circle in `slices` equal slices, each with the instance owning its
   * midpoint: a picture of the ring at a resolution a screen can draw.
   */
  picture(slices: number): (string | undefined)[] {
    if (this.pts.hi.length === 0) return new Array<undefined>(slices).fill(undefined);
    return Array.from({ length: slices }, (_, i) => {
      const hi = Math.floor(((i + 0.5) / slices) * 2 ** 32) >>> 0;
      return this.ids[this.pts.owner[this.seek({ hi, lo: 0 })]!];
    });
  }

  /** Fraction of the hash space each instance owns (its arcs ending at its points). */
  shares(): Map<string, number> {
    const { hi, lo, owner } = this.pts;
    const out = new Map<string, number>(this.ids.map((id) => [id, 0]));
    const n = hi.length;
    if (n === 0) return out;
    const TWO32 = 2 ** 32;
    const pos = (i: number) => hi[i]! * TWO32 + lo[i]!; // float precision is plenty for shares
    for (let i = 0; i < n; i++) {
      const prev = i === 0 ? pos(n - 1) - TWO32 * TWO32 : pos(i - 1);
      const id = this.ids[owner[i]!]!;
      out.set(id, out.get(id)! + (pos(i) - prev) / (TWO32 * TWO32));
    }
    return out;
  }
}

const utf8 = new TextEncoder();

function compareEntry(ah: number, al: number, aid: string, bh: number, bl: number, bid: string): number {
  if (ah !== bh) return ah - bh;
  if (al !== bl) return al - bl;
  // equal positions (astronomically rare): the smaller identity, by UTF-8 bytes, comes first
  return Buffer.compare(utf8.encode(aid), utf8.encode(bid));
}

/** One instance's points, sorted, all owned by `owner`. */
function sortedPoints(id: string, count: number, owner: number): Points {
  const p = instancePoints(id, count);
  const order = new Uint32Array(count).map((_, i) => i);
  order.sort((a, b) => p.hi[a]! - p.hi[b]! || p.lo[a]! - p.lo[b]!);
  return { hi: order.map((i) => p.hi[i]!), lo: order.map((i) => p.lo[i]!), owner: new Uint32Array(count).fill(owner) };
}

/** Merge sorted point lists pairwise until one is left. */
function mergeAll(parts: Points[], ids: readonly string[]): Points {
  let level = parts.filter((p) => p.hi.length > 0);
  if (level.length === 0) return EMPTY;
  while (level.length > 1) {
    const next: Points[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? merge2(level[i]!, level[i + 1]!, ids) : level[i]!);
    level = next;
  }
  return level[0]!;
}

function merge2(a: Points, b: Points, ids: readonly string[]): Points {
  const total = a.hi.length + b.hi.length;
  const hi = new Uint32Array(total);
  const lo = new Uint32Array(total);
  const owner = new Uint32Array(total);
  let i = 0;
  let j = 0;
  for (let k = 0; k < total; k++) {
    const takeA =
      j >= b.hi.length ||
      (i < a.hi.length && compareEntry(a.hi[i]!, a.lo[i]!, ids[a.owner[i]!]!, b.hi[j]!, b.lo[j]!, ids[b.owner[j]!]!) < 0);
    const src = takeA ? a : b;
    const at = takeA ? i++ : j++;
    hi[k] = src.hi[at]!;
    lo[k] = src.lo[at]!;
    owner[k] = src.owner[at]!;
  }
  return { hi, lo, owner };
}
