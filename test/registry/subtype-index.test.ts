// A subtype browse reads only the instances listed under that subtype (an
// index kept as registrations change), and lists them as a filter over every
// instance of the type would.
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";

const type = { service: "_sub", proto: "_tcp" as const };
const inst = (name: string): Instance => ({
  name,
  type,
  subtypes: [],
  host: [name],
  port: 1,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
});

describe("the subtype index", () => {
  it("lists what a filter over every instance would, in the same order, through adds, changes of subtypes, removals and re-adds", async () => {
    const reg = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
    await reg.open();
    let seed = 5;
    const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const subs = ["_a", "_b", "_c", "_d"];
    for (let step = 0; step < 600; step++) {
      const name = `n${rand(60)}`;
      if (rand(5) === 0) await reg.apply([{ op: "remove-instance", type, name }]);
      else
        await reg.apply([
          { op: "put-instance", instance: { ...inst(name), subtypes: subs.filter(() => rand(2) === 0) } },
        ]);
      if (step % 50 === 49)
        for (const sub of subs)
          expect(reg.instancesWithSubtype(type, sub.toUpperCase(), "local.").map((i) => i.name)).toEqual(
            reg
              .instances(type, "local.")
              .filter((i) => i.subtypes.includes(sub))
              .map((i) => i.name),
          );
    }
  });
});
