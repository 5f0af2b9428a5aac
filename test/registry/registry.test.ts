import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import type { Change, Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { Store, StoreOp } from "../../src/store/store.js";

const cache = { service: "_cache", proto: "_tcp" } as const;
const inst = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  type: cache,
  subtypes: [],
  host: [name.toLowerCase()],
  port: 11211,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
  ...extra,
});

async function open(store: Store = new MemoryStore(), clock = new ManualClock(1_000_000)) {
  const registry = new Registry({ clock, store });
  await registry.open();
  const changes: Change[] = [];
  registry.onChange((c) => changes.push(c));
  return { registry, store, clock, changes };
}

describe("Registry", () => {
  it("registers, updates and deregisters, reporting each change once", async () => {
    const { registry, changes } = await open();
    await registry.register(inst("Alpha"), [{ name: "alpha", addresses: ["192.0.2.1"], source: "update" }]);
    await registry.register(inst("Alpha")); // same again: no change
    await registry.register(inst("Alpha", { port: 1 }));
    expect(registry.instance(cache, "ALPHA")?.port).toBe(1);
    await registry.deregister(cache, "alpha");
    expect(registry.instance(cache, "alpha")).toBeUndefined();
    expect(changes.map((c) => `${c.op} ${c.kind}`)).toEqual(["add host", "add instance", "update instance", "remove instance"]);
    expect(registry.serviceTypes()).toEqual([]);
  });

  it("keeps the ring in step with the instances", async () => {
    const { registry } = await open();
    for (const n of ["a", "b", "c"]) await registry.register(inst(n));
    expect(registry.ring(cache).size).toBe(3);
    const owner = registry.ownerOf(cache, "some-key")!;
    await registry.deregister(cache, owner.name);
    expect(registry.ownerOf(cache, "some-key")!.name).not.toBe(owner.name);
    expect(registry.successors(cache, "k", 5)).toHaveLength(2);
  });

  it("finds instances by subtype", async () => {
    const { registry } = await open();
    await registry.register(inst("a", { subtypes: ["_eu"] }));
    await registry.register(inst("b", { subtypes: ["_us"] }));
    expect(registry.instancesWithSubtype(cache, "_EU").map((i) => i.name)).toEqual(["a"]);
  });

  it("persists through the store: a new registry on the same store sees everything", async () => {
    const store = new MemoryStore();
    const { registry } = await open(store);
    await registry.register(inst("a", { txt: [Uint8Array.of(1, 2, 3)] }));
    const again = await open(store);
    expect(again.registry.instance(cache, "a")?.txt).toEqual([Uint8Array.of(1, 2, 3)]);
  });

  it("does not change memory when the store refuses a write", async () => {
    const store = new MemoryStore();
    store.commit = async () => {
      throw new Error("disk full");
    };
    const { registry, changes } = await open(store);
    await expect(registry.register(inst("a"))).rejects.toThrow("disk full");
    expect(registry.instance(cache, "a")).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it("applies changes other writers make to the store", async () => {
    const store = new MemoryStore();
    const { registry, changes } = await open(store);
    const op: StoreOp = { op: "put", key: "instance/_cache._tcp/x", entry: { kind: "instance", value: inst("x") } };
    await store.inject([op]);
    expect(registry.instance(cache, "x")).toBeDefined();
    await store.inject([{ op: "delete", key: "instance/_cache._tcp/x" }]);
    expect(registry.instance(cache, "x")).toBeUndefined();
    expect(changes.map((c) => c.op)).toEqual(["add", "remove"]);
  });

  it("expires leases on the injected clock", async () => {
    const { registry, clock, changes, store } = await open();
    await registry.register(inst("short", { expiresAt: clock.now() + 10_000 }));
    await registry.register(inst("forever"));
    expect(registry.nextExpiry()).toBe(clock.now() + 10_000);
    clock.advance(9_999);
    expect(await registry.expireDue()).toBe(0);
    clock.advance(1);
    expect(await registry.expireDue()).toBe(1);
    expect(registry.instances(cache).map((i) => i.name)).toEqual(["forever"]);
    expect(changes.at(-1)).toMatchObject({ op: "expire", kind: "instance" });
    expect([...(await store.load()).keys()]).toEqual(["instance/_cache._tcp/forever"]);
  });

  it("static registrations are served but never stored", async () => {
    const { registry, store } = await open();
    registry.loadStatic([inst("s", { source: "static" })], [{ name: "s", addresses: ["192.0.2.5"], source: "static" }]);
    expect(registry.instance(cache, "s")).toBeDefined();
    expect(registry.host("S")?.addresses).toEqual(["192.0.2.5"]);
    expect((await store.load()).size).toBe(0);
  });

  it("moves the SOA serial forward on every change", async () => {
    const { registry } = await open();
    const s0 = registry.serial();
    await registry.register(inst("a"));
    expect(registry.serial()).toBeGreaterThan(s0);
  });

  it("finds the next lease end without walking every registration: renewals move it, removals cancel it", async () => {
    const { registry, clock } = await open();
    const t0 = clock.now();
    for (let i = 0; i < 200; i++) await registry.register(inst(`l${i}`, { expiresAt: t0 + 10_000 + i * 1000 }));
    expect(registry.nextExpiry()).toBe(t0 + 10_000);
    await registry.register(inst("l0", { expiresAt: t0 + 500_000 })); // renewed
    expect(registry.nextExpiry()).toBe(t0 + 11_000);
    await registry.deregister(cache, "l1");
    expect(registry.nextExpiry()).toBe(t0 + 12_000);
    clock.advance(13_000);
    expect(await registry.expireDue()).toBe(2); // l2 and l3
    expect(registry.instance(cache, "l2")).toBeUndefined();
    expect(registry.instance(cache, "l0")).toBeDefined();
    expect(registry.nextExpiry()).toBe(t0 + 14_000);
  });
});

