// The HTTP admin frontend (`--http ADDR:PORT`): a versioned JSON API over the
// registry, its change stream as Server-Sent Events, Prometheus metrics and
// the dashboard. Reads are open to `--http-read-from` sources (loopback by
// default) and to anyone with the token; writes need the token
// (`--http-token-file`) and go through the same path as DNS UPDATE.
// Every request must name this server in its Host header (host-check.ts:
// DNS rebinding); every response says nosniff and may not be framed; event
// streams are capped per source and in total, and a reader that falls too
// far behind is dropped rather than buffered for.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { every, guarded } from "../../guard.js";
import { lowerAscii, parseServiceType, type Labels, type ServiceType } from "../../names.js";
import { domainKey, type Registry } from "../../registry/registry.js";
import { LOCAL_DOMAIN } from "../../registry/types.js";
import type { StoreStatus } from "../../store/store.js";
import { addressOf } from "../peer.js";
import type { UpdateDeps } from "../update-handler.js";
import { dashboardFile } from "./dashboard.js";
import { hostCheck, hostOf } from "./host-check.js";
import { deregisterOverHttp, registerOverHttp } from "./registration.js";
import { SUMMARY_TOP } from "../../ring/ring.js";
import { DEFAULT_PAGE, instancesView, MAX_PAGE, oneInstanceView, ownerView, ringView, typesView, type InstancePage } from "./views.js";
import type { WatchEvent, WatchHub } from "./watch.js";

export interface HttpDeps {
  registry: Registry;
  clock: Clock;
  log: Logger;
  update: UpdateDeps & { settled?: () => Promise<void> };
  watch: WatchHub;
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
  /** Bounds on the event streams (/v1/watch). */
  watchLimits?: Partial<WatchLimits>;
  /** Counts a request refused or a stream dropped by a limit (ringdns_limit_hits_total). */
  observeLimit?: (limit: string) => void;
}

export interface WatchLimits {
  /** Event streams open at once, from everyone (over: 503). */
  maxStreams: number;
  /** Event streams open at once from one address (over: 429). */
  maxPerSource: number;
  /** A stream whose unsent events exceed this many bytes is closed: its reader is too slow (it reconnects with Last-Event-ID). */
  maxUnsentBytes: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = { maxStreams: 64, maxPerSource: 8, maxUnsentBytes: 1024 * 1024 };

export interface HttpListener {
  readonly address: string;
  readonly port: number;
  /** A new bearer token (the token file re-read on SIGHUP): the old one stops working at once. */
  setToken(token: string): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const SSE_KEEPALIVE_MS = 15_000;

/** The dashboard's own files and the JSON API it reads: nothing inline, nothing from elsewhere, never framed. */
const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Everything else is data: it may load nothing and be framed by no one. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on(
      "data",
      guarded("http request body", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new HttpError(413, `the body is larger than ${MAX_BODY} bytes`));
          req.destroy();
        } else chunks.push(c);
      }),
    );
    req.on(
      "end",
      guarded("http request body", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "null"));
        } catch {
          reject(new HttpError(400, "the body is not JSON"));
        }
      }),
    );
    req.on("error", guarded("http request body", reject));
  });
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
function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? "/", "http://ringdns");
  } catch {
    throw new HttpError(400, "malformed request target");
  }
}

export function listenHttp(host: string, port: number, deps: HttpDeps): Promise<HttpListener> {
  let token = deps.token === undefined ? undefined : Buffer.from(deps.token);
  const hasToken = (req: IncomingMessage) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m || !token) return false;
    const given = Buffer.from(m[1]!);
    return given.length === token.length && timingSafeEqual(given, token);
  };
  // the address alone ("::1", "192.0.2.1"; IPv4-mapped IPv6 as IPv4): what policies and limits are about
  const peerOf = (req: IncomingMessage) => addressOf(req.socket.remoteAddress ?? "");
  const mayRead = (req: IncomingMessage) => deps.readsOpenTo(peerOf(req)) || hasToken(req);
  const mustWrite = (req: IncomingMessage) => {
    if (!token) throw new HttpError(403, "registration over HTTP is off: start the daemon with --http-token-file");
    if (!hasToken(req)) throw new HttpError(401, "a bearer token is needed: Authorization: Bearer <the token in --http-token-file>");
  };
  const streams = new Set<ServerResponse>();
  const streamsFrom = new Map<string, number>();
  const watchLimits: WatchLimits = { ...DEFAULT_WATCH_LIMITS, ...deps.watchLimits };
  const namesThisServer = hostCheck(deps.hosts ?? []);
  let refusedHostLogged = { since: -Infinity, names: new Set<string>() };

  /** Refuses (421) a request whose Host (or absolute-form target) names another server: a DNS-rebinding page's. */
  const checkHost = (req: IncomingMessage): void => {
    const target = req.url ?? "/";
    const authority = target.startsWith("/") || target === "*" ? req.headers.host : URL.canParse(target) ? new URL(target).host : "";
    // no Host at all is no browser (Node refuses HTTP/1.1 without one; HTTP/1.0 tools may omit it)
    if (authority === undefined || namesThisServer(authority)) return;
    deps.observeLimit?.("http-host");
    // one line per refused name a minute (the port aside), at most ten a minute in all: a rebinding
    // page may send many, and rotate names; the counter has every one
    const now = deps.clock.now();
    const name = hostOf(authority) ?? authority;
    if (now - refusedHostLogged.since >= 60_000) refusedHostLogged = { since: now, names: new Set() };
    if (!refusedHostLogged.names.has(name) && refusedHostLogged.names.size < 10) {
      refusedHostLogged.names.add(name);
      deps.log.warn({ host: authority.slice(0, 200), peer: peerOf(req), url: target.slice(0, 200) }, "HTTP request refused: its Host is not this server (names it answers for: --http-host)");
    }
    throw new HttpError(421, `this server does not answer for the host ${JSON.stringify(authority.slice(0, 100))} (names it answers for are set with --http-host)`);
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkHost(req);
    const url = requestUrl(req);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const dashboard = method === "GET" && (path === "/" || path === "/dashboard.js" || path === "/dashboard.css");
    if (dashboard) res.setHeader("content-security-policy", DASHBOARD_CSP);
    const ctx = { now: deps.clock.now(), ...(deps.node !== undefined ? { node: deps.node } : {}) };

    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const st = deps.storeStatus();
      const building = deps.registry.ringsBuilding();
      if (st.healthy && building > 0) return sendJson(res, 503, { status: `not ready: ${building} ring${building === 1 ? "" : "s"} being built (their _hash names get SERVFAIL, Not Ready)`, store: mayRead(req) ? st : { healthy: st.healthy } });
      // where the store is (a path; etcd endpoints and prefix) only for those who may read; everyone gets the verdict
      return sendJson(res, st.healthy ? 200 : 503, { status: st.healthy ? "ready" : `not ready: ${st.reason ?? "the store is unavailable"}; answering from a possibly stale replica`, store: mayRead(req) ? st : { healthy: st.healthy } });
    }
    if (!mayRead(req)) throw new HttpError(401, "reads from this address need the bearer token (or --http-read-from)");
    if (dashboard) {
      const f = dashboardFile(path === "/" ? "index.html" : path.slice(1));
      res.writeHead(200, { "content-type": f.contentType, "content-length": f.body.length, "cache-control": "no-cache" });
      return void res.end(f.body);
    }
    if (method === "GET" && path === "/metrics") {
      const m = await deps.metrics();
      res.writeHead(200, { "content-type": m.contentType });
      return void res.end(m.body);
    }
    if (method === "GET" && path === "/v1/watch") return watch(req, res, url, peerOf(req));
    if (method === "GET" && path === "/v1/types") return sendJson(res, 200, typesView(deps.registry));

    const m = /^\/v1\/types\/([^/]+)(?:\/(instances|owner|ring)(?:\/([^/]+))?)?$/.exec(path);
    if (!m) throw new HttpError(404, `no such resource: ${method} ${path} (see docs/http-api.md)`);
    const type = typeParam(m[1]!);
    const [what, name] = [m[2], m[3] === undefined ? undefined : pathSegment(m[3])];
    const domain = domainParam(url);
    if (method === "GET" && (what === undefined || (what === "instances" && name === undefined))) return sendJson(res, 200, await instancesView(deps.registry, type, ctx, domain?.key, pageParams(url)));
    if (method === "GET" && what === "instances") {
      const v = oneInstanceView(deps.registry, type, name!, ctx, domain?.key);
      if (!v) throw new HttpError(404, `no instance "${name}" of ${m[1]}`);
      return sendJson(res, 200, v);
    }
    if (method === "GET" && what === "owner" && name === undefined) {
      const key = url.searchParams.get("key");
      if (key === null || key === "") throw new HttpError(400, "give the key: owner?key=KEY");
      const n = Number(url.searchParams.get("successors") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new HttpError(400, "successors: an integer 1-64");
      return sendJson(res, 200, ownerView(deps.registry, type, key, n, ctx, domain?.key));
    }
    if (method === "GET" && what === "ring" && name === undefined) {
      const slices = Number(url.searchParams.get("slices") ?? "360");
      if (!Number.isInteger(slices) || slices < 1 || slices > 3600) throw new HttpError(400, "slices: an integer 1-3600");
      const top = Number(url.searchParams.get("shares") ?? "200");
      if (!Number.isInteger(top) || top < 0 || top > SUMMARY_TOP) throw new HttpError(400, `shares: an integer 0-${SUMMARY_TOP} (the busiest instances listed)`);
      return sendJson(res, 200, await ringView(deps.registry, type, slices, top, domain?.key));
    }
    if (method === "POST" && what === "instances" && name === undefined) {
      mustWrite(req);
      const body = await readBody(req);
      const out = await registerOverHttp(m[1]!, body, deps.update, peerOf(req), domain?.labels);
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      const registered = oneInstanceView(deps.registry, type, (body as { instance: string }).instance, { ...ctx, now: deps.clock.now() }, domain?.key ?? LOCAL_DOMAIN);
      return sendJson(res, 201, { lease: out.lease, instance: registered });
    }
    if (method === "DELETE" && what === "instances" && name !== undefined) {
      mustWrite(req);
      if (!deps.registry.instance(type, name, domain?.key)) throw new HttpError(404, `no instance "${name}" of ${m[1]}${domain ? ` in ${domain.key}` : ""}`);
      const out = await deregisterOverHttp(m[1]!, name, deps.update, peerOf(req), domain?.key);
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      res.writeHead(204);
      return void res.end();
    }
    throw new HttpError(405, `${method} is not supported on ${path}`);
  }

  /** `?limit=N&after=NAME&search=TEXT`: a page of a type's instances. */
  function pageParams(url: URL): InstancePage {
    const limitText = url.searchParams.get("limit");
    const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new HttpError(400, `limit: an integer 1-${MAX_PAGE}`);
    const after = url.searchParams.get("after");
    const search = url.searchParams.get("search");
    return { limit, ...(after !== null ? { after } : {}), ...(search !== null && search !== "" ? { search } : {}) };
  }

  /** `?domain=NAME`: one of the served domains, whose registrations and ring a request means; absent = none named. */
  function domainParam(url: URL): { labels: Labels; key: string } | undefined {
    const text = url.searchParams.get("domain");
    if (text === null || text === "") return undefined;
    const want = lowerAscii(text.endsWith(".") ? text : `${text}.`);
    const labels = deps.update.domains.find((d) => domainKey(d) === want);
    if (!labels) throw new HttpError(400, `domain: "${text}" is not a served domain (served: ${deps.update.domains.map(domainKey).join(", ")})`);
    return { labels, key: want };
  }

  function watch(req: IncomingMessage, res: ServerResponse, url: URL, source: string): void {
    const fromSource = streamsFrom.get(source) ?? 0;
    if (streams.size >= watchLimits.maxStreams) {
      deps.observeLimit?.("http-watchers");
      deps.log.warn({ peer: source, max: watchLimits.maxStreams }, "event stream refused: too many open");
      res.setHeader("retry-after", "10");
      throw new HttpError(503, `too many event streams are open (${watchLimits.maxStreams}, --http-max-watchers); try again later`);
    }
    if (fromSource >= watchLimits.maxPerSource) {
      deps.observeLimit?.("http-watchers-per-source");
      deps.log.warn({ peer: source, max: watchLimits.maxPerSource }, "event stream refused: too many open from this address");
      res.setHeader("retry-after", "10");
      throw new HttpError(429, `too many event streams are open from ${source} (${watchLimits.maxPerSource}, --http-max-watchers-per-source)`);
    }
    const only = url.searchParams.get("type");
    const wanted = (e: WatchEvent) => !only || e.event === "host" || e.type === only;
    const framed = (e: WatchEvent) => `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    // live events are written with backpressure: a reader that lets more than maxUnsentBytes pile up is dropped, never buffered for
    let dropped = false;
    const send = (text: string) => {
      if (dropped || res.destroyed) return;
      if (res.writableLength > watchLimits.maxUnsentBytes) {
        dropped = true;
        deps.observeLimit?.("http-watch-slow-reader");
        deps.log.info({ peer: source, unsentBytes: res.writableLength, max: watchLimits.maxUnsentBytes }, "event stream closed: its reader is too far behind (it may reconnect with Last-Event-ID)");
        res.destroy();
        return;
      }
      res.write(text);
    };
    // what a reconnecting client missed is written whole: the hub's history bounds it
    const last = req.headers["last-event-id"] ?? url.searchParams.get("lastEventId");
    if (last !== undefined && last !== null) {
      const missed = deps.watch.since(Number(last));
      // too old for the history we keep: say so, and the client reloads the full state
      if (missed === undefined) res.write(`id: ${deps.watch.lastId}\nevent: reset\ndata: {"reason":"history no longer kept; reload the state"}\n\n`);
      else for (const e of missed) if (wanted(e)) res.write(framed(e));
    } else {
      res.write(`id: ${deps.watch.lastId}\nevent: hello\ndata: {"lastId":${deps.watch.lastId}}\n\n`);
    }
    const unsubscribe = deps.watch.subscribe(
      guarded("http watch event", (e: WatchEvent) => {
        if (wanted(e)) send(framed(e));
      }),
    );
    const keepalive = every("http watch keep-alive", SSE_KEEPALIVE_MS, () => send(": keep-alive\n\n"));
    streams.add(res);
    streamsFrom.set(source, fromSource + 1);
    res.on(
      "close",
      guarded("http watch close", () => {
        clearInterval(keepalive);
        unsubscribe();
        streams.delete(res);
        const left = (streamsFrom.get(source) ?? 1) - 1;
        if (left > 0) streamsFrom.set(source, left);
        else streamsFrom.delete(source);
      }),
    );
  }

  const server = createServer(
    guarded("http request", async (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader("x-content-type-options", "nosniff");
      res.setHeader("x-frame-options", "DENY");
      res.setHeader("referrer-policy", "no-referrer");
      res.setHeader("content-security-policy", API_CSP);
      try {
        await route(req, res);
      } catch (err) {
        if (err instanceof HttpError) {
          if (err.status === 401) res.setHeader("www-authenticate", 'Bearer realm="ringdns"');
          return sendJson(res, err.status, { error: err.message });
        }
        deps.log.error({ err, url: req.url }, "internal error in the HTTP API");
        sendJson(res, 500, { error: "internal error (logged)" });
      }
    }),
  );
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      server.on(
        "error",
        guarded("http server error", (err: Error) => deps.log.error({ err }, "HTTP server error")),
      );
      const a = server.address() as { address: string; port: number };
      resolve({
        address: a.address,
        port: a.port,
        setToken: (t) => {
          token = Buffer.from(t);
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of streams) s.end();
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
