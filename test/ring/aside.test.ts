// The ring worker thread (src/ring/aside.ts), as the daemon runs it (from
// dist/, built by `npm test` first): a ring built there and its shares
// computed there are the ones computed here.
import { afterAll, describe, expect, it } from "vitest";
import { workerRingAside } from "../../dist/src/ring/aside.js";
import { Ring } from "../../dist/src/ring/ring.js";

const aside = workerRingAside();
afterAll(() => aside.close());

describe("ring work in a worker thread", () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `instance-${i}`);
  const weights = ids.map((_, i) => 1 + (i % 7));

  it("builds the ring Ring.build makes, sent over in slices", async () => {
    const there = await aside.build(ids, weights, {});
    const here = Ring.build(ids.map((id, k) => ({ id, weight: weights[k]! })));
    expect(there.pointCount).toBe(here.pointCount);
    for (let k = 0; k < 2000; k++) expect(there.ownerOf(`key-${k}`)).toBe(here.ownerOf(`key-${k}`));
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
});
