// mDNS in a cluster: two LANs (two labs), a daemon on each, sharing one etcd
// over a backbone link. A zeroconf service on LAN 1 is learned by daemon A,
// written to etcd leased by its TTL, and answered by daemon B over unicast
// DNS; B never announces it on LAN 2 (it was not heard there), while B's own
// registrations are announced there as usual. The service's goodbye removes
// it everywhere.
import { spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../lab/daemon.js";
import { parseDig } from "../lab/dig.js";
import { canBuildLab, createLab, linkHosts, type Lab, type LabHost } from "../lab/netns.js";
import { missingTool } from "../lab/tools.js";

const PEER = new URL("../lab/zeroconf_peer.py", import.meta.url).pathname;
const labMissing = !canBuildLab();
if (labMissing && process.env.CI)
  throw new Error("the mDNS lab needs root and ip netns (iproute2), and CI has neither");
const zeroconfMissing = spawnSync("/usr/bin/python3", ["-c", "import zeroconf"], { stdio: "ignore" }).status !== 0;
if (zeroconfMissing && process.env.CI)
  throw new Error("python3-zeroconf is not installed, and CI needs it (see .ci/run)");
const skip = labMissing || zeroconfMissing || missingTool("etcd", "etcdctl", "dig", "nsupdate");

function jsonLines(child: ChildProcess): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {
      /* not an event */
    }
  });
  return lines;
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)("mDNS across a cluster: two LANs, two daemons, one etcd", () => {
  let lan1: Lab;
  let lan2: Lab;
  let a: LabHost; // daemon A and etcd, on LAN 1
  let peer1: LabHost; // a zeroconf service on LAN 1
  let b: LabHost; // daemon B, on LAN 2
  let peer2: LabHost; // a zeroconf browser on LAN 2
  let etcdUrl: string;
  let logs = "";
  const digOn = (h: LabHost, name: string, type: string) =>
    parseDig(h.run("dig", ["@127.0.0.1", "-p", "8053", "+time=1", "+tries=1", name, type]).stdout);

  beforeAll(async () => {
    lan1 = createLab(2);
    lan2 = createLab(2);
    [a, peer1] = lan1.hosts as [LabHost, LabHost];
    [b, peer2] = lan2.hosts as [LabHost, LabHost];
    const backbone = linkHosts(a, b);
    etcdUrl = `http://${backbone.a}:2379`;
    a.spawn("etcd", [
      "--name",
      "bb",
      "--data-dir",
      `/tmp/ringdns-etcd-bb-${process.pid}`,
      "--listen-client-urls",
      etcdUrl,
      "--advertise-client-urls",
      etcdUrl,
      "--listen-peer-urls",
      "http://127.0.0.1:2380",
      "--initial-advertise-peer-urls",
      "http://127.0.0.1:2380",
      "--initial-cluster",
      "bb=http://127.0.0.1:2380",
      "--log-level",
      "error",
    ]);
    await until(
      "etcd healthy",
      () => (b.run("etcdctl", ["--endpoints", etcdUrl, "endpoint", "health"]).status === 0 ? true : undefined),
      15_000,
    );
    const store = `etcd://${etcdUrl.replace("http://", "")}/mdns-cluster/`;
    for (const h of [a, b]) {
      const d = h.spawn(process.execPath, [
        CLI,
        "serve",
        "--dns",
        "127.0.0.1:8053",
        "--mdns-interface",
        "eth0",
        "--store",
        store,
      ]);
      let mine = "";
      d.stderr!.on("data", (chunk) => ((mine += chunk), (logs += chunk)));
      await until(`daemon on ${h.ns}`, () => (mine.includes("ringdns listening") ? true : undefined), 10_000);
    }
  }, 60_000);
  afterAll(async () => {
    await lan1?.destroy();
    await lan2?.destroy();
    spawnSync("rm", ["-rf", `/tmp/ringdns-etcd-bb-${process.pid}`]);
  });

  it("a service heard by A on LAN 1 is in etcd with a lease and answered by B; B does not announce it on LAN 2", async () => {
    const zc = peer1.spawn(
      "/usr/bin/python3",
      [PEER, peer1.address, "register", "_lamp._tcp", "Hall Lamp", "8282", "192.0.2.82", "room=hall"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const zcEvents = jsonLines(zc);
    await until(
      "zeroconf registered",
      () => (zcEvents.some((e) => e.event === "registered") ? true : undefined),
      10_000,
    );

    // B, on the other LAN, answers it over unicast DNS from the shared registry
    await until(
      "B answers the learned service",
      () => (digOn(b, "Hall\\032Lamp._lamp._tcp.local", "SRV").answer.length > 0 ? true : undefined),
      5000,
    );
    expect(digOn(b, "Hall\\032Lamp._lamp._tcp.local", "SRV").answer.map((x) => x.rdata)).toEqual([
      "0 0 8282 hall-lamp.local.",
    ]);
    expect(digOn(b, "hall-lamp.local", "A").answer.map((x) => x.rdata)).toEqual(["192.0.2.82"]);

    // written to etcd by A, leased (by the record's TTL), so it expires even if A dies
    const stored = JSON.parse(
      a.run("etcdctl", ["--endpoints", etcdUrl, "-w", "json", "get", "/mdns-cluster/instance/_lamp._tcp/hall lamp"])
        .stdout,
    ) as { kvs?: { lease?: number }[] };
    expect(stored.kvs).toHaveLength(1);
    expect(stored.kvs![0]!.lease ?? 0).not.toBe(0);

    // on LAN 2, B announces what was registered with it, never what A heard on LAN 1
    const r = b.run(
      "nsupdate",
      [],
      "server 127.0.0.1 8053\nzone local.\nupdate add _lamp._tcp.local. 60 PTR desk._lamp._tcp.local.\nupdate add desk._lamp._tcp.local. 60 SRV 0 1 8383 desk.local.\nupdate add desk.local. 60 A 192.0.2.83\nsend\n",
    );
    expect(r.status, r.stderr).toBe(0);
    const browse = peer2.spawn("/usr/bin/python3", [PEER, peer2.address, "browse", "_lamp._tcp", "4"]);
    const seen = jsonLines(browse);
    await new Promise((res) => browse.once("exit", res));
    const names = seen.filter((e) => e.event === "added").map((e) => e.name);
    expect(names).toContain("desk._lamp._tcp.local.");
    expect(names).not.toContain("Hall Lamp._lamp._tcp.local.");

    // the service's goodbye on LAN 1 removes it from etcd, and so from B
    zc.stdin!.write("\n");
    await until(
      "B forgets the service after its goodbye",
      () => (digOn(b, "Hall\\032Lamp._lamp._tcp.local", "SRV").status === "NXDOMAIN" ? true : undefined),
      5000,
    );
    // (what mDNS taught is stored without a domain; an UPDATE's registration under the domain it was made in)
    expect(
      a
        .run("etcdctl", ["--endpoints", etcdUrl, "get", "--prefix", "--keys-only", "/mdns-cluster/instance"])
        .stdout.trim(),
    ).toBe("/mdns-cluster/instance@local./_lamp._tcp/desk");
  });
});
