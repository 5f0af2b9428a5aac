// The HTTP API's pages come from lists kept in name order as registrations
// change: after any sequence of changes, in any domain, each list is what
// sorting the registry's instances afresh gives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { listKey, SortedInstanceLists, sortedOrder } from "../../../src/frontends/http/sorted-lists.js";
import { instanceStoreKey, Registry } from "../../../src/registry/registry.js";
import type { Instance } from "../../../src/registry/types.js";
import { MemoryStore } from "../../../src/store/memory.js";

const web = { service: "_web", proto: "_tcp" as const };
const ipp = { service: "_ipp", proto: "_tcp" as const };
const sorted = (items: Instance[]) => items.map(listKey).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe("sortedOrder", () => {
  it("orders as < does, in steps", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "binary" }), { maxLength: 300 }), async (keys) => {
        const order = await sortedOrder(keys);
        expect(Array.from(order, (i) => keys[i])).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }),
      { numRuns: 100 },
    );
  });
});

describe("SortedInstanceLists", () => {
  it("stays what a fresh sort gives, per domain and for every registration, through adds, renames in case, removals and records served everywhere", async () => {
    const names = ["a", "A", "b", "Lamp", "lamp", "z", "Zed", "m n", "ü"];
    const domains = ["a.example.", "b.example.", undefined];
    const change = fc.record({
      remove: fc.boolean(),
      name: fc.constantFrom(...names),
      domain: fc.constantFrom(...domains),
      type: fc.constantFrom(web, ipp),
      port: fc.integer({ min: 1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(change, { maxLength: 40 }),
        fc.array(change, { maxLength: 40 }),
        async (before, after) => {
          const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
          await registry.open();
          const apply = async (c: (typeof before)[number]) => {
            if (c.remove) await registry.deregister(c.type, c.name, c.domain);
            else
              await registry.register({
                name: c.name,
                type: c.type,
                subtypes: [],
                host: ["h"],
                port: c.port,
                priority: 0,
                weight: 1,
                txt: [],
                source: c.domain ? "update" : "static",
                ...(c.domain ? { domain: c.domain } : {}),
              });
          };
          for (const c of before) await apply(c);
          const lists = new SortedInstanceLists(registry);
          await lists.list(web, "a.example."); // kept from here on
          const sorting = [lists.list(web, "b.example."), lists.list(web, undefined)]; // being sorted while the changes land
          for (const c of after) await apply(c);
          await Promise.all(sorting);
          for (const d of domains) {
            const kept = await lists.list(web, d);
            expect(kept.keys).toEqual(sorted(registry.instances(web, d)));
            expect(kept.items.map(listKey)).toEqual(kept.keys);
            // the record that answers now, not an older copy of it
            for (const i of kept.items)
              expect(
                d === undefined ? registry.instanceRecord(instanceStoreKey(i)) : registry.instance(web, i.name, d),
              ).toBe(i);
          }
          lists.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
