// Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016, §3.4), for the bench's comparison only: a
// lookup table of prime size M filled round-robin, each backend taking the next
// free slot of its own permutation (offset, skip) of the table. Weighted as
// Envoy's Maglev load balancer does it: a backend takes a turn only while its
// entries are below iteration × weight / max weight. Offset and skip come from
// SHA-256 of the backend's name, the key's slot from SHA-256 of the key.
import { keySeed, sha256 } from "../../src/ring/hash.js";

export interface MaglevMember {
  readonly id: string;
  readonly weight: number;
}

const utf8 = new TextEncoder();

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p++;
  return p;
}

/**
 * The table size: the paper's M ≥ 100 × N (at most ~1 % imbalance between
 * equal backends), counted in the smallest weight's units so a weighted
 * backend with the least weight still gets about 100 entries.
 */
export function maglevTableSize(members: readonly MaglevMember[]): number {
  let total = 0;
  let least = Infinity;
  for (const m of members) {
    const w = Math.max(1, Math.floor(m.weight));
    total += w;
    least = Math.min(least, w);
  }
  return nextPrime(100 * Math.ceil(total / (least === Infinity ? 1 : least)));
}

export class Maglev {
  readonly tableSize: number;
  private readonly members: readonly MaglevMember[];
  private readonly ids: readonly string[];
  /** Slot → index into `ids`. */
  private readonly table: Uint32Array;

  private constructor(members: readonly MaglevMember[], tableSize: number) {
    this.members = members;
    this.tableSize = tableSize;
    this.ids = members.map((m) => m.id);
    this.table = populate(members, tableSize);
  }

  /** M stays what it was built with across joins and leaves: a new M would move nearly every key. */
  static build(members: readonly MaglevMember[], tableSize = maglevTableSize(members)): Maglev {
    return new Maglev(members, tableSize);
  }

  /** A join is a rebuild of the whole table (Maglev has no incremental update). */
  with(member: MaglevMember): Maglev {
    return new Maglev([...this.members.filter((m) => m.id !== member.id), member], this.tableSize);
  }

  without(id: string): Maglev {
    return new Maglev(
      this.members.filter((m) => m.id !== id),
      this.tableSize,
    );
  }

  ownerOf(key: string): string | undefined {
    if (this.ids.length === 0) return undefined;
    const s = keySeed(key);
    // 53 bits of the key's digest, exact in a double, so the slot has no visible modulo bias
    return this.ids[this.table[(s.hi * 2097152 + (s.lo >>> 11)) % this.tableSize]!];
  }

  /** Exact shares: each backend's table entries / M. */
  shares(): Map<string, number> {
    const count = new Float64Array(this.ids.length);
    for (let i = 0; i < this.table.length; i++) count[this.table[i]!]!++;
    return new Map(this.ids.map((id, i) => [id, count[i]! / this.tableSize]));
  }

  /** The fraction of table entries whose backend differs from `other`'s (the same M): exact keys moved. */
  movedTo(other: Maglev): number {
    let moved = 0;
    for (let i = 0; i < this.table.length; i++) if (this.ids[this.table[i]!] !== other.ids[other.table[i]!]) moved++;
    return moved / this.tableSize;
  }
}

function populate(members: readonly MaglevMember[], m: number): Uint32Array {
  const n = members.length;
  const table = new Uint32Array(m);
  if (n === 0) return table;
  const next = new Uint32Array(n); // the next slot of each backend's permutation
  const skip = new Uint32Array(n);
  const share = new Float64Array(n); // weight / max weight
  let maxWeight = 0;
  for (const x of members) maxWeight = Math.max(maxWeight, Math.max(1, Math.floor(x.weight)));
  members.forEach((x, i) => {
    const d = sha256(utf8.encode(x.id));
    next[i] = d.readUInt32BE(0) % m; // offset
    skip[i] = (d.readUInt32BE(4) % (m - 1)) + 1;
    share[i] = Math.max(1, Math.floor(x.weight)) / maxWeight;
  });
  const taken = new Float64Array(n);
  const free = new Uint8Array(m).fill(1);
  let filled = 0;
  for (let round = 1; filled < m; round++) {
    for (let i = 0; i < n; i++) {
      if (round * share[i]! < taken[i]!) continue;
      taken[i]!++;
      const s = skip[i]!;
      let c = next[i]!;
      while (free[c] === 0) {
        c += s;
        if (c >= m) c -= m;
      }
      free[c] = 0;
      table[c] = i;
      c += s;
      next[i] = c >= m ? c - m : c;
      if (++filled === m) break;
    }
  }
  return table;
}
