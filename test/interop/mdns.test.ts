// mDNS with real peers in the network lab (test/lab/netns.ts): ringdns on h0,
// python3-zeroconf (and drill) on h1, joined by a bridge; nothing leaves the machine.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDig } from "../lab/dig.js";
import { CLI, runCli } from "../lab/daemon.js";
import { canBuildLab, createLab, type Lab, type LabHost } from "../lab/netns.js";
import { missingTool } from "../lab/tools.js";
import { makeCert } from "../lab/tls.js";

const PEER = new URL("../lab/zeroconf_peer.py", import.meta.url).pathname;
const AVAHI = new URL("../lab/avahi.sh", import.meta.url).pathname;
const ASK = new URL("../lab/mdns-ask.mjs", import.meta.url).pathname;
const DSO_CLIENT = new URL("../lab/dso_client.py", import.meta.url).pathname;

function hasZeroconf(): boolean {
  const ok = spawnSync("/usr/bin/python3", ["-c", "import zeroconf"], { stdio: "ignore" }).status === 0;
  if (!ok && process.env.CI) throw new Error("python3-zeroconf is not installed, and CI needs it (see .ci/run)");
  return ok;
}

const labMissing = !canBuildLab();
if (labMissing && process.env.CI)
  throw new Error("the mDNS lab needs root and ip netns (iproute2), and CI has neither");
const skip = labMissing || missingTool("dig", "nsupdate", "drill") || !hasZeroconf();

interface Events {
  lines: Record<string, unknown>[];
  next(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function events(child: ChildProcess): Events {
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {
      return;
    }
    waiters.splice(0).forEach((w) => w());
  });
  return {
    lines,
    next(pred, timeoutMs = 8000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching event; saw ${JSON.stringify(lines)}`)), timeoutMs);
        const check = () => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(t);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

describe.skipIf(skip)("mDNS in the lab", () => {
  let lab: Lab;
  let h0: LabHost;
  let h1: LabHost;
  let daemon: ChildProcess;
  let logs = "";
  const digAt = (port: number, name: string, type: string) =>
    parseDig(h0.run("dig", ["@127.0.0.1", "-p", String(port), "+time=1", "+tries=1", name, type]).stdout);
  const dig = (name: string, type: string) => digAt(8053, name, type);
  const nsupdate = (script: string) => h0.run("nsupdate", [], `server 127.0.0.1 8053\nzone local.\n${script}\nsend\n`);
  async function until<T>(f: () => T | undefined, timeoutMs: number): Promise<{ value: T; ms: number }> {
    const start = Date.now();
    for (;;) {
      const v = f();
      if (v !== undefined) return { value: v, ms: Date.now() - start };
      if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms; daemon log:\n${logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const peer = (host: LabHost, args: string[], family: 4 | 6 = 4) =>
    host.spawn("/usr/bin/python3", [PEER, family === 4 ? host.address : "v6", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });

  const tls = makeCert(mkdtempSync(join(tmpdir(), "ringdns-mdns-tls-")), "", "ringdns-lab");
  beforeAll(async () => {
    lab = createLab(2);
    [h0, h1] = lab.hosts as [LabHost, LabHost];
    daemon = h0.spawn(process.execPath, [
      CLI,
      "serve",
      "--dns",
      "127.0.0.1:8053",
      "--mdns-interface",
      "eth0",
      "--store",
      "memory",
      "--dns-tls",
      "127.0.0.1:8853",
      "--tls-cert",
      tls.cert,
      "--tls-key",
      tls.key,
    ]);
    daemon.stderr!.on("data", (d) => (logs += d));
    await until(() => (logs.includes("ringdns listening") ? true : undefined), 5000);
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it("a zeroconf service shows up in dig browse, resolve and _hash within 2 s, and goes within 2 s of its goodbye", async () => {
    const zc = peer(h1, ["register", "_lamp._tcp", "Desk Lamp", "8181", "192.0.2.81", "model=L1"]);
    const ev = events(zc);
    await ev.next((e) => e.event === "registered");
    const seen = await until(() => (dig("_lamp._tcp.local", "PTR").answer.length > 0 ? true : undefined), 2000);
    console.log(`zeroconf service answered by ringdns ${seen.ms} ms after it registered`);
    expect(seen.ms).toBeLessThan(2000);
    expect(dig("Desk\\032Lamp._lamp._tcp.local", "SRV").answer.map((a) => a.rdata)).toEqual([
      "0 0 8181 desk-lamp.local.",
    ]);
    expect(dig("Desk\\032Lamp._lamp._tcp.local", "TXT").answer.map((a) => a.rdata)).toEqual(['"model=L1"']);
    expect(dig("desk-lamp.local", "A").answer.map((a) => a.rdata)).toEqual(["192.0.2.81"]);
    expect(dig("anykey._hash._lamp._tcp.local", "SRV").answer.map((a) => a.rdata)).toEqual([
      "0 0 8181 desk-lamp.local.",
    ]);
    zc.stdin!.write("\n");
    await ev.next((e) => e.event === "unregistered");
    const gone = await until(() => (dig("_lamp._tcp.local", "PTR").status === "NXDOMAIN" ? true : undefined), 2500);
    console.log(`gone from ringdns ${gone.ms} ms after the goodbye`);
    expect(gone.ms).toBeLessThan(2000);
  });

  it("discovery proxy (RFC 8766): the first unicast query for a subtype only a zeroconf device answers is held and answered, TTLs at most 10 s", async () => {
    // python-zeroconf answers and enumerates the subtype name alone: ringdns cannot know of it before a client asks
    const zc = peer(h1, ["register-subtype", "_mono", "_scan._tcp", "Mono Printer", "631", "192.0.2.63"]);
    await events(zc).next((e) => e.event === "registered");
    const first = parseDig(
      h0.run("dig", ["@127.0.0.1", "-p", "8053", "+time=5", "+tries=1", "_mono._sub._scan._tcp.local", "PTR"]).stdout,
    );
    expect(first.status, logs).toBe("NOERROR");
    expect(first.answer.map((a) => a.rdata)).toEqual(["Mono\\032Printer._scan._tcp.local."]);
    for (const a of first.answer) expect(a.ttl).toBeLessThanOrEqual(10);
    // learned now, with its subtype, as an instance of its type (RFC 6763 §7.1)
    expect(dig("Mono\\032Printer._scan._tcp.local", "SRV").answer.map((a) => a.rdata)).toEqual([
      "0 0 631 mono-printer.local.",
    ]);
    expect(dig("_scan._tcp.local", "PTR").answer.map((a) => a.rdata)).toEqual(["Mono\\032Printer._scan._tcp.local."]);
    // a name nothing on the LAN has: the negative answer comes once the wait is over, cacheable for 10 s at most
    const none = parseDig(
      h0.run("dig", ["@127.0.0.1", "-p", "8053", "+time=5", "+tries=1", "_nobody._sub._scan._tcp.local", "PTR"]).stdout,
    );
    expect(none.answer).toEqual([]);
    expect(["NOERROR", "NXDOMAIN"]).toContain(none.status);
    expect(none.authority[0]!.ttl).toBeLessThanOrEqual(10);
    zc.stdin!.write("\n");
  });

  it("DNS Push to a .local subtype: the LAN is asked for it, a zeroconf device's record is pushed, and a RECONFIRM after it vanished without a goodbye removes it", async () => {
    const zc = peer(h1, ["register-subtype", "_color", "_fax._tcp", "Color Fax", "632", "192.0.2.64"]);
    await events(zc).next((e) => e.event === "registered");
    await new Promise((r) => setTimeout(r, 1500)); // its announcements are over: only a query finds it now
    const client = h0.spawn(
      "/usr/bin/python3",
      [DSO_CLIENT, "8853", "reconfirm", "tls", tls.cert, "_color._sub._fax._tcp.local.", "PTR", "40"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const ev = events(client);
    const ack = await ev.next((e) => "rcode" in e);
    expect(ack.rcode).toBe(0);
    const added = await ev.next((e) => Array.isArray(e.push), 5000);
    expect(added.push).toEqual(["_color._sub._fax._tcp.local. PTR 10 Color Fax._fax._tcp.local."]);
    zc.kill("SIGKILL"); // gone without a goodbye: its records would stay cached for their TTL
    client.stdin!.write("\n");
    expect(await ev.next((e) => "reconfirmed" in e)).toEqual({ reconfirmed: 1 });
    // RFC 6762 §10.4: asked twice, not heard again within 10 s, so flushed
    const removed = await ev.next((e) => Array.isArray(e.push) && e !== added, 15_000);
    expect(removed.push).toEqual(["_color._sub._fax._tcp.local. PTR 4294967295 Color Fax._fax._tcp.local."]);
    expect(dig("_color._sub._fax._tcp.local", "PTR").answer).toEqual([]);
    client.kill();
  }, 40_000);

  it("an nsupdate registration is found by a zeroconf ServiceBrowser, and drill's legacy unicast query is answered", async () => {
    const r = nsupdate(
      'update add _web._tcp.local. 60 PTR front._web._tcp.local.\nupdate add front._web._tcp.local. 60 SRV 0 1 8080 front.local.\nupdate add front._web._tcp.local. 60 TXT "path=/"\nupdate add front.local. 60 A 192.0.2.80',
    );
    expect(r.status, r.stderr).toBe(0);
    const ev = events(peer(h1, ["browse", "_web._tcp", "4"]));
    const found = await ev.next((e) => e.event === "added" && e.name === "front._web._tcp.local.");
    expect(found).toMatchObject({ port: 8080, addresses: ["192.0.2.80"], txt: { path: "/" } });
    const legacy = h1.run("drill", ["-p", "5353", "@224.0.0.251", "front._web._tcp.local", "SRV"]).stdout;
    expect(legacy).toMatch(/front\._web\._tcp\.local\.\s+10\s+IN\s+SRV\s+0 1 8080 front\.local\./);
    // _hash names are answered on mDNS too
    const hash = h1.run("drill", ["-p", "5353", "@224.0.0.251", "user42._hash._web._tcp.local", "SRV"]).stdout;
    expect(hash).toMatch(/user42\._hash\._web\._tcp\.local\.\s+10\s+IN\s+SRV\s+0 1 8080 front\.local\./);
  });

  it("a QU question gets a unicast reply, unless its known answer already holds the record (§5.4, §7.1)", () => {
    const ask = (...args: string[]) =>
      h1
        .run(process.execPath, [ASK, h1.address, ...args])
        .stdout.trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const replies = ask("_web._tcp.local.", "PTR");
    expect(replies.length).toBeGreaterThan(0);
    expect(replies[0]).toMatchObject({ from: h0.address });
    expect(replies[0].answers).toContain("_web._tcp.local. 12");
    expect(ask("_web._tcp.local.", "PTR", "front._web._tcp.local.")).toEqual([]);
  });

  it("deregistration by nsupdate sends a goodbye that a zeroconf browser acts on", async () => {
    nsupdate(
      "update add _bye._tcp.local. 60 PTR brief._bye._tcp.local.\nupdate add brief._bye._tcp.local. 60 SRV 0 1 7070 front.local.",
    );
    const ev = events(peer(h1, ["browse", "_bye._tcp", "6"]));
    await ev.next((e) => e.event === "added" && e.name === "brief._bye._tcp.local.");
    nsupdate("update delete brief._bye._tcp.local. ANY\nupdate delete _bye._tcp.local. PTR brief._bye._tcp.local.");
    const removed = await ev.next((e) => e.event === "removed" && e.name === "brief._bye._tcp.local.", 3000);
    expect(removed).toBeDefined();
  });

  it("an SRP registration (nsupdate signing with SIG(0)) is advertised as .local to a zeroconf browser, and its removal says goodbye", async () => {
    const kdir = mkdtempSync(join(tmpdir(), "ringdns-srp-mdns-"));
    runCli(["keygen", "--algorithm", "ecdsa-p256", "--out", kdir, "lamp.default.service.arpa."]);
    const priv = join(kdir, readdirSync(kdir).find((f) => f.endsWith(".private"))!);
    const keyRecord = readFileSync(priv.replace(/\.private$/, ".key"), "utf8")
      .split("\n")
      .find((l) => l.includes(" KEY "))!
      .replace(" IN KEY ", " 120 IN KEY ");
    const zone = "default.service.arpa.";
    const host = `update delete lamp.${zone} ANY\nupdate add ${keyRecord}\nupdate add lamp.${zone} 120 A 192.0.2.90`;
    const srp = (body: string) =>
      h0.run("nsupdate", ["-k", priv], `server 127.0.0.1 8053\nzone ${zone}\n${host}\n${body}\nsend\n`);
    const ev = events(peer(h1, ["browse", "_light._tcp", "8"]));
    const added = srp(
      `update add _light._tcp.${zone} 120 PTR desk._light._tcp.${zone}\nupdate delete desk._light._tcp.${zone} ANY\nupdate add desk._light._tcp.${zone} 120 SRV 0 1 5683 lamp.${zone}\nupdate add desk._light._tcp.${zone} 120 TXT "on=1"`,
    );
    expect(added.status, added.stdout + added.stderr + logs).toBe(0);
    const found = await ev.next((e) => e.event === "added" && e.name === "desk._light._tcp.local.");
    expect(found).toMatchObject({ port: 5683, addresses: ["192.0.2.90"], txt: { on: "1" } });
    const removed = srp(
      `update delete _light._tcp.${zone} PTR desk._light._tcp.${zone}\nupdate delete desk._light._tcp.${zone} ANY`,
    );
    expect(removed.status, removed.stdout + removed.stderr).toBe(0);
    await ev.next((e) => e.event === "removed" && e.name === "desk._light._tcp.local.", 3000);
  });

  it("over IPv6 too: a zeroconf peer speaking only IPv6 is learned, and finds our registration with its AAAA", async () => {
    const zc = peer(h1, ["register", "_six._tcp", "v6 thing", "666", "2001:db8::66"], 6);
    await events(zc).next((e) => e.event === "registered");
    await until(() => (dig("_six._tcp.local", "PTR").answer.length > 0 ? true : undefined), 2000);
    expect(dig("v6-thing.local", "AAAA").answer.map((a) => a.rdata)).toEqual(["2001:db8::66"]);
    zc.stdin!.write("\n");
    nsupdate(
      "update add _v6web._tcp.local. 60 PTR six._v6web._tcp.local.\nupdate add six._v6web._tcp.local. 60 SRV 0 1 8086 six.local.\nupdate add six.local. 60 AAAA 2001:db8::86",
    );
    const found = await events(peer(h1, ["browse", "_v6web._tcp", "4"], 6)).next((e) => e.event === "added");
    expect(found).toMatchObject({ name: "six._v6web._tcp.local.", port: 8086, addresses: ["2001:db8::86"] });
  });

  it.skipIf(missingTool("avahi-daemon", "avahi-browse", "dbus-daemon", "unshare"))(
    "avahi-browse -rt finds the nsupdate registration, resolved",
    () => {
      const r = h1.run("unshare", [
        "--mount",
        "--propagation",
        "private",
        "bash",
        AVAHI,
        "timeout",
        "6",
        "avahi-browse",
        "-rtp",
        "_web._tcp",
      ]);
      expect(r.stdout).toMatch(/^=;eth0;IPv4;front;_web\._tcp;local;front\.local;192\.0\.2\.80;8080;"path=\/"$/m);
    },
  );

  it.skipIf(missingTool("avahi-daemon", "avahi-publish", "dbus-daemon", "unshare", "timeout"))(
    "a service avahi announces with a subtype is found by dig under that subtype",
    async () => {
      const pub = h1.spawn("unshare", [
        "--mount",
        "--propagation",
        "private",
        "bash",
        AVAHI,
        "timeout",
        "6",
        "avahi-publish",
        "-s",
        "--subtype=_color._sub._ipp._tcp",
        "Office Printer",
        "_ipp._tcp",
        "631",
      ]);
      const exited = new Promise((r) => pub.once("exit", r));
      try {
        const seen = await until(
          () => (dig("_color._sub._ipp._tcp.local", "PTR").answer.length > 0 ? true : undefined),
          6000,
        );
        console.log(`avahi's subtype answered by ringdns ${seen.ms} ms after avahi-publish started`);
        expect(dig("_color._sub._ipp._tcp.local", "PTR").answer.map((a) => a.rdata)).toEqual([
          "Office\\032Printer._ipp._tcp.local.",
        ]);
        expect(dig("_ipp._tcp.local", "PTR").answer.map((a) => a.rdata)).toEqual([
          "Office\\032Printer._ipp._tcp.local.",
        ]);
        expect(dig("_mono._sub._ipp._tcp.local", "PTR").answer).toEqual([]);
      } finally {
        await exited; // timeout ends avahi-publish; avahi-daemon says goodbye as it goes
      }
    },
  );

  it.skipIf(missingTool("avahi-daemon", "avahi-publish", "dbus-daemon", "unshare", "timeout"))(
    "a subtype announced before ringdns listened is asked for on the LAN when a dig asks for it",
    async () => {
      const pub = h1.spawn("unshare", [
        "--mount",
        "--propagation",
        "private",
        "bash",
        AVAHI,
        "timeout",
        "14",
        "avahi-publish",
        "-s",
        "--subtype=_mono._sub._ipp._tcp",
        "Old Printer",
        "_ipp._tcp",
        "632",
      ]);
      const exited = new Promise((r) => pub.once("exit", r));
      let late: ChildProcess | undefined;
      try {
        // announced and heard by the daemon already running; a second one starts after that
        await until(
          () => (dig("_ipp._tcp.local", "PTR").answer.some((a) => a.rdata.startsWith("Old")) ? true : undefined),
          6000,
        );
        // avahi announces three times (at once, 1 s and 3 s later, ±250 ms): the second daemon starts after the last
        await new Promise((r) => setTimeout(r, 3500));
        // with a query worker too: a miss it answers reaches the primary, which runs mDNS
        late = h0.spawn(process.execPath, [
          CLI,
          "serve",
          "--dns",
          "127.0.0.1:8054",
          "--mdns-interface",
          "eth0",
          "--store",
          "memory",
          "--workers",
          "2",
        ]);
        let lateLogs = "";
        late.stderr!.on("data", (d) => (lateLogs += d));
        await until(() => (lateLogs.includes("ringdns listening") ? true : undefined), 5000);
        await until(
          () =>
            digAt(8054, "_ipp._tcp.local", "PTR").answer.some((a) => a.rdata.startsWith("Old")) ? true : undefined,
          4000,
        );
        // not announced since it started: the first dig's query is held while the LAN is asked (RFC 8766),
        // by the primary, which runs mDNS (the query worker hands the miss on)
        const started = Date.now();
        const first = parseDig(
          h0.run("dig", ["@127.0.0.1", "-p", "8054", "+time=5", "+tries=1", "_mono._sub._ipp._tcp.local", "PTR"])
            .stdout,
        );
        console.log(
          `a subtype ringdns had not heard of answered ${Date.now() - started} ms after the first dig asked for it`,
        );
        expect(first.answer.map((a) => a.rdata)).toEqual(["Old\\032Printer._ipp._tcp.local."]);
      } finally {
        late?.kill("SIGTERM");
        await exited;
      }
    },
  );

  it("a name taken by a zeroconf service is renamed 'name (2)' on the LAN", async () => {
    const zc = peer(h1, ["register", "_web._tcp", "dup", "9000", "192.0.2.90"]);
    await events(zc).next((e) => e.event === "registered");
    nsupdate(
      "update add _web._tcp.local. 60 PTR dup._web._tcp.local.\nupdate add dup._web._tcp.local. 60 SRV 0 1 9001 dup-ours.local.\nupdate add dup-ours.local. 60 A 192.0.2.91",
    );
    const ev = events(peer(h1, ["browse", "_web._tcp", "5"]));
    const renamed = await ev.next((e) => e.name === "dup (2)._web._tcp.local.");
    expect(renamed).toMatchObject({ port: 9001, addresses: ["192.0.2.91"] });
    await until(() => (logs.includes("name conflict, renamed") ? true : undefined), 1000);
    zc.stdin!.write("\n");
  });

  it("shutdown sends goodbyes that peers act on", async () => {
    const ev = events(peer(h1, ["browse", "_web._tcp", "8"]));
    await ev.next((e) => e.event === "added" && e.name === "front._web._tcp.local.");
    daemon.kill("SIGTERM");
    const removed = await ev.next((e) => e.event === "removed" && e.name === "front._web._tcp.local.", 4000);
    expect(removed).toBeDefined();
  });
});
