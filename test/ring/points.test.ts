import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mix32 } from "../../src/ring/hash.js";
import { PointSet, type SortedPoints } from "../../src/ring/points.js";

/** Points sorted by position (owners as they come): what PointSet takes. */
function sorted(pos: number[]): SortedPoints {
  const order = pos.map((p, i) => ({ p: p >>> 0, o: i })).sort((a, b) => a.p - b.p || a.o - b.o);
  return { pos: Uint32Array.from(order, (x) => x.p), owner: Uint32Array.from(order, (x) => x.o) };
}

/** The first point at or after `p`, going round. */
function firstAtOrAfter(pos: Uint32Array, p: number): number {
  let lo = 0;
  let hi = pos.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (pos[m]! < p) lo = m + 1;
    else hi = m;
  }
  return lo === pos.length ? 0 : lo;
}

/** The nearest owner read literally: each probe's first point at or after it (wrapping), the closest one, ties to the earlier probe. */
function naiveNearest(pts: SortedPoints, a: number, step: number, probes: number): number {
  let best = Infinity;
  let owner = -1;
  for (let j = 0; j < probes; j++) {
    const p = mix32((a + Math.imul(j, step)) | 0);
    const i = firstAtOrAfter(pts.pos, p);
    const d = (pts.pos[i]! - p) >>> 0;
    if (d < best) {
      best = d;
      owner = pts.owner[i]!;
    }
  }
  return owner;
}

// positions crowded into a few narrow spots (full buckets, so probes scan past their window), or spread
// thinly (empty buckets and chunks, so probes wrap), with duplicates and both ends of the circle
const position = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.constantFrom(0, 1, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 31),
  fc.integer({ min: 0, max: 63 }).map((k) => 0x9e3779b1 + k),
  fc.integer({ min: 0, max: 4095 }).map((k) => 0x40000000 + k * 7),
);

describe("PointSet", () => {
  it("finds the nearest owner and successors as read literally, whatever the crowding, gaps and chunking", () => {
    fc.assert(
      fc.property(fc.array(position, { minLength: 1, maxLength: 6000 }), fc.integer(), fc.integer(), (pos, a, step) => {
        const pts = sorted(pos);
        const set = PointSet.fromSorted(pts);
        for (let k = 0; k < 20; k++) {
          const ka = (a + Math.imul(k, 0x632be5ab)) | 0;
          const ks = (step + k) | 1;
          expect(set.nearestOwner(ka, ks, 21)).toBe(naiveNearest(pts, ka, ks, 21));
          const p = mix32(ka);
          const i = Math.max(
            0,
            pts.pos.findIndex((x) => x >= p),
          );
          expect(set.owner(set.successor(p))).toBe(pts.owner[i]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("after changes that empty and refill chunks, it still finds what a set built at once finds", () => {
    fc.assert(
      fc.property(
        fc.array(position, { minLength: 2000, maxLength: 5000 }),
        fc.array(position, { maxLength: 300 }),
        fc.integer(),
        (pos, more, a) => {
          const base = PointSet.fromSorted(sorted(pos));
          // remove every point in the upper half of the circle, then add the new ones
          const kept = pos.map((p) => p >>> 0).filter((p) => p < 2 ** 31);
          const removed = [];
          for (let at = base.successor(2 ** 31), n = 0; n < pos.length - kept.length; n++, at = base.step(at))
            removed.push(at);
          const added = sorted(more);
          const owners = Uint32Array.from(added.owner, (o) => o + pos.length);
          const changed = base.change(removed, { pos: added.pos, owner: owners }, (x, y) => x < y);
          const flat = changed.toSorted();
          expect([...flat.pos]).toEqual([...sorted([...kept, ...more]).pos]);
          for (let k = 0; k < 50; k++) {
            const ka = (a + Math.imul(k, 0x632be5ab)) | 0;
            expect(changed.nearestOwner(ka, 0x2545f491, 21)).toBe(naiveNearest(flat, ka, 0x2545f491, 21));
            const p = mix32(ka);
            const i = Math.max(
              0,
              flat.pos.findIndex((x) => x >= p),
            );
            expect(changed.owner(changed.successor(p))).toBe(flat.owner[i]);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("grown one point at a time from empty, or shrunk back, keeps an index sized as a ring built at once (and its owners)", () => {
    let seed = 11;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const pos: number[] = [];
    let set = PointSet.fromSorted(sorted([]));
    const before = () => true; // on one position the earlier point first, as sorted() orders them
    const check = () => {
      const built = PointSet.fromSorted(sorted(pos));
      // within a factor of 2 either way: changes rebuild at fourfold growth or shrinkage, not at every doubling
      expect(Math.abs(set.indexBits - built.indexBits)).toBeLessThanOrEqual(1);
      for (let k = 0; k < 50; k++) {
        const a = rand() | 0;
        const step = rand() | 1;
        expect(set.nearestOwner(a, step, 21)).toBe(built.nearestOwner(a, step, 21));
      }
    };
    for (let n = 1; n <= 6000; n++) {
      const p = rand();
      pos.push(p);
      set = set.change([], { pos: Uint32Array.of(p), owner: Uint32Array.of(n - 1) }, before);
      if (n % 500 === 0) check();
    }
    while (pos.length > 20) {
      const p = pos.pop()!;
      set = set.change([set.find(p, pos.length)!], { pos: new Uint32Array(0), owner: new Uint32Array(0) }, before);
      if (pos.length % 500 === 0) check();
    }
  });

  it("in a ring of 300,000 points (larger buckets), finds what the literal reading finds", () => {
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    // random positions, plus runs of close ones (full buckets)
    const pos = Array.from({ length: 300_000 }, (_, i) => (i % 10 === 0 ? 0x12345678 + (i % 4000) : rand()));
    const pts = sorted(pos);
    const set = PointSet.fromSorted(pts);
    for (let k = 0; k < 3000; k++) {
      const a = rand() | 0;
      const step = rand() | 1;
      expect(set.nearestOwner(a, step, 21)).toBe(naiveNearest(pts, a, step, 21));
    }
    for (let k = 0; k < 4000; k++) {
      const p = 0x12345678 + k;
      expect(set.position(set.successor(p))).toBe(pts.pos[firstAtOrAfter(pts.pos, p)]);
    }
  });
});
