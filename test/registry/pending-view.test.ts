import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { PendingView } from "../../src/registry/pending-view.js";
import { Registry } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";

const web = { service: "_web", proto: "_tcp" } as const;
const inst = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  type: web,
  subtypes: [],
  host: [name.toLowerCase()],
  port: 80,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
  ...extra,
});

describe("PendingView", () => {
  it("reads the registry with the planned writes on top, and leaves the registry as it was", async () => {
    const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
    await registry.open();
    await registry.register(inst("Kept", { key: "k1." }), [
      { name: "kept", addresses: ["192.0.2.1"], source: "update" },
    ]);
    await registry.register(inst("gone", { key: "k1.", subtypes: ["_printer"] }));
    const view = new PendingView(registry);
    view.add([
      { op: "put-instance", instance: inst("new", { key: "k2.", subtypes: ["_printer"] }) },
      { op: "remove-instance", type: web, name: "GONE" },
      { op: "put-instance", instance: inst("kept", { port: 8080, key: "k2." }) }, // same name, other case
      { op: "remove-host", name: "kept" },
      { op: "put-host", host: { name: "new", addresses: ["192.0.2.2"], source: "update" } },
    ]);
    expect(view.instance(web, "KEPT")?.port).toBe(8080);
    expect(view.instance(web, "gone")).toBeUndefined();
    expect(
      view
        .instances(web)
        .map((i) => i.name)
        .sort(),
    ).toEqual(["kept", "new"]);
    expect(view.instanceCount(web)).toBe(2);
    expect(view.instancesWithSubtype(web, "_PRINTER").map((i) => i.name)).toEqual(["new"]);
    expect([view.registrationsByKey("k1."), view.registrationsByKey("k2.")]).toEqual([0, 2]);
    expect(view.host("kept")).toBeUndefined();
    expect(view.allHosts().map((h) => h.name)).toEqual(["new"]);
    view.add([
      { op: "remove-instance", type: web, name: "new" },
      { op: "remove-instance", type: web, name: "kept" },
    ]);
    expect(view.serviceTypes()).toEqual([]);
    // nothing reached the registry
    expect(
      registry
        .instances(web)
        .map((i) => i.name)
        .sort(),
    ).toEqual(["Kept", "gone"]);
    expect(registry.registrationsByKey("k1.")).toBe(2);
  });

  it("sees planned writes per domain: a domain's own record over one served everywhere, counts per domain and per owner", async () => {
    const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
    await registry.open();
    registry.loadStatic([inst("s", { source: "static" })], []);
    await registry.register(inst("old")); // served everywhere (an older store)
    const view = new PendingView(registry);
    view.add([
      {
        op: "put-instance",
        instance: inst("web", { domain: "a.example.", owner: { kind: "key", name: "k1." }, key: "k1." }),
      },
      { op: "put-instance", instance: inst("old", { port: 1, domain: "a.example." }) },
      {
        op: "put-host",
        host: {
          name: "web",
          addresses: ["192.0.2.1"],
          source: "update",
          domain: "a.example.",
          owner: { kind: "key", name: "k1." },
        },
      },
    ]);
    expect(view.instance(web, "web", "a.example.")?.domain).toBe("a.example.");
    expect(view.instance(web, "web", "b.example.")).toBeUndefined();
    expect(view.instance(web, "old", "a.example.")?.port).toBe(1);
    expect(view.instance(web, "old", "b.example.")?.port).toBe(80);
    expect(view.instanceCount(web, "a.example.")).toBe(3); // s, old (its own), web
    expect(view.instanceCount(web, "b.example.")).toBe(2); // s, old (served everywhere)
    expect(view.instanceCount(web)).toBe(4); // every record
    expect(
      view
        .instances(web, "a.example.")
        .map((i) => i.name)
        .sort(),
    ).toEqual(["old", "s", "web"]);
    expect(view.host("web", "a.example.")?.addresses).toEqual(["192.0.2.1"]);
    expect(view.host("web", "local.")).toBeUndefined();
    expect([view.registrationsByKey("k1."), view.hostsByKey("k1."), view.instanceTotal(), view.hostTotal()]).toEqual([
      1, 1, 4, 1,
    ]);
    view.add([{ op: "remove-instance", type: web, name: "old", domain: "a.example." }]);
    expect(view.instance(web, "old", "a.example.")?.port).toBe(80); // the one served everywhere answers again
    expect(registry.instanceCount(web, "a.example.")).toBe(2); // nothing reached the registry
  });

  it("keeps per-domain counts and ring weights right as writes are added after they were asked for", async () => {
    const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
    await registry.open();
    await registry.register(inst("old", { weight: 3 })); // served everywhere
    await registry.register(inst("mine", { domain: "a.example.", weight: 0 }));
    const batches = [
      [{ op: "put-instance" as const, instance: inst("new", { domain: "a.example.", weight: 5 }) }],
      [{ op: "put-instance" as const, instance: inst("old", { domain: "a.example.", weight: 2 }) }], // over the shared one
      [{ op: "put-instance" as const, instance: inst("b-only", { domain: "b.example." }) }],
      [{ op: "remove-instance" as const, type: web, name: "mine", domain: "a.example." }],
      [{ op: "remove-instance" as const, type: web, name: "old" }], // the shared one: a.example.'s own stays
      [{ op: "put-instance" as const, instance: inst("new", { domain: "a.example.", weight: 1 }) }],
    ];
    const domains = ["a.example.", "b.example.", "local."];
    const asked = new PendingView(registry);
    for (const d of domains) expect(asked.instanceCount(web, d) * asked.ringWeight(web, d)).toBeGreaterThan(0); // asked first, then kept
    for (let n = 1; n <= batches.length; n++) {
      asked.add(batches[n - 1]!);
      const fresh = new PendingView(registry);
      for (const b of batches.slice(0, n)) fresh.add(b);
      for (const d of domains) {
        expect([asked.instanceCount(web, d), asked.ringWeight(web, d)], `after ${n} writes, in ${d}`).toEqual([
          fresh.instanceCount(web, d),
          fresh.ringWeight(web, d),
        ]);
        expect(asked.instanceCount(web, d)).toBe(asked.instances(web, d).length);
      }
    }
    expect([asked.instanceCount(web, "a.example."), asked.ringWeight(web, "a.example.")]).toEqual([2, 3]); // new 1, old 2
  });
});
