// Entry points that the event loop calls survive what they throw: logged, counted, and served on.
import { describe, expect, it } from "vitest";
import { guarded, internalErrorCount, later, onInternalError } from "../src/guard.js";
import { QueryMetrics } from "../src/metrics.js";

describe("guarded entry points", () => {
  it("catch a throw and a rejected promise, report where, and count both in ringdns_internal_errors_total", async () => {
    const seen: string[] = [];
    const previous = onInternalError((where, err) => seen.push(`${where}: ${(err as Error).message}`));
    try {
      const before = internalErrorCount();
      guarded("udp query", () => {
        throw new Error("boom");
      })();
      guarded("etcd watch", async () => {
        throw new Error("later boom");
      })();
      await new Promise<void>((resolve) =>
        later("a timer", 1, () => {
          resolve();
          throw new Error("timer boom");
        }),
      );
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual(["udp query: boom", "etcd watch: later boom", "a timer: timer boom"]);
      expect(internalErrorCount() - before).toBe(3);
      const text = await new QueryMetrics().prom.metrics();
      expect(text).toMatch(new RegExp(`^ringdns_internal_errors_total ${internalErrorCount()}$`, "m"));
    } finally {
      onInternalError(previous);
    }
  });

  it("a sink that throws does not turn a caught fault into a crash", () => {
    const previous = onInternalError(() => {
      throw new Error("broken logger");
    });
    try {
      expect(() =>
        guarded("x", () => {
          throw new Error("boom");
        })(),
      ).not.toThrow();
    } finally {
      onInternalError(previous);
    }
  });
});
