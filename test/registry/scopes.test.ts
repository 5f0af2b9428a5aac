// Registrations per served domain (issue 14, finding 3): one rule decides
// what each domain answers (src/registry/scopes.ts); rings, expiry, the store,
// replicas fed by the change feed and the answer code all follow it.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { answerQuery } from "../../src/answer/answer.js";
import { ManualClock } from "../../src/clock.js";
import { parseName } from "../../src/names.js";
import { changeToStoreOp, Registry } from "../../src/registry/registry.js";
import type { Host, Instance } from "../../src/registry/types.js";
import { LmdbStore } from "../../src/store/lmdb.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { Store } from "../../src/store/store.js";
import { Type } from "../../src/wire/constants.js";

const kv = { service: "_kv", proto: "_tcp" } as const;
const inst = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  type: kv,
  subtypes: [],
  host: [name],
  port: 1,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
  ...extra,
});
const host = (name: string, address: string, extra: Partial<Host> = {}): Host => ({
  name,
  addresses: [address],
  source: "update",
  ...extra,
});
const keyA = { kind: "key", name: "key-a." } as const;
const keyB = { kind: "key", name: "key-b." } as const;

async function open(store: Store = new MemoryStore(), clock = new ManualClock(1_000_000)) {
  const registry = new Registry({ clock, store });
  await registry.open();
  return registry;
}

const domains = [parseName("local."), parseName("a.example."), parseName("b.example.")];
const srv = (registry: Registry, name: string) =>
  answerQuery(
    { id: 1, opcode: 0, rd: false, cd: false, question: { name: parseName(name), type: Type.SRV, class: 1 } } as never,
    registry,
    { domains, ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    1_000_000,
  ).answers.map((r) => (r.data as { srv: { port: number } }).srv.port);

describe("registrations per domain", () => {
  it("the same label in two domains: two instances, two rings, each answered in its own domain only", async () => {
    const r = await open();
    await r.register(inst("web", { port: 81, domain: "a.example.", owner: keyA }), [
      host("web", "192.0.2.1", { domain: "a.example.", owner: keyA }),
    ]);
    await r.register(inst("web", { port: 80, domain: "b.example.", owner: keyB }), [
      host("web", "192.0.2.2", { domain: "b.example.", owner: keyB }),
    ]);
    expect(r.instance(kv, "web", "a.example.")?.port).toBe(81);
    expect(r.instance(kv, "web", "b.example.")?.port).toBe(80);
    expect(r.instance(kv, "web", "local.")).toBeUndefined();
    expect(r.host("web", "a.example.")?.addresses).toEqual(["192.0.2.1"]);
    expect(r.ownerOf(kv, "k", "b.example.")?.port).toBe(80);
    expect(r.instances(kv)).toHaveLength(2); // without a domain: every registration
    expect(r.instanceCount(kv, "a.example.")).toBe(1);
    expect(r.serviceTypes("local.")).toEqual([]);
    expect(srv(r, "web._kv._tcp.a.example.")).toEqual([81]);
    expect(srv(r, "web._kv._tcp.b.example.")).toEqual([80]);
    expect(srv(r, "web._kv._tcp.local.")).toEqual([]);
    expect(srv(r, "x._hash._kv._tcp.a.example.")).toEqual([81]);
    expect(r.registrationsByKey("key-a.")).toBe(1);
    expect(r.hostsByKey("key-b.")).toBe(1);
    await r.deregister(kv, "web", "a.example.");
    expect(r.instance(kv, "web", "a.example.")).toBeUndefined();
    expect(r.instance(kv, "web", "b.example.")?.port).toBe(80);
  });

  it("static entries are served in every domain, mDNS-learned ones in local. only; a domain's own record wins over one served everywhere", async () => {
    const r = await open();
    r.loadStatic([inst("s", { source: "static" })], []);
    await r.register(inst("m", { source: "mdns" }));
    expect(srv(r, "s._kv._tcp.a.example.")).toEqual([1]);
    expect(srv(r, "s._kv._tcp.local.")).toEqual([1]);
    expect(srv(r, "m._kv._tcp.local.")).toEqual([1]);
    expect(srv(r, "m._kv._tcp.a.example.")).toEqual([]);
    await r.register(inst("m", { port: 7, domain: "local." }));
    expect(srv(r, "m._kv._tcp.local.")).toEqual([7]);
    await r.deregister(kv, "m", "local.");
    expect(srv(r, "m._kv._tcp.local.")).toEqual([1]); // the learned one answers again
  });

  it("a domain lists, counts and rings each name once, its own record or the one served everywhere, as they come and go", async () => {
    const r = await open();
    r.loadStatic([inst("s", { source: "static" }), inst("t", { source: "static" })], []);
    await r.register(inst("m", { source: "mdns" }));
    expect(r.instanceCount(kv, "a.example.")).toBe(2); // a.example.'s view made before its own records
    await r.register(inst("s", { port: 5, domain: "a.example." }));
    await r.register(inst("u", { domain: "a.example." }));
    await r.register(inst("v", { domain: "b.example." })); // b.example.'s view made by its first record
    const served = (domain: string) => {
      const listed = r.instances(kv, domain).map((i) => `${i.name}:${i.port}`);
      expect(r.instanceCount(kv, domain)).toBe(listed.length);
      expect(
        r
          .ring(kv, domain)
          .members()
          .map((m) => m.id)
          .sort(),
      ).toEqual(listed.map((n) => n.split(":")[0]).sort());
      return listed.sort();
    };
    expect(served("a.example.")).toEqual(["s:5", "t:1", "u:1"]);
    expect(served("b.example.")).toEqual(["s:1", "t:1", "v:1"]);
    expect(served("local.")).toEqual(["m:1", "s:1", "t:1"]);
    expect(served("c.example.")).toEqual(["s:1", "t:1"]); // made after them all
    await r.deregister(kv, "s", "a.example.");
    r.loadStatic([inst("t", { source: "static", port: 2 })], []);
    await r.register(inst("m", { port: 3, domain: "local." }));
    expect(served("a.example.")).toEqual(["s:1", "t:2", "u:1"]);
    expect(served("local.")).toEqual(["m:3", "s:1", "t:2"]);
    await r.deregister(kv, "m");
    expect(served("local.")).toEqual(["m:3", "s:1", "t:2"]); // its own record stays
    await r.deregister(kv, "m", "local.");
    expect(served("local.")).toEqual(["s:1", "t:2"]);
    expect(served("c.example.")).toEqual(["s:1", "t:2"]);
  });

  it("a lease that ends takes its instance and its domain's host, not the same-named host of another domain", async () => {
    const clock = new ManualClock(1_000_000);
    const r = await open(new MemoryStore(), clock);
    await r.register(inst("web", { domain: "a.example.", expiresAt: 1_005_000 }), [
      host("web", "192.0.2.1", { domain: "a.example.", expiresAt: 1_005_000 }),
    ]);
    await r.register(inst("web", { domain: "b.example." }), [host("web", "192.0.2.2", { domain: "b.example." })]);
    await r.register(inst("other", { domain: "a.example.", host: ["web"] }));
    clock.advance(6_000);
    await r.expireDue();
    expect(r.instance(kv, "web", "a.example.")).toBeUndefined();
    expect(r.host("web", "a.example.")).toBeUndefined(); // its own lease ended too
    expect(r.host("web", "b.example.")?.addresses).toEqual(["192.0.2.2"]);
    expect(r.instance(kv, "web", "b.example.")).toBeDefined();
  });

  it("another daemon's writes (the store's watch) and a replica fed by the change feed keep domains apart", async () => {
    const store = new MemoryStore();
    const primary = await open(store);
    const replicaFeed = new MemoryStore(); // how a query worker's replica is fed: the primary's changes as store ops
    const replica = await open(replicaFeed);
    primary.onChange((c) => void replicaFeed.inject([changeToStoreOp(c)]));
    await store.inject([
      {
        op: "put",
        key: "instance@a.example./_kv._tcp/web",
        entry: { kind: "instance", value: inst("web", { domain: "a.example.", owner: keyA }) },
      },
    ]);
    await store.inject([
      {
        op: "put",
        key: "instance@b.example./_kv._tcp/web",
        entry: { kind: "instance", value: inst("web", { port: 2, domain: "b.example.", owner: keyB }) },
      },
    ]);
    expect(primary.instance(kv, "web", "a.example.")?.port).toBe(1);
    await store.inject([{ op: "delete", key: "instance@a.example./_kv._tcp/web" }]);
    expect(primary.instance(kv, "web", "a.example.")).toBeUndefined();
    expect(primary.instance(kv, "web", "b.example.")?.port).toBe(2);
    expect(replica.instance(kv, "web", "a.example.")).toBeUndefined();
    expect(replica.instance(kv, "web", "b.example.")).toMatchObject({ port: 2, owner: keyB });
    expect([...primary.entries().keys()]).toEqual(["instance@b.example./_kv._tcp/web"]);
  });

  it("LMDB keeps owner and domain across a reopen; a record without them (an older ringdns) still loads, served everywhere", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-scopes-"));
    let store = await LmdbStore.open(dir);
    let r = await open(store);
    await r.register(inst("web", { domain: "a.example.", owner: keyA, key: "key-a." }), [
      host("web", "192.0.2.1", { domain: "a.example.", owner: keyA }),
    ]);
    await store.commit([{ op: "put", key: "instance/_kv._tcp/old", entry: { kind: "instance", value: inst("old") } }]);
    await store.close();
    store = await LmdbStore.open(dir);
    r = await open(store);
    expect(r.instance(kv, "web", "a.example.")).toMatchObject({ owner: keyA, domain: "a.example." });
    expect(r.host("web", "a.example.")).toMatchObject({ owner: keyA, domain: "a.example." });
    expect(r.instance(kv, "web", "b.example.")).toBeUndefined();
    for (const d of ["local.", "a.example.", "b.example."]) expect(r.instance(kv, "old", d)?.name).toBe("old");
    await store.close();
  });
});
