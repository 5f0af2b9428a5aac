// The HTTP API without sockets: a request (method, target, headers, peer, a
// way to read the body) in, a reply (status, JSON or bytes, headers) out,
// through one route table. server.ts puts it on node:http and adds the event
// stream; tests call it in-process. Access is decided here, once per route:
// `open` (health), `read` (--http-read-from sources or the token), `write`
// (the token); and every request must name this server in its Host.
import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { lowerAscii, parseServiceType, type Labels, type ServiceType } from "../../names.js";
import { domainKey, type Registry } from "../../registry/registry.js";
import { LOCAL_DOMAIN } from "../../registry/types.js";
import { SUMMARY_TOP } from "../../ring/ring.js";
import type { PushSessionsPage, PushSessionView } from "../../api/shapes.js";
import type { StoreStatus } from "../../store/store.js";
import type { UpdateDeps } from "../update-handler.js";
import { dashboardFile } from "./dashboard.js";
import { hostCheck, hostOf } from "./host-check.js";
import { deregisterOverHttp, registerOverHttp } from "./registration.js";
import {
  DEFAULT_PAGE,
  instancesView,
  MAX_PAGE,
  oneInstanceView,
  ownerView,
  ringView,
  typesView,
  type InstancePage,
  type ViewContext,
} from "./views.js";

export interface ApiDeps {
  registry: Registry;
  clock: Clock;
  log: Logger;
  update: UpdateDeps & { settled?: () => Promise<void> };
  storeStatus: () => StoreStatus;
  /** This daemon's node name in a cluster. */
  node?: string;
  /** Prometheus text exposition. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** Counts an HTTP registration's outcome as the DNS rcode an UPDATE would have got. */
  observeUpdate?: (rcode: number) => void;
  /** Bearer token for writes (and reads from anywhere); undefined = writes are off. */
  token?: string;
  /** May `address` read without the token? */
  readsOpenTo: (address: string) => boolean;
  /** Host names this server answers to besides IP addresses and localhost (`--http-host`). */
  hosts?: readonly string[];
  /** Counts a request refused or a stream dropped by a limit (ringdns_limit_hits_total). */
  observeLimit?: (limit: string) => void;
  /** DNS Push sessions holding subscriptions on the --dns-tls listeners, oldest first; absent = no TLS listener. */
  pushSessions?: () => PushSessionView[];
}

export interface ApiRequest {
  method: string;
  /** The request target as sent ("/v1/types?x=1", or absolute-form). */
  target: string;
  headers: IncomingHttpHeaders;
  /** The client's address ("::1", "192.0.2.1"; IPv4-mapped IPv6 as IPv4). */
  peer: string;
  /** The body, parsed as JSON (413 past 64 KiB, 400 when not JSON). */
  body(): Promise<unknown>;
}

export type ApiReply =
  | { status: number; headers: Record<string, string>; json: unknown }
  | { status: number; headers: Record<string, string>; bytes: Buffer | string }
  /** The event stream: server.ts serves it on the raw response, with these checks passed. */
  | { status: 200; headers: Record<string, string>; stream: { url: URL } };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Every response: no sniffing, no framing, no referrer. */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};
/** The dashboard's own files and the JSON API it reads: nothing inline, nothing from elsewhere, never framed. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Everything else is data: it may load nothing and be framed by no one. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** What a route is given: the request, the path's captures, and the API's helpers. */
interface Call {
  req: ApiRequest;
  url: URL;
  match: RegExpExecArray;
  ctx: ViewContext;
}

interface Route {
  method: string;
  path: RegExp;
  access: "open" | "read" | "write";
  handle(api: HttpApi, call: Call): ApiReply | Promise<ApiReply>;
}

const json = (status: number, body: unknown): ApiReply => ({
  status,
  headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  json: body,
});
const TYPE = "/v1/types/([^/]+)";
const dashboard =
  (file: string): Route["handle"] =>
  () => {
    const f = dashboardFile(file);
    return {
      status: 200,
      headers: { "content-type": f.contentType, "cache-control": "no-cache", "content-security-policy": DASHBOARD_CSP },
      bytes: f.body,
    };
  };

/** The API, one line per resource and method (docs/http-api.md, docs/openapi.yaml). */
const ROUTES: readonly Route[] = [
  { method: "GET", path: /^\/healthz$/, access: "open", handle: () => json(200, { status: "ok" }) },
  { method: "GET", path: /^\/readyz$/, access: "open", handle: (api, c) => api.readiness(c.req) },
  { method: "GET", path: /^\/$/, access: "read", handle: dashboard("index.html") },
  { method: "GET", path: /^\/dashboard\.js$/, access: "read", handle: dashboard("dashboard.js") },
  { method: "GET", path: /^\/dashboard\.css$/, access: "read", handle: dashboard("dashboard.css") },
  {
    method: "GET",
    path: /^\/metrics$/,
    access: "read",
    handle: async (api) => {
      const m = await api.deps.metrics();
      return { status: 200, headers: { "content-type": m.contentType }, bytes: m.body };
    },
  },
  {
    method: "GET",
    path: /^\/v1\/watch$/,
    access: "read",
    handle: (_api, c) => ({ status: 200, headers: {}, stream: { url: c.url } }),
  },
  { method: "GET", path: /^\/v1\/types$/, access: "read", handle: (api) => json(200, typesView(api.deps.registry)) },
  {
    method: "GET",
    path: /^\/v1\/subscriptions$/,
    access: "read",
    handle: (api, c) => json(200, subscriptionsPage(api.deps.pushSessions?.() ?? [], c.url)),
  },
  {
    method: "GET",
    path: new RegExp(`^${TYPE}(?:/instances)?$`),
    access: "read",
    handle: async (api, c) =>
      json(
        200,
        await instancesView(
          api.deps.registry,
          typeParam(c.match[1]!),
          c.ctx,
          api.domainParam(c.url)?.key,
          pageParams(c.url),
        ),
      ),
  },
  {
    method: "GET",
    path: new RegExp(`^${TYPE}/instances/([^/]+)$`),
    access: "read",
    handle: (api, c) => {
      const name = pathSegment(c.match[2]!);
      const v = oneInstanceView(api.deps.registry, typeParam(c.match[1]!), name, c.ctx, api.domainParam(c.url)?.key);
      if (!v) throw new HttpError(404, `no instance "${name}" of ${c.match[1]}`);
      return json(200, v);
    },
  },
  {
    method: "GET",
    path: new RegExp(`^${TYPE}/owner$`),
    access: "read",
    handle: (api, c) => {
      const key = c.url.searchParams.get("key");
      if (key === null || key === "") throw new HttpError(400, "give the key: owner?key=KEY");
      const n = Number(c.url.searchParams.get("successors") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new HttpError(400, "successors: an integer 1-64");
      return json(
        200,
        ownerView(api.deps.registry, typeParam(c.match[1]!), key, n, c.ctx, api.domainParam(c.url)?.key),
      );
    },
  },
  {
    method: "GET",
    path: new RegExp(`^${TYPE}/ring$`),
    access: "read",
    handle: async (api, c) => {
      const slices = Number(c.url.searchParams.get("slices") ?? "360");
      if (!Number.isInteger(slices) || slices < 1 || slices > 3600)
        throw new HttpError(400, "slices: an integer 1-3600");
      const top = Number(c.url.searchParams.get("shares") ?? "200");
      if (!Number.isInteger(top) || top < 0 || top > SUMMARY_TOP)
        throw new HttpError(400, `shares: an integer 0-${SUMMARY_TOP} (the busiest instances listed)`);
      return json(
        200,
        await ringView(api.deps.registry, typeParam(c.match[1]!), slices, top, api.domainParam(c.url)?.key),
      );
    },
  },
  {
    method: "POST",
    path: new RegExp(`^${TYPE}/instances$`),
    access: "write",
    handle: async (api, c) => {
      const { deps } = api;
      const type = typeParam(c.match[1]!);
      const domain = api.domainParam(c.url);
      const body = await c.req.body();
      const out = await registerOverHttp(c.match[1]!, body, deps.update, c.req.peer, domain?.labels);
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      const registered = oneInstanceView(
        deps.registry,
        type,
        (body as { instance: string }).instance,
        { ...c.ctx, now: deps.clock.now() },
        domain?.key ?? LOCAL_DOMAIN,
      );
      return json(201, { lease: out.lease, instance: registered });
    },
  },
  {
    method: "DELETE",
    path: new RegExp(`^${TYPE}/instances/([^/]+)$`),
    access: "write",
    handle: async (api, c) => {
      const { deps } = api;
      const name = pathSegment(c.match[2]!);
      const domain = api.domainParam(c.url);
      if (!deps.registry.instance(typeParam(c.match[1]!), name, domain?.key))
        throw new HttpError(404, `no instance "${name}" of ${c.match[1]}${domain ? ` in ${domain.key}` : ""}`);
      const out = await deregisterOverHttp(c.match[1]!, name, deps.update, c.req.peer, domain?.key);
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      return { status: 204, headers: {}, bytes: "" };
    },
  },
];

export class HttpApi {
  private token: Buffer | undefined;
  private readonly namesThisServer: (authority: string) => boolean;
  private refusedHostLogged = { since: -Infinity, names: new Set<string>() };

  constructor(readonly deps: ApiDeps) {
    this.token = deps.token === undefined ? undefined : Buffer.from(deps.token);
    this.namesThisServer = hostCheck(deps.hosts ?? []);
  }

  /** A new bearer token (the token file re-read on SIGHUP): the old one stops working at once. */
  setToken(token: string): void {
    this.token = Buffer.from(token);
  }

  /** The reply to `req`, security headers included; a fault of ours is a logged 500, never a throw. */
  async handle(req: ApiRequest): Promise<ApiReply> {
    let reply: ApiReply;
    try {
      reply = await this.route(req);
    } catch (err) {
      if (err instanceof HttpError)
        reply = {
          ...json(err.status, { error: err.message }),
          ...(err.status === 401
            ? { headers: { ...json(401, null).headers, "www-authenticate": 'Bearer realm="ringdns"' } }
            : {}),
        };
      else {
        this.deps.log.error({ err, url: req.target }, "internal error in the HTTP API");
        reply = json(500, { error: "internal error (logged)" });
      }
      if (err instanceof HttpError) Object.assign(reply.headers, err.headers);
    }
    reply.headers = { "content-security-policy": API_CSP, ...reply.headers, ...SECURITY_HEADERS };
    return reply;
  }

  private async route(req: ApiRequest): Promise<ApiReply> {
    this.checkHost(req);
    const url = requestUrl(req.target);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method === "HEAD" ? "GET" : req.method; // node:http sends HEAD's headers without the body
    let pathKnown = false;
    for (const r of ROUTES) {
      const match = r.path.exec(path);
      if (!match) continue;
      pathKnown = true;
      if (r.method !== method) continue;
      if (r.access === "read" && !this.mayRead(req))
        throw new HttpError(401, "reads from this address need the bearer token (or --http-read-from)");
      if (r.access === "write") this.mustWrite(req);
      const ctx = {
        now: this.deps.clock.now(),
        ...(this.deps.node !== undefined ? { node: this.deps.node } : {}),
        claim: (record: string) => this.deps.registry.claim(record),
      };
      return r.handle(this, { req, url, match, ctx });
    }
    if (!this.mayRead(req))
      throw new HttpError(401, "reads from this address need the bearer token (or --http-read-from)");
    if (pathKnown) throw new HttpError(405, `${req.method} is not supported on ${path}`);
    throw new HttpError(404, `no such resource: ${req.method} ${path} (see docs/http-api.md)`);
  }

  /** /readyz: everyone gets the verdict; where the store is (a path; etcd endpoints and prefix) only those who may read. */
  readiness(req: ApiRequest): ApiReply {
    const st = this.deps.storeStatus();
    const building = this.deps.registry.ringsBuilding();
    const store = this.mayRead(req) ? st : { healthy: st.healthy };
    if (st.healthy && building > 0)
      return json(503, {
        status: `not ready: ${building} ring${building === 1 ? "" : "s"} being built (their _hash names get SERVFAIL, Not Ready)`,
        store,
      });
    return json(st.healthy ? 200 : 503, {
      status: st.healthy
        ? "ready"
        : `not ready: ${st.reason ?? "the store is unavailable"}; answering from a possibly stale replica`,
      store,
    });
  }

  /** `?domain=NAME`: one of the served domains, whose registrations and ring a request means; absent = none named. */
  domainParam(url: URL): { labels: Labels; key: string } | undefined {
    const text = url.searchParams.get("domain");
    if (text === null || text === "") return undefined;
    const want = lowerAscii(text.endsWith(".") ? text : `${text}.`);
    const domains = this.deps.update.domains;
    const labels = domains.find((d) => domainKey(d) === want);
    if (!labels)
      throw new HttpError(
        400,
        `domain: "${text}" is not a served domain (served: ${domains.map(domainKey).join(", ")})`,
      );
    return { labels, key: want };
  }

  mayRead(req: ApiRequest): boolean {
    return this.deps.readsOpenTo(req.peer) || this.hasToken(req);
  }

  private hasToken(req: ApiRequest): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m || !this.token) return false;
    const given = Buffer.from(m[1]!);
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  private mustWrite(req: ApiRequest): void {
    if (!this.token) throw new HttpError(403, "registration over HTTP is off: start the daemon with --http-token-file");
    if (!this.hasToken(req))
      throw new HttpError(401, "a bearer token is needed: Authorization: Bearer <the token in --http-token-file>");
  }

  /** Refuses (421) a request whose Host (or absolute-form target) names another server: a DNS-rebinding page's. */
  private checkHost(req: ApiRequest): void {
    const target = req.target;
    const authority =
      target.startsWith("/") || target === "*" ? req.headers.host : URL.canParse(target) ? new URL(target).host : "";
    // no Host at all is no browser (Node refuses HTTP/1.1 without one; HTTP/1.0 tools may omit it)
    if (authority === undefined || this.namesThisServer(authority)) return;
    this.deps.observeLimit?.("http-host");
    // one line per refused name a minute (the port aside), at most ten a minute in all: a rebinding
    // page may send many, and rotate names; the counter has every one
    const now = this.deps.clock.now();
    const name = hostOf(authority) ?? authority;
    if (now - this.refusedHostLogged.since >= 60_000) this.refusedHostLogged = { since: now, names: new Set() };
    if (!this.refusedHostLogged.names.has(name) && this.refusedHostLogged.names.size < 10) {
      this.refusedHostLogged.names.add(name);
      this.deps.log.warn(
        { host: authority.slice(0, 200), peer: req.peer, url: target.slice(0, 200) },
        "HTTP request refused: its Host is not this server (names it answers for: --http-host)",
      );
    }
    throw new HttpError(
      421,
      `this server does not answer for the host ${JSON.stringify(authority.slice(0, 100))} (names it answers for are set with --http-host)`,
    );
  }
}

/** `?limit=N&after=NAME&search=TEXT`: a page of a type's instances. */
function pageParams(url: URL): InstancePage {
  const limitText = url.searchParams.get("limit");
  const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new HttpError(400, `limit: an integer 1-${MAX_PAGE}`);
  const after = url.searchParams.get("after");
  const search = url.searchParams.get("search");
  return { limit, ...(after !== null ? { after } : {}), ...(search !== null && search !== "" ? { search } : {}) };
}

/** Sessions listed at once by default, and at most (each holds at most 256 subscriptions, the process 10,000). */
export const DEFAULT_SESSIONS_PAGE = 100;
export const MAX_SESSIONS_PAGE = 1000;

/** `?limit=N&after=ID`: the DNS Push sessions after session `after`, at most `limit`. */
function subscriptionsPage(all: readonly PushSessionView[], url: URL): PushSessionsPage {
  const limitText = url.searchParams.get("limit");
  const limit = limitText === null ? DEFAULT_SESSIONS_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SESSIONS_PAGE)
    throw new HttpError(400, `limit: an integer 1-${MAX_SESSIONS_PAGE}`);
  const afterText = url.searchParams.get("after");
  const after = afterText === null ? 0 : Number(afterText);
  if (!Number.isInteger(after) || after < 0) throw new HttpError(400, "after: the `next` of the page before");
  // several listeners' sessions: one order, by id
  const sorted = [...all].sort((a, b) => a.id - b.id);
  const rest = sorted.filter((s) => s.id > after);
  const shown = rest.slice(0, limit);
  return {
    total: all.length,
    subscriptions: all.reduce((n, s) => n + s.subscriptions.length, 0),
    sessions: shown,
    ...(rest.length > shown.length ? { next: String(shown.at(-1)!.id) } : {}),
  };
}

/** A %-encoded path segment; a malformed escape is the client's error (400), not ours. */
function pathSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `malformed %-escape in the path: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

function typeParam(text: string): ServiceType {
  const decoded = pathSegment(text);
  try {
    return parseServiceType(decoded);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
}

/** The request target as a URL; one Node's parser let through but URL cannot read is a bad request. */
function requestUrl(target: string): URL {
  try {
    return new URL(target, "http://ringdns");
  } catch {
    throw new HttpError(400, "malformed request target");
  }
}
