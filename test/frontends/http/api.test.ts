// The HTTP API in-process (src/frontends/http/api.ts): requests handed to
// HttpApi.handle, no sockets. What an operator's curl sees: lists, pages,
// owners, registrations with and without the token, the refusals and their
// reasons, access, the Host check (DNS rebinding) and the headers every reply
// carries. test/interop/http.test.ts keeps the end-to-end checks (curl and dig
// against a daemon, the event stream, SIGHUP).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ManualClock } from "../../../src/clock.js";
import { HttpApi, type ApiDeps, type ApiReply } from "../../../src/frontends/http/api.js";
import { Registry } from "../../../src/registry/registry.js";
import { parseServicesFile } from "../../../src/registry/services-file.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { makePolicy } from "../../../src/update/policy.js";

const TOKEN = "test-token-0123456789abcdef";
const services = (n: number) =>
  [
    "services:",
    ...Array.from(
      { length: n },
      (_, i) =>
        `  - {instance: node-${i}, type: _kv._tcp, host: node-${i}, addresses: [198.51.100.${i + 1}], port: ${10000 + i}, weight: ${1 + (i % 3)}, txt: {index: "${i}"}}`,
    ),
  ].join("\n");

let clock: ManualClock;
let registry: Registry;
let logs: { level: number; msg: string; host?: string }[];
let api: HttpApi;

async function make(over: Partial<ApiDeps> = {}): Promise<HttpApi> {
  clock = new ManualClock(1_000_000);
  registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const file = parseServicesFile(services(20), "s.yaml");
  registry.loadStatic(file.instances, file.hosts);
  logs = [];
  const log = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const update = {
    registry,
    clock,
    log,
    domains: [["local"]],
    keys: [],
    policy: makePolicy(["127.0.0.0/8"], new Map()),
    lease: { min: 1, max: 3600 },
  };
  return new HttpApi({
    registry,
    clock,
    log,
    update,
    storeStatus: () => ({ healthy: true, location: "memory" }),
    metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "ringdns_up 1\n" }),
    token: TOKEN,
    readsOpenTo: (a) => a === "127.0.0.1",
    hosts: ["ringdns.example"],
    ...over,
  });
}

/** One request as curl from `peer` would send it (Host: the address unless given). */
async function call(
  method: string,
  target: string,
  o: { token?: string; body?: unknown; host?: string; peer?: string } = {},
): Promise<ApiReply & { body: { error?: string } & Record<string, unknown> }> {
  const headers: Record<string, string> = {
    host: o.host ?? "127.0.0.1:8080",
    ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
  };
  const reply = await api.handle({
    method,
    target,
    headers,
    peer: o.peer ?? "127.0.0.1",
    body: async () => o.body ?? null,
  });
  return { ...reply, body: ("json" in reply ? reply.json : {}) as { error?: string } & Record<string, unknown> };
}

beforeEach(async () => {
  api = await make();
});

describe("reads", () => {
  it("lists types, a type's instances with source, weight and ring share, and one instance; 404 and 400 with reasons", async () => {
    expect((await call("GET", "/v1/types")).body).toEqual({ types: [{ type: "_kv._tcp", instances: 20 }] });
    const list = (await call("GET", "/v1/types/_kv._tcp/instances")).body.instances as {
      name: string;
      source: string;
      weight: number;
      share: number;
    }[];
    expect(list).toHaveLength(20);
    expect(new Set(list.map((i) => i.source))).toEqual(new Set(["static"]));
    expect(list.reduce((s, i) => s + i.share, 0)).toBeCloseTo(1, 6);
    const share = (w: number) =>
      list.filter((i) => i.weight === w).reduce((s, i) => s + i.share, 0) / list.filter((i) => i.weight === w).length;
    expect(share(3) / share(1)).toBeGreaterThan(2.5); // weight 3 owns about three times what weight 1 does
    expect((await call("GET", "/v1/types/_kv._tcp/instances/node-3")).body).toMatchObject({
      name: "node-3",
      port: 10003,
      host: "node-3",
      txt: ["index=3"],
      leaseRemainingSeconds: null,
    });
    expect((await call("GET", "/v1/types/_kv._tcp/instances/nope")).status).toBe(404);
    expect((await call("GET", "/v1/types/notatype/instances")).status).toBe(400);
    expect((await call("GET", "/v1/types/_kv._tcp/instances?domain=elsewhere.example")).body.error).toMatch(
      /not a served domain \(served: local\.\)/,
    );
  });

  it("pages a type's instances (limit, after, next) and finds them by name (search); every instance on exactly one page", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const p = (
        await call("GET", `/v1/types/_kv._tcp/instances?limit=7${after ? `&after=${encodeURIComponent(after)}` : ""}`)
      ).body as { instances: { name: string }[]; next?: string };
      seen.push(...p.instances.map((i) => i.name));
      if (!p.next) break;
      expect(p.instances).toHaveLength(7);
      after = p.next;
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `node-${i}`).sort());
    const found = (await call("GET", "/v1/types/_kv._tcp/instances?search=NODE-1")).body as {
      total: number;
      instances: { name: string }[];
    };
    expect([found.total, found.instances.map((i) => i.name)]).toEqual([
      11,
      ["node-1", ...Array.from({ length: 10 }, (_, i) => `node-1${i}`)],
    ]);
    expect((await call("GET", "/v1/types/_kv._tcp/instances?limit=0")).status).toBe(400);
  });

  it("owner?key= gives the ring's owner first among its successors; bad parameters are 400 with the range", async () => {
    const r = (await call("GET", "/v1/types/_kv._tcp/owner?key=user42&successors=3")).body as {
      owner: { name: string };
      successors: { name: string }[];
    };
    expect(r.successors.map((s) => s.name)).toEqual(
      registry.successors({ service: "_kv", proto: "_tcp" }, "user42", 3).map((i) => i.name),
    );
    expect(r.owner.name).toBe(registry.ownerOf({ service: "_kv", proto: "_tcp" }, "user42")!.name);
    expect((await call("GET", "/v1/types/_kv._tcp/owner")).body.error).toMatch(/give the key/);
    expect((await call("GET", "/v1/types/_kv._tcp/owner?key=k&successors=65")).body.error).toBe(
      "successors: an integer 1-64",
    );
    expect((await call("GET", "/v1/types/_kv._tcp/ring?slices=0")).body.error).toBe("slices: an integer 1-3600");
    expect((await call("GET", "/v1/types/_kv._tcp/ring?slices=12")).body).toMatchObject({ instances: 20 });
  });

  it("a malformed %-escape in the path is the client's error: 400 with a reason, and no error logged", async () => {
    for (const path of [
      "/v1/types/_kv._tcp/instances/%E0%A4%A",
      "/v1/types/%ZZ/instances",
      "/v1/types/_kv._tcp/instances/%",
    ]) {
      const r = await call("GET", path);
      expect(r.status, path).toBe(400);
      expect(r.body.error).toMatch(/malformed %-escape/);
    }
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it("serves every path and method docs/openapi.yaml documents, and HEAD where GET is", async () => {
    const spec = parseYaml(readFileSync(join(import.meta.dirname, "../../../docs/openapi.yaml"), "utf8")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const fill = (p: string) => p.replace("{type}", "_kv._tcp").replace("{name}", "node-2");
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const method of Object.keys(ops).filter((m) => ["get", "post", "delete"].includes(m))) {
        const r = await call(method.toUpperCase(), `${fill(path)}${path.endsWith("/owner") ? "?key=k" : ""}`, {
          token: TOKEN,
          body: {},
        });
        expect([404, 405], `${method} ${path}`).not.toContain(r.status);
      }
    }
    expect((await call("GET", "/v1/nothing")).status).toBe(404);
    expect((await call("PUT", "/v1/types")).status).toBe(405);
    expect((await call("HEAD", "/healthz")).status).toBe(200);
  });

  it("/v1/subscriptions lists DNS Push sessions a page at a time, oldest first; for readers only; empty without --dns-tls", async () => {
    expect((await call("GET", "/v1/subscriptions")).body).toEqual({ total: 0, subscriptions: 0, sessions: [] });
    const session = (id: number) => ({
      id,
      peer: `192.0.2.${id}:5300`,
      since: "2026-01-01T00:00:00.000Z",
      subscriptions: [{ name: "_kv._tcp.local.", type: "PTR", records: 20, pushes: id }],
    });
    // two listeners' sessions, each listener's in its own order
    api = await make({ pushSessions: () => [5, 1, 2, 4, 3].map(session) });
    const first = await call("GET", "/v1/subscriptions?limit=2");
    expect(first.body).toMatchObject({ total: 5, subscriptions: 5, next: "2" });
    expect(first.body.sessions).toEqual([session(1), session(2)]);
    const rest = await call("GET", "/v1/subscriptions?after=2&limit=1000");
    expect((rest.body.sessions as { id: number }[]).map((x) => x.id)).toEqual([3, 4, 5]);
    expect(rest.body.next).toBeUndefined();
    expect((await call("GET", "/v1/subscriptions?limit=1001")).status).toBe(400);
    expect((await call("GET", "/v1/subscriptions?after=x")).status).toBe(400);
    expect((await call("GET", "/v1/subscriptions", { peer: "203.0.113.9" })).status).toBe(401);
  });

  it("/healthz, /readyz (where the store is only for readers), /metrics", async () => {
    expect(await call("GET", "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await call("GET", "/readyz")).toMatchObject({
      status: 200,
      body: { status: "ready", store: { healthy: true, location: "memory" } },
    });
    expect((await call("GET", "/readyz", { peer: "203.0.113.9" })).body).toEqual({
      status: "ready",
      store: { healthy: true },
    });
    const m = await call("GET", "/metrics");
    expect("bytes" in m && m.bytes).toBe("ringdns_up 1\n");
    expect(m.headers["content-type"]).toMatch(/^text\/plain/);
  });
});

describe("registration", () => {
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
  const web = { service: "_web", proto: "_tcp" as const };

  it("needs the token (401 without, or with a wrong one, with WWW-Authenticate); registers and deregisters with it", async () => {
    const none = await call("POST", "/v1/types/_web._tcp/instances", { body: reg });
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(/bearer token is needed/);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="ringdns"');
    expect(
      (await call("POST", "/v1/types/_web._tcp/instances", { body: reg, token: "wrong-token-wrong-token" })).status,
    ).toBe(401);
    expect(registry.instance(web, "web 1")).toBeUndefined();
    const ok = await call("POST", "/v1/types/_web._tcp/instances", { body: reg, token: TOKEN });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ lease: 60, instance: { name: "web 1", source: "update", weight: 2 } });
    expect(registry.instance(web, "web 1")).toMatchObject({ port: 8080, subtypes: ["_eu"] });
    expect(registry.host("web-1")?.addresses).toEqual(["192.0.2.61"]);
    expect((await call("DELETE", "/v1/types/_web._tcp/instances/web%201")).status).toBe(401);
    expect((await call("DELETE", "/v1/types/_web._tcp/instances/web%201", { token: TOKEN })).status).toBe(204);
    expect(registry.instance(web, "web 1")).toBeUndefined();
    expect((await call("DELETE", "/v1/types/_web._tcp/instances/web%201", { token: TOKEN })).status).toBe(404);
  });

  it("refuses bad registrations with a reason, the same rules as DNS UPDATE, and changes nothing", async () => {
    const post = (body: unknown, type = "_web._tcp") =>
      call("POST", `/v1/types/${type}/instances`, { body, token: TOKEN });
    expect(await post({ instance: "x", host: "x" })).toMatchObject({
      status: 400,
      body: { error: '"port" is required' },
    });
    expect(await post({ instance: "x", host: "x", port: "80" })).toMatchObject({
      status: 400,
      body: { error: '"port" must be an integer' },
    });
    expect((await post({ instance: "x", host: "x", port: 80, colour: "red" })).status).toBe(400);
    expect((await post({ instance: "x".repeat(64), host: "x", port: 80 })).status).toBe(400);
    // a static instance belongs to the services file: UPDATE refuses to touch it, so does HTTP
    const clash = await post({ instance: "node-1", host: "elsewhere", port: 1 }, "_kv._tcp");
    expect(clash.status).toBeGreaterThanOrEqual(400);
    expect(clash.body.error).toMatch(/static|services file/i);
    expect(registry.instance({ service: "_kv", proto: "_tcp" }, "node-1")).toMatchObject({
      port: 10001,
      source: "static",
    });
  });

  it("without a token file registration is off (403); with reads closed (--http-read-from none) reads need the token too", async () => {
    api = await make({ token: undefined, readsOpenTo: () => false });
    expect((await call("POST", "/v1/types/_web._tcp/instances", { body: reg })).body.error).toMatch(
      /registration over HTTP is off/,
    );
    expect((await call("GET", "/v1/types")).status).toBe(401);
    expect((await call("GET", "/v1/nothing")).status).toBe(401); // what exists is not told either
    expect((await call("GET", "/healthz")).status).toBe(200);
    api = await make({ readsOpenTo: () => false });
    expect((await call("GET", "/v1/types", { token: TOKEN })).status).toBe(200);
  });
});

describe("every request and reply", () => {
  it("refuses a Host that is not this server (DNS rebinding) with 421 and a reason; IP, localhost and --http-host names pass", async () => {
    const rebound = await call("GET", "/v1/types", { host: "attacker.example" });
    expect(rebound.status).toBe(421);
    expect(rebound.body.error).toMatch(/does not answer for the host "attacker\.example".*--http-host/);
    expect(rebound.headers["x-content-type-options"]).toBe("nosniff");
    expect(logs.filter((l) => l.msg.startsWith("HTTP request refused: its Host")).map((l) => l.host)).toEqual([
      "attacker.example",
    ]);
    expect((await call("GET", "/healthz", { host: "attacker.example:80" })).status).toBe(421);
    // absolute-form: the target's authority is the host (RFC 9112 §3.2.2)
    expect((await call("GET", "http://attacker.example/v1/types")).status).toBe(421);
    for (const host of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "ringdns.example", "RINGDNS.example."])
      expect((await call("GET", "/v1/types", { host })).status, host).toBe(200);
  });

  it("logs a refused Host name once a minute, ten names a minute in all, however many requests rotate names and ports", async () => {
    const refused = () => logs.filter((l) => l.msg.startsWith("HTTP request refused: its Host")).length;
    for (let i = 0; i < 30; i++)
      await call("GET", "/healthz", { host: i % 2 ? `attacker.example:${1000 + i}` : `a${i}.attacker.example` });
    expect(refused()).toBe(10);
    clock.advance(60_000);
    await call("GET", "/healthz", { host: "attacker.example" });
    expect(refused()).toBe(11);
  });

  it("every reply says nosniff and may not be framed; the API may load nothing, the dashboard only its own files", async () => {
    for (const path of ["/", "/v1/types", "/v1/nothing", "/healthz", "/metrics"]) {
      const h = (await call("GET", path)).headers;
      expect([h["x-content-type-options"], h["x-frame-options"], h["referrer-policy"]], path).toEqual([
        "nosniff",
        "DENY",
        "no-referrer",
      ]);
      expect(h["content-security-policy"], path).toMatch(
        path === "/"
          ? /^default-src 'none'; script-src 'self';.*frame-ancestors 'none'$/
          : /^default-src 'none'; frame-ancestors 'none'$/,
      );
    }
  });

  it("the event stream is handed to the transport only for readers", async () => {
    expect(await call("GET", "/v1/watch?type=_kv._tcp")).toMatchObject({
      status: 200,
      stream: { url: expect.any(URL) },
    });
    expect((await call("GET", "/v1/watch", { peer: "203.0.113.9" })).status).toBe(401);
  });
});
