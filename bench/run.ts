// `npm run bench [-- --quick] [-- --json]`: ringdns side by side with knotd and
// dnsmasq on the same records, queries and client settings; ring figures.
// Writes bench/RESULTS.md. Bounded: ~4 minutes by default, ~1 with --quick.
// `npm run bench -- --scale` runs only the scale sections (issue 15) and
// replaces just their marked parts of bench/RESULTS.md; `-- --srp` likewise
// only SRP registrations a second (issue 18), `-- --xfr` only zone transfer (issue 20),
// `-- --push` only DNS Push (issue 19: 10,000 subscriptions, RSS each, change-to-PUSH latency).
// `-- --journal` only the start-up cost of IXFR's journal in the store (issue 20).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { writeDataset } from "./lib/dataset.js";
import { journalBench } from "./lib/journal.js";
import { dnsperf, type PerfResult } from "./lib/dnsperf.js";
import { ringFigures } from "./lib/ring.js";
import { formatRingComparison, ringComparison } from "./lib/ring-compare.js";
import { markedSections, writeSection } from "./lib/results.js";
import { startDnsmasq, startKnot, startRingdns, stopAll, type Running } from "./lib/servers.js";
import { scaleFigures } from "./lib/scale.js";
import { scaleDaemonBench } from "./lib/scale-daemon.js";
import { srpBench } from "./lib/srp.js";
import { xfrBench } from "./lib/xfr.js";
import { pushBench } from "./lib/push.js";
import { updateToAnswerMs, writeUpdateFile } from "./lib/updates.js";
import { formatKeyFile, generateKey } from "../src/update/keys.js";
import type { TsigKey } from "../src/wire/tsig.js";
import { scratchDir } from "../scripts/lib/scratch.js";

function writeKey(dir: string, key: TsigKey): string {
  const file = join(dir, "bench.key");
  writeFileSync(file, formatKeyFile(key));
  return file;
}

// `npm run bench --quick` hands the flag to npm, which passes it on as npm_config_quick
const flag = (name: string) => process.argv.includes(`--${name}`) || process.env[`npm_config_${name}`] === "true";
const quick = flag("quick");
const json = flag("json");
const scaleOnly = flag("scale");
const srpOnly = flag("srp");
const xfrOnly = flag("xfr");
const pushOnly = flag("push");
const journalOnly = flag("journal");
const RESULTS = join(import.meta.dirname, "RESULTS.md");

if (flag("help")) {
  console.log(`npm run bench [-- OPTIONS]: writes bench/RESULTS.md

  (none)    ringdns, knotd and dnsmasq side by side, updates, memory, ring (~4 min)
  --quick   shorter rounds (~1 min); with a section below, a shorter section
  --json    the full run's figures as JSON on stdout too
  --scale   only the scale sections (issue 15; SCALE_PARTS=ring,one,ten,etcd)
  --srp     only SRP registrations a second (issue 18)
  --push    only DNS Push (issue 19): 10,000 subscriptions over DNS over TLS, RSS per
            subscription, change-to-PUSH latency at 100 changes/s (browse and _hash)`);
  process.exit(0);
}

const needed: [string, string][] = [
  ["dnsperf", "dnsperf"],
  ["knotd", "knot"],
  ["dnsmasq", "dnsmasq"],
  ["dig", "bind9-dnsutils"],
];
const missing = needed.filter(([cmd]) => spawnSync("/bin/sh", ["-c", `command -v ${cmd}`]).status !== 0);
if (missing.length > 0) {
  console.error(
    `bench: missing ${missing.map(([c, p]) => `${c} (Debian package ${p})`).join(", ")}; install with: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")}`,
  );
  process.exit(2);
}

// --journal: only the start-up cost of a full IXFR journal in the store (issue 20)
if (journalOnly) {
  const md = await journalBench(scratchDir("ringdns-bench-journal-"), quick, (s) => process.stderr.write(`${s}\n`));
  writeSection(RESULTS, "journal", md);
  console.log(`${md}\nwritten to bench/RESULTS.md (section journal)`);
  process.exit(0);
}

// --xfr: only the hidden primary's figures (issue 20), in its own part of RESULTS.md
if (xfrOnly) {
  const md = await xfrBench(scratchDir("ringdns-bench-xfr-"), quick, (s) => process.stderr.write(`${s}\n`));
  writeSection(RESULTS, "xfr", md);
  console.log(`${md}\nwritten to bench/RESULTS.md (section xfr)`);
  process.exit(0);
}

// --srp: only SRP registrations a second next to TSIG ones (issue 18), in its own part of RESULTS.md
if (srpOnly) {
  const srpDir = scratchDir("ringdns-bench-srp-");
  const md = await srpBench(await writeDataset(srpDir), quick, (s) => process.stderr.write(`${s}\n`));
  writeSection(RESULTS, "srp", md);
  console.log(`${md}\nwritten to bench/RESULTS.md (section srp)`);
  process.exit(0);
}

// --push: only DNS Push (issue 19), in its own part of RESULTS.md
if (pushOnly) {
  const md = await pushBench(scratchDir("ringdns-bench-push-"), quick, (s) => process.stderr.write(`${s}\n`));
  writeSection(RESULTS, "push", md);
  console.log(`${md}\nwritten to bench/RESULTS.md (section push)`);
  process.exit(0);
}

// --scale: only the scale sections (issue 15), each written into its own part of RESULTS.md
if (scaleOnly) {
  // SCALE_PARTS=ring,one,ten,etcd (the default: all) runs some of the parts, when working on one
  const parts = new Set((process.env.SCALE_PARTS ?? "ring,one,ten,etcd").split(","));
  if (parts.has("ring")) {
    const ring = formatRingComparison(await ringComparison((s) => process.stderr.write(`${s}\n`)));
    writeSection(RESULTS, "scale:ring", ring);
    console.log(`${ring}\nwritten to bench/RESULTS.md (section scale:ring)`);
  }
  if ([...parts].some((p) => p !== "ring"))
    await scaleDaemonBench({
      dir: scratchDir("ringdns-bench-scale-"),
      resultsFile: RESULTS,
      log: (s) => process.stderr.write(`${s}\n`),
    }).then((md) => console.log(md));
  process.exit(0);
}

const seconds = quick ? 4 : 10;
const log = (s: string) => !json && process.stderr.write(`${s}\n`);

const dir = scratchDir("ringdns-bench-");
const data = await writeDataset(dir);
log(
  `data set: ${data.instances} instances in ${data.types} types, ${data.queries} queries in the mix; ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), dnsperf on the same machine`,
);

interface Row {
  server: string;
  version: string;
  udp: PerfResult;
  tcp: PerfResult;
  latency: PerfResult;
  /** UDP and TCP qps of every round, to show how noisy the machine was. */
  udpRounds: number[];
  tcpRounds: number[];
}
// the servers are measured in turn, round after round, and each figure is the median round: a burst of
// load from elsewhere on this shared machine then lands on one round of one server, not on a whole figure
const rounds = 3;
const roundSeconds = quick ? 2 : 4;
const median = (rs: PerfResult[]) => [...rs].sort((a, b) => a.qps - b.qps)[Math.floor((rs.length - 1) / 2)]!;
const rows: Row[] = [];
try {
  const servers: Running[] = [];
  for (const start of [() => startRingdns(data), () => startKnot(data, 1), () => startDnsmasq(data)])
    servers.push(await start());
  // one pass through the query file first, so no server is measured while warming up
  // (ringdns builds each type's ring on its first _hash query)
  for (const s of servers) dnsperf(s.port, data.queryFile, { seconds: 10, runs: 1 });
  const udp = servers.map((): PerfResult[] => []);
  const tcp = servers.map((): PerfResult[] => []);
  for (let r = 1; r <= rounds; r++) {
    log(`round ${r}/${rounds}: UDP and TCP ${roundSeconds} s each, ${servers.map((s) => s.name).join(", ")}…`);
    servers.forEach((s, i) => {
      udp[i]!.push(dnsperf(s.port, data.queryFile, { seconds: roundSeconds }));
      tcp[i]!.push(dnsperf(s.port, data.queryFile, { seconds: roundSeconds, tcp: true }));
    });
  }
  servers.forEach((s, i) => {
    // latency at a rate every server sustains, so queueing does not dominate
    const latency = dnsperf(s.port, data.queryFile, {
      seconds: Math.min(seconds, 4),
      rate: 5000,
      clients: 1,
      outstanding: 20,
      verbose: true,
    });
    rows.push({
      server: s.name,
      version: s.version,
      udp: median(udp[i]!),
      tcp: median(tcp[i]!),
      latency,
      udpRounds: udp[i]!.map((x) => x.qps),
      tcpRounds: tcp[i]!.map((x) => x.qps),
    });
  });
  for (const s of servers) await s.stop();
} finally {
  stopAll();
}
// all cores: ringdns with one answering process per CPU against knotd with one UDP worker per CPU
// (UDP only: ringdns's workers answer UDP; TCP stays in its first process)
const cores = cpus().length;
const allCore: { server: string; workers: number; udp: PerfResult }[] = [];
try {
  for (const [name, start] of [
    ["ringdns", () => startRingdns(data, ["--workers", String(cores)])],
    ["knotd", () => startKnot(data, cores)],
  ] as const) {
    const s: Running = await start();
    dnsperf(s.port, data.queryFile, { seconds: 5, runs: 1 });
    log(`${s.name} with ${cores} workers: UDP ${seconds} s…`);
    allCore.push({ server: name, workers: cores, udp: dnsperf(s.port, data.queryFile, { seconds }) });
    await s.stop();
  }
} finally {
  stopAll();
}
// signed updates: ringdns (LMDB, fsync per commit) against knotd (journal)
const key = generateKey("bench-key");
const keySpec = `hmac-sha256:bench-key:${key.secret.toString("base64")}`;
const updateFile = writeUpdateFile(dir, 50_000);
const updates: { server: string; perf: PerfResult; latencyMs: number }[] = [];
try {
  // the bench registers more than the default limits allow one type and one key (10,000): lift them, as knotd has none
  const unlimited = [
    "--max-instances-per-type",
    "10000000",
    "--max-registrations",
    "10000000",
    "--max-registrations-per-key",
    "10000000",
  ];
  for (const start of [
    () => startRingdns(data, ["--key-file", writeKey(dir, key), ...unlimited]),
    () => startKnot(data, 1, { keyName: "bench-key", secret: key.secret.toString("base64") }),
  ]) {
    const s = await start();
    log(`${s.name}: signed updates ${Math.min(seconds, 5)} s…`);
    const perf = dnsperf(s.port, updateFile, {
      seconds: Math.min(seconds, 5),
      update: keySpec,
      clients: 1,
      outstanding: 100,
    });
    // a refused update is cheap: throughput only counts if they were applied
    if (/REFUSED|SERVFAIL|NOTAUTH/.test(perf.rcodes))
      throw new Error(`${s.name}: updates were not all applied (${perf.rcodes})`);
    const latencyMs = await updateToAnswerMs(s.port, key, quick ? 10 : 30, s.name);
    updates.push({ server: s.name, perf, latencyMs });
    await s.stop();
  }
} finally {
  stopAll();
}

log("memory and restart with large stores…");
const scale = await scaleFigures(dir, quick ? [10_000] : [10_000, 100_000]);

log("ring figures…");
const ring = ringFigures(quick);

const by = (name: string) => rows.find((r) => r.server === name)!;
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
const rd = by("ringdns");
const ratios = {
  udpVsKnot: ratio(rd.udp.qps, by("knotd").udp.qps),
  udpVsDnsmasq: ratio(rd.udp.qps, by("dnsmasq").udp.qps),
  tcpVsKnot: ratio(rd.tcp.qps, by("knotd").tcp.qps),
  tcpVsDnsmasq: ratio(rd.tcp.qps, by("dnsmasq").tcp.qps),
  udpAllCoreVsKnot: ratio(allCore[0]!.udp.qps, allCore[1]!.udp.qps),
  udpAllCoreVsSingle: ratio(allCore[0]!.udp.qps, rd.udp.qps),
};
const result = {
  date: new Date().toISOString(),
  quick,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  node: process.version,
  dataset: { instances: data.instances, types: data.types },
  seconds,
  servers: rows,
  allCore,
  ratios,
  updates,
  scale,
  ring,
};

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const range = (qps: number[]) => `${f(Math.min(...qps))}–${f(Math.max(...qps))}`;
const table = [
  "| server | UDP qps | UDP rounds | UDP lost | TCP qps | TCP rounds | TCP lost | mean ms (5k qps) | p99 ms (5k qps) |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.version} | ${f(r.udp.qps)} | ${range(r.udpRounds)} | ${r.udp.lost} | ${f(r.tcp.qps)} | ${range(r.tcpRounds)} | ${r.tcp.lost} | ${f(r.latency.meanMs, 3)} | ${f(r.latency.p99Ms ?? NaN, 3)} |`,
  ),
].join("\n");
const ratioTable = [
  "| ratio | UDP | TCP |",
  "|---|---:|---:|",
  `| ringdns / knotd | ${f(ratios.udpVsKnot, 2)} | ${f(ratios.tcpVsKnot, 2)} |`,
  `| ringdns / dnsmasq | ${f(ratios.udpVsDnsmasq, 2)} | ${f(ratios.tcpVsDnsmasq, 2)} |`,
].join("\n");
const allCoreTable = [
  `| all ${cores} cores, UDP | workers | qps | lost |`,
  "|---|---:|---:|---:|",
  ...allCore.map((a) => `| ${a.server} | ${a.workers} | ${f(a.udp.qps)} | ${a.udp.lost} |`),
  "",
  `ringdns / knotd on all cores: ${f(ratios.udpAllCoreVsKnot, 2)}; ringdns on all cores / on one: ${f(ratios.udpAllCoreVsSingle, 2)}.`,
].join("\n");
const up = (name: string) => updates.find((u) => u.server === name)!;
const updateTable = [
  "| server | signed updates/s | lost | median ms from UPDATE sent to the name answering |",
  "|---|---:|---:|---:|",
  ...updates.map((u) => `| ${u.server} | ${f(u.perf.qps)} | ${u.perf.lost} | ${f(u.latencyMs, 2)} |`),
  "",
  `ringdns / knotd: ${f(ratio(up("ringdns").perf.qps, up("knotd").perf.qps), 2)} × the updates per second.`,
].join("\n");
const scaleTable = [
  "| registrations in the store | restart until answering | RSS per registration | with every ring built |",
  "|---:|---:|---:|---:|",
  ...scale.map(
    (x) =>
      `| ${x.n} | ${f(x.restartMs)} ms | ${f(x.bytesPerRegistration)} B | ${x.bytesPerRegistrationWithRings === undefined ? "not measured (time)" : `${f(x.bytesPerRegistrationWithRings)} B`} |`,
  ),
].join("\n");
const ringTable = [
  `- owner lookups per second (100 instances, ${ring.pointsPerWeight} points per weight): **${f(ring.lookupsPerSecond)}**`,
  ...ring.rebuildMs.map((r) => `- ring change (one instance joins) at ${r.n} instances: ${f(r.ms, 1)} ms`),
  ...ring.moved.map(
    (m) => `- keys moved at N=${m.n}: join ${f(m.joinRatio, 2)}× ideal, leave ${f(m.leaveRatio, 2)}× ideal`,
  ),
  "",
  "| N | max share / mean | min share / mean |",
  "|---:|---:|---:|",
  ...ring.balance.map((b) => `| ${b.n} | ${f(b.max, 3)} | ${f(b.min, 3)} |`),
].join("\n");

const md = `# Benchmark results

Run ${result.date} with \`npm run bench${quick ? " -- --quick" : ""}\`: ${result.cpus} × ${result.cpuModel}, Node ${result.node};
${rows.map((r) => r.version).join(", ")}. dnsperf runs on the same machine and shares its cores.

Data: ${data.instances} instances in ${data.types} service types (hosts, TXT, subtypes), the same records
for every server (\`bench/lib/dataset.ts\`). Query mix: 10 % browse PTR, 25 % SRV, 15 % TXT, 25 % A,
17 % \`_hash\` SRV, 8 % NXDOMAIN. The reference servers serve the \`_hash\` owners as static records
precomputed by ringdns's ring; **ringdns computes them live**. dnsperf: \`-c 10 -q 100 -e\`, the servers
measured in turn for ${rounds} rounds of ${roundSeconds} s (UDP, then TCP) and each figure the median round
(the range of rounds shows the machine's noise); latency at a fixed 5k qps (\`-Q 5000 -c 1 -q 20\`).
Each server first gets one warm-up pass through the query file.

### One core

Every server answers with one worker (\`udp-workers: 1\` for knotd; ringdns with \`--workers 1\`, the
default; dnsmasq is single-threaded).

${table}

${ratioTable}

### All cores

ringdns with \`--workers ${cores}\` (query processes sharing the UDP socket) and knotd with
\`udp-workers: ${cores}\`, same queries and client settings. dnsperf shares these cores: a server that needs
more CPU per query takes it from the load generator when it adds a worker.

${allCoreTable}

## Updates

Signed (hmac-sha256) registrations, PTR + SRV + TXT + A each, from \`dnsperf -u -c 1 -q 100\`; ringdns
makes each durable in LMDB before answering, knotd in its journal. Latency: one registration at a time
with the ringdns client library, then queries until the name answers.

${updateTable}

## Memory and restart

The embedded store filled with N registrations (instance + host, 10 types), then a daemon started on it.
RSS above an empty daemon's. Rings are built when first asked for (a \`_hash\` query); the last column
asks one per type.

${scaleTable}

## Ring

${ringTable}
`;
// the sections run alone (--scale, --srp, --push) are kept as they were
writeFileSync(
  RESULTS,
  md + ["scale:", "srp", "xfr", "journal", "push"].map((prefix) => markedSections(RESULTS, prefix)).join(""),
);
if (json) console.log(JSON.stringify(result, null, 2));
else
  console.log(
    `\n${table}\n\n${ratioTable}\n\n${allCoreTable}\n\n${updateTable}\n\n${scaleTable}\n\n${ringTable}\n\nwritten to bench/RESULTS.md`,
  );
