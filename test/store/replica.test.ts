// A query worker's registry is a replica: it starts from the primary's
// entries and follows its changes. After any sequence of changes it must
// serve exactly what the primary serves, ring owners and SOA serial included.
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { changeToStoreOp, Registry } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { ReplicaStore } from "../../src/store/replica.js";

const kv = { service: "_kv", proto: "_tcp" } as const;
const inst = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  type: kv,
  subtypes: [],
  host: [name],
  port: 1,
  priority: 0,
  weight: 1,
  txt: [Buffer.from("v=1")],
  source: "update",
  ...extra,
});

async function pair() {
  const clock = new ManualClock(1_000_000);
  const primary = new Registry({ clock, store: new MemoryStore() });
  await primary.open();
  primary.loadStatic(
    [inst("static-1", { source: "static" })],
    [{ name: "static-1", addresses: ["192.0.2.9"], source: "static" }],
  );
  await primary.register(inst("early"), [{ name: "early", addresses: ["192.0.2.1"], source: "update" }]);
  // what primary.ts does: entries now, then every change after
  const store = new ReplicaStore(primary.entries());
  const replica = new Registry({ clock, store, ring: {} });
  await replica.open();
  replica.followSerial(primary.serial());
  primary.onChange((c) => {
    store.follow([changeToStoreOp(c)]);
    replica.followSerial(primary.serial());
  });
  return { primary, replica, clock };
}

const view = (r: Registry) => ({
  instances: r.instances(kv).sort((a, b) => a.name.localeCompare(b.name)),
  hosts: r.allHosts().sort((a, b) => a.name.localeCompare(b.name)),
  owners: Array.from({ length: 200 }, (_, i) => r.ownerOf(kv, `key-${i}`)?.name),
  serial: r.serial(),
});

describe("ReplicaStore", () => {
  it("starts as a copy of the primary, static registrations included", async () => {
    const { primary, replica } = await pair();
    expect(view(replica)).toEqual(view(primary));
    expect(replica.instance(kv, "static-1")?.source).toBe("static");
  });

  it("follows adds, updates, removals and expiries, ring and serial included", async () => {
    const { primary, replica, clock } = await pair();
    await primary.register(inst("b", { weight: 3 }), [{ name: "b", addresses: ["192.0.2.2"], source: "update" }]);
    await primary.register(inst("c", { expiresAt: clock.now() + 1000 }));
    await primary.register(inst("b", { port: 2, weight: 1 }));
    await primary.deregister(kv, "early");
    expect(view(replica)).toEqual(view(primary));
    clock.advance(1000);
    expect(await primary.expireDue()).toBeGreaterThan(0);
    expect(replica.instance(kv, "c")).toBeUndefined();
    expect(view(replica)).toEqual(view(primary));
  });

  it("never writes: what the replica's registry would commit is the primary's to do", async () => {
    const { primary, replica } = await pair();
    await replica.register(inst("rogue"));
    expect(primary.instance(kv, "rogue")).toBeUndefined();
  });
});
