// The HTTP frontend's bounds and address handling, against in-process daemons
// on loopback: event streams capped per source and in total, a watcher that
// does not read dropped instead of buffered for, /readyz telling the store's
// location only to readers, and IPv6 loopback treated as loopback (the HTTP
// peer has no port).
import { get, type IncomingMessage } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig, type ConfigInput } from "../../src/config.js";
import { startDaemon, type Daemon } from "../../src/daemon.js";
import type { Instance } from "../../src/registry/types.js";

const TOKEN = "http-limits-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "ringdns-http-limits-"));
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
const auth = { authorization: `Bearer ${TOKEN}` };

interface Running {
  daemon: Daemon;
  base: string;
  logs: Record<string, unknown>[];
}

async function start(input: ConfigInput): Promise<Running> {
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const daemon = await startDaemon(
    resolveConfig({ dns: ["127.0.0.1:0"], store: "memory", httpTokenFile: tokenFile, ...input }),
    { log },
  );
  const http = logs.find((l) => l.msg === "ringdns listening")!.http as string;
  return { daemon, base: `http://${http}`, logs };
}

const limitHits = async (r: Running, limit: string) =>
  Number(
    new RegExp(`^ringdns_limit_hits_total\\{limit="${limit}"\\} (\\d+)`, "m").exec(
      await (await fetch(`${r.base}/metrics`, { headers: auth })).text(),
    )?.[1] ?? 0,
  );

/** GET over node:http (fetch cannot set Host or pick the source address); the response is left unread. */
function open(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, agent: false, ...(localAddress ? { localAddress } : {}) }, resolve);
    req.once("error", reject);
  });
}
const bodyOf = async (res: IncomingMessage) => {
  let text = "";
  for await (const c of res) text += c;
  return text;
};
const until = async (ok: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("HTTP event streams and status, IPv4", () => {
  let r: Running;
  beforeAll(async () => {
    r = await start({
      http: "127.0.0.1:0",
      httpReadFrom: ["none"],
      httpMaxWatchers: 3,
      httpMaxWatchersPerSource: 2,
      ringPoints: 1,
    }); // a cheap ring: thousands of instances join below
  });
  afterAll(() => r?.daemon.close());

  it("/readyz gives everyone the verdict, and the store's location only to those who may read", async () => {
    const anyone = (await (await fetch(`${r.base}/readyz`)).json()) as {
      status: string;
      store: Record<string, unknown>;
    };
    expect(anyone).toEqual({ status: "ready", store: { healthy: true } });
    const reader = (await (await fetch(`${r.base}/readyz`, { headers: auth })).json()) as {
      store: Record<string, unknown>;
    };
    expect(reader.store).toMatchObject({ healthy: true, location: expect.any(String) });
  });

  it("event streams: over --http-max-watchers-per-source 429, over --http-max-watchers 503, each with a reason; a closed one frees its place", async () => {
    const url = `${r.base}/v1/watch`;
    const a = await open(url, auth);
    const b = await open(url, auth);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const third = await open(url, auth);
    expect(third.statusCode).toBe(429);
    expect(JSON.parse(await bodyOf(third)).error).toMatch(
      /too many event streams are open from 127\.0\.0\.1 \(2, --http-max-watchers-per-source\)/,
    );
    const other = await open(url, auth, "127.0.0.2");
    expect(other.statusCode).toBe(200);
    const fourth = await open(url, auth, "127.0.0.3");
    expect(fourth.statusCode).toBe(503);
    expect(fourth.headers["retry-after"]).toBeDefined();
    expect(JSON.parse(await bodyOf(fourth)).error).toMatch(
      /too many event streams are open \(3, --http-max-watchers\)/,
    );
    expect(await limitHits(r, "http-watchers-per-source")).toBe(1);
    expect(await limitHits(r, "http-watchers")).toBe(1);
    a.destroy();
    const again: IncomingMessage[] = [];
    await until(async () => again.push(await open(url, auth)) > 0 && again.at(-1)!.statusCode === 200); // its place is free again
    for (const s of [b, other, ...again]) s.destroy();
  });

  it("a watcher that does not read is dropped once its unsent events pass the cap, and counted; the daemon's buffer for it stays bounded", async () => {
    await new Promise((res) => setTimeout(res, 50)); // the previous test's streams are closed by now
    const slow = await open(`${r.base}/v1/watch`, auth); // never read
    let closed = false;
    slow.socket.once("close", () => (closed = true));
    expect(slow.statusCode).toBe(200);
    // ~12 MB of events at once: more than the kernel's socket buffers hold (a few MB), and the 1 MiB cap
    const txt = [new TextEncoder().encode(`blob=${"x".repeat(3000)}`)];
    const batch: Instance[] = Array.from({ length: 4000 }, (_, i) => ({
      name: `slow-${i}`,
      type: { service: "_slow", proto: "_tcp" },
      subtypes: [],
      host: [`slow-${i}`],
      port: 1,
      priority: 0,
      weight: 1,
      txt,
      source: "static",
    }));
    r.daemon.registry.loadStatic(batch, []);
    await until(() => r.logs.some((l) => /event stream closed: its reader is too far behind/.test(String(l.msg))));
    const line = r.logs.find((l) => /too far behind/.test(String(l.msg)))!;
    expect(line.unsentBytes as number).toBeLessThan(1024 * 1024 + 64 * 1024); // dropped at the cap, not after buffering everything
    expect(await limitHits(r, "http-watch-slow-reader")).toBe(1);
    slow.resume();
    await until(() => closed);
    // a reader that keeps up is not affected
    const ok = await open(`${r.base}/v1/watch`, auth);
    expect(ok.statusCode).toBe(200);
    ok.destroy();
  });
});

describe("HTTP over IPv6 loopback", () => {
  let r: Running;
  beforeAll(async () => {
    r = await start({ http: "[::1]:0", updateRate: 1 }); // loopback is exempt from the update rate by default
  });
  afterAll(() => r?.daemon.close());

  it("::1 is loopback: it reads without the token and is exempt from --update-rate like 127.0.0.1", async () => {
    expect((await fetch(`${r.base}/v1/types`)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${r.base}/v1/types/_v6._tcp/instances`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ instance: `v6-${i}`, host: `v6-${i}`, port: 1 }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([201, 201, 201, 201]); // today: 201, 429, 429, 429 (the peer "::1" read as ":")
  });
});
