import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Ring, type RingMember } from "../../src/ring/ring.js";

const members = (n: number, weight = 1): RingMember[] => Array.from({ length: n }, (_, i) => ({ id: `instance-${i}`, weight }));
const keys = (n: number, prefix = "key-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const owners = (ring: Ring, ks: string[]) => ks.map((k) => ring.ownerOf(k));

describe("Ring", () => {
  it("the owner is the first point at or after the key's position, wrapping past the top (checked by a linear walk)", async () => {
    const { keyPosition, instancePoints } = await import("../../src/ring/hash.js");
    const key = (p: { hi: number; lo: number }) => BigInt(p.hi) * 2n ** 32n + BigInt(p.lo);
    for (const n of [1, 3, 40]) {
      const ids = Array.from({ length: n }, (_, i) => `m${i}`);
      const ring = Ring.build(ids.map((id) => ({ id, weight: 1 })), { pointsPerWeight: 16 });
      const points = ids.flatMap((id) => {
        const { hi, lo } = instancePoints(id, 16);
        return [...hi].map((h, i) => ({ at: key({ hi: h, lo: lo[i]! }), id }));
      });
      points.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      for (let k = 0; k < 2000; k++) {
        const at = key(keyPosition(`k${k}`));
        const want = (points.find((p) => p.at >= at) ?? points[0]!).id;
        expect(ring.ownerOf(`k${k}`)).toBe(want);
      }
    }
  });

  it("an empty ring has no owner", () => {
    expect(Ring.empty().ownerOf("x")).toBeUndefined();
    expect(Ring.empty().successors("x", 3)).toEqual([]);
  });

  it("gives the same owners whatever the insertion order, built at once or one by one", () => {
    const ms = members(20);
    const a = Ring.build(ms);
    const b = Ring.build([...ms].reverse());
    const c = [...ms].sort(() => Math.random() - 0.5).reduce((r, m) => r.with(m), Ring.empty());
    const ks = keys(2000);
    expect(owners(b, ks)).toEqual(owners(a, ks));
    expect(owners(c, ks)).toEqual(owners(a, ks));
  });

  it("gives the same owners in another process", () => {
    const ms = members(10);
    const ks = keys(1000);
    const script = `
      import { Ring } from "./dist/src/ring/ring.js";
      const ms = JSON.parse(process.argv[1]);
      const ring = ms.reverse().reduce((r, m) => r.with(m), Ring.empty());
      console.log(JSON.stringify(JSON.parse(process.argv[2]).map((k) => ring.ownerOf(k))));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(ms), JSON.stringify(ks)], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual(owners(Ring.build(ms), ks));
  });

  it("adding one instance moves keys only to it; removing it moves only its keys", () => {
    const base = Ring.build(members(50));
    const grown = base.with({ id: "newcomer", weight: 1 });
    const ks = keys(20_000);
    const before = owners(base, ks);
    const after = owners(grown, ks);
    let moved = 0;
    ks.forEach((_, i) => {
      if (before[i] !== after[i]) {
        moved++;
        expect(after[i]).toBe("newcomer");
      }
    });
    // about 1/51 of the keys, never zero
    expect(moved / ks.length).toBeGreaterThan(0.5 / 51);
    expect(moved / ks.length).toBeLessThan(1.5 / 51);
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

  it("keeps 100 equal instances within 1.10x of the mean over 1M keys", () => {
    const ring = Ring.build(members(100));
    const counts = new Map<string, number>();
    for (let k = 0; k < 1_000_000; k++) {
      const o = ring.ownerOf(`key-${k}`)!;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    const max = Math.max(...counts.values());
    expect(counts.size).toBe(100);
    expect(max / 10_000).toBeLessThanOrEqual(1.1);
  });

  it("shares follow weight; weight 0 counts as 1", () => {
    const ring = Ring.build([
      { id: "light", weight: 1 },
      { id: "zero", weight: 0 },
      { id: "heavy", weight: 4 },
    ]);
    const s = ring.shares();
    expect(s.get("heavy")! / s.get("light")!).toBeGreaterThan(3.4);
    expect(s.get("heavy")! / s.get("light")!).toBeLessThan(4.6);
    expect(s.get("zero")! / s.get("light")!).toBeGreaterThan(0.85);
    expect(s.get("zero")! / s.get("light")!).toBeLessThan(1.15);
    const total = [...s.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 9);
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
});
