// The start-up collection: it completes, and Node's note that vm.measureMemory
// is experimental does not reach the daemon's stderr.
import { describe, expect, it } from "vitest";
import { collectStartupGarbage } from "../src/startup-gc.js";

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
