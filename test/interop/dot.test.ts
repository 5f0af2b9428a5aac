// DNS over TLS (RFC 7858) with TLS code we did not write on the other end:
// Knot's kdig (+tls, verifying the certificate) and OpenSSL's s_client.
// Certificates are made by openssl for 127.0.0.1; nothing leaves loopback.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { CLI, runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { pushName, subscribe, type PushChange, type SubscribeOptions } from "../../src/client/push.js";
import { missingTool } from "../lab/tools.js";
import { makeCert as makeCertIn } from "../lab/tls.js";
import { startEtcd, type RunningEtcd } from "../lab/etcd.js";
import { Ring } from "../../src/ring/ring.js";
import { eventually } from "../lab/wait.js";

const DSO_CLIENT = join(import.meta.dirname, "../lab/dso_client.py");
const dir = mkdtempSync(join(tmpdir(), "ringdns-dot-"));
const file = (n: string) => join(dir, n);

/** nsupdate (unsigned, from loopback) of zone local. at the daemon on `port`; it must succeed. */
function nsupdateLocal(port: number, script: string): void {
  const r = spawnSync("nsupdate", [], {
    input: `server 127.0.0.1 ${port}\nzone local.\n${script}\nsend\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(r.status, r.stderr).toBe(0);
}

/** The library's subscribe() to `type`'s browse on `port`, collecting what it yields until `stop()`. */
function follow(port: number, ca: string, type: string, extra: Partial<SubscribeOptions> = {}) {
  const abort = new AbortController();
  const seen: PushChange[] = [];
  const done = (async () => {
    for await (const c of subscribe({
      server: { host: "127.0.0.1", port },
      ...pushName(type, "local."),
      ca: readFileSync(ca),
      signal: abort.signal,
      ...extra,
    }))
      seen.push(c);
  })();
  return {
    seen,
    stop: () => {
      abort.abort();
      return done;
    },
  };
}

/** A self-signed certificate for 127.0.0.1 in this test's directory. */
const makeCert = (prefix: string, cn: string) => makeCertIn(dir, prefix, cn);

/** The certificate subject a fresh TLS session is shown, and whether it verified against `ca`. */
function handshake(port: number, ca: string): string {
  const r = spawnSync(
    "openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", ca, "-verify_ip", "127.0.0.1", "-brief"],
    { input: "", encoding: "utf8", timeout: 10_000 },
  );
  return `${r.stdout}${r.stderr}`;
}

describe.skipIf(missingTool("kdig", "dig", "openssl", "nsupdate"))("DNS over TLS", () => {
  let d: RunningDaemon;
  let first: { cert: string; key: string };
  const services = file("services.yaml");
  beforeAll(async () => {
    first = makeCert("a-", "ringdns first");
    // the live files the daemon reads: replaced in place for SIGHUP
    writeFileSync(file("live-cert.pem"), spawnSync("cat", [first.cert]).stdout);
    writeFileSync(file("live-key.pem"), spawnSync("cat", [first.key]).stdout);
    writeFileSync(
      services,
      "services:\n  - type: _kv._tcp\n    instance: kv-1\n    host: kv-1\n    addresses: [192.0.2.61]\n    port: 6379\n    txt: [role=primary]\n",
    );
    d = await startDaemon([
      "--services",
      services,
      "--dns-tls",
      "127.0.0.1:0",
      "--tls-cert",
      file("live-cert.pem"),
      "--tls-key",
      file("live-key.pem"),
      "--tcp-read-timeout-ms",
      "500",
      "--dso-inactivity-timeout",
      "1",
      "--domain",
      "svc.example.",
      "--zone-ns",
      "ns1",
      "--http",
      "127.0.0.1:0",
    ]);
  });
  afterAll(() => d?.stop());

  it("kdig +tls, verifying the certificate, gets what dig gets over UDP, for browse, SRV, TXT, A and _hash", () => {
    expect(d.tlsPort).toBeGreaterThan(0);
    for (const [name, type] of [
      ["_kv._tcp.local", "PTR"],
      ["kv-1._kv._tcp.local", "SRV"],
      ["kv-1._kv._tcp.local", "TXT"],
      ["kv-1.local", "A"],
      ["user-7._hash._kv._tcp.local", "SRV"],
      ["nothing-here.local", "A"],
    ] as const) {
      const overTls = dig("kdig", "127.0.0.1", d.tlsPort!, [`+tls-ca=${first.cert}`, name, type]);
      const overUdp = dig("dig", "127.0.0.1", d.port, [name, type]);
      expect(overTls.raw, overTls.raw).toMatch(/TLS session \(TLS1\.[23]\)/);
      expect(overTls.status).toBe(overUdp.status);
      expect(overTls.answer.map((a) => `${a.type} ${a.rdata}`)).toEqual(
        overUdp.answer.map((a) => `${a.type} ${a.rdata}`),
      );
    }
  });

  it("openssl s_client verifies the certificate for 127.0.0.1", () => {
    const out = handshake(d.tlsPort!, first.cert);
    expect(out).toMatch(/Verification: OK/);
    expect(out).toMatch(/CN ?= ?ringdns first/);
  });

  it("a connection that never finishes its handshake is closed after the read timeout", async () => {
    const s = connect(d.tlsPort!, "127.0.0.1");
    let closed = false;
    s.on("close", () => (closed = true));
    s.on("error", () => {});
    await eventually("the server to close a silent connection", () => closed, 10_000);
  });

  /** One run of the DSO client written apart from ringdns (Python's ssl and struct): its JSON line. */
  const dso = (mode: string, transport: "tls" | "tcp" = "tls") => {
    const port = transport === "tls" ? d.tlsPort! : d.port;
    const r = spawnSync("/usr/bin/python3", [DSO_CLIENT, String(port), mode, transport, first.cert], {
      encoding: "utf8",
      timeout: 40_000,
    });
    if (r.status !== 0) throw new Error(`dso_client ${mode}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it("DSO over TLS: a Keepalive establishes a session; the reply carries the server's timers, the interval raised to 10 s", () => {
    expect(dso("keepalive")).toEqual({
      id: 0x2a2a,
      qr: true,
      opcode: 6,
      rcode: 0,
      tlvs: [{ keepalive: [1000, 10_000] }],
    });
  });

  it("DSO: DSOTYPENI on plain TCP and for operations not implemented (the connection stays); a malformed TLV gets FORMERR and the connection closes", () => {
    expect(dso("keepalive", "tcp")).toMatchObject({ id: 0x2a2a, rcode: 11, tlvs: [] });
    expect(dso("unknown")).toMatchObject({ id: 0x0b0b, rcode: 11, closed: false });
    expect(dso("malformed")).toMatchObject({ id: 0x0c0c, rcode: 1, closed: true });
  });

  it("DSO: a session left idle is sent a Retry Delay and closed (after twice its inactivity timeout, and no sooner than --tcp-idle-timeout)", () => {
    const r = dso("idle") as { seen: { tlvs: unknown[] }[]; closed: boolean };
    expect(r.seen.map((m) => m.tlvs)).toEqual([[{ retryDelay: 0 }]]);
    expect(r.closed).toBe(true);
  });

  /** The DSO client subscribed to `name` `type` for `seconds`: its JSON lines as they come. */
  const subscriber = (name: string, type: string, seconds: number) => {
    const child = spawn(
      "/usr/bin/python3",
      [DSO_CLIENT, String(d.tlsPort!), "subscribe", "tls", first.cert, name, type, String(seconds)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => lines.push(JSON.parse(l)));
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    return { lines, done: once(child, "exit").then(() => stderr) };
  };
  const nsupdate = (script: string) => nsupdateLocal(d.port, script);
  const pushes = (lines: Record<string, unknown>[]) => lines.flatMap((l) => (l.push as string[] | undefined) ?? []);

  it("DNS Push: a browse subscription gets the type's instances at once, then an nsupdate registration and its removal", async () => {
    const sub = subscriber("_kv._tcp.local.", "PTR", 6);
    await eventually("the subscription's first PUSH", () => pushes(sub.lines).length > 0);
    expect(sub.lines[0]).toMatchObject({ id: 0x5151, qr: true, opcode: 6, rcode: 0 });
    expect(pushes(sub.lines)).toEqual(["_kv._tcp.local. PTR 30 kv-1._kv._tcp.local."]);
    nsupdate(
      "update add _kv._tcp.local. 60 PTR kv-9._kv._tcp.local.\nupdate add kv-9._kv._tcp.local. 60 SRV 0 1 6390 kv-9.local.\nupdate add kv-9.local. 60 A 192.0.2.69",
    );
    await eventually("kv-9 pushed", () => pushes(sub.lines).includes("_kv._tcp.local. PTR 30 kv-9._kv._tcp.local."));
    nsupdate("update delete kv-9._kv._tcp.local. ANY\nupdate delete _kv._tcp.local. PTR kv-9._kv._tcp.local.");
    await eventually("kv-9's removal pushed", () =>
      pushes(sub.lines).includes("_kv._tcp.local. PTR 4294967295 kv-9._kv._tcp.local."),
    );
    expect(await sub.done).toBe("");
  });

  it("DNS Push: a _hash subscription is told the key's new owner, the old record removed and the new added in one PUSH", async () => {
    // a key that kv-1 owns alone and kv-2 takes over when it joins (the ring as docs/hash.md defines it)
    const two = Ring.build([
      { id: "kv-1", weight: 1 },
      { id: "kv-2", weight: 1 },
    ]);
    const key = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((k) => two.ownerOf(k) === "kv-2")!;
    const sub = subscriber(`${key}._hash._kv._tcp.local.`, "SRV", 6);
    await eventually("the subscription's first PUSH", () => pushes(sub.lines).length > 0);
    expect(pushes(sub.lines)).toEqual([`${key}._hash._kv._tcp.local. SRV 30 0 1 6379 kv-1.local.`]);
    nsupdate(
      "update add _kv._tcp.local. 60 PTR kv-2._kv._tcp.local.\nupdate add kv-2._kv._tcp.local. 60 SRV 0 1 6380 kv-2.local.\nupdate add kv-2.local. 60 A 192.0.2.62",
    );
    await eventually("the new owner pushed", () => sub.lines.length > 2);
    expect(sub.lines[2]).toEqual({
      push: [
        `${key}._hash._kv._tcp.local. SRV 4294967295 0 1 6379 kv-1.local.`,
        `${key}._hash._kv._tcp.local. SRV 30 0 1 6380 kv-2.local.`,
      ],
    });
    nsupdate("update delete kv-2._kv._tcp.local. ANY\nupdate delete _kv._tcp.local. PTR kv-2._kv._tcp.local.");
    await sub.done;
  });

  it("the library's subscribe() and `ringdns watch --push` follow a browse: the instances at once, then an added one", async () => {
    const lib = follow(d.tlsPort!, first.cert, "_kv._tcp");
    const seen = lib.seen;
    const cli = spawn(process.execPath, [
      CLI,
      "watch",
      "--push",
      `127.0.0.1:${d.tlsPort!}`,
      "--ca",
      first.cert,
      "_kv._tcp",
    ]);
    let printed = "";
    cli.stdout.on("data", (c) => (printed += c));
    await eventually("the current instance", () => seen.length > 0 && printed.includes("kv-1"));
    expect(seen).toEqual([{ op: "add", name: "_kv._tcp.local.", type: "PTR", ttl: 30, data: "kv-1._kv._tcp.local." }]);
    nsupdate(
      "update add _kv._tcp.local. 60 PTR kv-8._kv._tcp.local.\nupdate add kv-8._kv._tcp.local. 60 SRV 0 1 6388 kv-8.local.",
    );
    await eventually("kv-8 followed", () => seen.length > 1 && printed.includes("kv-8"));
    expect(seen[1]).toMatchObject({ op: "add", data: "kv-8._kv._tcp.local." });
    expect(printed).toMatch(/^add {4}_kv\._tcp\.local\. PTR kv-8\._kv\._tcp\.local\.$/m);
    // both subscriptions counted while they are held
    const metrics = await (await fetch(`http://127.0.0.1:${d.httpPort!}/metrics`)).text();
    expect(metrics).toMatch(/^ringdns_push_subscriptions 2$/m);
    nsupdate("update delete kv-8._kv._tcp.local. ANY\nupdate delete _kv._tcp.local. PTR kv-8._kv._tcp.local.");
    await eventually("kv-8's removal followed", () => seen.some((c) => c.op === "remove"));
    cli.kill("SIGTERM");
    await lib.stop();
  });

  it("subscribe() connects again when the daemon restarts, says reset, and gets the whole state afresh", async () => {
    const args = (port: number) => [
      "--store",
      "memory",
      "--services",
      services,
      "--dns-tls",
      `127.0.0.1:${port}`,
      "--tls-cert",
      first.cert,
      "--tls-key",
      first.key,
    ];
    let other = await startDaemon(args(0));
    const port = other.tlsPort!;
    const lib = follow(port, first.cert, "_kv._tcp", { maxBackoffMs: 1000 });
    const seen = lib.seen;
    try {
      await eventually("the first state", () => seen.length === 1);
      await other.stop();
      other = await startDaemon(args(port));
      await eventually("the state after the restart", () => seen.length === 3, 15_000);
      expect(seen.map((c) => c.op)).toEqual(["add", "reset", "add"]);
      expect(seen[2]).toMatchObject({ data: "kv-1._kv._tcp.local." });
    } finally {
      await lib.stop();
      await other.stop();
    }
  });

  it("GET /v1/subscriptions lists a subscription made by the Python DSO client: its peer, the name, records held and pushes; gone when it leaves", async () => {
    const sub = subscriber("_kv._tcp.local.", "PTR", 3);
    await eventually("the subscription's first PUSH", () => pushes(sub.lines).length > 0);
    const list = async () =>
      (await (await fetch(`http://127.0.0.1:${d.httpPort!}/v1/subscriptions`)).json()) as {
        total: number;
        sessions: { peer: string; since: string; subscriptions: unknown[] }[];
      };
    const page = await list();
    expect(page.total).toBe(1);
    expect(page.sessions[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(page.sessions[0]!.since)).not.toBeNaN();
    expect(page.sessions[0]!.subscriptions).toEqual([
      { name: "_kv._tcp.local.", type: "PTR", records: pushes(sub.lines).length, pushes: 1 },
    ]);
    expect(await sub.done).toBe("");
    await eventually("the session gone from the list", async () => (await list()).total === 0);
  });

  it("--tcp-max-per-source counts a TLS connection from its TCP connect: an address cannot hold more with handshakes it never finishes", async () => {
    const capped = await startDaemon([
      "--store",
      "memory",
      "--services",
      services,
      "--dns-tls",
      "127.0.0.1:0",
      "--tls-cert",
      first.cert,
      "--tls-key",
      first.key,
      "--tcp-max-per-source",
      "2",
      "--tcp-read-timeout-ms",
      "30000",
      "--http",
      "127.0.0.1:0",
    ]);
    const silent: ReturnType<typeof connect>[] = [];
    try {
      const closed = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const s = connect(capped.tlsPort!, "127.0.0.1");
        s.on("error", () => {});
        s.on("close", () => closed.add(i));
        await once(s, "connect");
        silent.push(s);
      }
      // the third is closed at once, long before any handshake timeout; the two before it stay
      await eventually("the third connection closed", () => closed.has(2));
      expect([closed.has(0), closed.has(1)]).toEqual([false, false]);
      const tls = () => {
        try {
          return dig("kdig", "127.0.0.1", capped.tlsPort!, [`+tls-ca=${first.cert}`, "kv-1.local", "A"]).status;
        } catch {
          return "no answer";
        }
      };
      expect(tls()).toBe("no answer");
      // one given back, and a real client gets in
      silent[0]!.destroy();
      await eventually("kdig +tls answered", () => tls() === "NOERROR");
      const metrics = await (await fetch(`http://127.0.0.1:${capped.httpPort!}/metrics`)).text();
      expect(metrics).toMatch(/^ringdns_limit_hits_total\{limit="tcp-connections-per-source"\} [1-9]/m);
    } finally {
      for (const s of silent) s.destroy();
      await capped.stop();
    }
  });

  it("_dns-push-tls._tcp SRV names the TLS listener on the zone's name server, for clients to find DNS Push (RFC 8765 §6.1)", () => {
    const srv = dig("dig", "127.0.0.1", d.port, ["_dns-push-tls._tcp.svc.example", "SRV"]);
    expect(srv.status).toBe("NOERROR");
    expect(srv.answer.map((a) => a.rdata)).toEqual([`0 0 ${d.tlsPort} ns1.svc.example.`]);
    // local. has no name server, so no DNS Push record: as before, the name is an empty service type there
    expect(dig("dig", "127.0.0.1", d.port, ["_dns-push-tls._tcp.local", "SRV"]).answer).toEqual([]);
  });

  it("--dns-tls without a certificate, or with a key that is not the certificate's, stops with one line", () => {
    const none = runCli(["serve", "--dns", "127.0.0.1:0", "--store", "memory", "--dns-tls", "127.0.0.1:0"]);
    expect(none.status).not.toBe(0);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toMatch(/--dns-tls: needs --tls-cert FILE and --tls-key FILE/);
    const other = makeCert("c-", "other");
    const mismatch = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      "memory",
      "--dns-tls",
      "127.0.0.1:0",
      "--tls-cert",
      first.cert,
      "--tls-key",
      other.key,
    ]);
    expect(mismatch.status).not.toBe(0);
    expect(mismatch.stderr.trim().split("\n")).toHaveLength(1);
    expect(mismatch.stderr).toMatch(/--tls-cert .* \/ --tls-key .*/);
  });
  it("SIGHUP re-reads the certificate; a broken one keeps the old in force and says why", async () => {
    const second = makeCert("b-", "ringdns second");
    writeFileSync(file("live-cert.pem"), spawnSync("cat", [second.cert]).stdout);
    writeFileSync(file("live-key.pem"), spawnSync("cat", [second.key]).stdout);
    d.proc.kill("SIGHUP");
    await d.waitForLog(/tlsCertificate.*re-read|re-read.*tlsCertificate/);
    expect(handshake(d.tlsPort!, second.cert)).toMatch(/CN ?= ?ringdns second/);
    writeFileSync(file("live-cert.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    d.proc.kill("SIGHUP");
    await d.waitForLog(/reload failed.*tls-cert|tls-cert.*reload failed/);
    const still = handshake(d.tlsPort!, second.cert);
    expect(still).toMatch(/Verification: OK/);
    expect(still).toMatch(/CN ?= ?ringdns second/);
  });
});

describe.skipIf(missingTool("openssl", "nsupdate", "etcd"))("DNS Push across an etcd cluster", () => {
  let etcd: RunningEtcd;
  let a: RunningDaemon;
  let b: RunningDaemon;
  let cert: { cert: string; key: string };
  beforeAll(async () => {
    cert = makeCert("e-", "ringdns cluster");
    etcd = await startEtcd();
    const store = `etcd://${etcd.url.replace(/^http:\/\//, "")}/ringdns-push-${process.pid}/`;
    const args = (node: string) => [
      "--store",
      store,
      "--node-name",
      node,
      "--dns-tls",
      "127.0.0.1:0",
      "--tls-cert",
      cert.cert,
      "--tls-key",
      cert.key,
    ];
    [a, b] = await Promise.all([startDaemon(args("a")), startDaemon(args("b"))]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await etcd?.stop();
  });

  it("a subscriber on daemon b is pushed what is registered on daemon a, and its removal", async () => {
    const lib = follow(b.tlsPort!, cert.cert, "_web._tcp", { onConnect: () => lib.seen.push({ op: "reset" }) });
    const seen = lib.seen;
    const nsupdate = (script: string) => nsupdateLocal(a.port, script);
    try {
      await eventually("the subscription on b", () => seen.length > 0);
      nsupdate(
        "update add _web._tcp.local. 60 PTR front._web._tcp.local.\nupdate add front._web._tcp.local. 60 SRV 0 1 8080 front.local.",
      );
      await eventually("front pushed by b", () =>
        seen.some((c) => c.op === "add" && c.data === "front._web._tcp.local."),
      );
      nsupdate("update delete front._web._tcp.local. ANY\nupdate delete _web._tcp.local. PTR front._web._tcp.local.");
      await eventually("front's removal pushed by b", () => seen.some((c) => c.op === "remove"));
    } finally {
      await lib.stop();
    }
  });
});
