// The ringdns command line as a user runs it.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base32hexEncode } from "../../src/names.js";
import { run, runCli, startDaemon, writeServicesFile, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";
import { dig } from "../lab/dig.js";

let d: RunningDaemon;
const services = writeServicesFile(
  40,
  "_kv._tcp",
  '  - {instance: "Lobby v1.2", type: _ipp._tcp, host: lobby, addresses: [203.0.113.7], port: 631}\n',
);
beforeAll(async () => {
  d = await startDaemon(["--services", services]);
});
afterAll(() => d.stop());

describe.skipIf(missingTool("dig"))("ringdns hash agrees with _hash queries", () => {
  it("for 1000 random keys, plain and b32-", () => {
    const keys = Array.from({ length: 1000 }, (_, i) =>
      i % 4 === 3
        ? `b32-${base32hexEncode(randomBytes(1 + (i % 30)))}`
        : `key-${randomBytes(6).toString("hex")}.${i % 7}`,
    );
    const offline = runCli(["hash", "_kv._tcp", ...keys, "--services", services, "--json"]);
    expect(offline.status).toBe(0);
    const owners = offline.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).owner as string);
    expect(owners).toHaveLength(1000);
    // dig -f: one query per line, all over one process
    const dir = mkdtempSync(join(tmpdir(), "ringdns-keys-"));
    writeFileSync(join(dir, "q"), `${keys.map((k) => `${k}._hash._kv._tcp.local SRV`).join("\n")}\n`);
    const out = run("dig", ["@127.0.0.1", "-p", String(d.port), "+short", "-f", join(dir, "q")]);
    const targets = out
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[3]!.split(".")[0]);
    expect(targets).toEqual(owners); // host label = instance name in this data set
    expect(new Set(owners).size).toBeGreaterThan(30); // spread over the ring
  });
});

describe("ringdns resolve", () => {
  const server = () => `127.0.0.1:${d.port}`;

  it("browses a type", () => {
    const r = runCli(["resolve", "_kv._tcp", "--server", server()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^_kv\._tcp\.local\.\s+40 instances/);
    expect(r.stdout).toMatch(
      /node-7\._kv\._tcp\.local\.\s+node-7\.local\.:10007\s+priority 0 weight 2\s+\[198\.51\.100\.8\]\s+index=7/,
    );
  });

  it("keeps an instance name with a dot in one label", () => {
    const r = runCli(["resolve", "_ipp._tcp", "--server", server()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Lobby v1\\\.2\._ipp\._tcp\.local\.\s+lobby\.local\.:631/);
    expect(runCli(["resolve", "_ipp._tcp", "Lobby v1.2", "--server", server()]).status).toBe(0);
  });

  it("resolves one instance and a key's owner, as text and JSON", () => {
    const one = runCli(["resolve", "_kv._tcp", "node-3", "--server", server(), "--json"]);
    expect(JSON.parse(one.stdout)).toMatchObject({
      target: "node-3.local.",
      port: 10003,
      addresses: ["198.51.100.4"],
      txt: ["index=3"],
    });
    const key = runCli(["resolve", "_kv._tcp", "--key", "user42", "--server", server()]);
    const expected = JSON.parse(runCli(["hash", "_kv._tcp", "user42", "--services", services, "--json"]).stdout).owner;
    expect(key.stdout).toMatch(
      new RegExp(`^owner  ${expected}\\nuser42\\._hash\\._kv\\._tcp\\.local\\.\\s+${expected}\\.local\\.:`),
    );
  });

  it("says what is missing, with a non-zero exit", () => {
    const r = runCli(["resolve", "_kv._tcp", "nobody", "--server", server()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("ringdns: nobody._kv._tcp.local.: NXDOMAIN\n");
  });
});

describe("command line errors and help", () => {
  it("every command has --help with examples", () => {
    for (const cmd of ["serve", "resolve", "hash"]) {
      const r = runCli([cmd, "--help"]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Examples:/);
    }
    expect(runCli(["--help"]).stdout).toMatch(/serve.*\n.*resolve.*\n.*hash/s);
  });

  it.each([
    [["serve", "--bogus"], /^error: unknown option '--bogus'\n$/],
    [["serve", "--dns", "127.0.0.1:99999"], /^ringdns: --dns: "127.0.0.1:99999": port must be 0-65535\n$/],
    [["serve", "--dns", "nonsense:53"], /^ringdns: --dns: "nonsense:53": expected ADDRESS:PORT/],
    [["serve", "--log-level", "loud"], /^error: option '--log-level <level>' argument 'loud' is invalid/],
    [["serve", "--ttl", "-1"], /^ringdns: --ttl: must be an integer/],
    [["serve", "--domain", "a..b"], /^ringdns: --domain: empty label/],
    [["hash", "_kv._tcp", "k"], /^error: required option '--services <file>' not specified\n$/],
    [["hash", "kv", "k", "--services", "examples/services.yaml"], /^ringdns: <type>: "kv" is not a service type/],
    [["frobnicate"], /^error: unknown command 'frobnicate'/],
    // a typo in --key-zone would leave the real key unrestricted
    [
      ["serve", "--dns", "127.0.0.1:0", "--store", "memory", "--key-zone", "ringdns-kye=svc.example."],
      /^ringdns: --key-zone: key ringdns-kye\. is not in any --key-file \(no --key-file is given\)\n$/,
    ],
    [
      ["serve", "--dns", "127.0.0.1:0", "--store", "memory", "--key-file", "test/update/fixtures/none.key"],
      /^ringdns: test\/update\/fixtures\/none\.key: cannot read/,
    ],
    [
      ["serve", "--store", "etcd://127.0.0.1:1", "--etcd-user", "u", "--etcd-password-file", "/dev/null"],
      /^ringdns: --etcd-user: sends the etcd password in clear text without TLS/,
    ],
    [["serve", "--etcd-insecure"], /^ringdns: --etcd-insecure: has no use without --store etcd:/],
  ])("%j fails with one line", (args, message) => {
    const r = runCli(args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("--key-zone naming a key no --key-file holds stops the daemon, naming the keys it has", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ringdns-keys-")), "k.key");
    expect(runCli(["keygen", "ringdns-key", "--out", file]).status).toBe(0);
    const r = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      "memory",
      "--domain",
      "svc.example.",
      "--key-file",
      file,
      "--key-zone",
      "ringdns-kye=svc.example.",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("ringdns: --key-zone: key ringdns-kye. is not in any --key-file (loaded: ringdns-key.)\n");
  });

  it("npx ringdns, as the README's first command runs it from a clone, starts the command line", () => {
    const r = spawnSync("npx", ["--no-install", "ringdns", "--version"], {
      cwd: join(import.meta.dirname, "../.."),
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.stderr).not.toMatch(/Permission denied/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("a bad services file names the file, the entry and the field", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ringdns-bad-")), "s.yaml");
    writeFileSync(
      file,
      "services:\n  - instance: x\n    type: _a._tcp\n    host: x\n    addresses: [192.0.2.1]\n    port: 70000\n",
    );
    const r = runCli(["serve", "--dns", "127.0.0.1:0", "--services", file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`ringdns: ${file}: services[0] (x): port: must be an integer 0-65535, got 70000\n`);
  });

  it("a services file that alone goes over a registration limit is not loaded: one line naming the file, the limit and its flag", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ringdns-heavy-")), "s.yaml");
    writeFileSync(
      file,
      "services:\n  - {instance: a, type: _w._tcp, host: a, addresses: [192.0.2.1], port: 80, weight: 60000}\n  - {instance: b, type: _w._tcp, host: b, addresses: [192.0.2.2], port: 80, weight: 60000}\n",
    );
    const r = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      "memory",
      "--services",
      file,
      "--max-ring-weight",
      "100000",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `ringdns: ${file}: the ring of _w._tcp in each domain would weigh 120000 (SRV weights, 0 counting as 1); at most 100000 (--max-ring-weight); raise the limit or split the file\n`,
    );
  });

  it("a port in use is reported as such", () => {
    const r = runCli(["serve", "--dns", `127.0.0.1:${d.port}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^ringdns: cannot listen on .*127\\.0\\.0\\.1:${d.port}.*address in use`));
  });
});

describe.skipIf(missingTool("dig"))("settings from a config file and the environment", () => {
  const dir = mkdtempSync(join(tmpdir(), "ringdns-config-"));
  writeFileSync(
    join(dir, "services.yaml"),
    "services:\n  - {instance: a, type: _cfg._tcp, host: a, addresses: [192.0.2.44], port: 80}\n",
  );
  // the services path is relative to the config file, not to where ringdns runs
  writeFileSync(join(dir, "ringdns.yaml"), "services: services.yaml\ndomain: svc.example.\nttl: 45\nmdns: false\n");
  const ttlSeen = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await startDaemon(["--store", "memory", "--config", join(dir, "ringdns.yaml"), ...args], { env });
    try {
      const answer = dig("dig", "127.0.0.1", r.port, ["_cfg._tcp.svc.example", "PTR"]).answer;
      expect(answer.map((a) => a.rdata)).toEqual(["a._cfg._tcp.svc.example."]);
      return answer[0]!.ttl;
    } finally {
      await r.stop();
    }
  };

  it("the command line wins over RINGDNS_ variables, which win over the file", async () => {
    expect(await ttlSeen([])).toBe(45);
    expect(await ttlSeen([], { RINGDNS_TTL: "50" })).toBe(50);
    expect(await ttlSeen(["--ttl", "55"], { RINGDNS_TTL: "50" })).toBe(55);
    // the file itself may come from the environment
    const viaEnv = await startDaemon(["--store", "memory"], {
      env: { RINGDNS_CONFIG: join(dir, "ringdns.yaml"), RINGDNS_DOMAIN: "svc.example.,other.example." },
    });
    try {
      expect(
        dig("dig", "127.0.0.1", viaEnv.port, ["_cfg._tcp.other.example", "PTR"]).answer.map((a) => [a.rdata, a.ttl]),
      ).toEqual([["a._cfg._tcp.other.example.", 45]]);
    } finally {
      await viaEnv.stop();
    }
  });

  it("examples/ringdns.yaml is read whole: the daemon gets as far as its key file, and has created nothing", () => {
    const dataDir = "/var/lib/ringdns"; // the example's
    const existed = existsSync(dataDir);
    const r = runCli(["serve", "--config", "examples/ringdns.yaml", "--dns", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ringdns: .*examples\/update\.key: cannot read/);
    expect(existsSync(dataDir)).toBe(existed); // files are checked before the store is opened
  });

  it.each([
    ["dsn: 127.0.0.1:53\n", {}, /^ringdns: --config .*bad\.yaml: "dsn" is not a setting/],
    ["ttl: [1, 2]\n", {}, /^ringdns: --config .*bad\.yaml: ttl: \[1,2\] is not a single value/],
    ["max-udp-size: 70000\n", {}, /^ringdns: --config .*bad\.yaml: max-udp-size: /],
    ["services: [unclosed\n", {}, /^ringdns: --config .*bad\.yaml: not YAML or JSON/],
    ["", { RINGDNS_TTL: "soon" }, /^ringdns: RINGDNS_TTL: must be an integer/],
    ["", { RINGDNS_MDNS: "maybe" }, /^ringdns: RINGDNS_MDNS: "maybe" is not true or false/],
    ["", { RINGDNS_DSN: "127.0.0.1:53" }, /^ringdns: RINGDNS_DSN: not a setting of ringdns serve/],
  ])("%j with %j fails with one line naming where the bad value is", (text, env, message) => {
    const file = join(mkdtempSync(join(tmpdir(), "ringdns-config-")), "bad.yaml");
    writeFileSync(file, text);
    const r = runCli(["serve", "--dns", "127.0.0.1:0", "--store", "memory", "--config", file], undefined, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
