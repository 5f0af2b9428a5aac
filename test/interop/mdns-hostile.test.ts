// Hostile mDNS traffic against a daemon in the network lab (test/lab/netns.ts):
// ringdns on h0 with mDNS on eth0, a hostile host on h1 sending raw packets
// (test/lab/mdns-send.mjs), a python3-zeroconf service on h2. Nothing leaves
// the machine. Issue 14 finding 2: one 8,992-byte response announcing 390
// service types stopped the daemon; and the mDNS path is fuzzed here as the
// unicast one is (scripts/fuzz.ts --mdns runs the same at a larger count).
import { spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDig } from "../lab/dig.js";
import { CLI } from "../lab/daemon.js";
import {
  framePackets,
  heavyInstances,
  mdnsTraffic,
  serviceTypeEnumeration,
  serviceTypeFlood,
} from "../lab/mdns-packets.js";
import { canBuildLab, createLab, type Lab, type LabHost } from "../lab/netns.js";
import { missingTool } from "../lab/tools.js";

const SEND = new URL("../lab/mdns-send.mjs", import.meta.url).pathname;
const PEER = new URL("../lab/zeroconf_peer.py", import.meta.url).pathname;
const UNICAST_ASK = new URL("../lab/mdns-unicast-ask.mjs", import.meta.url).pathname;
const SERVICES = new URL("../../examples/services.yaml", import.meta.url).pathname;
const FUZZ_PACKETS = Number(process.env.MDNS_FUZZ_PACKETS ?? 3000);

const labMissing = !canBuildLab();
if (labMissing && process.env.CI)
  throw new Error("the mDNS lab needs root and ip netns (iproute2), and CI has neither");
const zeroconfMissing = spawnSync("/usr/bin/python3", ["-c", "import zeroconf"], { stdio: "ignore" }).status !== 0;
if (zeroconfMissing && process.env.CI)
  throw new Error("python3-zeroconf is not installed, and CI needs it (see .ci/run)");
const skip = labMissing || zeroconfMissing || missingTool("dig", "curl");

describe.skipIf(skip)("hostile mDNS traffic in the lab", () => {
  let lab: Lab;
  let h0: LabHost; // ringdns
  let h1: LabHost; // the hostile host
  let h2: LabHost; // a real zeroconf service
  let daemon: ChildProcess;
  let logs = "";
  const dir = mkdtempSync(join(tmpdir(), "ringdns-mdns-hostile-"));
  const alive = () => daemon.exitCode === null && daemon.signalCode === null;
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1]) * 1024;
  const dig = (name: string, type: string) =>
    parseDig(h0.run("dig", ["@127.0.0.1", "-p", "8053", "+time=1", "+tries=2", name, type]).stdout);
  /** A metric's value (summed over its labels) from the daemon's /metrics. */
  const metric = (name: string) => {
    const text = h0.run("curl", ["-s", "http://127.0.0.1:8080/metrics"]).stdout;
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  };
  const internalErrors = () => logs.split("\n").filter((l) => /internal error/i.test(l));
  async function until<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
    const start = Date.now();
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() - start > timeoutMs)
        throw new Error(
          `${what}: not within ${timeoutMs} ms; daemon ${alive() ? "running" : `exited (${daemon.exitCode ?? daemon.signalCode})`}; log:\n${logs.slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** Send packets from h1 (from each of `from` in turn), as mdns-send.mjs frames them; waited for without blocking this process, so the daemon's log keeps draining. */
  async function send(
    name: string,
    packets: { bytes: Buffer; legacy?: boolean }[],
    from = [h1.address],
  ): Promise<number> {
    const file = join(dir, name);
    writeFileSync(file, framePackets(packets));
    const c = h1.spawn(process.execPath, [SEND, from.join(","), file, "5"]);
    let out = "";
    c.stdout!.on("data", (d) => (out += d));
    const [code] = (await once(c, "exit")) as [number | null];
    expect(code).toBe(0);
    return (JSON.parse(out) as { sent: number }).sent;
  }

  beforeAll(async () => {
    lab = createLab(3);
    [h0, h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    daemon = h0.spawn(process.execPath, [
      CLI,
      "serve",
      "--dns",
      "127.0.0.1:8053",
      "--dns",
      `${h0.address}:8053`,
      "--mdns-interface",
      "eth0",
      "--store",
      "memory",
      "--services",
      SERVICES,
      "--http",
      "127.0.0.1:8080",
      "--max-ring-weight",
      "140000",
    ]);
    daemon.stderr!.on("data", (d) => (logs += d));
    await until("the daemon listening", () => (logs.includes("ringdns listening") ? true : undefined), 5000);
    await until("alpha announced on the LAN", () => (logs.includes('"instance":"alpha"') ? true : undefined), 5000);
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it("one 8,992-byte response announcing 390 service types leaves the daemon serving: dig answers, a real zeroconf service is still learned", async () => {
    const flood = serviceTypeFlood(390);
    expect(flood.length).toBe(8992);
    await send("flood.bin", [{ bytes: flood }, { bytes: serviceTypeEnumeration(390) }]);
    // the learner hears it and asks about what it follows (before the fix: the process ended here)
    await until(
      "the bound on followed types reached, or the daemon gone",
      () => (!alive() || logs.includes("more service types than are followed") ? true : undefined),
      5000,
    );
    expect(alive(), `the daemon exited:\n${logs.slice(-3000)}`).toBe(true);
    expect(metric("ringdns_mdns_browses_refused_total")).toBeGreaterThanOrEqual(390 - 64);
    expect(dig("alpha._cache._tcp.local", "SRV").answer.map((a) => a.rdata)).toEqual(["0 1 11211 alpha.local."]);
    // a real service on another host, of a type the flood did not name, is still browsed and learned
    const zc = h2.spawn(
      "/usr/bin/python3",
      [PEER, h2.address, "register", "_lamp._tcp", "Desk Lamp", "8181", "192.0.2.81"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    try {
      await until(
        "the zeroconf lamp answered by dig",
        () => (dig("_lamp._tcp.local", "PTR").answer.length > 0 ? true : undefined),
        5000,
      );
      expect(dig("Desk\\032Lamp._lamp._tcp.local", "SRV").answer.map((a) => a.rdata)).toEqual([
        "0 0 8181 desk-lamp.local.",
      ]);
    } finally {
      zc.stdin!.end();
    }
    expect(alive()).toBe(true);
    expect(internalErrors()).toEqual([]);
  });

  it(`${FUZZ_PACKETS} mutated and oversized mDNS responses and queries: the daemon still answers, its memory stays bounded, no internal error`, async () => {
    const rssBefore = rss();
    const packets = fc.sample(mdnsTraffic, { numRuns: FUZZ_PACKETS, seed: 14 });
    // from 16 addresses, as from 16 peers: past the per-peer share (1,000 records) to the cache's own bound (10,000)
    const peers = Array.from({ length: 16 }, (_, i) => `203.0.113.${100 + i}`);
    for (const a of peers) expect(h1.run("ip", ["addr", "add", `${a}/24`, "dev", "eth0"]).status).toBe(0);
    const started = Date.now();
    const sent = await send("fuzz.bin", packets, peers);
    expect(sent).toBe(FUZZ_PACKETS);
    // the daemon has worked through them when a unicast query is answered after them
    await until(
      "dig answered after the fuzz",
      () => (alive() && dig("alpha._cache._tcp.local", "SRV").answer.length === 1 ? true : undefined),
      10_000,
    );
    const rssAfter = rss();
    const cached = metric("ringdns_mdns_cache_records");
    expect(cached).toBeGreaterThan(0); // the packets were heard and taken in
    console.log(
      `mDNS fuzz: ${sent} packets (${packets.reduce((n, p) => n + p.bytes.length, 0)} bytes) in ${Date.now() - started} ms; daemon RSS ${(rssBefore / 1048576).toFixed(1)} -> ${(rssAfter / 1048576).toFixed(1)} MiB; ${cached} records cached, ${metric("ringdns_mdns_cache_refused_total")} refused`,
    );
    expect(alive()).toBe(true);
    expect(rssAfter - rssBefore).toBeLessThan(64 * 1048576);
    expect(internalErrors()).toEqual([]);
  });

  it("status.ringdns CH TXT tells a host on the LAN version and health, never where the store is; loopback is told", () => {
    const status = (host: LabHost, server: string) =>
      parseDig(
        host.run("dig", [`@${server}`, "-p", "8053", "+time=1", "+tries=2", "-c", "CH", "-t", "TXT", "status.ringdns"])
          .stdout,
      )
        .answer.map((a) => a.rdata)
        .join(" ");
    const fromLan = status(h1, h0.address);
    expect(fromLan).toMatch(/"version=[\d.]+" "store=memory" "healthy=yes"/);
    expect(fromLan).not.toMatch(/location=/);
    expect(status(h0, "127.0.0.1")).toContain('"location=memory (lost on exit)"');
  });

  it("a unicast query to port 5353 from off the link gets no reply (RFC 6762 §5.5: no mDNS reflection), one from the link does", async () => {
    const ask = (source: string) =>
      JSON.parse(
        h1.run(process.execPath, [UNICAST_ASK, source, h0.address, "alpha._cache._tcp.local.", "SRV", "1000"]).stdout,
      ) as { replies: number; answers: string[] };
    expect(ask(h1.address)).toMatchObject({ replies: 1, answers: ["alpha._cache._tcp.local. 33"] });
    // an address from another network on the same wire, with a route back to it: before the fix it got the answer
    expect(h1.run("ip", ["addr", "add", "198.51.100.7/32", "dev", "eth0"]).status).toBe(0);
    expect(h0.run("ip", ["route", "add", "198.51.100.7/32", "dev", "eth0"]).status).toBe(0);
    expect(ask("198.51.100.7")).toEqual({ replies: 0, answers: [] });
    expect(metric("ringdns_mdns_off_link_dropped_total")).toBeGreaterThanOrEqual(1);
    expect(alive()).toBe(true);
  });
  // last: its million-point ring would count in the fuzz test's memory bound
  it("instances announced with SRV weight 65535 are learned only up to --max-ring-weight: the rest are not, counted and logged, and the daemon answers for those it took", async () => {
    const hitsBefore = metric("ringdns_limit_hits_total");
    await send("heavy.bin", [{ bytes: heavyInstances(5) }]);
    // 140,000 holds two of weight 65535 (131,070); the third would pass it
    const learned = await until(
      "two heavy instances learned",
      () => {
        const ptrs = dig("_heavy._tcp.local", "PTR").answer;
        return ptrs.length >= 2 ? ptrs : undefined;
      },
      5000,
    );
    await until(
      "the rest counted as kept out",
      () => (metric("ringdns_limit_hits_total") >= hitsBefore + 3 ? true : undefined),
      5000,
    );
    expect(learned).toHaveLength(2);
    expect(dig("_heavy._tcp.local", "PTR").answer).toHaveLength(2);
    await until(
      "the refusal logged",
      () =>
        /mDNS: announcements not learned: the ring of _heavy\._tcp in local\. would weigh 196605/.test(logs)
          ? true
          : undefined,
      5000,
    );
    // the ring of what was learned answers (a million points: built aside, then every key has one of the two)
    const owner = await until(
      "a _hash owner",
      () => dig("somekey._hash._heavy._tcp.local", "SRV").answer[0]?.rdata,
      10_000,
    );
    expect(owner).toMatch(/^0 65535 80 h[0-4]\.local\.$/);
    expect(alive()).toBe(true);
    expect(internalErrors()).toEqual([]);
  });
});
