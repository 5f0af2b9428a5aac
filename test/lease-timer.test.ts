import pino from "pino";
import { describe, expect, it } from "vitest";
import { systemClock } from "../src/clock.js";
import { startLeaseTimer } from "../src/lease-timer.js";
import { Registry } from "../src/registry/registry.js";
import type { Instance } from "../src/registry/types.js";
import { MemoryStore } from "../src/store/memory.js";

const cache = { service: "_cache", proto: "_tcp" } as const;
const inst = (name: string, expiresAt: number): Instance => ({
  name,
  type: cache,
  subtypes: [],
  host: [name],
  port: 11211,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
  expiresAt,
});

/** Resolves once `name` is no longer registered. */
function gone(registry: Registry, name: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!registry.instance(cache, name)) {
        stop();
        resolve();
      }
    };
    const stop = registry.onChange(check);
    check();
  });
}

describe("lease timer", () => {
  it("expires each lease, whether a later one or an earlier one was registered after it", async () => {
    const registry = new Registry({ clock: systemClock, store: new MemoryStore() });
    await registry.open();
    const stop = startLeaseTimer(registry, systemClock, pino({ level: "silent" }));
    try {
      const now = systemClock.now();
      await registry.register(inst("middle", now + 200));
      await registry.register(inst("later", now + 400)); // leaves the timer where it is
      await registry.register(inst("first", now + 50)); // sets it earlier
      await registry.register(inst("kept", now + 3_600_000));
      await gone(registry, "first");
      await gone(registry, "middle");
      await gone(registry, "later");
      expect(registry.instances(cache).map((i) => i.name)).toEqual(["kept"]);
    } finally {
      stop();
    }
  });
});
