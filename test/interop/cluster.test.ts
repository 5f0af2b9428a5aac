// Several daemons sharing one registry through a real etcd: a registration
// sent to one is answered by the others, and all give the same ring owners.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { run, runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { startEtcd, startEtcdCluster, type RunningEtcd } from "../lab/etcd.js";
import { missingTool } from "../lab/tools.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";

describe.skipIf(missingTool("etcd", "etcdctl", "dig", "nsupdate"))("a cluster on etcd", () => {
  let etcd: RunningEtcd;
  let daemons: RunningDaemon[];
  beforeAll(async () => {
    etcd = await startEtcd();
    const store = `etcd://${etcd.url.replace("http://", "")}/ringdns-test-${process.pid}/`;
    daemons = await Promise.all([0, 1, 2].map(() => startDaemon(["--domain", "svc.example.", "--store", store])));
  });
  afterAll(async () => {
    await Promise.all((daemons ?? []).map((d) => d.stop()));
    await etcd?.stop();
  });

  it("a registration by nsupdate on one daemon is answered by the others at once", async () => {
    const [a, b, c] = daemons as [RunningDaemon, RunningDaemon, RunningDaemon];
    const script = `server 127.0.0.1 ${a.port}\nzone svc.example.\nupdate add _kv._tcp.svc.example. 60 PTR n1._kv._tcp.svc.example.\nupdate add n1._kv._tcp.svc.example. 60 SRV 0 1 7000 n1.svc.example.\nupdate add n1.svc.example. 60 A 192.0.2.70\nsend\n`;
    const t0 = performance.now();
    const r = spawnSync("nsupdate", [], { input: script, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const acked = performance.now();
    for (const d of [b, c]) {
      for (;;) {
        if (dig("dig", "127.0.0.1", d.port, ["n1._kv._tcp.svc.example", "SRV"]).answer.length === 1) break;
        if (performance.now() - t0 > 3000) throw new Error("not replicated within 3 s");
        await new Promise((res) => setTimeout(res, 5));
      }
    }
    const seen = performance.now();
    console.log(`registration acknowledged by A after ${(acked - t0).toFixed(0)} ms; answered by B and C ${(seen - acked).toFixed(0)} ms after the acknowledgement`);
    expect(seen - acked).toBeLessThan(1000);
  });

  it("a leased registration expires in etcd itself after its daemon is killed (kill -9)", async () => {
    const prefix = `/ringdns-lease-${process.pid}/`;
    const lone = await startDaemon(["--domain", "svc.example.", "--store", `etcd://${etcd.url.replace("http://", "")}${prefix}`, "--lease-min", "1"]);
    const ops = registrationUpdate({ instance: "brief", type: "_kv._tcp", host: "brief", addresses: ["192.0.2.77"], port: 1 }, parseName("svc.example."));
    expect((await sendUpdate({ host: "127.0.0.1", port: lone.port }, parseName("svc.example."), ops, { lease: 2 })).rcode).toBe("NOERROR");
    const keys = () => run("etcdctl", ["--endpoints", etcd.url, "get", "--prefix", "--keys-only", prefix]).split("\n").filter(Boolean);
    expect(keys()).toEqual([`${prefix}host/brief`, `${prefix}instance/_kv._tcp/brief`]);
    lone.proc.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 3500));
    expect(keys()).toEqual([]);
  });

  it("with etcd down, reads go on, updates get SERVFAIL; back up, the cluster converges", async () => {
    const [a, b] = daemons as [RunningDaemon, RunningDaemon];
    const zone = parseName("svc.example.");
    const reg = (name: string) => registrationUpdate({ instance: name, type: "_out._tcp", host: name, port: 1 }, zone);
    expect((await sendUpdate({ host: "127.0.0.1", port: a.port }, zone, reg("before"))).rcode).toBe("NOERROR");
    await new Promise((r) => setTimeout(r, 200));
    await etcd.stop();
    // reads from each daemon's replica
    expect(dig("dig", "127.0.0.1", b.port, ["before._out._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
    // nothing is acknowledged that is not stored
    expect((await sendUpdate({ host: "127.0.0.1", port: a.port }, zone, reg("during"), { timeoutMs: 8000 })).rcode).toBe("SERVFAIL");
    expect(dig("dig", "127.0.0.1", a.port, ["during._out._tcp.svc.example", "SRV"]).status).toBe("NXDOMAIN");
    await b.waitForLog(/etcd out of reach: answering from the local replica/, 10_000);
    expect(runCli(["status", "--server", `127.0.0.1:${b.port}`]).stdout).toMatch(/^store=etcd\nhealthy=no \(answering from a possibly stale replica; updates get SERVFAIL\)$/m);
    etcd = await etcd.restart();
    let rcode = "";
    for (let i = 0; i < 50 && rcode !== "NOERROR"; i++) {
      rcode = (await sendUpdate({ host: "127.0.0.1", port: a.port }, zone, reg("after"), { timeoutMs: 8000 })).rcode;
      if (rcode !== "NOERROR") await new Promise((r) => setTimeout(r, 200));
    }
    expect(rcode).toBe("NOERROR");
    for (let i = 0; i < 100 && dig("dig", "127.0.0.1", b.port, ["after._out._tcp.svc.example", "SRV"]).answer.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(dig("dig", "127.0.0.1", b.port, ["after._out._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
    expect(dig("dig", "127.0.0.1", b.port, ["before._out._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
    const status = runCli(["status", "--server", `127.0.0.1:${b.port}`]).stdout;
    expect(status).toMatch(/^healthy=yes$/m);
    expect(status).toMatch(/^revision=\d+$/m);
  });

  it("all daemons give the same _hash owner for 1000 random keys", async () => {
    const [a] = daemons as [RunningDaemon];
    const add = Array.from({ length: 5 }, (_, i) => `update add _kv._tcp.svc.example. 60 PTR m${i}._kv._tcp.svc.example.\nupdate add m${i}._kv._tcp.svc.example. 60 SRV 0 1 ${7100 + i} m${i}.svc.example.`).join("\n");
    expect(spawnSync("nsupdate", [], { input: `server 127.0.0.1 ${a.port}\nzone svc.example.\n${add}\nsend\n`, encoding: "utf8" }).status).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const file = join(mkdtempSync(join(tmpdir(), "ringdns-keys-")), "q");
    writeFileSync(file, Array.from({ length: 1000 }, () => `k${Math.random().toString(36).slice(2)}._hash._kv._tcp.svc.example SRV`).join("\n") + "\n");
    const owners = daemons.map((d) => run("dig", ["@127.0.0.1", "-p", String(d.port), "+short", "-f", file]));
    expect(owners[0]!.trim().split("\n")).toHaveLength(1000);
    expect(new Set(owners[0]!.trim().split("\n")).size).toBeGreaterThan(3);
    expect(owners[1]).toBe(owners[0]);
    expect(owners[2]).toBe(owners[0]);
  });
});

describe.skipIf(missingTool("etcd", "dig"))("a cluster on a three-member etcd", () => {
  it("keeps registering and answering when one etcd member is killed", async () => {
    const cluster = await startEtcdCluster(3);
    const store = `etcd://${cluster.urls.map((u) => u.replace("http://", "")).join(",")}/ringdns-3m-${process.pid}/`;
    const daemons = await Promise.all([0, 1].map(() => startDaemon(["--domain", "svc.example.", "--store", store])));
    try {
      const zone = parseName("svc.example.");
      const reg = (name: string) => registrationUpdate({ instance: name, type: "_m._tcp", host: name, port: 1 }, zone);
      expect((await sendUpdate({ host: "127.0.0.1", port: daemons[0]!.port }, zone, reg("one"))).rcode).toBe("NOERROR");
      await cluster.members[0]!.stop();
      let rcode = "";
      for (let i = 0; i < 30 && rcode !== "NOERROR"; i++) {
        rcode = (await sendUpdate({ host: "127.0.0.1", port: daemons[0]!.port }, zone, reg("two"), { timeoutMs: 8000 })).rcode;
        if (rcode !== "NOERROR") await new Promise((r) => setTimeout(r, 200));
      }
      expect(rcode).toBe("NOERROR");
      for (let i = 0; i < 100 && dig("dig", "127.0.0.1", daemons[1]!.port, ["two._m._tcp.svc.example", "SRV"]).answer.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(dig("dig", "127.0.0.1", daemons[1]!.port, ["two._m._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
      expect(dig("dig", "127.0.0.1", daemons[1]!.port, ["one._m._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
      await cluster.stop();
    }
  });
});
