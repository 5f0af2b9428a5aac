import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { identityBytes, instanceSeed, keySeed, sequenceAt } from "../../src/ring/hash.js";
import { PROBES, Ring, type RingMember } from "../../src/ring/ring.js";

const members = (n: number, weight = 1): RingMember[] =>
  Array.from({ length: n }, (_, i) => ({ id: `instance-${i}`, weight }));
const keys = (n: number, prefix = "key-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const owners = (ring: Ring, ks: string[]) => ks.map((k) => ring.ownerOf(k));

/** docs/hash.md read literally: every point listed, every probe walked the whole circle. */
function naive(ms: RingMember[], q: number) {
  const points = ms.flatMap((m) => {
    const seed = instanceSeed(m.id);
    return Array.from({ length: q * Math.max(1, m.weight) }, (_, j) => ({ at: sequenceAt(seed, j), id: m.id }));
  });
  points.sort((a, b) => a.at - b.at || Buffer.compare(identityBytes(a.id), identityBytes(b.id)));
  const visits = (key: string) => {
    const seed = keySeed(key);
    const out: { d: number; j: number; r: number; id: string }[] = [];
    for (let j = 0; j < PROBES; j++) {
      const p = sequenceAt(seed, j);
      const first = Math.max(
        0,
        points.findIndex((x) => x.at >= p),
      ); // none at or after: wrap to the first
      points.forEach((pt, r) =>
        out.push({ d: (pt.at - p) >>> 0, j, r: (r - first + points.length) % points.length, id: pt.id }),
      );
    }
    return out.sort((a, b) => a.d - b.d || a.j - b.j || a.r - b.r);
  };
  return {
    ownerOf: (key: string) => visits(key)[0]?.id,
    successors: (key: string, n: number) => [...new Set(visits(key).map((v) => v.id))].slice(0, n),
  };
}

/** Two identities with a point on the same position: found by search, since 2^32 positions rarely meet. */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `c${i}`;
    const seed = instanceSeed(id);
    for (let j = 0; j < 16; j++) {
      const p = sequenceAt(seed, j);
      const other = seen.get(p);
      if (other !== undefined) return [other, id];
      seen.set(p, id);
    }
  }
}

describe("Ring v2 (multi-probe)", () => {
  it("owners and successors are what docs/hash.md says, for small rings read literally", () => {
    for (const n of [1, 2, 5, 12]) {
      const ms = Array.from({ length: n }, (_, i) => ({ id: `M${i}é`, weight: i % 3 }));
      const ring = Ring.build(ms, { pointsPerWeight: 4 });
      const ref = naive(ms, 4);
      for (const k of keys(150, "k")) {
        expect(ring.ownerOf(k)).toBe(ref.ownerOf(k));
        expect(ring.successors(k, 4)).toEqual(ref.successors(k, 4));
      }
    }
  });

  it("two instances on one position are ordered by identity bytes, built at once or joined in either order", () => {
    const [a, b] = collidingPair();
    const ms = [{ id: a, weight: 1 }, { id: b, weight: 1 }, ...members(3)];
    const ref = naive(ms, 16);
    const built = Ring.build(ms);
    const joinedAB = ms.reduce((r, m) => r.with(m), Ring.empty());
    const joinedBA = [...ms].reverse().reduce((r, m) => r.with(m), Ring.empty());
    for (const k of keys(300)) {
      expect(built.ownerOf(k)).toBe(ref.ownerOf(k));
      expect(joinedAB.ownerOf(k)).toBe(ref.ownerOf(k));
      expect(joinedBA.ownerOf(k)).toBe(ref.ownerOf(k));
    }
    expect(built.without(a).has(b)).toBe(true);
    expect(built.without(a).without(b).size).toBe(3);
  });

  it("an empty ring has no owner", () => {
    expect(Ring.empty().ownerOf("x")).toBeUndefined();
    expect(Ring.empty().successors("x", 3)).toEqual([]);
    expect(Ring.build(members(2)).without("instance-0").without("instance-1").ownerOf("x")).toBeUndefined();
  });

  it("gives the same owners whatever the order of joins, leaves and re-weights that led to one membership", () => {
    const ms = members(60).map((m, i) => ({ ...m, weight: i % 4 }));
    const a = Ring.build(ms);
    const shuffled = [...ms].sort(() => Math.random() - 0.5);
    let c = Ring.empty();
    for (const m of shuffled) c = c.with({ ...m, weight: 9 }); // join heavier, then re-weight
    for (let i = 0; i < shuffled.length; i += 7)
      c = c.change(shuffled.slice(i, i + 7), ["absent", shuffled[i]!.id]).with(shuffled[i]!);
    c = c.with({ id: "extra", weight: 2 }).without("extra");
    const ks = keys(3000);
    expect(owners(c, ks)).toEqual(owners(a, ks));
    expect(c.size).toBe(60);
    expect(c.pointCount).toBe(a.pointCount);
    expect(c.members().sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      a.members().sort((x, y) => x.id.localeCompare(y.id)),
    );
  });

  it("grown and shrunk one change at a time through several chunkings, it equals the ring built at once", () => {
    let seed = 11;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const live = new Map<string, number>();
    let ring = Ring.empty();
    const ks = keys(1500);
    const check = () => {
      const built = Ring.build([...live].map(([id, weight]) => ({ id, weight })));
      expect(ring.pointCount).toBe(built.pointCount);
      expect(owners(ring, ks)).toEqual(owners(built, ks));
      for (const k of ks.slice(0, 30)) expect(ring.successors(k, 5)).toEqual(built.successors(k, 5));
    };
    // up to ~64,000 points (16 chunks), then back down to a few: every change goes through the chunks it touches
    for (let step = 0; step < 4000; step++) {
      const id = `m${Math.floor(rand() * 4000)}`;
      const growing = step < 3000;
      if (live.has(id) && (!growing || rand() < 0.2)) {
        live.delete(id);
        ring = ring.without(id);
      } else if (growing) {
        const w = 1 + Math.floor(rand() * 2);
        live.set(id, w);
        ring =
          rand() < 0.1
            ? ring.change(
                [
                  { id, weight: w },
                  { id: `${id}x`, weight: 1 },
                ],
                [`${id}x`],
              )
            : ring.with({ id, weight: w });
      }
      if (step % 500 === 499) check();
    }
    const batch = [...live.keys()].slice(0, Math.floor(live.size * 0.9));
    ring = ring.change([], batch);
    for (const id of batch) live.delete(id);
    check();
  });

  it("gives the same owners in another process", () => {
    const ms = members(10);
    const ks = keys(1000);
    const script = `
      import { Ring } from "./dist/src/ring/ring.js";
      const ms = JSON.parse(process.argv[1]);
      const ring = ms.reverse().reduce((r, m) => r.with(m), Ring.empty());
      console.log(JSON.stringify(JSON.parse(process.argv[2]).map((k) => ring.ownerOf(k))));`;
    const out = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", script, JSON.stringify(ms), JSON.stringify(ks)],
      { encoding: "utf8" },
    );
    expect(JSON.parse(out)).toEqual(owners(Ring.build(ms), ks));
  });

  it("a join moves keys only to the newcomer, about 1/N of them; its leave moves exactly those back", () => {
    const base = Ring.build(members(50));
    const grown = base.with({ id: "newcomer", weight: 1 });
    const ks = keys(50_000);
    const before = owners(base, ks);
    const after = owners(grown, ks);
    let moved = 0;
    ks.forEach((_, i) => {
      if (before[i] !== after[i]) {
        moved++;
        expect(after[i]).toBe("newcomer");
      }
    });
    expect(moved / ks.length).toBeGreaterThan(0.8 / 51);
    expect(moved / ks.length).toBeLessThan(1.2 / 51);
    expect(owners(grown.without("newcomer"), ks)).toEqual(before);
  });

  it("re-weighting an instance moves keys only to or from it", () => {
    const base = Ring.build(members(20));
    const heavier = base.with({ id: "instance-3", weight: 3 });
    const ks = keys(10_000);
    const before = owners(base, ks);
    const after = owners(heavier, ks);
    ks.forEach((_, i) => {
      if (before[i] !== after[i]) expect(after[i]).toBe("instance-3");
    });
  });

  it("the busiest of N equal instances owns at most 1.10x the mean, at N = 100 and N = 10,000", () => {
    for (const n of [100, 10_000]) {
      const shares = [...Ring.build(members(n)).shares().values()];
      expect(Math.max(...shares) * n).toBeLessThanOrEqual(1.1);
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
  });

  it("the computed shares are what keys find (1M keys at N = 20)", () => {
    const ring = Ring.build(members(20));
    const counts = new Map<string, number>();
    for (let k = 0; k < 1_000_000; k++) {
      const o = ring.ownerOf(`key-${k}`)!;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    for (const [id, share] of ring.shares()) expect(Math.abs(counts.get(id)! / 1_000_000 - share)).toBeLessThan(0.002); // ~4σ
  });

  it("shares follow weights 1..100 within 10 %; weight 0 counts as 1; the largest weight is taken as is", () => {
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let t = 0; t < 3; t++) {
      const ms = Array.from({ length: 100 }, (_, i) => ({ id: `w${t}-${i}`, weight: 1 + Math.floor(rand() * 100) }));
      const total = ms.reduce((a, m) => a + m.weight, 0);
      const s = Ring.build(ms).shares();
      for (const m of ms) expect(Math.abs(s.get(m.id)! / (m.weight / total) - 1)).toBeLessThan(0.1);
    }
    const s = Ring.build(
      [
        { id: "zero", weight: 0 },
        { id: "one", weight: 1 },
        { id: "max", weight: 65535 },
      ],
      { pointsPerWeight: 1 },
    ).shares();
    expect(s.get("max")! * 65537).toBeCloseTo(65535, -2);
    expect(s.get("zero")! / s.get("one")!).toBeGreaterThan(0.5);
  });

  it("successors are distinct, start with the owner, and stop at the ring size", () => {
    const ring = Ring.build(members(5));
    for (const k of keys(200)) {
      const s = ring.successors(k, 3);
      expect(s[0]).toBe(ring.ownerOf(k));
      expect(new Set(s).size).toBe(3);
    }
    expect(ring.successors("k", 10)).toHaveLength(5);
  });

  it("a successors walk bounded in visits gives the start of the whole list, however heavy the instances on the way", () => {
    const ring = Ring.build([{ id: "heavy", weight: 4000 }, ...members(3)]);
    let shorter = 0;
    for (const k of keys(100)) {
      const whole = ring.successors(k, 4);
      expect(whole).toHaveLength(4);
      const bounded = ring.successors(k, 4, 21 * 4);
      expect(bounded).toEqual(whole.slice(0, bounded.length));
      if (bounded.length < 4) shorter++;
    }
    expect(shorter).toBeGreaterThan(50); // 64,000 heavy points stand between most keys and the fourth instance
  });

  it("removing an instance only takes it out of every successor list", () => {
    const ring = Ring.build(members(30));
    const less = ring.without("instance-7");
    for (const k of keys(300))
      expect(less.successors(k, 10)).toEqual(
        ring
          .successors(k, 11)
          .filter((id) => id !== "instance-7")
          .slice(0, 10),
      );
  });
});
