// SRP (RFC 9665) with code we did not write on the other end: a client on
// miekg/dns (Go; it builds the UPDATE, the Update Lease option and the SIG(0)
// signature) and BIND's nsupdate signing with a SIG(0) key from `ringdns keygen`.
// dig checks what each registration makes visible.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { register } from "../../src/client/registration.js";
import { generateSig0Key } from "../../src/update/sig0-keys.js";
import { buildGoProgram, hasMiekgDns } from "../lab/go.js";
import { startEtcd, type RunningEtcd } from "../lab/etcd.js";
import { missingTool } from "../lab/tools.js";
import { eventually } from "../lab/wait.js";

const ZONE = "default.service.arpa.";
const keys = mkdtempSync(join(tmpdir(), "ringdns-srp-keys-"));
const keyFile = (name: string) => join(keys, `${name}.pem`);
const skip = missingTool("go", "dig", "nsupdate") || !hasMiekgDns();

let client = "";
const buildClient = () => (client = buildGoProgram(join(import.meta.dirname, "../lab/srp-client-go"), "srp-client"));
function srpAsync(d: RunningDaemon, key: string, host: string, args: string[]): Promise<string> {
  const p = spawn(client, ["-server", `127.0.0.1:${d.port}`, "-key", keyFile(key), "-host", host, ...args]);
  let out = "";
  p.stdout.on("data", (c) => (out += c));
  return once(p, "exit").then(() => out.trim());
}
function srp(d: RunningDaemon, key: string, host: string, args: string[]): string {
  const r = spawnSync(client, ["-server", `127.0.0.1:${d.port}`, "-key", keyFile(key), "-host", host, ...args], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (r.status !== 0) throw new Error(`srp-client failed: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}
const rdata = (d: RunningDaemon, name: string, type: string) =>
  dig("dig", "127.0.0.1", d.port, [name, type])
    .answer.map((a) => a.rdata)
    .sort();

const printer = ["-service", "Office Printer|_ipp._tcp|631|_color,_duplex|rp=ipp/print"];
const scanner = ["-service", "scanner|_uscan._tcp|8080||vers=2.0"];

describe.skipIf(skip)("SRP registration by a miekg/dns client and by nsupdate", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ringdns-srp-data-"));
  const args = ["--data-dir", dataDir, "--lease-min", "1"];
  let d: RunningDaemon;
  beforeAll(async () => {
    buildClient();
    d = await startDaemon(args);
  }, 240_000);
  afterAll(() => d.stop());

  it("registers a host with two services and subtypes: dig browses, resolves and hashes to it", () => {
    expect(srp(d, "a", "printer", ["-addr", "192.0.2.7", ...printer, ...scanner])).toBe("NOERROR 3600 86400");
    expect(rdata(d, `_ipp._tcp.${ZONE}`, "PTR")).toEqual([`Office\\032Printer._ipp._tcp.${ZONE}`]);
    expect(rdata(d, `_color._sub._ipp._tcp.${ZONE}`, "PTR")).toEqual([`Office\\032Printer._ipp._tcp.${ZONE}`]);
    expect(rdata(d, `Office\\032Printer._ipp._tcp.${ZONE}`, "SRV")).toEqual([`0 1 631 printer.${ZONE}`]);
    expect(rdata(d, `Office\\032Printer._ipp._tcp.${ZONE}`, "TXT")).toEqual(['"rp=ipp/print"']);
    expect(rdata(d, `printer.${ZONE}`, "A")).toEqual(["192.0.2.7"]);
    expect(rdata(d, `job-42._hash._uscan._tcp.${ZONE}`, "SRV")).toEqual([`0 1 8080 printer.${ZONE}`]);
    // renewal with the same key, subtypes as sent now
    expect(
      srp(d, "a", "printer", ["-addr", "192.0.2.7", "-service", "Office Printer|_ipp._tcp|631|_mono|", ...scanner]),
    ).toBe("NOERROR 3600 86400");
    expect(rdata(d, `_color._sub._ipp._tcp.${ZONE}`, "PTR")).toEqual([]);
    expect(rdata(d, `_mono._sub._ipp._tcp.${ZONE}`, "PTR")).toEqual([`Office\\032Printer._ipp._tcp.${ZONE}`]);
  });

  it("another key gets YXDOMAIN for the host and for an instance name, and nothing changes", () => {
    expect(srp(d, "b", "printer", ["-addr", "198.51.100.9", ...printer])).toBe("YXDOMAIN");
    expect(srp(d, "b", "other", ["-addr", "198.51.100.9", ...scanner])).toBe("YXDOMAIN");
    expect(rdata(d, `printer.${ZONE}`, "A")).toEqual(["192.0.2.7"]);
    expect(rdata(d, `other.${ZONE}`, "A")).toEqual([]);
  });

  it("a corrupted signature and a stale signature time are REFUSED, nothing stored", async () => {
    expect(srp(d, "c", "corrupt", ["-addr", "192.0.2.8", "-corrupt"])).toBe("REFUSED");
    expect(srp(d, "c", "stale", ["-addr", "192.0.2.8", "-stale"])).toBe("REFUSED");
    expect(rdata(d, `corrupt.${ZONE}`, "A")).toEqual([]);
    expect(rdata(d, `stale.${ZONE}`, "A")).toEqual([]);
    // each refusal is logged with its reason (the daemon writes its log asynchronously)
    await d.waitForLog(
      /srp update refused.*SIG\(0\) signature does not verify|SIG\(0\) signature does not verify.*srp update refused/,
    );
    await d.waitForLog(/srp update refused.*signature has expired|signature has expired.*srp update refused/);
  });

  it("a lease that runs out removes host and services; the key still holds the names", async () => {
    expect(
      srp(d, "e", "brief", [
        "-addr",
        "192.0.2.9",
        "-lease",
        "2",
        "-keylease",
        "3600",
        "-service",
        "brief|_kv._tcp|7000||",
      ]),
    ).toBe("NOERROR 2 3600");
    expect(rdata(d, `_kv._tcp.${ZONE}`, "PTR")).toEqual([`brief._kv._tcp.${ZONE}`]);
    await eventually("the lease to run out", () => rdata(d, `_kv._tcp.${ZONE}`, "PTR").length === 0 && true);
    expect(rdata(d, `brief.${ZONE}`, "A")).toEqual([]);
    expect(srp(d, "f", "brief", ["-addr", "192.0.2.10"])).toBe("YXDOMAIN");
  });

  it("kill -9 right after the acknowledgement: registration and claim are there after restart", async () => {
    expect(srp(d, "g", "durable", ["-addr", "192.0.2.11", "-service", "durable|_kv._tcp|7001||"])).toBe(
      "NOERROR 3600 86400",
    );
    d.proc.kill("SIGKILL");
    await once(d.proc, "exit");
    d = await startDaemon(args);
    expect(rdata(d, `durable._kv._tcp.${ZONE}`, "SRV")).toEqual([`0 1 7001 durable.${ZONE}`]);
    expect(srp(d, "h", "durable", ["-addr", "192.0.2.12"])).toBe("YXDOMAIN");
  });

  it("LEASE 0 removes the host and its services; the name stays the key's", () => {
    expect(srp(d, "a", "printer", ["-lease", "0", "-keylease", "86400"])).toBe("NOERROR 0 86400");
    expect(rdata(d, `_ipp._tcp.${ZONE}`, "PTR")).toEqual([]);
    expect(rdata(d, `_uscan._tcp.${ZONE}`, "PTR")).toEqual([]);
    expect(rdata(d, `printer.${ZONE}`, "A")).toEqual([]);
    expect(srp(d, "b", "printer", ["-addr", "198.51.100.9"])).toBe("YXDOMAIN");
  });

  it("nsupdate signs with a SIG(0) key from ringdns keygen (BIND's own signing); another key's signature is REFUSED", () => {
    const kdir = mkdtempSync(join(tmpdir(), "ringdns-sig0-"));
    runCli(["keygen", "--algorithm", "ecdsa-p256", "--out", kdir, `lamp.${ZONE}`]);
    const priv = join(kdir, readdirSync(kdir).find((f) => f.endsWith(".private"))!);
    const pub = spawnSync("cat", [priv.replace(/\.private$/, ".key")], { encoding: "utf8" }).stdout;
    const keyRecord = pub.split("\n").find((l) => l.includes(" KEY "))!;
    const script = (addr: string) => `server 127.0.0.1 ${d.port}
zone ${ZONE}
update delete lamp.${ZONE} ANY
update add ${keyRecord.replace(" IN KEY ", " 120 IN KEY ")}
update add lamp.${ZONE} 120 A ${addr}
update add _light._tcp.${ZONE} 120 PTR lamp._light._tcp.${ZONE}
update delete lamp._light._tcp.${ZONE} ANY
update add lamp._light._tcp.${ZONE} 120 SRV 0 1 5683 lamp.${ZONE}
update add lamp._light._tcp.${ZONE} 120 TXT "on=1"
send
`;
    const ok = spawnSync("nsupdate", ["-k", priv], { input: script("192.0.2.20"), encoding: "utf8", timeout: 20_000 });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(rdata(d, `lamp._light._tcp.${ZONE}`, "SRV")).toEqual([`0 1 5683 lamp.${ZONE}`]);
    expect(rdata(d, `lamp.${ZONE}`, "A")).toEqual(["192.0.2.20"]);
    // the same update with the KEY of another pair, signed by the first: the signature does not verify
    const other = mkdtempSync(join(tmpdir(), "ringdns-sig0-"));
    runCli(["keygen", "--algorithm", "ecdsa-p256", "--out", other, `lamp.${ZONE}`]);
    const otherKey = spawnSync("sh", ["-c", `cat ${other}/*.key`], { encoding: "utf8" })
      .stdout.split("\n")
      .find((l) => l.includes(" KEY "))!;
    const forged = script("192.0.2.21").replace(
      keyRecord.replace(" IN KEY ", " 120 IN KEY "),
      otherKey.replace(" IN KEY ", " 120 IN KEY "),
    );
    const refused = spawnSync("nsupdate", ["-k", priv], { input: forged, encoding: "utf8", timeout: 20_000 });
    expect(refused.stdout + refused.stderr).toMatch(/REFUSED/);
    expect(rdata(d, `lamp.${ZONE}`, "A")).toEqual(["192.0.2.20"]);
  });
});

describe.skipIf(skip)("SRP from ringdns's own client: the CLI and the library", () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await startDaemon(["--store", "memory", "--lease-min", "1"]);
  });
  afterAll(() => d?.stop());
  const server = () => `127.0.0.1:${d.port}`;

  it("ringdns register --srp makes the host's key on first use, keeps it, and another key cannot take the name", () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-srp-cli-"));
    const args = (keys: string) => [
      "register",
      "--srp",
      "_ipp._tcp",
      "Hall Printer",
      "--host",
      "hall",
      "--address",
      "192.0.2.55",
      "--port",
      "631",
      "--txt",
      "rp=ipp/print",
      "--once",
      "--server",
      server(),
      "--srp-key",
      keys,
    ];
    const first = runCli(args(dir));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/made a new key for hall\.default\.service\.arpa\./);
    expect(readdirSync(dir).filter((f) => f.endsWith(".private"))).toHaveLength(1);
    expect(rdata(d, `Hall\\032Printer._ipp._tcp.${ZONE}`, "SRV")).toEqual([`0 1 631 hall.${ZONE}`]);
    const again = runCli(args(dir));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/signing as hall\.default\.service\.arpa\./);
    const stranger = runCli(args(mkdtempSync(join(tmpdir(), "ringdns-srp-cli-"))));
    expect(stranger.status).not.toBe(0);
    expect(stranger.stderr).toMatch(/YXDOMAIN/);
  });

  it("the library renews at 80 % of the lease, registers again after the server lost it, and close() removes the service", async () => {
    const signer = generateSig0Key(`lib.${ZONE}`, 13);
    const service = { instance: "lib", type: "_kv._tcp", host: "lib", addresses: ["192.0.2.56"], port: 7300 };
    const options = { server: { host: "127.0.0.1", port: d.port }, srp: { signer, keyLease: 600 }, lease: 2 };
    const reg = await register(service, options);
    expect(reg.lease).toBe(2);
    const renewed = await Promise.race([
      once(reg, "renewed").then(() => "renewed"),
      new Promise((r) => setTimeout(() => r("not renewed within 5 s"), 5000)),
    ]);
    expect(renewed).toBe("renewed");
    // the server loses everything (a restart on a memory store): the next renewal restores it
    const port = d.port;
    await d.stop();
    d = await startDaemon(["--store", "memory", "--lease-min", "1"], { port });
    await eventually(
      "the registration restored by a renewal",
      () => rdata(d, `lib._kv._tcp.${ZONE}`, "SRV").length === 1,
    );
    await reg.close();
    expect(rdata(d, `lib._kv._tcp.${ZONE}`, "SRV")).toEqual([]);
    expect(rdata(d, `lib.${ZONE}`, "A")).toEqual(["192.0.2.56"]); // the host stays until its lease ends
  });
});

describe.skipIf(skip || missingTool("etcd", "etcdctl"))("SRP on an etcd cluster", () => {
  let etcd: RunningEtcd;
  let a: RunningDaemon;
  let b: RunningDaemon;
  beforeAll(async () => {
    buildClient();
    etcd = await startEtcd();
    const store = `etcd://${etcd.url.replace(/^http:\/\//, "")}/ringdns-srp-${process.pid}/`;
    [a, b] = await Promise.all(["a", "b"].map((node) => startDaemon(["--store", store, "--node-name", node])));
  }, 240_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await etcd?.stop();
  });

  it("two daemons racing to grant one name to two keys: exactly one wins, and both answer the winner", async () => {
    for (let round = 0; round < 8; round++) {
      const host = `race-${round}`;
      const [ra, rb] = await Promise.all([
        srpAsync(a, `race-a-${round}`, host, ["-addr", "192.0.2.31", "-service", `${host}|_race._tcp|7100||`]),
        srpAsync(b, `race-b-${round}`, host, ["-addr", "192.0.2.32", "-service", `${host}|_race._tcp|7200||`]),
      ]);
      const rcodes = [ra.split(" ")[0], rb.split(" ")[0]].sort();
      expect(rcodes, `round ${round}: ${ra} / ${rb}`).toEqual(["NOERROR", "YXDOMAIN"]);
      const winner = ra.startsWith("NOERROR") ? "192.0.2.31" : "192.0.2.32";
      for (const d of [a, b])
        await eventually(`${host} on every daemon`, () => rdata(d, `${host}.${ZONE}`, "A")[0] === winner && true, 5000);
    }
  });

  it("a claim made on one daemon holds on the other", () => {
    expect(srp(a, "first", "shared", ["-addr", "192.0.2.41"])).toBe("NOERROR 3600 86400");
    expect(srp(b, "second", "shared", ["-addr", "192.0.2.42"])).toBe("YXDOMAIN");
    expect(srp(b, "first", "shared", ["-addr", "192.0.2.43"])).toBe("NOERROR 3600 86400");
    expect(rdata(a, `shared.${ZONE}`, "A")).toEqual(["192.0.2.43"]);
  });
});
