// Ring v1, the design ring v2 replaced (src/ring/ring.ts and hash.ts at
// 543922b), kept for the bench only: 1024 points per unit of weight, one
// SHA-256 per 4 points, weights clamped at 64, 64-bit positions, one successor
// per key. Only what the comparison needs: build, change, owner, shares.
import { keySeed, sha256 } from "../../src/ring/hash.js";

export interface V1Member {
  readonly id: string;
  readonly weight: number;
}

export const V1_POINTS_PER_WEIGHT = 1024;
export const V1_MAX_WEIGHT = 64;

const v1Weight = (w: number) => Math.min(Math.max(1, Math.floor(w)), V1_MAX_WEIGHT);

interface Points {
  hi: Uint32Array;
  lo: Uint32Array;
  owner: Uint32Array; // index into ids
}

const EMPTY: Points = { hi: new Uint32Array(0), lo: new Uint32Array(0), owner: new Uint32Array(0) };
const utf8 = new TextEncoder();

export class RingV1 {
  private readonly ids: readonly string[];
  private readonly weights: ReadonlyMap<string, number>;
  private readonly pts: Points;
  private prefixIndex: Uint32Array | undefined;
  private prefixShift = 32;

  private constructor(ids: readonly string[], weights: ReadonlyMap<string, number>, pts: Points) {
    this.ids = ids;
    this.weights = weights;
    this.pts = pts;
  }

  static build(members: Iterable<V1Member>): RingV1 {
    return new RingV1([], new Map(), EMPTY).change([...members], []);
  }

  get pointCount(): number {
    return this.pts.hi.length;
  }

  /** As v1 did it: one pass over the kept points, the joiners' points merged in pairwise. */
  change(add: readonly V1Member[], remove: readonly string[]): RingV1 {
    const joining = new Map<string, number>();
    for (const m of add) joining.set(m.id, v1Weight(m.weight));
    for (const id of remove) joining.delete(id);
    const leaving = new Set(remove.filter((id) => this.weights.has(id)));
    for (const [id, w] of joining) {
      if (this.weights.get(id) === w) joining.delete(id);
      else if (this.weights.has(id)) leaving.add(id);
    }
    if (joining.size === 0 && leaving.size === 0) return this;

    const kept = this.ids.filter((id) => !leaving.has(id));
    const ids = [...kept, ...joining.keys()];
    const weights = new Map<string, number>();
    for (const id of kept) weights.set(id, this.weights.get(id)!);
    for (const [id, w] of joining) weights.set(id, w);

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
    const parts = [...joining].map(([id, w], k) => sortedPoints(id, V1_POINTS_PER_WEIGHT * w, kept.length + k));
    return new RingV1(ids, weights, mergeAll([base, ...parts], ids));
  }

  private seek(hiKey: number, loKey: number): number {
    const { hi, lo } = this.pts;
    const index = this.prefixIndex ?? this.buildPrefixIndex();
    const prefix = hiKey >>> this.prefixShift;
    let a = index[prefix]!;
    let b = index[prefix + 1]!;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (hi[m]! < hiKey || (hi[m] === hiKey && lo[m]! < loKey)) a = m + 1;
      else b = m;
    }
    return a === hi.length ? 0 : a;
  }

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

  /** v1's key position (first 8 bytes of SHA-256(key)) is v2's key seed: the same function. */
  ownerOf(key: string): string | undefined {
    if (this.pts.hi.length === 0) return undefined;
    const p = keySeed(key);
    return this.ids[this.pts.owner[this.seek(p.hi, p.lo)]!];
  }

  /** Each instance's share: the arcs ending at its points. */
  shares(): Map<string, number> {
    const { hi, lo, owner } = this.pts;
    const bySlot = new Float64Array(this.ids.length);
    const n = hi.length;
    const TWO32 = 2 ** 32;
    const pos = (i: number) => hi[i]! * TWO32 + lo[i]!;
    for (let i = 0; i < n; i++) {
      const prev = i === 0 ? pos(n - 1) - TWO32 * TWO32 : pos(i - 1);
      bySlot[owner[i]!] += (pos(i) - prev) / (TWO32 * TWO32);
    }
    return new Map(this.ids.map((id, i) => [id, bySlot[i]!]));
  }
}

/** Block b = SHA-256(identity ‖ 0x00 ‖ uint32be(b)) yields points 4b..4b+3 as its four 64-bit words. */
function instancePoints(identity: string, count: number): { hi: Uint32Array; lo: Uint32Array } {
  const id = utf8.encode(identity);
  const input = Buffer.alloc(id.length + 5);
  input.set(id, 0);
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let b = 0; b * 4 < count; b++) {
    input.writeUInt32BE(b, id.length + 1);
    const d = sha256(input);
    for (let k = 0; k < 4 && b * 4 + k < count; k++) {
      hi[b * 4 + k] = d.readUInt32BE(k * 8);
      lo[b * 4 + k] = d.readUInt32BE(k * 8 + 4);
    }
  }
  return { hi, lo };
}

function sortedPoints(id: string, count: number, owner: number): Points {
  const p = instancePoints(id, count);
  const order = new Uint32Array(count).map((_, i) => i);
  order.sort((a, b) => p.hi[a]! - p.hi[b]! || p.lo[a]! - p.lo[b]!);
  return { hi: order.map((i) => p.hi[i]!), lo: order.map((i) => p.lo[i]!), owner: new Uint32Array(count).fill(owner) };
}

function compareEntry(ah: number, al: number, aid: string, bh: number, bl: number, bid: string): number {
  if (ah !== bh) return ah - bh;
  if (al !== bl) return al - bl;
  return Buffer.compare(utf8.encode(aid), utf8.encode(bid));
}

function mergeAll(parts: Points[], ids: readonly string[]): Points {
  let level = parts.filter((p) => p.hi.length > 0);
  if (level.length === 0) return EMPTY;
  while (level.length > 1) {
    const next: Points[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? merge2(level[i]!, level[i + 1]!, ids) : level[i]!);
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
      (i < a.hi.length &&
        compareEntry(a.hi[i]!, a.lo[i]!, ids[a.owner[i]!]!, b.hi[j]!, b.lo[j]!, ids[b.owner[j]!]!) < 0);
    const src = takeA ? a : b;
    const at = takeA ? i++ : j++;
    hi[k] = src.hi[at]!;
    lo[k] = src.lo[at]!;
    owner[k] = src.owner[at]!;
  }
  return { hi, lo, owner };
}
