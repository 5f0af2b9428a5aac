// The HTTP admin frontend (`--http ADDR:PORT`): a versioned JSON API over the
// registry, its change stream as Server-Sent Events, Prometheus metrics and
// the dashboard. Reads are open to `--http-read-from` sources (loopback by
// default) and to anyone with the token; writes need the token
// (`--http-token-file`) and go through the same path as DNS UPDATE.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { parseServiceType, type ServiceType } from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import type { StoreStatus } from "../../store/store.js";
import type { UpdateDeps } from "../update-handler.js";
import { dashboardFile } from "./dashboard.js";
import { deregisterOverHttp, registerOverHttp } from "./registration.js";
import { instancesView, oneInstanceView, ownerView, ringView, typesView } from "./views.js";
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
}

export interface HttpListener {
  readonly address: string;
  readonly port: number;
  /** A new bearer token (the token file re-read on SIGHUP): the old one stops working at once. */
  setToken(token: string): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const SSE_KEEPALIVE_MS = 15_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `the body is larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "null"));
      } catch {
        reject(new HttpError(400, "the body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

function typeParam(text: string): ServiceType {
  try {
    return parseServiceType(decodeURIComponent(text));
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
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
  const peerOf = (req: IncomingMessage) => req.socket.remoteAddress ?? "";
  const mayRead = (req: IncomingMessage) => deps.readsOpenTo(peerOf(req)) || hasToken(req);
  const mustWrite = (req: IncomingMessage) => {
    if (!token) throw new HttpError(403, "registration over HTTP is off: start the daemon with --http-token-file");
    if (!hasToken(req)) throw new HttpError(401, "a bearer token is needed: Authorization: Bearer <the token in --http-token-file>");
  };
  const streams = new Set<ServerResponse>();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://ringdns");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const ctx = { now: deps.clock.now(), ...(deps.node !== undefined ? { node: deps.node } : {}) };

    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const st = deps.storeStatus();
      return sendJson(res, st.healthy ? 200 : 503, { status: st.healthy ? "ready" : "store unavailable: answering from a possibly stale replica, registrations refused", store: st });
    }
    if (!mayRead(req)) throw new HttpError(401, "reads from this address need the bearer token (or --http-read-from)");
    if (method === "GET" && (path === "/" || path === "/dashboard.js" || path === "/dashboard.css")) {
      const f = dashboardFile(path === "/" ? "index.html" : path.slice(1));
      res.writeHead(200, { "content-type": f.contentType, "content-length": f.body.length, "cache-control": "no-cache" });
      return void res.end(f.body);
    }
    if (method === "GET" && path === "/metrics") {
      const m = await deps.metrics();
      res.writeHead(200, { "content-type": m.contentType });
      return void res.end(m.body);
    }
    if (method === "GET" && path === "/v1/watch") return watch(req, res, url);
    if (method === "GET" && path === "/v1/types") return sendJson(res, 200, typesView(deps.registry));

    const m = /^\/v1\/types\/([^/]+)(?:\/(instances|owner|ring)(?:\/([^/]+))?)?$/.exec(path);
    if (!m) throw new HttpError(404, `no such resource: ${method} ${path} (see docs/http-api.md)`);
    const type = typeParam(m[1]!);
    const [what, name] = [m[2], m[3] === undefined ? undefined : decodeURIComponent(m[3])];
    if (method === "GET" && what === undefined) return sendJson(res, 200, instancesView(deps.registry, type, ctx));
    if (method === "GET" && what === "instances" && name === undefined) return sendJson(res, 200, instancesView(deps.registry, type, ctx));
    if (method === "GET" && what === "instances") {
      const v = oneInstanceView(deps.registry, type, name!, ctx);
      if (!v) throw new HttpError(404, `no instance "${name}" of ${m[1]}`);
      return sendJson(res, 200, v);
    }
    if (method === "GET" && what === "owner" && name === undefined) {
      const key = url.searchParams.get("key");
      if (key === null || key === "") throw new HttpError(400, "give the key: owner?key=KEY");
      const n = Number(url.searchParams.get("successors") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new HttpError(400, "successors: an integer 1-64");
      return sendJson(res, 200, ownerView(deps.registry, type, key, n, ctx));
    }
    if (method === "GET" && what === "ring" && name === undefined) {
      const slices = Number(url.searchParams.get("slices") ?? "360");
      if (!Number.isInteger(slices) || slices < 1 || slices > 3600) throw new HttpError(400, "slices: an integer 1-3600");
      return sendJson(res, 200, ringView(deps.registry, type, slices));
    }
    if (method === "POST" && what === "instances" && name === undefined) {
      mustWrite(req);
      const body = await readBody(req);
      const out = await registerOverHttp(m[1]!, body, deps.update, peerOf(req));
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      const registered = oneInstanceView(deps.registry, type, (body as { instance: string }).instance, { ...ctx, now: deps.clock.now() });
      return sendJson(res, 201, { lease: out.lease, instance: registered });
    }
    if (method === "DELETE" && what === "instances" && name !== undefined) {
      mustWrite(req);
      if (!deps.registry.instance(type, name)) throw new HttpError(404, `no instance "${name}" of ${m[1]}`);
      const out = await deregisterOverHttp(m[1]!, name, deps.update, peerOf(req));
      if (out.rcode !== undefined) deps.observeUpdate?.(out.rcode);
      if (out.error) throw new HttpError(out.status, out.error);
      res.writeHead(204);
      return void res.end();
    }
    throw new HttpError(405, `${method} is not supported on ${path}`);
  }

  function watch(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const only = url.searchParams.get("type");
    const wanted = (e: WatchEvent) => !only || e.event === "host" || e.type === only;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    const write = (e: WatchEvent) => {
      if (wanted(e)) res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    const last = req.headers["last-event-id"] ?? url.searchParams.get("lastEventId");
    if (last !== undefined && last !== null) {
      const missed = deps.watch.since(Number(last));
      // too old for the history we keep: say so, and the client reloads the full state
      if (missed === undefined) res.write(`id: ${deps.watch.lastId}\nevent: reset\ndata: {"reason":"history no longer kept; reload the state"}\n\n`);
      else missed.forEach(write);
    } else {
      res.write(`id: ${deps.watch.lastId}\nevent: hello\ndata: {"lastId":${deps.watch.lastId}}\n\n`);
    }
    const unsubscribe = deps.watch.subscribe(write);
    const keepalive = setInterval(() => res.write(": keep-alive\n\n"), SSE_KEEPALIVE_MS);
    streams.add(res);
    res.on("close", () => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(res);
    });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (err.status === 401) res.setHeader("www-authenticate", 'Bearer realm="ringdns"');
        return sendJson(res, err.status, { error: err.message });
      }
      deps.log.error({ err, url: req.url }, "internal error in the HTTP API");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error (logged)" });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
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
