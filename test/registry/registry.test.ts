import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import type { Change, Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { Store, StoreOp } from "../../src/store/store.js";
import { StoreConflict } from "../../src/registry/store-contract.js";

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
    expect(changes.map((c) => `${c.op} ${c.kind}`)).toEqual([
      "add host",
      "add instance",
      "update instance",
      "remove instance",
    ]);
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

  describe("writes one at a time", () => {
    /** A store that holds every commit until the test lets it through, as a slow disk would. */
    class HeldStore extends MemoryStore {
      /** Ops per commit at most, as a store may say (etcd: 64); none unless given. */
      constructor(readonly maxCommitOps?: number) {
        super();
      }
      readonly held: (() => void)[] = [];
      /** Ops per commit, in order. */
      readonly commits: number[] = [];
      holding = false;
      override async commit(ops: readonly StoreOp[]): Promise<void> {
        this.commits.push(ops.length);
        if (this.holding) await new Promise<void>((go) => this.held.push(go));
        return super.commit(ops);
      }
      release(): void {
        this.holding = false;
        for (const go of this.held.splice(0)) go();
      }
    }
    const tick = () => new Promise((r) => setImmediate(r));

    it("a lease that ran out is not removed over the registration that replaced it while its commit was under way", async () => {
      const store = new HeldStore();
      const { registry, clock } = await open(store);
      await registry.register(inst("renewed", { expiresAt: clock.now() + 1000 }));
      clock.advance(1000);
      store.holding = true;
      const replaced = registry.register(inst("renewed", { port: 2 })); // no lease now
      await tick();
      const expired = registry.expireDue();
      await tick();
      store.release();
      await Promise.all([replaced, expired]);
      expect(registry.instance(cache, "renewed")).toMatchObject({ port: 2 });
      expect(registry.instance(cache, "renewed")?.expiresAt).toBeUndefined();
      expect([...(await store.load()).keys()]).toEqual(["instance/_cache._tcp/renewed"]);
    });

    it("each plan sees what the writes asked for before it left, in order", async () => {
      const store = new HeldStore();
      const { registry } = await open(store);
      store.holding = true;
      const claim = () =>
        registry.transact((view) =>
          view.instance(cache, "x")
            ? { ops: [], result: "taken" }
            : { ops: [{ op: "put-instance" as const, instance: inst("x") }], result: "mine" },
        );
      const first = claim();
      const second = claim();
      await tick();
      store.release();
      expect(await Promise.all([first, second])).toEqual(["mine", "taken"]);
    });

    it("writes that queue up are committed together, each planned against the ones before it", async () => {
      const store = new HeldStore();
      const { registry } = await open(store);
      store.holding = true;
      const first = registry.register(inst("first"));
      await tick(); // the first write is committing; the next ones queue behind it
      const queued = ["a", "b", "c"].map((n) =>
        registry.transact((view) => ({
          ops: [{ op: "put-instance" as const, instance: inst(n, { port: view.instanceCount(cache) }) }],
          result: n,
        })),
      );
      store.release();
      store.holding = false;
      await first;
      expect(await Promise.all(queued)).toEqual(["a", "b", "c"]);
      expect(store.commits).toEqual([1, 3]);
      expect(["a", "b", "c"].map((n) => registry.instance(cache, n)?.port)).toEqual([1, 2, 3]);
    });

    it("a services file reloaded while an UPDATE is being stored is not overwritten by it", async () => {
      const store = new HeldStore();
      const { registry } = await open(store);
      store.holding = true;
      const update = registry.register(inst("s", { port: 1 })); // planned while "s" was not static
      await tick();
      const reload = registry.replaceStatic([inst("s", { source: "static", port: 2 })], []);
      store.release();
      await Promise.all([update, reload]);
      expect(registry.instance(cache, "s")).toMatchObject({ source: "static", port: 2 });
    });

    it("no commit carries more than the store's limit (etcd: 64, under its 128 per transaction): a write that would go past waits for the next", async () => {
      const store = new HeldStore(64);
      const { registry } = await open(store);
      store.holding = true;
      const first = registry.register(inst("first"));
      await tick();
      const small = Array.from({ length: 30 }, (_, i) =>
        registry.register(inst(`s${i}`), [{ name: `s${i}`, addresses: ["192.0.2.1"], source: "update" }]),
      ); // 2 ops each
      const big = registry.apply(
        Array.from({ length: 50 }, (_, i) => ({ op: "put-instance" as const, instance: inst(`b${i}`) })),
      );
      store.release();
      store.holding = false;
      await Promise.all([first, ...small, big]);
      expect(store.commits).toEqual([1, 60, 50]);
      expect(registry.instanceCount(cache)).toBe(81);
    });

    it("on a store without a limit (LMDB), every write queued during a commit goes in the next one", async () => {
      const store = new HeldStore();
      const { registry } = await open(store);
      store.holding = true;
      const first = registry.register(inst("first"));
      await tick();
      const queued = Array.from({ length: 64 }, (_, i) =>
        registry.register(inst(`s${i}`), [{ name: `s${i}`, addresses: ["192.0.2.1"], source: "update" }]),
      ); // 2 ops each
      store.release();
      store.holding = false;
      await Promise.all([first, ...queued]);
      expect(store.commits).toEqual([1, 128]);
    });

    it("a failed commit fails the writes committed with it, and the line goes on", async () => {
      const store = new MemoryStore();
      const { registry } = await open(store);
      const commit = store.commit.bind(store);
      store.commit = async () => {
        store.commit = commit;
        throw new Error("disk full");
      };
      const failed = [registry.register(inst("a")), registry.register(inst("b"))];
      for (const f of failed) await expect(f).rejects.toThrow("disk full");
      await registry.register(inst("c"));
      expect(registry.instances(cache).map((i) => i.name)).toEqual(["c"]);
    });
  });
});

describe("Registry change listeners", () => {
  it("one that throws is reported; the change is applied whole and the other listeners still hear it", async () => {
    const { onInternalError } = await import("../../src/guard.js");
    const caught: string[] = [];
    const previous = onInternalError((where) => caught.push(where));
    try {
      const { registry, changes } = await open();
      registry.onChange(() => {
        throw new Error("a frontend's bug");
      });
      const after: string[] = [];
      registry.onChange((c) => after.push(c.op));
      await registry.register(inst("Alpha"), [{ name: "alpha", addresses: ["192.0.2.1"], source: "update" }]);
      expect(registry.instance(cache, "alpha")?.port).toBe(11211);
      expect(registry.host("alpha")?.addresses).toEqual(["192.0.2.1"]);
      expect(changes).toHaveLength(2);
      expect(after).toEqual(["add", "add"]);
      expect(caught).toEqual(["registry change listener", "registry change listener"]);
    } finally {
      onInternalError(previous);
    }
  });
});

describe("SRP claims in the registry", () => {
  /** A shared store where another daemon's claim lands while our commit is on its way: the commit is refused. */
  class RacedStore extends MemoryStore {
    raced = false;
    async commit(ops: readonly StoreOp[]): Promise<void> {
      const claim = ops.find((o) => o.key.startsWith("claim/"));
      if (claim && !this.raced) {
        this.raced = true;
        const theirs = { record: claim.key.slice(6), key: "15:theirs", expiresAt: 2_000_000_000_000 };
        await this.inject([{ op: "put", key: claim.key, entry: { kind: "claim", value: theirs } }]);
        throw new StoreConflict("another daemon changed an SRP claim this write read");
      }
      return super.commit(ops);
    }
  }

  it("a commit refused by a conflict is planned again against what the other daemon wrote", async () => {
    const store = new RacedStore();
    const registry = new Registry({ clock: new ManualClock(1_800_000_000_000), store });
    await registry.open();
    let plans = 0;
    const result = await registry.transact((view) => {
      plans++;
      const held = view.claim("host@x./printer");
      if (held && held.key !== "13:ours") return { ops: [], result: "YXDOMAIN" };
      return {
        ops: [{ op: "put-claim", claim: { record: "host@x./printer", key: "13:ours", expiresAt: 1_900_000_000_000 } }],
        result: "NOERROR",
      };
    });
    expect(result).toBe("YXDOMAIN");
    expect(plans).toBe(2);
    expect(registry.claim("host@x./printer")?.key).toBe("15:theirs");
    expect(registry.claimsOf("15:theirs")).toEqual(["host@x./printer"]);
  });

  it("a claim's write carries the claim the plan read, for a shared store to compare", async () => {
    const seen: StoreOp[] = [];
    const store = new MemoryStore();
    const commit = store.commit.bind(store);
    store.commit = async (ops) => {
      seen.push(...ops);
      return commit(ops);
    };
    const registry = new Registry({ clock: new ManualClock(0), store });
    await registry.open();
    const claim = { record: "host@x./lamp", key: "13:k", expiresAt: 5000 };
    await registry.apply([{ op: "put-claim", claim }]);
    await registry.apply([{ op: "put-claim", claim: { ...claim, expiresAt: 9000 } }]);
    expect(seen.map((o) => o.expect)).toEqual([null, claim]);
  });
});
