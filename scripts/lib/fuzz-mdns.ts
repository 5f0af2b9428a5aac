// `npm run fuzz -- --mdns [--packets N] [--window W]`: the mDNS path fuzzed
// as the unicast one is, inside the network lab (test/lab/netns.ts, needs
// root): a daemon with mDNS on h0's eth0 and the example services; h1 sends
// it N packets (test/lab/mdns-packets.ts: good, damaged and oversized
// responses, goodbyes, queries with known answers and probes, floods of
// service types, random bytes) from 16 addresses, some from ephemeral ports
// (legacy queriers). Reports crashes (must be 0), internal errors caught by
// guard.ts (must be 0), the canary dig, and the daemon's RSS. Nothing leaves
// the lab's namespaces; bounded by N.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { framePackets, mdnsTraffic } from "../../test/lab/mdns-packets.js";
import { canBuildLab, createLab, type LabHost } from "../../test/lab/netns.js";
import { scratchDir } from "./scratch.js";

const root = join(import.meta.dirname, "../..");
const CLI = join(root, "dist/bin/ringdns.js");
const SEND = join(root, "test/lab/mdns-send.mjs");
const PEERS = Array.from({ length: 16 }, (_, i) => `203.0.113.${100 + i}`);

/** Runs the mDNS fuzz; returns the exit code. */
export async function fuzzMdns(opts: { packets: number; window: number }): Promise<number> {
  if (!canBuildLab()) {
    console.error(
      "fuzz --mdns: the network lab needs root and ip netns (iproute2); mDNS is never sent on a real interface",
    );
    return 2;
  }
  const dir = scratchDir("ringdns-fuzz-mdns-");
  const lab = createLab(2);
  // a signal ends the script through process.exit: the namespaces go with it
  process.once("exit", () => void lab.destroy());
  try {
    const [h0, h1] = lab.hosts as [LabHost, LabHost];
    for (const a of PEERS) h1.run("ip", ["addr", "add", `${a}/24`, "dev", "eth0"]);
    const daemon = h0.spawn(process.execPath, [
      CLI,
      "serve",
      "--dns",
      "127.0.0.1:8053",
      "--mdns-interface",
      "eth0",
      "--store",
      "memory",
      "--services",
      join(root, "examples/services.yaml"),
    ]);
    let tail = "";
    const internalErrors: string[] = [];
    daemon.stderr!.setEncoding("utf8");
    daemon.stderr!.on("data", (c: string) => {
      tail = (tail + c).slice(-20_000);
      for (const line of c.split("\n"))
        if (/internal error/i.test(line) && internalErrors.length < 20) internalErrors.push(line.slice(0, 2000));
    });
    const alive = () => daemon.exitCode === null && daemon.signalCode === null;
    for (let i = 0; i < 200 && alive() && !tail.includes("ringdns listening"); i++)
      await new Promise((r) => setTimeout(r, 25));
    if (!tail.includes("ringdns listening")) {
      console.error(`fuzz --mdns: the daemon did not start:\n${tail}`);
      return 1;
    }
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;
    const canary = () =>
      /^alpha\._cache\._tcp\.local\.\s+\d+\s+IN\s+SRV\s+0 1 11211 alpha\.local\.$/m.test(
        h0.run("dig", [
          "@127.0.0.1",
          "-p",
          "8053",
          "+time=2",
          "+tries=2",
          "+noall",
          "+answer",
          "alpha._cache._tcp.local",
          "SRV",
        ]).stdout,
      );
    /** One batch from h1, waited for without blocking this process (the daemon's log keeps draining). */
    const sendBatch = (file: string) =>
      new Promise<number>((resolve) => {
        const c = h1.spawn(process.execPath, [SEND, PEERS.join(","), file, "5"]);
        let out = "";
        c.stdout!.on("data", (d) => (out += d));
        c.once("exit", () => resolve(Number(/"sent":(\d+)/.exec(out)?.[1] ?? 0)));
      });

    const started = Date.now();
    const warmup = Math.min(5000, Math.floor(opts.packets / 10));
    let sent = 0;
    let bytes = 0;
    let rssBefore = NaN;
    let rssHalf = NaN;
    /** The highest RSS seen in the first half: the heap breathes with GC, so one sample says little. */
    let firstHalfPeak = 0;
    while (sent < opts.packets && alive()) {
      const n = Math.min(opts.window, opts.packets - sent);
      const batch = fc.sample(mdnsTraffic, n);
      const file = join(dir, "batch.bin");
      writeFileSync(file, framePackets(batch));
      sent += await sendBatch(file);
      bytes += batch.reduce((s, p) => s + p.bytes.length, 0);
      if (sent >= warmup && Number.isNaN(rssBefore) && alive()) rssBefore = rss();
      if (sent >= opts.packets / 2 && Number.isNaN(rssHalf) && alive()) rssHalf = rss();
      if (sent <= opts.packets / 2 && alive()) firstHalfPeak = Math.max(firstHalfPeak, rss());
      if (sent % 10_000 < n) process.stderr.write(`fuzz --mdns: ${sent}/${opts.packets} packets…\n`);
    }
    // the daemon has worked through them when the canary is answered after them
    let canaryOk = false;
    for (let i = 0; i < 5 && alive() && !canaryOk; i++) canaryOk = canary();
    const crashes = alive() ? (canaryOk ? 0 : 1) : 1;
    const rssAfter = alive() ? rss() : NaN;
    daemon.kill("SIGTERM");

    const mb = (b: number) => (b / 1048576).toFixed(1);
    console.log(
      `fuzz --mdns: ${sent} packets (${mb(bytes)} MB) from ${PEERS.length} addresses in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    console.log(`crashes: ${crashes}${crashes > 0 ? `\n${tail.slice(-2000)}` : ""}`);
    console.log(
      `internal errors: ${internalErrors.length}${internalErrors.length > 0 ? `\n${internalErrors.join("\n")}` : ""}`,
    );
    console.log(
      `daemon RSS: ${mb(rssBefore)} MB after ${warmup} packets, ${mb(rssHalf)} MB at half way (${mb(firstHalfPeak)} MB at most in the first half), ${mb(rssAfter)} MB at the end; canary query ${canaryOk ? "answered" : "NOT answered"}`,
    );
    // the cache (10,000 records) fills in the first half; a leak keeps growing past that half's peak in the second
    const runaway = !(rssAfter < Math.max(firstHalfPeak, rssHalf) * 1.25 + 16 * 1048576);
    if (runaway)
      console.log("fuzz --mdns: RSS kept growing in the second half (more than 1.25x the first half's peak + 16 MB)");
    return crashes > 0 || internalErrors.length > 0 || runaway ? 1 : 0;
  } finally {
    await lab.destroy();
  }
}
