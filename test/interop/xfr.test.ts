// ringdns as a hidden primary (README "Hidden primary") with Knot DNS as a
// real secondary: knotd is started here on loopback with the config the README
// shows, transfers the zone with a TSIG key, answers what ringdns answers,
// follows UPDATEs by IXFR after a NOTIFY, falls back to AXFR when it is
// further behind than the journal, and goes on by IXFR across a restart of
// ringdns and from a daemon of an etcd cluster started after the changes it
// asks for (the journal is in the store); dig's AXFR is allowed only to the
// key or to --allow-transfer sources. Everything stays on 127.0.0.0/8.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lowerAscii } from "../../src/names.js";
import { compareSerial } from "../../src/registry/serial.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { startEtcd, type RunningEtcd } from "../lab/etcd.js";
import { writeKeyFile } from "../lab/keys.js";
import { missingTool } from "../lab/tools.js";
import { eventually } from "../lab/wait.js";

const zone = "svc.example.";
const dir = mkdtempSync(join(tmpdir(), "ringdns-xfr-"));
const dataDir = join(dir, "ringdns-data");
const key = writeKeyFile("xfr-key");
const tsig = `hmac-sha256:xfr-key:${key.secret}`;
const JOURNAL = 5;
/** Instances of one more type: enough that a transfer takes several messages, each signed (RFC 8945 §5.3.1). */
const BIG = 3000;

/** A port free on 127.0.0.1 now (for knotd, which takes UDP and TCP on it). */
async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, "close");
  return port;
}

const services = join(dir, "services.yaml");
writeFileSync(
  services,
  `services:
  - {instance: alpha, type: _cache._tcp, subtypes: [_eu], host: alpha, addresses: [192.0.2.10, 2001:db8::10], port: 11211, txt: {role: primary}}
  - {instance: beta, type: _cache._tcp, host: beta, addresses: [192.0.2.11], port: 11212, txt: {role: replica}}
  - {instance: Front Door Printer, type: _ipp._tcp, host: printer, addresses: [203.0.113.40], port: 631, txt: [txtvers=1, Color]}
  - {instance: ns, type: _dns._udp, host: ns, addresses: [192.0.2.53], port: 53}
${Array.from({ length: BIG }, (_, i) => `  - {instance: node-${i}, type: _big._tcp, host: node-${i}, addresses: [198.51.100.${(i % 254) + 1}], port: ${10000 + i}, txt: {index: "${i}"}}`).join("\n")}
`,
);

/** The knotd configuration README "Hidden primary" shows, with this test's ports and directories. */
function knotConfig(knotPort: number, ringdnsPort: number, knotDir: string): string {
  return `server:
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
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: ${key.secret}
remote:
  - id: ringdns
    address: 127.0.0.1@${ringdnsPort}
    key: xfr-key
acl:
  - id: notify-from-ringdns
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "${knotDir}/zones"
    # the zone lives in knotd's journal, never in a zone file
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
zone:
  - domain: ${zone}
    master: ringdns
    acl: notify-from-ringdns
`;
}

interface Knot {
  proc: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

function startKnot(config: string): Knot {
  const proc = spawn("knotd", ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
  const logs: string[] = [];
  let buffered = "";
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    logs.push(...lines);
  });
  return {
    proc,
    logs,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await once(proc, "exit");
    },
  };
}

let d: RunningDaemon;
let ringdnsPort: number;
let knotPort: number;
let knot: Knot;
const knotDir = join(dir, "knot");
const knotConf = join(knotDir, "knot.conf");

const ringdnsArgs = () => [
  "--domain",
  zone,
  "--services",
  services,
  "--zone-ns",
  "ns",
  "--key-file",
  key.file,
  "--transfer-key",
  "xfr-key",
  "--allow-transfer",
  "127.0.0.2/32",
  "--notify",
  `127.0.0.1:${knotPort}`,
  "--notify-interval",
  "200",
  "--ixfr-journal",
  String(JOURNAL),
  "--data-dir",
  dataDir,
  "--srp-from",
  "none",
];

beforeAll(async () => {
  if (missingTool("knotd", "dig", "nsupdate")) return;
  knotPort = await freePort();
  d = await startDaemon(ringdnsArgs());
  ringdnsPort = d.port;
  mkdirSync(join(knotDir, "db"), { recursive: true });
  mkdirSync(join(knotDir, "zones"), { recursive: true });
  writeFileSync(knotConf, knotConfig(knotPort, ringdnsPort, knotDir));
  knot = startKnot(knotConf);
}, 30_000);

afterAll(async () => {
  await knot?.stop();
  await d?.stop();
});

const atKnot = (name: string, type: string) => dig("dig", "127.0.0.1", knotPort, [name, type]);
const atRingdns = (name: string, type: string) => dig("dig", "127.0.0.1", ringdnsPort, [name, type]);
const rdata = (r: ReturnType<typeof dig>) => r.answer.map((a) => `${a.name} ${a.type} ${a.rdata}`).sort();
const serialAt = (query: typeof atKnot) => {
  const soa = query(zone, "SOA").answer.find((a) => a.type === "SOA");
  return soa ? Number(soa.rdata.split(/\s+/)[2]) : undefined;
};
const knotLogSince = (from: number) => knot.logs.slice(from).join("\n");

function nsupdate(script: string): void {
  const r = spawnSync("nsupdate", ["-k", key.file], {
    input: `server 127.0.0.1 ${ringdnsPort}\nzone ${zone}\n${script}\nsend\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
}
const register = (inst: string, port: number, addr: string) =>
  nsupdate(`update add _kv._tcp.${zone} 60 PTR ${inst}._kv._tcp.${zone}
update add ${inst}._kv._tcp.${zone} 60 SRV 0 1 ${port} ${inst}.${zone}
update add ${inst}._kv._tcp.${zone} 60 TXT "by=${inst}"
update add ${inst}.${zone} 60 A ${addr}`);
const remove = (inst: string) =>
  nsupdate(`update delete ${inst}._kv._tcp.${zone}
update delete _kv._tcp.${zone} PTR ${inst}._kv._tcp.${zone}
update delete ${inst}.${zone}`);

/** knotd has caught up with ringdns: the same SOA serial, and its log says so (its log lines arrive on their own time). */
async function caughtUp(what: string): Promise<number> {
  const serial = await eventually(what, () => {
    const want = serialAt(atRingdns);
    return want !== undefined && serialAt(atKnot) === want && want;
  });
  await knotLogged(new RegExp(`zone updated, .*-> ${serial}, `));
  return serial;
}

const knotLogged = (pattern: RegExp, from = 0) =>
  eventually(`knotd logs ${pattern}`, () => knot.logs.slice(from).some((l) => pattern.test(l)));

describe.skipIf(missingTool("knotd", "dig", "nsupdate"))("knotd as a secondary of ringdns", () => {
  it("transfers the zone (TSIG-signed AXFR) and answers browse, SRV, TXT and A as ringdns does", async () => {
    await caughtUp("knotd transferred the zone");
    expect(knot.logs.join("\n")).toMatch(/AXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    // signed: knotd asked with the key, and took the signed reply (it drops a reply whose TSIG does not verify)
    const done = await d.waitForLog(/"key":"xfr-key\.".*"outcome":"axfr".*zone transfer done/, 10_000);
    expect(JSON.parse(done!).messages).toBeGreaterThan(1);
    const names: [string, string][] = [
      [`_services._dns-sd._udp.${zone}`, "PTR"],
      [zone, "NS"],
    ];
    for (const type of ["_cache._tcp", "_ipp._tcp", "_dns._udp"]) {
      names.push([`${type}.${zone}`, "PTR"]);
      for (const ptr of atRingdns(`${type}.${zone}`, "PTR").answer) names.push([ptr.rdata, "SRV"], [ptr.rdata, "TXT"]);
    }
    names.push([`_eu._sub._cache._tcp.${zone}`, "PTR"]);
    for (const i of [0, 1234, BIG - 1]) names.push([`node-${i}._big._tcp.${zone}`, "SRV"], [`node-${i}.${zone}`, "A"]);
    for (const host of ["alpha", "beta", "printer", "ns"]) names.push([`${host}.${zone}`, "A"]);
    names.push([`alpha.${zone}`, "AAAA"]);
    for (const [name, type] of names) {
      const want = rdata(atRingdns(name, type));
      expect(want.length, `${name} ${type} at ringdns`).toBeGreaterThan(0);
      // Knot keeps names in RDATA lower-cased (a PTR's "Front Door Printer" arrives "front door printer"):
      // DNS names compare without case, so the answer is the same one (README "Hidden primary")
      expect(rdata(atKnot(name, type)).map(lowerAscii), `${name} ${type}`).toEqual(want.map(lowerAscii));
    }
  });

  it("follows a registration and its removal by IXFR after a NOTIFY", async () => {
    await caughtUp("knotd transferred the zone");
    const from = knot.logs.length;
    register("web-1", 8080, "192.0.2.51");
    await eventually("knotd answers the new SRV", () => atKnot(`web-1._kv._tcp.${zone}`, "SRV").answer.length === 1);
    expect(rdata(atKnot(`_kv._tcp.${zone}`, "PTR"))).toEqual(rdata(atRingdns(`_kv._tcp.${zone}`, "PTR")));
    expect(rdata(atKnot(`web-1.${zone}`, "A"))).toEqual([`web-1.${zone} A 192.0.2.51`]);
    remove("web-1");
    await eventually("knotd forgets the SRV", () => atKnot(`web-1._kv._tcp.${zone}`, "SRV").status === "NXDOMAIN");
    expect(atKnot(`_kv._tcp.${zone}`, "PTR").answer).toEqual([]);
    await caughtUp("knotd has the removal");
    const log = knotLogSince(from);
    expect(log).toMatch(/notify, incoming, remote 127\.0\.0\.1@\d+/);
    expect(log).toMatch(/IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    expect(log).not.toMatch(/AXFR, incoming/);
    await d.waitForLog(/"msg":"NOTIFY acknowledged"/);
  });

  it("falls back to AXFR when knotd is further behind than the journal", async () => {
    await caughtUp("knotd is up to date");
    await knot.stop();
    for (let i = 0; i < JOURNAL + 2; i++) register(`batch-${i}`, 9000 + i, `198.51.100.${i + 1}`);
    knot = startKnot(knotConf);
    await caughtUp("knotd caught up after its restart");
    expect(knot.logs.join("\n")).toMatch(/receiving AXFR-style IXFR/);
    expect(knot.logs.join("\n")).toMatch(/AXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    await d.waitForLog(/"outcome":"ixfr-as-axfr".*"zone transfer done"/, 10_000);
    expect(rdata(atKnot(`_kv._tcp.${zone}`, "PTR"))).toEqual(rdata(atRingdns(`_kv._tcp.${zone}`, "PTR")));
  });

  it("dig axfr: REFUSED unsigned from a source not allowed; allowed with the key or from --allow-transfer", () => {
    const unsigned = spawnSync("dig", ["@127.0.0.1", "-p", String(ringdnsPort), zone, "AXFR", "+tries=1"], {
      encoding: "utf8",
    }).stdout;
    expect(unsigned).toMatch(/Transfer failed|REFUSED/);
    const signed = spawnSync("dig", ["@127.0.0.1", "-p", String(ringdnsPort), "-y", tsig, zone, "AXFR"], {
      encoding: "utf8",
    }).stdout;
    expect(signed).toMatch(/XFR size: \d+ records/);
    expect(signed).toMatch(/alpha\._cache\._tcp\.svc\.example\.\s+\d+\s+IN\s+SRV/);
    expect(signed).not.toMatch(/_hash/);
    const fromAllowed = spawnSync("dig", ["-b", "127.0.0.2", "@127.0.0.1", "-p", String(ringdnsPort), zone, "AXFR"], {
      encoding: "utf8",
    }).stdout;
    expect(fromAllowed).toMatch(/XFR size: \d+ records/);
    // a key that verifies but is not a --transfer-key is no better than none
    const wrongKey = spawnSync(
      "dig",
      ["@127.0.0.1", "-p", String(ringdnsPort), "-y", `hmac-sha256:other-key:${key.secret}`, zone, "AXFR"],
      { encoding: "utf8" },
    ).stdout;
    expect(wrongKey).not.toMatch(/XFR size/);
  });

  it("the serial never goes back across a restart, and knotd follows the restarted daemon by IXFR (the journal is in the store)", async () => {
    await caughtUp("knotd is up to date");
    const before = serialAt(atRingdns)!;
    await d.stop();
    d = await startDaemon(ringdnsArgs(), { port: ringdnsPort });
    const after = serialAt(atRingdns)!;
    expect(compareSerial(after, before)).toBe(1);
    // the journal the last run left, checked against the zone as loaded: knotd's serial is in it
    const restored = await d.waitForLog(/IXFR journals: steps from before this start/, 10_000);
    expect(JSON.parse(restored).steps).toBeGreaterThan(0);
    const from = knot.logs.length;
    register("after-restart", 7000, "192.0.2.77");
    await eventually(
      "knotd answers what the restarted daemon registered",
      () => atKnot(`after-restart._kv._tcp.${zone}`, "SRV").answer.length === 1,
    );
    await caughtUp("knotd has the change made after the restart");
    // from the serial it had before the restart, by IXFR: no whole zone again
    const log = knotLogSince(from);
    expect(log).toMatch(/IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    expect(log).not.toMatch(/AXFR, incoming|AXFR-style IXFR/);
    // asked from the serial it had before the restart
    await d.waitForLog(new RegExp(`"clientSerial":${before},"outcome":"ixfr".*"zone transfer started"`), 10_000);
  });
});

describe.skipIf(missingTool("etcd", "knotd", "dig", "nsupdate"))("two daemons on etcd as primaries", () => {
  let etcd: RunningEtcd;
  const daemons: RunningDaemon[] = [];
  let secondary: Knot;
  let secondaryPort: number;
  let secondaryConf: string;
  let nodeArgs: (node: string) => string[];
  beforeAll(async () => {
    etcd = await startEtcd();
    secondaryPort = await freePort();
    const store = `etcd://${etcd.url.replace(/^http:\/\//, "")}/ringdns-xfr-${process.pid}/`;
    nodeArgs = (node) => [
      "--store",
      store,
      "--node-name",
      node,
      "--domain",
      zone,
      "--services",
      services,
      "--zone-ns",
      "ns",
      "--key-file",
      key.file,
      "--transfer-key",
      "xfr-key",
      // both tell the secondary: whichever it asks, the serial and the changes are the same
      "--notify",
      `127.0.0.1:${secondaryPort}`,
      "--notify-interval",
      "200",
      "--srp-from",
      "none",
    ];
    for (const node of ["a", "b"]) daemons.push(await startDaemon(nodeArgs(node)));
    const dir2 = join(dir, "knot-etcd");
    mkdirSync(join(dir2, "db"), { recursive: true });
    const conf = knotConfig(secondaryPort, daemons[0]!.port, dir2).replace(
      "remote:\n  - id: ringdns",
      `remote:\n  - id: ringdns-b\n    address: 127.0.0.1@${daemons[1]!.port}\n    key: xfr-key\n  - id: ringdns`,
    );
    // the secondary takes the zone from b first, a when b does not answer
    secondaryConf = join(dir2, "knot.conf");
    writeFileSync(secondaryConf, conf.replace("master: ringdns", "master: [ringdns-b, ringdns]"));
    secondary = startKnot(secondaryConf);
  }, 60_000);
  afterAll(async () => {
    await secondary?.stop();
    for (const d of daemons) await d.stop();
    await etcd?.stop();
  });

  const soaSerial = (port: number) => {
    const soa = dig("dig", "127.0.0.1", port, [zone, "SOA"]).answer.find((a) => a.type === "SOA");
    return soa ? Number(soa.rdata.split(/\s+/)[2]) : undefined;
  };

  it("give the same serial to the same state, and the secondary follows either by IXFR", async () => {
    const [a, b] = daemons as [RunningDaemon, RunningDaemon];
    await eventually("both daemons give one serial", () => soaSerial(a.port) === soaSerial(b.port));
    const first = soaSerial(a.port)!;
    await eventually("knotd has the zone", () => soaSerial(secondaryPort) === first);
    const r = spawnSync("nsupdate", ["-k", key.file], {
      input: `server 127.0.0.1 ${a.port}\nzone ${zone}\nupdate add via-a._kv._tcp.${zone} 60 SRV 0 1 80 via-a.${zone}\nupdate add _kv._tcp.${zone} 60 PTR via-a._kv._tcp.${zone}\nsend\n`,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    await eventually(
      "b has a's registration",
      () => dig("dig", "127.0.0.1", b.port, [`via-a._kv._tcp.${zone}`, "SRV"]).answer.length === 1,
    );
    const after = await eventually("both daemons give one new serial", () => {
      const s = soaSerial(a.port);
      return s !== undefined && s === soaSerial(b.port) && s;
    });
    expect(compareSerial(after, first)).toBe(1);
    // knotd asks b (its first primary) for the change a took: b's journal has it under the same serials
    await eventually(
      "knotd follows",
      () => dig("dig", "127.0.0.1", secondaryPort, [`via-a._kv._tcp.${zone}`, "SRV"]).answer.length === 1,
    );
    await b.waitForLog(/"outcome":"ixfr".*"zone transfer done"/, 10_000);
  });

  const nsupdateAt = (port: number, inst: string) => {
    const r = spawnSync("nsupdate", ["-k", key.file], {
      input: `server 127.0.0.1 ${port}\nzone ${zone}\nupdate add ${inst}._kv._tcp.${zone} 60 SRV 0 1 80 ${inst}.${zone}\nupdate add _kv._tcp.${zone} 60 PTR ${inst}._kv._tcp.${zone}\nsend\n`,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
  };
  const secondaryHas = (inst: string) =>
    eventually(`the secondary answers ${inst}`, () => {
      try {
        return dig("dig", "127.0.0.1", secondaryPort, [`${inst}._kv._tcp.${zone}`, "SRV"]).answer.length === 1;
      } catch {
        return false; // knotd (just started) not listening yet
      }
    });

  it("a secondary that transferred from a asks b, started since, and gets IXFR: b reads the steps a wrote from etcd", async () => {
    const a = daemons[0]!;
    // b down: the secondary can only follow a
    await daemons[1]!.stop();
    const seen = secondary.logs.length;
    nsupdateAt(a.port, "while-b-is-down");
    await secondaryHas("while-b-is-down");
    const fromAPattern = new RegExp(`IXFR, incoming, remote 127\\.0\\.0\\.1@${a.port}, finished`);
    await eventually("the secondary logs an IXFR from a", () =>
      secondary.logs.slice(seen).some((l) => fromAPattern.test(l)),
    );
    const fromA = soaSerial(secondaryPort)!;
    // the secondary stops there; a makes one more change, and b starts after it: b's own journal begins after the change
    await secondary.stop();
    nsupdateAt(a.port, "before-b-starts");
    daemons[1] = await startDaemon(nodeArgs("b"), { port: daemons[1]!.port });
    const b = daemons[1]!;
    const restored = await b.waitForLog(/IXFR journals: steps from before this start/, 10_000);
    expect(JSON.parse(restored).steps).toBeGreaterThan(0);
    await eventually(
      "b has the change",
      () => soaSerial(b.port) === soaSerial(a.port) && compareSerial(soaSerial(b.port)!, fromA) === 1,
    );
    // the secondary asks b (its first primary) for what changed since the serial it took from a
    secondary = startKnot(secondaryConf);
    await secondaryHas("before-b-starts");
    const fromB = new RegExp(`IXFR, incoming, remote 127\\.0\\.0\\.1@${b.port}, finished`);
    await eventually("the secondary logs an IXFR from b", () => secondary.logs.some((l) => fromB.test(l)));
    expect(secondary.logs.join("\n")).not.toMatch(/AXFR, incoming|AXFR-style IXFR/);
    await b.waitForLog(new RegExp(`"clientSerial":${fromA},"outcome":"ixfr".*"zone transfer started"`), 10_000);
  });
});
