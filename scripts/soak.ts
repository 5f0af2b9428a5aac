// `npm run soak -- --minutes M [--mdns-lab]`: a daemon under steady mixed
// load for M minutes — queries (browse, SRV, A, _hash, NXDOMAIN), signed
// registrations with short leases that expire or are renewed,
// deregistrations, and with --mdns-lab (root, iproute2, python3-zeroconf) a
// zeroconf peer on a lab LAN replacing its services twice a second — printing
// throughput, errors and RSS as it goes. Fails on any error (a timeout, a
// wrong answer, a refused update) or on RSS that keeps growing. Bounded by
// --minutes (default 1; fractions allowed).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { queryServer } from "../src/client/dns-client.js";
import { deregistrationUpdate, registrationUpdate } from "../src/client/registration.js";
import { sendUpdate } from "../src/client/update-client.js";
import { parseName } from "../src/names.js";
import { formatKeyFile, generateKey } from "../src/update/keys.js";
import { Class, Type } from "../src/wire/constants.js";
import { startScriptDaemon } from "./lib/daemon.js";
import { scratchDir } from "./lib/scratch.js";

const i = process.argv.indexOf("--minutes");
const minutes = i >= 0 ? Number(process.argv[i + 1]) : 1;
if (!(minutes > 0 && minutes <= 24 * 60)) {
  console.error("soak: --minutes must be a number above 0 (fractions allowed)");
  process.exit(2);
}
const durationMs = minutes * 60_000;
const root = join(import.meta.dirname, "..");

// --mdns-lab: build a two-host lab LAN, churn zeroconf services on one host, and run this soak on the
// other (inside its namespace, with mDNS on its eth0): nothing reaches the machine's real network
if (process.argv.includes("--mdns-lab")) {
  const { createLab } = await import("../test/lab/netns.js");
  const lab = createLab(2);
  const [h0, h1] = lab.hosts as [LabHostT, LabHostT];
  const churn = h1.spawn(
    "/usr/bin/python3",
    [join(root, "test/lab/zeroconf_peer.py"), h1.address, "churn", "_churn._tcp", "10", String(minutes * 60 + 5)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let churned = "";
  churn.stdout!.on("data", (c) => (churned += c));
  const inner = h0.spawn(
    process.execPath,
    ["--import", "tsx", join(root, "scripts/soak.ts"), "--minutes", String(minutes), "--mdns-interface", "eth0"],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const code = await new Promise<number>((r) => inner.once("exit", (c) => r(c ?? 1)));
  await new Promise((r) => (churn.exitCode !== null ? r(null) : churn.once("exit", r)));
  await lab.destroy();
  const changes = Number(/"changes": (\d+)/.exec(churned)?.[1] ?? 0);
  console.log(`soak: the lab peer replaced ${changes} zeroconf services during the run`);
  process.exit(code !== 0 || changes === 0 ? 1 : 0);
}
type LabHostT = import("../test/lab/netns.js").LabHost;
const mdnsIndex = process.argv.indexOf("--mdns-interface");
const mdnsInterface = mdnsIndex >= 0 ? process.argv[mdnsIndex + 1] : undefined;
const dir = scratchDir("ringdns-soak-");
const key = generateKey("soak-key");
writeFileSync(join(dir, "soak.key"), formatKeyFile(key));
const zone = parseName("local.");

const started0 = await startScriptDaemon([
  "--data-dir",
  join(dir, "data"),
  "--key-file",
  join(dir, "soak.key"),
  "--services",
  join(root, "examples/services.yaml"),
  "--lease-min",
  "1",
  "--allow-update",
  "none",
  ...(mdnsInterface ? ["--mdns-interface", mdnsInterface] : []),
]);
const daemon = started0.proc;
const port = started0.port;
const server = { host: "127.0.0.1", port };
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;

const errors: string[] = [];
let learnedMax = 0;
const fail = (what: string) => {
  if (errors.length < 50) errors.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
  else errors.length++;
};
let queries = 0;
let updates = 0;
const started = Date.now();
const end = started + durationMs;

/** Queries whose answers are known: the static services, and instances the updaters say are registered. */
const live = new Map<string, number>(); // instance -> port, while its registration is acknowledged and unexpired
async function querier(): Promise<void> {
  const checks: (() => Promise<void>)[] = [
    async () => {
      const r = await queryServer(server, parseName("alpha._cache._tcp.local."), Type.SRV, { timeoutMs: 5000 });
      if (r.rcodeName !== "NOERROR" || !r.answers.some((a) => a.type === Type.SRV)) fail(`alpha SRV: ${r.rcodeName}`);
    },
    async () => {
      const r = await queryServer(server, parseName("_cache._tcp.local."), Type.PTR, { timeoutMs: 5000 });
      if (r.answers.length < 3) fail(`browse: ${r.answers.length} answers`);
    },
    async () => {
      const r = await queryServer(
        server,
        parseName(`k${Math.random().toString(36).slice(2, 8)}._hash._cache._tcp.local.`),
        Type.SRV,
        { timeoutMs: 5000 },
      );
      if (r.answers.length !== 1) fail(`_hash: ${r.rcodeName}`);
    },
    async () => {
      const r = await queryServer(server, parseName("nothing-here.local."), Type.A, { timeoutMs: 5000 });
      if (r.rcodeName !== "NXDOMAIN") fail(`NXDOMAIN expected, got ${r.rcodeName}`);
    },
    async () => {
      if (!mdnsInterface) return;
      // what the LAN announces comes and goes: any count is right, a timeout or SERVFAIL is not
      const r = await queryServer(server, parseName("_churn._tcp.local."), Type.PTR, { timeoutMs: 5000 });
      if (r.rcodeName !== "NOERROR" && r.rcodeName !== "NXDOMAIN") fail(`mDNS-learned browse: ${r.rcodeName}`);
      learnedMax = Math.max(learnedMax, r.answers.length);
    },
    async () => {
      const [name, port] = [...live][Math.floor(Math.random() * live.size)] ?? [];
      if (!name) return;
      const r = await queryServer(server, parseName(`${name}._soak._tcp.local.`), Type.SRV, { timeoutMs: 5000 });
      const srv = r.answers.find((a) => a.type === Type.SRV)?.data as { port: number } | undefined;
      // it may have changed or gone since we picked it; only a wrong port for a still-live entry is an error
      if (srv && live.get(name) === port && srv.port !== port) fail(`${name}: port ${srv.port}, registered ${port}`);
    },
  ];
  while (Date.now() < end) {
    try {
      await checks[Math.floor(Math.random() * checks.length)]!();
      queries++;
    } catch (e) {
      fail(`query: ${(e as Error).message}`);
    }
  }
}

async function updater(u: number): Promise<void> {
  let n = 0;
  while (Date.now() < end) {
    const name = `u${u}-${n++ % 50}`;
    const remove = live.has(name) && Math.random() < 0.3;
    const lease = 1 + Math.floor(Math.random() * 4); // short leases: many expire, some are renewed
    const port = 2000 + Math.floor(Math.random() * 50000);
    try {
      const ops = remove
        ? deregistrationUpdate("_soak._tcp", name, zone)
        : registrationUpdate({ instance: name, type: "_soak._tcp", host: name, port, addresses: ["192.0.2.5"] }, zone);
      live.delete(name);
      const r = await sendUpdate(server, zone, ops, { key, ...(remove ? {} : { lease }) });
      if (r.rcode !== "NOERROR") fail(`update ${name}: ${r.rcode}`);
      else if (!remove) {
        live.set(name, port);
        setTimeout(() => live.get(name) === port && live.delete(name), lease * 1000 - 300).unref();
      }
      updates++;
    } catch (e) {
      fail(`update ${name}: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function status(): Promise<string> {
  const r = await queryServer(server, ["status", "ringdns"], Type.TXT, { class: Class.CH });
  const txt = (r.answers[0]?.data as { strings?: Buffer[] } | undefined)?.strings?.map((b) => b.toString()) ?? [];
  return txt.find((l) => l.startsWith("instances=")) ?? "instances=?";
}

const samples: { t: number; rss: number }[] = [];
const every = Math.min(10_000, durationMs / 6);
let [lastQ, lastU, lastT] = [0, 0, started];
const report = setInterval(async () => {
  const now = Date.now();
  const r = rss();
  samples.push({ t: now - started, rss: r });
  console.log(
    `soak: ${((now - started) / 1000).toFixed(0).padStart(4)} s  ${(((queries - lastQ) * 1000) / (now - lastT)).toFixed(0).padStart(6)} queries/s  ${(((updates - lastU) * 1000) / (now - lastT)).toFixed(0).padStart(4)} updates/s  ${errors.length} errors  RSS ${(r / 1048576).toFixed(1)} MB  ${await status()}`,
  );
  [lastQ, lastU, lastT] = [queries, updates, now];
}, every);

await Promise.all([...Array.from({ length: 6 }, querier), ...Array.from({ length: 3 }, (_, u) => updater(u))]);
clearInterval(report);
const alive = daemon.exitCode === null && daemon.signalCode === null;
daemon.kill("SIGTERM");

// unbounded growth: the last sample well above the one a third of the way in (after warm-up)
const third = samples.find((s) => s.t >= durationMs / 3) ?? samples[0];
const last = samples.at(-1);
const growing = third && last ? last.rss > third.rss * 1.3 + 16 * 1048576 : false;
if (mdnsInterface) {
  console.log(`soak: up to ${learnedMax} zeroconf services learned over mDNS at once`);
  if (learnedMax === 0) fail("no service learned over mDNS");
}
console.log(
  `soak: ${minutes} min, ${queries} queries, ${updates} updates, ${errors.length} errors; RSS ${third ? (third.rss / 1048576).toFixed(1) : "?"} MB at ${third ? (third.t / 1000).toFixed(0) : "?"} s, ${last ? (last.rss / 1048576).toFixed(1) : "?"} MB at the end${growing ? " (GROWING)" : ""}; daemon ${alive ? "alive" : "DEAD"}`,
);
for (const e of errors.slice(0, 20)) console.log(`  ${e}`);
process.exit(errors.length > 0 || growing || !alive ? 1 : 0);
