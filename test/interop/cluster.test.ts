// Three daemons sharing one registry through a real three-member etcd
// cluster, in one run, as an operator would see it: nsupdate on one daemon is
// answered by dig on the others within 100 ms; all agree on _hash owners; a
// killed daemon's leased registrations expire; one etcd member down changes
// nothing; all of etcd down leaves reads working and updates refused, and
// after etcd comes back the cluster converges with nothing acknowledged lost.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryServer } from "../../src/client/dns-client.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import { run, runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { eventually } from "../lab/wait.js";
import { dig } from "../lab/dig.js";
import { clusterHealthy, startEtcdCluster, type EtcdCluster } from "../lab/etcd.js";
import { missingTool } from "../lab/tools.js";

const zone = parseName("svc.example.");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const srv = (d: RunningDaemon, name: string) => dig("dig", "127.0.0.1", d.port, [`${name}.svc.example`, "SRV"]);
const reg = (name: string, type = "_kv._tcp") =>
  registrationUpdate({ instance: name, type, host: name, port: 7000, addresses: ["192.0.2.70"] }, zone);

/** Retry an UPDATE until it is acknowledged (the etcd client reconnects after an outage). */
async function updateUntilAcked(d: RunningDaemon, name: string, type: string): Promise<void> {
  let rcode = "";
  for (let i = 0; i < 60 && rcode !== "NOERROR"; i++) {
    rcode = (await sendUpdate({ host: "127.0.0.1", port: d.port }, zone, reg(name, type), { timeoutMs: 8000 })).rcode;
    if (rcode !== "NOERROR") await sleep(250);
  }
  expect(rcode, `update ${name}`).toBe("NOERROR");
}

async function answeredEverywhere(daemons: RunningDaemon[], name: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const d of daemons) {
    while (srv(d, name).answer.length === 0 && Date.now() < until) await sleep(100);
    expect(srv(d, name).answer, `${name} on port ${d.port}`).toHaveLength(1);
  }
}

describe.skipIf(missingTool("etcd", "etcdctl", "dig", "nsupdate"))(
  "three daemons on a three-member etcd cluster",
  () => {
    let cluster: EtcdCluster;
    let daemons: RunningDaemon[];
    let store: string;
    const acknowledged: string[] = []; // _ack._tcp instances the cluster said yes to

    beforeAll(async () => {
      cluster = await startEtcdCluster(3);
      store = cluster.storeUrl(`ringdns-test-${process.pid}`);
      daemons = await Promise.all(
        ["a", "b", "c"].map((node) =>
          startDaemon([
            "--domain",
            "svc.example.",
            "--store",
            store,
            "--lease-min",
            "1",
            "--node-name",
            node,
            "--http",
            "127.0.0.1:0",
          ]),
        ),
      );
    }, 60_000);
    afterAll(async () => {
      await Promise.all((daemons ?? []).map((d) => d.stop()));
      await cluster?.stop();
    });

    it("a registration by nsupdate on A is answered by dig on B and C within 100 ms", async () => {
      const [a, b, c] = daemons as [RunningDaemon, RunningDaemon, RunningDaemon];
      const delays: number[] = [];
      for (let round = 0; round < 5; round++) {
        const name = `n${round}`;
        const script = `server 127.0.0.1 ${a.port}\nzone svc.example.\nupdate add _kv._tcp.svc.example. 60 PTR ${name}._kv._tcp.svc.example.\nupdate add ${name}._kv._tcp.svc.example. 60 SRV 0 1 7000 ${name}.svc.example.\nupdate add ${name}.svc.example. 60 A 192.0.2.70\nsend\n`;
        const r = spawnSync("nsupdate", [], { input: script, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        const acked = performance.now();
        // poll B and C in-process (a dig per poll would add its own start-up to the figure)
        await Promise.all(
          [b, c].map(async (d) => {
            while (
              (
                await queryServer(
                  { host: "127.0.0.1", port: d.port },
                  parseName(`${name}._kv._tcp.svc.example.`),
                  Type.SRV,
                )
              ).answers.length === 0
            ) {
              if (performance.now() - acked > 3000) throw new Error(`${name} not replicated within 3 s`);
              await sleep(1);
            }
          }),
        );
        delays.push(performance.now() - acked);
        for (const d of [b, c])
          expect(srv(d, `${name}._kv._tcp`).answer.map((x) => x.rdata)).toEqual([`0 1 7000 ${name}.svc.example.`]);
      }
      // B's HTTP API tells A's registration (source cluster, from node a) from its own
      const viewOnB = async (type: string, name: string) =>
        (await (await fetch(`http://127.0.0.1:${b.httpPort}/v1/types/${type}/instances/${name}`)).json()) as {
          source: string;
          origin?: unknown;
        };
      expect(await viewOnB("_kv._tcp", "n0")).toMatchObject({
        source: "cluster",
        origin: { node: "a", source: "update" },
      });
      expect((await sendUpdate({ host: "127.0.0.1", port: b.port }, zone, reg("local-to-b", "_bee._tcp"))).rcode).toBe(
        "NOERROR",
      );
      expect(await viewOnB("_bee._tcp", "local-to-b")).toMatchObject({ source: "update" });
      expect((await viewOnB("_bee._tcp", "local-to-b")).origin).toBeUndefined();
      expect(runCli(["status", "--server", `127.0.0.1:${b.port}`]).stdout).toMatch(/^node=b$/m);
      const median = [...delays].sort((x, y) => x - y)[2]!;
      console.log(
        `nsupdate on A -> answered by B and C: ${delays.map((d) => d.toFixed(1)).join(", ")} ms after A's acknowledgement (median ${median.toFixed(1)} ms)`,
      );
      expect(median).toBeLessThan(100);
    });

    it("all daemons give the same _hash owner for 1000 random keys", () => {
      const file = join(mkdtempSync(join(tmpdir(), "ringdns-keys-")), "q");
      writeFileSync(
        file,
        `${Array.from(
          { length: 1000 },
          () => `k${Math.random().toString(36).slice(2)}._hash._kv._tcp.svc.example SRV`,
        ).join("\n")}\n`,
      );
      const owners = daemons.map((d) => run("dig", ["@127.0.0.1", "-p", String(d.port), "+short", "-f", file]));
      expect(owners[0]!.trim().split("\n")).toHaveLength(1000);
      expect(new Set(owners[0]!.trim().split("\n")).size).toBe(5); // n0..n4 all own some keys
      expect(owners[1]).toBe(owners[0]);
      expect(owners[2]).toBe(owners[0]);
    });

    it("kill -9 of a daemon holding leased registrations: they expire, in etcd and on every daemon", async () => {
      const lone = await startDaemon(["--domain", "svc.example.", "--store", store, "--lease-min", "1"]);
      expect((await sendUpdate({ host: "127.0.0.1", port: lone.port }, zone, reg("brief"), { lease: 2 })).rcode).toBe(
        "NOERROR",
      );
      await answeredEverywhere(daemons, "brief._kv._tcp");
      lone.proc.kill("SIGKILL");
      // the 2 s lease ends with no daemon of its own left: every other daemon and etcd itself let it go
      for (const d of daemons)
        await eventually(
          `brief expired on daemon :${d.port}`,
          () => srv(d, "brief._kv._tcp").status === "NXDOMAIN",
          10_000,
        );
      const prefix = store.slice(store.indexOf("/", "etcd://".length));
      expect(
        run("etcdctl", [
          "--endpoints",
          cluster.urls.join(","),
          "get",
          "--prefix",
          "--keys-only",
          `${prefix}instance@svc.example./_kv._tcp/brief`,
        ]).trim(),
      ).toBe("");
    });

    it("one etcd member killed: updates are acknowledged and answered everywhere", async () => {
      await updateUntilAcked(daemons[0]!, "before-outage", "_ack._tcp");
      acknowledged.push("before-outage");
      await cluster.members[0]!.stop();
      for (const [i, d] of daemons.entries()) {
        await updateUntilAcked(d, `one-down-${i}`, "_ack._tcp");
        acknowledged.push(`one-down-${i}`);
      }
      for (const name of acknowledged) await answeredEverywhere(daemons, `${name}._ack._tcp`);
    });

    it("all of etcd stopped: reads go on, updates get SERVFAIL; etcd back: converged, nothing acknowledged lost", async () => {
      await Promise.all(cluster.members.map((m) => m.stop()));
      for (const d of daemons)
        for (const name of acknowledged) expect(srv(d, `${name}._ack._tcp`).answer).toHaveLength(1);
      const refused = await sendUpdate(
        { host: "127.0.0.1", port: daemons[1]!.port },
        zone,
        reg("during", "_ack._tcp"),
        { timeoutMs: 15_000 },
      );
      expect(refused.rcode).toBe("SERVFAIL");
      for (const d of daemons) expect(srv(d, "during._ack._tcp").status).toBe("NXDOMAIN");
      await daemons[2]!.waitForLog(/etcd out of reach: answering from the local replica/, 15_000);
      const down = runCli(["status", "--server", `127.0.0.1:${daemons[2]!.port}`]).stdout;
      expect(down).toMatch(/^healthy=no \(answering from a possibly stale replica; see reason\)$/m);
      expect(down).toMatch(/^reason=etcd out of reach for \d+ s \(\d+ reconnects failed\)/m);

      await Promise.all(cluster.members.map((m) => m.restart()));
      await clusterHealthy(cluster);
      for (const [i, d] of daemons.entries()) {
        await updateUntilAcked(d, `after-${i}`, "_ack._tcp");
        acknowledged.push(`after-${i}`);
      }
      for (const name of acknowledged) await answeredEverywhere(daemons, `${name}._ack._tcp`);
      for (const d of daemons) {
        const browse = dig("dig", "127.0.0.1", d.port, ["_ack._tcp.svc.example", "PTR"])
          .answer.map((x) => x.rdata.split(".")[0])
          .sort();
        expect(browse).toEqual([...acknowledged].sort()); // everything acknowledged, nothing refused
        // the first heartbeat after the outage measured the outage; the next ones are back to milliseconds
        const lag = (st: string) => Number(/^lag-ms=(\d+)$/m.exec(st)?.[1]);
        let status = runCli(["status", "--server", `127.0.0.1:${d.port}`]).stdout;
        for (let i = 0; i < 30 && !(lag(status) < 1000); i++) {
          await sleep(200);
          status = runCli(["status", "--server", `127.0.0.1:${d.port}`]).stdout;
        }
        expect(status).toMatch(/^healthy=yes$/m);
        expect(status).not.toMatch(/^reason=/m);
        expect(status).toMatch(/^revision=\d+$/m);
        expect(lag(status)).toBeLessThan(1000);
      }
    });
  },
);
