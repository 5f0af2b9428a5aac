// The HTTP admin API end to end, as an operator scripts it with curl against
// a daemon: register (token needed) and dig answers, owners that agree with
// dig, the Host check on the wire, the change stream (with resume after a
// reconnect), the CLI's and the library's watch, access settings and SIGHUP.
// The API's rules one by one are tested in-process: test/frontends/http/api.test.ts.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, writeServicesFile, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { hasTool, missingTool } from "../lab/tools.js";
import { watch } from "../../src/client/watch.js";

const TOKEN = "test-token-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "ringdns-http-"));
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

function hasPrometheusParser(): boolean {
  const ok = spawnSync("/usr/bin/python3", ["-c", "import prometheus_client.parser"], { stdio: "ignore" }).status === 0;
  if (!ok && process.env.CI)
    throw new Error("python3-prometheus-client is not installed, and CI needs it (see scripts/test-all.sh)");
  return ok;
}

let d: RunningDaemon;
let base: string;
beforeAll(async () => {
  d = await startDaemon([
    "--http",
    "127.0.0.1:0",
    "--http-token-file",
    tokenFile,
    "--http-host",
    "ringdns.example",
    "--services",
    writeServicesFile(20, "_kv._tcp"),
    "--lease-min",
    "1",
  ]);
  base = `http://127.0.0.1:${d.httpPort}`;
});
afterAll(() => d?.stop());

/** curl, as a user would type it; returns status and parsed body. */
function curl(args: string[], path: string): { status: number; body: unknown; text: string } {
  const r = spawnSync("curl", ["-s", "-w", "\n%{http_code}", ...args, `${base}${path}`], {
    encoding: "utf8",
    timeout: 10_000,
  });
  const nl = r.stdout.lastIndexOf("\n");
  const text = r.stdout.slice(0, nl);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: Number(r.stdout.slice(nl + 1)), body, text };
}
const auth = ["-H", `Authorization: Bearer ${TOKEN}`];
const post = (body: unknown, extra: string[] = auth) =>
  curl(
    ["-X", "POST", "-H", "content-type: application/json", "-d", JSON.stringify(body), ...extra],
    "/v1/types/_web._tcp/instances",
  );

describe.skipIf(missingTool("curl", "dig", "nsupdate"))("HTTP admin API", () => {
  it("owner?key= agrees with dig on the _hash name, for 200 random keys", async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}-${Math.random().toString(36).slice(2, 8)}`);
    const viaCurl = curl([], `/v1/types/_kv._tcp/owner?key=${keys[0]}&successors=3`).body as {
      owner: { name: string };
      successors: { name: string }[];
    };
    expect(viaCurl.successors).toHaveLength(3);
    expect(viaCurl.successors[0]!.name).toBe(viaCurl.owner.name);
    const file = join(dir, "keys");
    writeFileSync(file, `${keys.map((k) => `${k}._hash._kv._tcp.local SRV`).join("\n")}\n`);
    const fromDig = spawnSync("dig", ["@127.0.0.1", "-p", String(d.port), "+short", "-f", file], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map((l) => l.split(" ")[3]!.split(".")[0]);
    const fromHttp = await Promise.all(
      keys.map(
        async (k) =>
          (
            (await (await fetch(`${base}/v1/types/_kv._tcp/owner?key=${encodeURIComponent(k)}`)).json()) as {
              owner: { host: string };
            }
          ).owner.host,
      ),
    );
    expect(fromHttp).toEqual(fromDig);
  });

  it("registers with the token (401 without, or with a wrong one), and dig answers at once; deregisters", () => {
    const reg = {
      instance: "web 1",
      host: "web-1",
      port: 8080,
      addresses: ["192.0.2.61"],
      txt: { path: "/" },
      subtypes: ["_eu"],
      weight: 2,
      lease: 60,
    };
    const none = post(reg, []);
    expect(none.status).toBe(401);
    expect((none.body as { error: string }).error).toMatch(/bearer token is needed/);
    expect(post(reg, ["-H", "Authorization: Bearer wrong-token-wrong-token"]).status).toBe(401);
    expect(dig("dig", "127.0.0.1", d.port, ["web\\0321._web._tcp.local", "SRV"]).status).toBe("NXDOMAIN");

    const ok = post(reg);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ lease: 60, instance: { name: "web 1", source: "update", weight: 2 } });
    expect((ok.body as { instance: { share: number } }).instance.share).toBeCloseTo(1, 9); // alone on its ring
    expect(dig("dig", "127.0.0.1", d.port, ["web\\0321._web._tcp.local", "SRV"]).answer.map((a) => a.rdata)).toEqual([
      "0 2 8080 web-1.local.",
    ]);
    expect(dig("dig", "127.0.0.1", d.port, ["web-1.local", "A"]).answer.map((a) => a.rdata)).toEqual(["192.0.2.61"]);
    expect(dig("dig", "127.0.0.1", d.port, ["_eu._sub._web._tcp.local", "PTR"]).answer).toHaveLength(1);

    expect(curl(["-X", "DELETE"], "/v1/types/_web._tcp/instances/web%201").status).toBe(401);
    expect(curl(["-X", "DELETE", ...auth], "/v1/types/_web._tcp/instances/web%201").status).toBe(204);
    expect(dig("dig", "127.0.0.1", d.port, ["web\\0321._web._tcp.local", "SRV"]).status).toBe("NXDOMAIN");
    expect(curl(["-X", "DELETE", ...auth], "/v1/types/_web._tcp/instances/web%201").status).toBe(404);
  });

  it("refuses a Host that is not this server (DNS rebinding) with 421 and a one-line reason, and logs the host; IP, localhost and --http-host names pass", async () => {
    // a page on attacker.example re-pointed at 127.0.0.1 makes the browser send its own name as Host
    const rebound = curl(["-H", "Host: attacker.example"], "/v1/types");
    expect(rebound.status).toBe(421);
    expect(
      spawnSync("curl", ["-s", "-o", "/dev/null", "-D", "-", "-H", "Host: attacker.example", `${base}/`], {
        encoding: "utf8",
      }).stdout.toLowerCase(),
    ).toMatch(/^x-content-type-options: nosniff\r?$/m);
    expect(rebound.text.split("\n")).toHaveLength(1);
    expect((rebound.body as { error: string }).error).toMatch(
      /does not answer for the host "attacker\.example".*--http-host/,
    );
    await d.waitForLog(/"host":"attacker\.example".*HTTP request refused: its Host is not this server/);
    expect(curl(["-H", "Host: attacker.example:80"], "/healthz").status).toBe(421);
    // absolute-form: the target's authority is the host (RFC 9112 §3.2.2)
    expect(curl(["--request-target", "http://attacker.example/v1/types"], "/").status).toBe(421);
    for (const host of [
      `127.0.0.1:${d.httpPort}`,
      `localhost:${d.httpPort}`,
      `[::1]:${d.httpPort}`,
      "ringdns.example",
      "RINGDNS.example.",
    ])
      expect(curl(["-H", `Host: ${host}`], "/v1/types").status, host).toBe(200);
  });

  it("curl -N /v1/watch streams an nsupdate registration within 100 ms, and resumes with Last-Event-ID", async () => {
    const stream = spawn("curl", ["-sN", `${base}/v1/watch`]);
    let text = "";
    stream.stdout.on("data", (c) => (text += c));
    const waitFor = async (re: RegExp, ms = 3000) => {
      const until = performance.now() + ms;
      while (!re.test(text)) {
        if (performance.now() > until) throw new Error(`no ${re} in the stream:\n${text}`);
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await waitFor(/event: hello/);
    const nsupdate = (name: string, port: number) =>
      spawnSync("nsupdate", [], {
        input: `server 127.0.0.1 ${d.port}\nzone local.\nupdate add _w._tcp.local. 60 PTR ${name}._w._tcp.local.\nupdate add ${name}._w._tcp.local. 60 SRV 0 1 ${port} ${name}.local.\nsend\n`,
        encoding: "utf8",
      });
    expect(nsupdate("streamed", 7001).status).toBe(0);
    const acked = performance.now();
    await waitFor(/"name":"streamed"/);
    const ms = performance.now() - acked;
    console.log(`nsupdate registration seen on /v1/watch ${ms.toFixed(1)} ms after nsupdate returned`);
    expect(ms).toBeLessThan(100);
    const lastId = Math.max(...[...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])));
    stream.kill();

    // while nobody listens: one more registration; a reconnect with Last-Event-ID gets it, and only it
    expect(nsupdate("missed", 7002).status).toBe(0);
    const resumed = spawnSync(
      "curl",
      ["-sN", "--max-time", "1", "-H", `Last-Event-ID: ${lastId}`, `${base}/v1/watch`],
      { encoding: "utf8" },
    ).stdout;
    expect(resumed).toMatch(/"name":"missed"/);
    expect(resumed).not.toMatch(/"name":"streamed"/);
    expect(resumed).not.toMatch(/event: hello/);
  });

  it("HEAD /v1/watch answers the stream's headers and ends", () => {
    const r = spawnSync("curl", ["-sI", "--max-time", "3", `${base}/v1/watch`], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout.toLowerCase()).toMatch(/^content-type: text\/event-stream/m);
  });

  it("ringdns watch prints the stream as lines, and the library's watch() yields it as events", async () => {
    const cli = spawn(process.execPath, [
      join(import.meta.dirname, "../../dist/bin/ringdns.js"),
      "watch",
      "_lib._tcp",
      "--http",
      base,
    ]);
    let lines = "";
    let said = "";
    cli.stdout.on("data", (c) => (lines += c));
    cli.stderr.on("data", (c) => (said += c));
    const abort = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of watch({ url: base, type: "_lib._tcp", signal: abort.signal })) {
        seen.push(e.event === "instance" ? `${e.op} ${e.instance.name}` : e.event);
        if (seen.includes("ring")) abort.abort();
      }
    })();
    for (let i = 0; i < 250 && !said.includes("watching"); i++) await new Promise((res) => setTimeout(res, 20));
    expect(said).toMatch(/^watching http:\/\/127\.0\.0\.1:\d+ for _lib\._tcp \(Ctrl-C to stop\)$/m);
    expect(post({ instance: "from-http", host: "fh", port: 9 }).status).toBe(201); // another type: not in this watch
    const r = curl(
      ["-X", "POST", ...auth, "-d", JSON.stringify({ instance: "lib-1", host: "lib-1", port: 9 })],
      "/v1/types/_lib._tcp/instances",
    );
    expect(r.status).toBe(201);
    await following;
    expect(seen).toEqual(["add lib-1", "ring"]);
    for (let i = 0; i < 50 && !/ring/.test(lines); i++) await new Promise((res) => setTimeout(res, 20));
    cli.kill();
    expect(lines).toMatch(/add +_lib\._tcp "lib-1" -> lib-1:9 weight 1 \(update\)/);
    expect(lines).toMatch(/ring +_lib\._tcp: "lib-1" 100\.0%/);
    expect(lines).not.toMatch(/from-http/);
  });

  it.skipIf(!hasPrometheusParser())(
    "/metrics parses with the Prometheus text parser, and its counters move with traffic",
    () => {
      const parse = () => {
        const r = spawnSync(
          "/usr/bin/python3",
          [
            "-c",
            "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families as f\nprint(json.dumps({s.name + json.dumps(s.labels, sort_keys=True, separators=(',', ':')): s.value for m in f(sys.stdin.read()) for s in m.samples}))",
          ],
          { input: curl([], "/metrics").text, encoding: "utf8" },
        );
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Record<string, number>;
      };
      const key = (name: string, labels: Record<string, string>) =>
        name + JSON.stringify(Object.fromEntries(Object.entries(labels).sort()));
      const before = parse();
      for (let i = 0; i < 7; i++) dig("dig", "127.0.0.1", d.port, ["node-1._kv._tcp.local", "SRV"]);
      dig("dig", "127.0.0.1", d.port, ["nothing-here.local", "A"]);
      const after = parse();
      const srv = key("ringdns_queries_total", { transport: "udp", qtype: "SRV", rcode: "NOERROR" });
      expect((after[srv] ?? 0) - (before[srv] ?? 0)).toBe(7);
      const nx = key("ringdns_queries_total", { transport: "udp", qtype: "A", rcode: "NXDOMAIN" });
      expect((after[nx] ?? 0) - (before[nx] ?? 0)).toBe(1);
      expect(after[key("ringdns_registrations", { source: "static" })]).toBe(20);
      expect(after[key("ringdns_store_healthy", {})]).toBe(1);
      expect(after[key("ringdns_query_duration_seconds_count", { transport: "udp" })]).toBeGreaterThan(
        before[key("ringdns_query_duration_seconds_count", { transport: "udp" })] ?? 0,
      );
      expect(Object.keys(after).some((k) => k.startsWith("ringdns_process_cpu_seconds_total"))).toBe(true);
      expect(after[key("ringdns_updates_total", { transport: "http", rcode: "NOERROR" })]).toBeGreaterThanOrEqual(2);
    },
  );
});

describe.skipIf(missingTool("curl"))("HTTP reads from elsewhere", () => {
  it("--http-read-from none: reads need the token too; without --http-token-file registration is off", async () => {
    const closed = await startDaemon([
      "--http",
      "127.0.0.1:0",
      "--http-read-from",
      "none",
      "--http-token-file",
      tokenFile,
    ]);
    try {
      const url = `http://127.0.0.1:${closed.httpPort}/v1/types`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${closed.httpPort}/healthz`)).status).toBe(200); // probes need no token
    } finally {
      await closed.stop();
    }
    const readOnly = await startDaemon(["--http", "127.0.0.1:0"]);
    try {
      const r = await fetch(`http://127.0.0.1:${readOnly.httpPort}/v1/types/_x._tcp/instances`, {
        method: "POST",
        body: "{}",
      });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toMatch(/--http-token-file/);
    } finally {
      await readOnly.stop();
    }
  });

  it("SIGHUP re-reads the token file: the new token works and the old one is refused; a bad file keeps the token in force", async () => {
    const rotDir = mkdtempSync(join(tmpdir(), "ringdns-http-rotate-"));
    const file = join(rotDir, "token");
    const OLD = "old-token-0123456789abcdef";
    const NEW = "new-token-0123456789abcdef";
    writeFileSync(file, `${OLD}\n`, { mode: 0o600 });
    const r = await startDaemon(["--http", "127.0.0.1:0", "--http-token-file", file]);
    try {
      const register = (token: string) =>
        fetch(`http://127.0.0.1:${r.httpPort}/v1/types/_rot._tcp/instances`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ instance: "a", host: "a", port: 1 }),
        }).then((res) => res.status);
      expect(await register(OLD)).toBe(201);
      writeFileSync(file, "short\n");
      r.proc.kill("SIGHUP");
      await r.waitForLog(/reload failed/);
      expect(await register(OLD)).toBe(201); // a token under 16 characters is refused, the old one stays
      writeFileSync(file, `${NEW}\n`);
      r.proc.kill("SIGHUP");
      await r.waitForLog(/reloaded the services file and keys/);
      expect(await register(OLD)).toBe(401);
      expect(await register(NEW)).toBe(201);
    } finally {
      await r.stop();
    }
  });

  it.skipIf(!hasTool("curl"))("a bad --http or token file stops the daemon with one line", () => {
    const r = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, "../../dist/bin/ringdns.js"),
        "serve",
        "--http",
        "127.0.0.1:0",
        "--http-token-file",
        join(dir, "missing"),
      ],
      { encoding: "utf8" },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n").at(-1)).toBe(
      `ringdns: --http-token-file: cannot read ${join(dir, "missing")}: ENOENT`,
    );
  });
});
