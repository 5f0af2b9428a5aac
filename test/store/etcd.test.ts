// The etcd store against a real etcd (Debian's etcd-server).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import { EtcdStore, parseEtcdUrl } from "../../src/store/etcd.js";
import type { StoreOp } from "../../src/store/store.js";
import { startEtcd, type RunningEtcd } from "../lab/etcd.js";
import { missingTool } from "../lab/tools.js";
import { run } from "../lab/daemon.js";
import { storeContract } from "./contract.js";

const skip = missingTool("etcd");
let etcd: RunningEtcd;
let n = 0;
const fresh = () => new EtcdStore({ hosts: [etcd.url], prefix: `/test-${process.pid}-${n++}/` });

describe.skipIf(skip)("etcd", () => {
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(() => etcd?.stop());

  storeContract("etcd", async () => {
    const s = fresh();
    await s.load();
    return s;
  });

  it("one daemon's commits reach another's watch, from the revision it loaded", async () => {
    const prefix = `/shared-${process.pid}/`;
    const a = new EtcdStore({ hosts: [etcd.url], prefix });
    const b = new EtcdStore({ hosts: [etcd.url], prefix });
    await a.load();
    await b.load();
    const seen: StoreOp[] = [];
    b.watch((ops) => seen.push(...ops));
    await new Promise((r) => setTimeout(r, 200));
    await a.put("host/h1", { kind: "host", value: { name: "h1", addresses: ["192.0.2.1"], source: "update" } });
    await a.delete("host/h1");
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((o) => `${o.op} ${o.key}`)).toEqual(["put host/h1", "delete host/h1"]);
    await a.close();
    await b.close();
  });

  it("measures its lag: a heartbeat written to etcd and timed until the watch brings it back", async () => {
    const s = fresh();
    await s.load();
    const stop = s.watch(() => undefined);
    for (let i = 0; i < 100 && s.status().lagMs === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.status().lagMs).toBeGreaterThanOrEqual(0);
    expect(s.status().lagMs).toBeLessThan(1000);
    // heartbeats are not registrations: nothing about them reaches the registry
    expect([...(await s.load()).keys()]).toEqual([]);
    stop();
    await s.close();
  });

  it("a watch that resumes from a compacted revision reads everything again, deletions included", async () => {
    const prefix = `/compact-${process.pid}/`;
    const a = new EtcdStore({ hosts: [etcd.url], prefix });
    const b = new EtcdStore({ hosts: [etcd.url], prefix });
    await a.load();
    await a.put("host/gone", { kind: "host", value: { name: "gone", addresses: ["192.0.2.2"], source: "update" } });
    await b.load(); // b holds "gone" at this revision
    await a.delete("host/gone");
    await a.put("host/new", { kind: "host", value: { name: "new", addresses: ["192.0.2.3"], source: "update" } });
    const rev = /revision":"?(\d+)/.exec(run("etcdctl", ["--endpoints", etcd.url, "-w", "json", "get", "x"]))![1]!;
    run("etcdctl", ["--endpoints", etcd.url, "compact", rev]);
    const seen: StoreOp[] = [];
    b.watch((ops) => seen.push(...ops));
    for (let i = 0; i < 100 && !seen.some((o) => o.key === "host/gone"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((o) => `${o.op} ${o.key}`).sort()).toEqual(["delete host/gone", "put host/new"]);
    await a.close();
    await b.close();
  });

  it("a burst of writes through the registry is committed in groups etcd takes (under its 128 operations per transaction), nothing lost", async () => {
    const store = fresh();
    const registry = new Registry({ clock: systemClock, store });
    await registry.open();
    const web = { service: "_burst", proto: "_tcp" as const };
    const burst = Array.from({ length: 300 }, (_, i) =>
      registry.register({ name: `i${i}`, type: web, subtypes: [], host: [`h${i}`], port: 1000 + i, priority: 0, weight: 1, txt: [], source: "update", expiresAt: Date.now() + 60_000 }, [{ name: `h${i}`, addresses: ["192.0.2.1"], source: "update", expiresAt: Date.now() + 60_000 }]),
    );
    await Promise.all(burst);
    expect(registry.instanceCount(web)).toBe(300);
    const stored = await store.load();
    expect([...stored.keys()].filter((k) => k.startsWith("instance/_burst._tcp/"))).toHaveLength(300);
    await registry.close();
    await store.close();
  });

  it("parses etcd:// URLs", () => {
    expect(parseEtcdUrl("etcd://127.0.0.1:2379,127.0.0.1:22379")).toEqual({ hosts: ["http://127.0.0.1:2379", "http://127.0.0.1:22379"], prefix: "/ringdns/" });
    expect(parseEtcdUrl("etcd://h:1/prod/")).toEqual({ hosts: ["http://h:1"], prefix: "/prod/" });
    expect(() => parseEtcdUrl("http://x")).toThrow(/etcd:\/\/host:port/);
  });
});
