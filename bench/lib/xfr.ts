// Hidden primary (issue 20): AXFR of a large zone (time, bytes, messages) as
// dig and as knotd (a real secondary) receive it, the IXFR of one change, and
// the time from an UPDATE sent to ringdns to knotd answering it (NOTIFY, then
// IXFR). Everything on 127.0.0.1; bounded by the zone size and a few tries.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { queryServer } from "../../src/client/dns-client.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { formatKeyFile, generateKey } from "../../src/update/keys.js";
import { Type } from "../../src/wire/constants.js";
import { CLI, freePort } from "./servers.js";

const ZONE = "xfr.example.";
const TYPES = 10;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function writeServices(dir: string, n: number): string {
  const lines = ["services:"];
  for (let i = 0; i < n; i++)
    lines.push(
      `  - {instance: node-${i}, type: _svc${i % TYPES}._tcp, host: node-${i}, addresses: [198.51.100.${(i % 254) + 1}], port: ${1024 + (i % 60000)}, txt: {index: "${i}"}}`,
    );
  const file = join(dir, "services.yaml");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** dig's own figures for one AXFR: ms, records, messages, bytes. */
function digAxfr(port: number): { ms: number; records: number; messages: number; bytes: number } {
  const r = spawnSync("dig", ["@127.0.0.1", "-p", String(port), "+noall", "+stats", ZONE, "AXFR"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const size = /XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)/.exec(r.stdout);
  const time = /Query time: (\d+) msec/.exec(r.stdout);
  if (!size || !time) throw new Error(`dig AXFR: ${r.stdout}${r.stderr}`);
  return { ms: Number(time[1]), records: Number(size[1]), messages: Number(size[2]), bytes: Number(size[3]) };
}

export async function xfrBench(dir: string, quick: boolean, log: (s: string) => void): Promise<string> {
  const n = quick ? 20_000 : 100_000;
  const tries = quick ? 5 : 10;
  const key = generateKey("bench-key");
  const keyFile = join(dir, "bench.key");
  writeFileSync(keyFile, formatKeyFile(key));
  const services = writeServices(dir, n);
  const port = await freePort();
  const knotPort = await freePort();
  log(`xfr: ringdns with ${n} registrations in ${TYPES} types…`);
  const ringdns = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--dns",
      `127.0.0.1:${port}`,
      "--domain",
      ZONE,
      "--zone-ns",
      "node-0",
      "--services",
      services,
      "--key-file",
      keyFile,
      "--allow-transfer",
      "127.0.0.1/32",
      "--notify",
      `127.0.0.1:${knotPort}`,
      "--log-level",
      "warn",
      "--data-dir",
      join(dir, "ringdns-data"),
      "--srp-from",
      "none",
      "--max-registrations",
      String(2 * n),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const knotDir = join(dir, "knot");
  mkdirSync(join(knotDir, "db"), { recursive: true });
  const knotLogs: string[] = [];
  let knot: ReturnType<typeof spawn> | undefined;
  try {
    const zone = parseName(ZONE);
    for (let i = 0; ; i++) {
      const r = await queryServer({ host: "127.0.0.1", port }, zone, Type.SOA).catch(() => undefined);
      if (r?.answers.length) break;
      if (i > 600) throw new Error("ringdns did not start");
      await sleep(100);
    }
    const axfrs = [0, 1, 2].map(() => digAxfr(port));
    const axfr = axfrs.find((a) => a.ms === median(axfrs.map((x) => x.ms)))!;
    log(`xfr: dig AXFR ${axfrs.map((a) => a.ms).join(", ")} ms, ${axfr.bytes} bytes`);

    writeFileSync(
      join(knotDir, "knot.conf"),
      `server:
    rundir: "${knotDir}"
    listen: 127.0.0.1@${knotPort}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "${knotDir}/db"
log:
  - target: stderr
    any: info
remote:
  - id: ringdns
    address: 127.0.0.1@${port}
acl:
  - id: notify
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "${knotDir}"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
zone:
  - domain: ${ZONE}
    master: ringdns
    acl: notify
`,
    );
    const started = performance.now();
    knot = spawn("knotd", ["-c", join(knotDir, "knot.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let buffered = "";
    knot.stderr!.setEncoding("utf8");
    knot.stderr!.on("data", (c: string) => {
      buffered += c;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      knotLogs.push(...lines);
    });
    const knotLine = async (pattern: RegExp, from = 0, ms = 120_000) => {
      for (const until = performance.now() + ms; performance.now() < until; await sleep(20)) {
        const hit = knotLogs.slice(from).find((l) => pattern.test(l));
        if (hit) return hit;
      }
      throw new Error(`knotd never logged ${pattern}:\n${knotLogs.join("\n")}`);
    };
    const knotAxfr = await knotLine(/AXFR, incoming, .*finished, ([\d.]+) seconds, (\d+) messages, (\d+) bytes/);
    const knotFirst = (performance.now() - started) / 1000;
    const [, knotSeconds, knotMessages, knotBytes] = /finished, ([\d.]+) seconds, (\d+) messages, (\d+) bytes/.exec(
      knotAxfr,
    )!;
    await knotLine(/zone updated/);
    log(`xfr: knotd AXFR ${knotSeconds} s`);

    // one registration at a time, each after an idle --notify-interval: UPDATE to ringdns -> knotd answers
    const latencies: number[] = [];
    const ixfrBytes: number[] = [];
    for (let i = 0; i < tries; i++) {
      await sleep(1100);
      const from = knotLogs.length;
      const name = `lat-${i}`;
      const t0 = performance.now();
      const r = await sendUpdate(
        { host: "127.0.0.1", port },
        zone,
        registrationUpdate(
          { instance: name, type: "_lat._tcp", host: `${name}-h`, addresses: ["203.0.113.9"], port: 1 },
          zone,
        ),
        { key },
      );
      if (r.rcode !== "NOERROR") throw new Error(`UPDATE ${name}: ${r.rcode}`);
      for (;;) {
        const a = await queryServer({ host: "127.0.0.1", port: knotPort }, [name, "_lat", "_tcp", ...zone], Type.SRV);
        if (a.answers.length > 0) break;
        if (performance.now() - t0 > 10_000) throw new Error(`${name} never reached knotd`);
      }
      latencies.push(performance.now() - t0);
      const ixfr = await knotLine(/IXFR, incoming, .*finished, .* (\d+) bytes/, from, 5000);
      ixfrBytes.push(Number(/(\d+) bytes/.exec(ixfr)![1]));
    }
    const axfrsByKnot = knotLogs.filter((l) => /AXFR, incoming, .*finished/.test(l)).length;
    return `## Hidden primary (zone transfer)

\`npm run bench -- --xfr\`, ${new Date().toISOString()}: ${n.toLocaleString("en")} registrations (instance and host
each, ${TYPES} types) in one zone, ringdns on one core, knotd 3.2 as the secondary, all on 127.0.0.1 of a
2-core machine shared with other work (noisy: medians).

| what | figure |
|---|---:|
| AXFR to \`dig\` (median of 3: ${axfrs.map((a) => a.ms).join(", ")} ms) | ${axfr.ms} ms |
| AXFR size | ${axfr.records.toLocaleString("en")} records, ${axfr.messages} messages, ${(axfr.bytes / 2 ** 20).toFixed(1)} MiB |
| AXFR to knotd (its log; start to zone loaded ${knotFirst.toFixed(1)} s) | ${knotSeconds} s, ${knotMessages} messages, ${knotBytes} bytes |
| IXFR of one registration (PTR, SRV, TXT, A; median bytes) | ${median(ixfrBytes)} bytes, 1 message |
| UPDATE sent to ringdns → knotd answers it (NOTIFY, SOA, IXFR; median of ${tries}) | ${median(latencies).toFixed(0)} ms |
| full transfers knotd made in all | ${axfrsByKnot} |
`;
  } finally {
    knot?.kill("SIGTERM");
    ringdns.kill("SIGTERM");
  }
}
