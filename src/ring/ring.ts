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
    const empty = Ring.empty(options);
    const weights = new Map<string, number>();
    for (const m of members) weights.set(m.id, effectiveWeight(m.weight));
    const ids = [...weights.keys()];
    const parts = ids.map((id) => instancePoints(id, empty.pointsPerWeight * weights.get(id)!));
    const total = parts.reduce((n, p) => n + p.hi.length, 0);
    const hi = new Uint32Array(total);
    const lo = new Uint32Array(total);
    const owner = new Uint32Array(total);
    let at = 0;
    parts.forEach((p, i) => {
      hi.set(p.hi, at);
      lo.set(p.lo, at);
      owner.fill(i, at, at + p.hi.length);
      at += p.hi.length;
    });
    const order = new Uint32Array(total).map((_, i) => i);
    order.sort((a, b) => compareEntry(hi[a]!, lo[a]!, ids[owner[a]!]!, hi[b]!, lo[b]!, ids[owner[b]!]!));
    return new Ring(empty.pointsPerWeight, ids, weights, {
      hi: order.map((i) => hi[i]!),
      lo: order.map((i) => lo[i]!),
      owner: order.map((i) => owner[i]!),
    });
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
    const w = effectiveWeight(member.weight);
    if (this.weights.get(member.id) === w) return this;
    const base = this.has(member.id) ? this.without(member.id) : this;
    const own = instancePoints(member.id, base.pointsPerWeight * w);
    const order = new Uint32Array(own.hi.length).map((_, i) => i);
    order.sort((a, b) => own.hi[a]! - own.hi[b]! || own.lo[a]! - own.lo[b]!);
    const ids = [...base.ids, member.id];
    const weights = new Map(base.weights).set(member.id, w);
    return new Ring(base.pointsPerWeight, ids, weights, mergePoints(base.pts, own, order, ids.length - 1, ids));
  }

  without(id: string): Ring {
    const gone = this.ids.indexOf(id);
    if (gone < 0) return this;
    const ids = this.ids.filter((_, i) => i !== gone);
    const weights = new Map(this.weights);
    weights.delete(id);
    const keep = this.pts.hi.length - countOwned(this.pts.owner, gone);
    const hi = new Uint32Array(keep);
    const lo = new Uint32Array(keep);
    const owner = new Uint32Array(keep);
    let j = 0;
    for (let i = 0; i < this.pts.hi.length; i++) {
      const o = this.pts.owner[i]!;
      if (o === gone) continue;
      hi[j] = this.pts.hi[i]!;
      lo[j] = this.pts.lo[i]!;
      owner[j++] = o > gone ? o - 1 : o;
    }
    return new Ring(this.pointsPerWeight, ids, weights, { hi, lo, owner });
  }

  /** Index of the first point at or clockwise of `p`. */
  private seek(p: Position): number {
    const { hi, lo } = this.pts;
    let a = 0;
    let b = hi.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (hi[m]! < p.hi || (hi[m] === p.hi && lo[m]! < p.lo)) a = m + 1;
      else b = m;
    }
    return a === hi.length ? 0 : a;
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

function countOwned(owner: Uint32Array, idx: number): number {
  let n = 0;
  for (const o of owner) if (o === idx) n++;
  return n;
}

/** Merge a ring's sorted points with one new instance's points (sorted through `order`). */
function mergePoints(base: Points, own: { hi: Uint32Array; lo: Uint32Array }, order: Uint32Array, ownIdx: number, ids: readonly string[]): Points {
  const total = base.hi.length + order.length;
  const hi = new Uint32Array(total);
  const lo = new Uint32Array(total);
  const owner = new Uint32Array(total);
  let i = 0;
  let j = 0;
  for (let k = 0; k < total; k++) {
    const takeBase =
      j >= order.length ||
      (i < base.hi.length &&
        compareEntry(base.hi[i]!, base.lo[i]!, ids[base.owner[i]!]!, own.hi[order[j]!]!, own.lo[order[j]!]!, ids[ownIdx]!) < 0);
    if (takeBase) {
      hi[k] = base.hi[i]!;
      lo[k] = base.lo[i]!;
      owner[k] = base.owner[i++]!;
    } else {
      hi[k] = own.hi[order[j]!]!;
      lo[k] = own.lo[order[j++]!]!;
      owner[k] = ownIdx;
    }
  }
  return { hi, lo, owner };
}
