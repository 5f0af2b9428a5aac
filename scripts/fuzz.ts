// `npm run fuzz -- --mdns [--packets N]`: the mDNS path instead, in the
// network lab (needs root; see scripts/lib/fuzz-mdns.ts).
// `npm run fuzz -- --packets N [--tcp-share 0.1] [--window 200]`: start a
// daemon on loopback (memory store, the example services, a TSIG key), send
// it N packets — valid and damaged queries, UPDATEs and signed UPDATEs, random
// bytes, compression loops — over UDP and TCP, and report crashes (must be 0),
// replies by rcode, silence, and the daemon's RSS before and after. Bounded:
// it stops after N packets; exits non-zero on a crash or runaway memory.
import { createSocket } from "node:dgram";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import { formatKeyFile } from "../src/update/keys.js";
import { rcodeName, Type } from "../src/wire/constants.js";
import { encodeQuery } from "../src/wire/message.js";
import { everythingAt, FUZZ_KEY } from "../test/lab/wire-arbitraries.js";
import { startScriptDaemon } from "./lib/daemon.js";
import { scratchDir } from "./lib/scratch.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) {
    console.error(`fuzz: --${name} must be a number, got "${process.argv[i + 1]}"`);
    process.exit(2);
  }
  return v;
};
if (process.argv.includes("--mdns")) {
  const { fuzzMdns } = await import("./lib/fuzz-mdns.js");
  process.exit(await fuzzMdns({ packets: arg("packets", 50_000), window: arg("window", 2000) || 2000 }));
}
const packets = arg("packets", 200_000);
const tcpShare = arg("tcp-share", 0.1);
const window = arg("window", 200);
const root = join(import.meta.dirname, "..");

// the daemon under test
const dir = scratchDir("ringdns-fuzz-");
const keyFile = join(dir, "fuzz.key");
writeFileSync(keyFile, formatKeyFile(FUZZ_KEY));
const started0 = await startScriptDaemon([
  "--store",
  "memory",
  "--domain",
  "svc.example.",
  "--services",
  join(root, "examples/services.yaml"),
  "--key-file",
  keyFile,
]);
const daemon = started0.proc;
const port = started0.port;
const stderr = () => started0.log();

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;
const alive = () => daemon.exitCode === null && daemon.signalCode === null;

// -- traffic -----------------------------------------------------------------
const replies = new Map<string, number>();
const count = (what: string) => replies.set(what, (replies.get(what) ?? 0) + 1);
let silent = 0;

const udp = createSocket("udp4");
await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
udp.on("message", (m) => count(m.length >= 12 ? rcodeName(m[3]! & 0x0f) : "runt"));

let udpSent = 0;
let udpAnswered = 0;
udp.on("message", () => udpAnswered++);

/** Send a batch, then let the daemon catch up (most packets get a reply; the rest are dropped on purpose). */
async function sendUdp(batch: Buffer[]): Promise<void> {
  for (const m of batch) udp.send(m, port, "127.0.0.1");
  udpSent += batch.length;
  for (let i = 0; i < 10 && udpSent - udpAnswered > batch.length * 0.3; i++) await new Promise((r) => setTimeout(r, 3));
}

async function sendTcp(batch: Buffer[]): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let answered = 0;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      silent += Math.max(0, batch.length - answered);
      s.destroy();
      resolve();
    };
    // what is dropped gets no reply: the batch is over once the connection has been quiet a while
    let timer = setTimeout(done, 300);
    s.on("data", (c) => {
      clearTimeout(timer);
      timer = setTimeout(done, 100);
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        count(m.length >= 12 ? rcodeName(m[3]! & 0x0f) : "runt");
        if (++answered === batch.length) {
          clearTimeout(timer);
          done();
        }
      }
    });
    s.on("error", () => {
      clearTimeout(timer);
      done();
    });
    s.on("close", () => {
      clearTimeout(timer);
      done();
    });
    for (const m of batch) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(Math.min(m.length, 0xffff));
      s.write(Buffer.concat([len, m.subarray(0, 0xffff)]));
    }
  });
}

/** The daemon still answers a plain query correctly. */
async function canary(): Promise<boolean> {
  const s = createSocket("udp4");
  const q = encodeQuery(0xbeef, ["alpha", "_cache", "_tcp", "local"], Type.SRV);
  const ok = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 2000);
    s.on("message", (m) => {
      clearTimeout(t);
      resolve(m.readUInt16BE(0) === 0xbeef && (m[3]! & 0x0f) === 0 && m.readUInt16BE(6) > 0);
    });
    s.send(q, port, "127.0.0.1");
  });
  s.close();
  return ok;
}

const started = Date.now();
const gen = everythingAt(Math.floor(Date.now() / 1000));
const warmup = Math.min(5000, Math.floor(packets / 10));
let sent = 0;
let crashes = 0;
let rssBefore = NaN;
let rssHalf = NaN;
while (sent < packets && alive()) {
  const n = Math.min(window, packets - sent);
  const batch = fc.sample(gen, n);
  if (Math.random() < tcpShare) await sendTcp(batch);
  else await sendUdp(batch);
  sent += n;
  if (sent >= warmup && Number.isNaN(rssBefore)) rssBefore = rss();
  if (sent >= packets / 2 && Number.isNaN(rssHalf)) rssHalf = rss();
  if (sent % 20_000 < window) process.stderr.write(`fuzz: ${sent}/${packets} packets…\n`);
}
await new Promise((r) => setTimeout(r, 500)); // the last replies
silent += udpSent - udpAnswered;
if (!alive()) crashes++;
const canaryOk = alive() && (await canary());
if (alive() && !canaryOk) crashes++;
const rssAfter = alive() ? rss() : NaN;
udp.close();
daemon.kill("SIGTERM");

const mb = (b: number) => (b / 1048576).toFixed(1);
const growth = rssAfter / rssBefore;
console.log(
  `fuzz: ${sent} packets in ${((Date.now() - started) / 1000).toFixed(1)} s (${Math.round(sent * tcpShare)} or so over TCP)`,
);
console.log(`crashes: ${crashes}${crashes > 0 ? `\n${stderr().slice(-2000)}` : ""}`);
console.log(
  `replies: ${[...replies]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}; no reply: ${silent}`,
);
console.log(
  `daemon RSS: ${mb(rssBefore)} MB after ${warmup} packets, ${mb(rssHalf)} MB at half way, ${mb(rssAfter)} MB at the end (${growth.toFixed(2)}x overall); canary query ${canaryOk ? "answered" : "NOT answered"}`,
);
// flat: caches and the heap fill up in the first half (the answer cache holds up to 10,000 replies);
// a leak keeps growing in the second
const runaway = !(rssAfter < rssHalf * 1.25 + 16 * 1048576);
if (runaway) console.log("fuzz: RSS kept growing in the second half (more than 1.25x + 16 MB)");
process.exit(crashes > 0 || runaway ? 1 : 0);
