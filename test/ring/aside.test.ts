// The ring worker thread (dist: it runs the compiled aside-worker.js): builds
// and shares match the ring built in place, and a worker ended when idle is
// started again by the next job.
import { describe, expect, it } from "vitest";
import type { RingAside } from "../../src/ring/aside.js";
import type { Ring as RingClass } from "../../src/ring/ring.js";

const dist = "../../dist/src/ring";
const { workerRingAside } = (await import(`${dist}/aside.js`)) as { workerRingAside: (o?: { idleMs?: number }) => RingAside };
const { Ring } = (await import(`${dist}/ring.js`)) as { Ring: typeof RingClass };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("workerRingAside", () => {
  it("builds what Ring.build builds, and builds again after the idle worker has ended", async () => {
    const aside = workerRingAside({ idleMs: 20 });
    try {
      const ids = Array.from({ length: 300 }, (_, i) => `n-${i}`);
      const weights = ids.map((_, i) => 1 + (i % 3));
      const expected = Ring.build(ids.map((id, k) => ({ id, weight: weights[k]! })));
      const first = await aside.build(ids, weights, {});
      await sleep(200); // past idleMs: that worker has ended
      const second = await aside.build(ids, weights, {});
      for (const ring of [first, second]) for (let k = 0; k < 200; k++) expect(ring.ownerOf(`key${k}`)).toBe(expected.ownerOf(`key${k}`));
      expect((await aside.shares(second)).bySlot).toEqual(expected.shareSummary().bySlot);
    } finally {
      await aside.close();
    }
  });
});
