// The ring worker thread (src/ring/aside.ts), as the daemon runs it (from
// dist/, built by `npm test` first): a ring built there and its shares
// computed there are the ones computed here, and a worker ended when idle is
// started again by the next job.
import { afterAll, describe, expect, it } from "vitest";
import { workerRingAside } from "../../dist/src/ring/aside.js";
import { Ring } from "../../dist/src/ring/ring.js";

const aside = workerRingAside();
afterAll(() => aside.close());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ring work in a worker thread", () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `instance-${i}`);
  const weights = ids.map((_, i) => 1 + (i % 7));

  it("builds the ring Ring.build makes, sent over in slices", async () => {
    const there = await aside.build(ids, weights, {});
    const here = Ring.build(ids.map((id, k) => ({ id, weight: weights[k]! })));
    expect(there.pointCount).toBe(here.pointCount);
    for (let k = 0; k < 2000; k++) expect(there.ownerOf(`key-${k}`)).toBe(here.ownerOf(`key-${k}`));
  });

  it("builds rings one after another on the same scratch (a bigger one, then smaller ones), each as Ring.build makes it, and they change as rings built here do", async () => {
    const many = Array.from({ length: 30_000 }, (_, i) => ({ id: `m-${i}`, weight: 1 + (i % 5) }));
    const sizes = [30_000, 1_500, 9_000];
    const built = [];
    for (const n of sizes)
      built.push(
        await aside.build(
          many.slice(0, n).map((m) => m.id),
          many.slice(0, n).map((m) => m.weight),
          {},
        ),
      );
    for (const [i, n] of sizes.entries()) {
      const here = Ring.build(many.slice(0, n));
      expect(built[i]!.pointCount).toBe(here.pointCount);
      for (let k = 0; k < 1000; k++) expect(built[i]!.ownerOf(`key-${k}`)).toBe(here.ownerOf(`key-${k}`));
      const joined = built[i]!.change([{ id: "joiner", weight: 3 }], ["m-0"]);
      const joinedHere = here.change([{ id: "joiner", weight: 3 }], ["m-0"]);
      for (let k = 0; k < 1000; k++) expect(joined.ownerOf(`key-${k}`)).toBe(joinedHere.ownerOf(`key-${k}`));
    }
  });

  it("computes the exact shares of a ring whose points are handed over in steps, and the ring keeps them", async () => {
    const ring = Ring.build(ids.map((id, k) => ({ id, weight: weights[k]! })));
    const there = await aside.shares(ring);
    expect(ring.knownShares()).toBe(there);
    const here = Ring.build(ids.map((id, k) => ({ id, weight: weights[k]! }))).shareSummary();
    expect(Array.from(there.bySlot)).toEqual(Array.from(here.bySlot));
    expect(Array.from(there.busiest.subarray(0, 100))).toEqual(Array.from(here.busiest.subarray(0, 100)));
    expect(ring.ownerOf("still-usable")).toBeDefined(); // its points were copied, not taken away
  });

  it("builds again after the idle worker has ended", async () => {
    const quick = workerRingAside({ idleMs: 20 });
    try {
      const few = Array.from({ length: 300 }, (_, i) => `n-${i}`);
      const w = few.map((_, i) => 1 + (i % 3));
      const expected = Ring.build(few.map((id, k) => ({ id, weight: w[k]! })));
      const first = await quick.build(few, w, {});
      await sleep(200); // past idleMs: that worker has ended
      const second = await quick.build(few, w, {});
      for (const ring of [first, second])
        for (let k = 0; k < 200; k++) expect(ring.ownerOf(`key${k}`)).toBe(expected.ownerOf(`key${k}`));
      expect((await quick.shares(second)).bySlot).toEqual(expected.shareSummary().bySlot);
    } finally {
      await quick.close();
    }
  });
});
