// The start-up collection: it completes, and Node's note that vm.measureMemory
// is experimental does not reach the daemon's stderr; the daemon is told (and
// logs) when a big load has settled, once its rings are built.
import { describe, expect, it } from "vitest";
import { collectStartupGarbage, settleAfterLoad } from "../src/startup-gc.js";

describe("collectStartupGarbage", () => {
  it("collects without a warning about vm.measureMemory", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      await collectStartupGarbage();
      await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
      expect(warnings.filter((w) => w.includes("measureMemory"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("settleAfterLoad", () => {
  it("tells once, after the rings are built and the start-up garbage is collected, for a big load", async () => {
    let building = 1;
    const settled: number[] = [];
    settleAfterLoad({ ringsBuilding: () => building, instanceTotal: () => 15_000, hostTotal: () => 15_000 }, (ms) =>
      settled.push(ms),
    );
    await new Promise((r) => setTimeout(r, 350));
    expect(settled).toEqual([]); // a ring still building: not yet
    building = 0;
    for (let i = 0; i < 100 && settled.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(settled).toHaveLength(1);
    expect(settled[0]).toBeGreaterThanOrEqual(350);
  });

  it("says nothing for a small load: there is nothing to collect", async () => {
    const settled: number[] = [];
    settleAfterLoad({ ringsBuilding: () => 0, instanceTotal: () => 10, hostTotal: () => 10 }, (ms) => settled.push(ms));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toEqual([]);
  });
});
