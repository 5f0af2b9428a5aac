// The etcd store against a real etcd (Debian's etcd-server).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { Etcd3 } from "etcd3";
import { Registry, instanceStoreKey } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { encodeEntry } from "../../src/store/codec.js";
import { EtcdStore, parseEtcdUrl } from "../../src/store/etcd.js";
import type { EtcdClient } from "../../src/store/etcd-range.js";
import type { StoreEntry, StoreOp } from "../../src/store/store.js";
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
    for (let i = 0; i < 100 && !seen.some((o) => o.key === "host/gone"); i++)
      await new Promise((r) => setTimeout(r, 20));
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
      registry.register(
        {
          name: `i${i}`,
          type: web,
          subtypes: [],
          host: [`h${i}`],
          port: 1000 + i,
          priority: 0,
          weight: 1,
          txt: [],
          source: "update",
          expiresAt: Date.now() + 60_000,
        },
        [{ name: `h${i}`, addresses: ["192.0.2.1"], source: "update", expiresAt: Date.now() + 60_000 }],
      ),
    );
    await Promise.all(burst);
    expect(registry.instanceCount(web)).toBe(300);
    const stored = await store.load();
    expect([...stored.keys()].filter((k) => k.startsWith("instance/_burst._tcp/"))).toHaveLength(300);
    await registry.close();
    await store.close();
  });

  it("a prefix bigger than one gRPC reply (4 MiB by default) is read in pages at one revision; the watch goes on from there, and a resync lists every key again but fetches only what changed", async () => {
    // 12,000 registrations of ~430 bytes: about 5 MiB, more than the client takes in one reply
    const prefix = `/big-${process.pid}/`;
    const count = 12_000;
    const web = { service: "_big", proto: "_tcp" as const };
    const pad = new Uint8Array(Buffer.from(`path=/${"x".repeat(250)}`));
    const writer = new Etcd3({ hosts: [etcd.url] });
    const batches: Array<Array<[string, string]>> = [];
    for (let i = 0; i < count; i++) {
      const inst: Instance = {
        name: `i${i}`,
        type: web,
        subtypes: [],
        host: [`h${i}`],
        port: 1000 + (i % 60000),
        priority: 0,
        weight: 1,
        txt: [pad],
        source: "update",
      };
      if (i % 128 === 0) batches.push([]);
      batches
        .at(-1)!
        .push([prefix + instanceStoreKey(inst), JSON.stringify(encodeEntry({ kind: "instance", value: inst }))]);
    }
    // eight transactions of at most 128 ops in flight at a time
    for (let b = 0; b < batches.length; b += 8)
      await Promise.all(
        batches
          .slice(b, b + 8)
          .map((batch) =>
            writer.stm({ retries: 0 }).transact((tx) => Promise.all(batch.map(([k, v]) => tx.put(k).value(v)))),
          ),
      );
    const stored = await writer.getAll().prefix(prefix).count();
    expect(stored).toBe(count);

    const store = new EtcdStore({ hosts: [etcd.url], prefix });
    const registry = new Registry({ clock: systemClock, store });
    await registry.open();
    expect(registry.instanceCount(web)).toBe(count);
    // the watch starts after the revision the pages were read at: a later write arrives, nothing is read twice
    const other = new EtcdStore({ hosts: [etcd.url], prefix });
    await other.load();
    const late: Instance = {
      name: "late",
      type: web,
      subtypes: [],
      host: ["late"],
      port: 1,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update",
    };
    await other.put(instanceStoreKey(late), { kind: "instance", value: late });
    for (let i = 0; i < 100 && registry.instanceCount(web) === count; i++) await new Promise((r) => setTimeout(r, 20));
    expect(registry.instanceCount(web)).toBe(count + 1);
    await registry.close();
    await store.close();

    // a replica whose place was compacted away reads the big prefix again, in pages
    // (its status while that read runs is taken when it logs the start)
    const logged: Array<{
      level: string;
      msg: string;
      obj: Record<string, unknown>;
      healthy: boolean;
      reason?: string;
    }> = [];
    const record = (level: string) => (obj: object, msg: string) => {
      const st = behind.status();
      logged.push({
        level,
        msg,
        obj: obj as Record<string, unknown>,
        healthy: st.healthy,
        ...(st.reason !== undefined ? { reason: st.reason } : {}),
      });
    };
    const behind = new EtcdStore({ hosts: [etcd.url], prefix }, { warn: record("warn"), info: record("info") });
    expect((await behind.load()).size).toBe(count + 1);
    // two changes, so the revision the watch resumes from is older than the compacted one
    const later: Instance = { ...late, name: "later", host: ["later"] };
    await other.delete(instanceStoreKey(late));
    await other.put(instanceStoreKey(later), { kind: "instance", value: later });
    const rev = /revision":"?(\d+)/.exec(run("etcdctl", ["--endpoints", etcd.url, "-w", "json", "get", "x"]))![1]!;
    run("etcdctl", ["--endpoints", etcd.url, "compact", rev]);
    const deliveries: StoreOp[][] = [];
    behind.watch((ops) => deliveries.push([...ops]));
    for (let i = 0; i < 200 && !logged.some((l) => l.level === "info" && /read again/.test(l.msg)); i++)
      await new Promise((r) => setTimeout(r, 20));
    // what changed, in one delivery: not 12,000 puts of what the replica already holds
    expect(deliveries.map((ops) => ops.map((o) => `${o.op} ${o.key}`))).toEqual([
      [`put ${instanceStoreKey(later)}`, `delete ${instanceStoreKey(late)}`],
    ]);
    const resync = logged.filter((l) => /compaction|read again/.test(l.msg));
    expect(resync.map((l) => [l.level, l.healthy])).toEqual([
      ["warn", false],
      ["info", false],
    ]);
    expect(resync[0]!.reason).toMatch(/reading the replica again/);
    expect(resync[1]!.obj).toMatchObject({ entries: count + 1, changed: 1, removed: 1 });
    expect(resync[1]!.obj.ms).toBeTypeOf("number");
    // every key is listed again (keys only, in pages), but only what changed is fetched and decoded:
    // the one new entry, not the ~7 MB of the rest
    const { pages, bytes } = resync[1]!.obj as { pages: number; bytes: number };
    expect(pages).toBeGreaterThan(1);
    expect(bytes).toBeLessThan(4096);
    expect(behind.status()).toMatchObject({ healthy: true });
    expect(behind.status().reason).toBeUndefined();
    await behind.close();
    await other.close();
    await writer.delete().prefix(prefix);
    writer.close();
  }, 30_000);

  it("a resync after a compaction leaves the replica exactly as etcd is: keys deleted, added and changed while it was cut off, at the edges and between its key ranges", async () => {
    // more keys than one keys-only page of a resync, so it reads several ranges bounded by the keys it saw
    const prefix = `/resync-exact-${process.pid}/`;
    const writer = new Etcd3({ hosts: [etcd.url] });
    const host = (name: string, address = "192.0.2.5") =>
      JSON.stringify(encodeEntry({ kind: "host", value: { name, addresses: [address], source: "update" } }));
    const name = (i: number) => `h${String(i).padStart(5, "0")}`;
    const count = 12_000;
    for (let b = 0; b < count; b += 120)
      await writer
        .stm({ retries: 0 })
        .transact((tx) =>
          Promise.all(
            Array.from({ length: 120 }, (_, i) => tx.put(`${prefix}host/${name(b + i)}`).value(host(name(b + i)))),
          ),
        );
    const replica = new Map<string, StoreEntry>();
    const store = new EtcdStore({ hosts: [etcd.url], prefix });
    for (const [k, e] of await store.load()) replica.set(k, e);
    // while it is not following: deletions, additions and changes, first and last keys included
    for (const i of [0, 1, 4_999, 5_000, 5_001, 9_999, 10_000, count - 1])
      await writer.delete().key(`${prefix}host/${name(i)}`);
    for (const n of ["a-first", name(5_000), "h05000x", `${name(7_777)}x`, "zz-last"])
      await writer.put(`${prefix}host/${n}`).value(host(n));
    for (const i of [2, 4_998, 6_000, count - 2])
      await writer.put(`${prefix}host/${name(i)}`).value(host(name(i), "192.0.2.99"));
    const rev = /revision":"?(\d+)/.exec(run("etcdctl", ["--endpoints", etcd.url, "-w", "json", "get", "x"]))![1]!;
    run("etcdctl", ["--endpoints", etcd.url, "compact", rev]);
    let resynced = false;
    store.watch((ops) => {
      for (const o of ops) o.op === "put" ? replica.set(o.key, o.entry) : replica.delete(o.key);
      resynced = true;
    });
    for (let i = 0; i < 250 && !(resynced && store.status().healthy); i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.status().healthy).toBe(true);
    const fresh = new EtcdStore({ hosts: [etcd.url], prefix });
    const truth = await fresh.load();
    expect(replica.size).toBe(truth.size);
    expect(Object.fromEntries(replica)).toEqual(Object.fromEntries(truth));
    // and what it compares the next resync with is etcd's mod revision of every key, unmarked
    const known = (store as unknown as { known: Map<string, number> }).known;
    expect(Object.fromEntries(known)).toEqual(
      Object.fromEntries((fresh as unknown as { known: Map<string, number> }).known),
    );
    await store.close();
    await fresh.close();
    await writer.delete().prefix(prefix);
    writer.close();
  }, 60_000);

  it("a paged read whose revision is compacted away between two pages starts over and returns the newer snapshot", async () => {
    const prefix = `/compact-mid-read-${process.pid}/`;
    const writer = new Etcd3({ hosts: [etcd.url] });
    const host = (name: string) =>
      JSON.stringify(encodeEntry({ kind: "host", value: { name, addresses: ["192.0.2.4"], source: "update" } }));
    // more keys than the first page takes
    for (let b = 0; b < 3; b++)
      await writer
        .stm({ retries: 0 })
        .transact((tx) =>
          Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              tx.put(`${prefix}host/h${b * 100 + i}`).value(host(`h${b * 100 + i}`)),
            ),
          ),
        );
    const store = new EtcdStore({ hosts: [etcd.url], prefix });
    // once the first page of values is in: one more write, and the history up to it compacted
    const client = (store as unknown as { client: EtcdClient }).client;
    const rangeReply = client.rangeReply.bind(client);
    let pages = 0;
    client.rangeReply = async (request) => {
      const res = await rangeReply(request);
      if (!request.keysOnly && ++pages === 1) {
        const put = await writer.put(`${prefix}host/extra`).value(host("extra")).exec();
        run("etcdctl", ["--endpoints", etcd.url, "compact", String(put.header.revision)]);
      }
      return res;
    };
    const loaded = await store.load();
    expect(loaded.size).toBe(301);
    expect(loaded.has("host/extra")).toBe(true);
    expect(pages).toBeGreaterThan(2); // the first try's two pages, then the second try's
    await store.close();
    await writer.delete().prefix(prefix);
    writer.close();
  });

  it("an outage is logged once (not at every reconnect the watch tries) and reported unhealthy with a reason until etcd answers again", async () => {
    const own = await startEtcd();
    const warns: string[] = [];
    const infos: Array<Record<string, unknown>> = [];
    const store = new EtcdStore(
      { hosts: [own.url], prefix: "/outage/" },
      { warn: (_o, msg) => warns.push(msg), info: (o, msg) => infos.push({ ...o, connected: /connected/.test(msg) }) },
    );
    await store.load();
    store.watch(() => undefined);
    for (let i = 0; i < 100 && !infos.some((o) => o.connected); i++) await new Promise((r) => setTimeout(r, 20));
    await own.stop();
    for (let i = 0; i < 200 && store.status().healthy; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.status()).toMatchObject({ healthy: false, reason: expect.stringMatching(/^etcd out of reach/) });
    // the watch retries meanwhile, each failure a "disconnected" event: one line for all of them
    for (let i = 0; i < 200 && !/[3-9] reconnects failed|\d\d+ reconnects/.test(store.status().reason ?? ""); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(store.status().reason).toMatch(/reconnects failed/);
    expect(warns.filter((m) => /out of reach/.test(m))).toHaveLength(1);
    // healthy again soon after etcd answers (the watch reconnects within about 2 s, not etcd3's up to 30)
    const again = await own.restart();
    const back = Date.now();
    for (let i = 0; i < 500 && !store.status().healthy; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.status().healthy).toBe(true);
    expect(Date.now() - back).toBeLessThan(8000);
    expect(infos.at(-1)).toMatchObject({ seconds: expect.any(Number), reconnects: expect.any(Number) });
    expect(infos.at(-1)!.reconnects).toBeGreaterThanOrEqual(3);
    await store.close();
    await again.stop();
  }, 30_000);

  it("parses etcd:// URLs", () => {
    expect(parseEtcdUrl("etcd://127.0.0.1:2379,127.0.0.1:22379")).toEqual({
      hosts: ["http://127.0.0.1:2379", "http://127.0.0.1:22379"],
      prefix: "/ringdns/",
    });
    expect(parseEtcdUrl("etcd://h:1/prod/")).toEqual({ hosts: ["http://h:1"], prefix: "/prod/" });
    expect(() => parseEtcdUrl("http://x")).toThrow(/etcd:\/\/host:port/);
  });
});
