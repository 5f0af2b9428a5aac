// The HTTP admin frontend (`--http ADDR:PORT`) on node:http: the API itself
// (routes, access, views) is api.ts, called here for each request; this file
// reads bodies (64 KiB at most), writes replies, and serves the event stream
// (/v1/watch, Server-Sent Events) on the raw response. Event streams are
// capped per source and in total, and a reader that falls too far behind is
// dropped rather than buffered for.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { every, guarded } from "../../guard.js";
import { addressOf } from "../peer.js";
import { HttpApi, HttpError, type ApiDeps, type ApiReply, type ApiRequest } from "./api.js";
import type { WatchEvent, WatchHub } from "./watch.js";

export interface HttpDeps extends ApiDeps {
  watch: WatchHub;
  /** Bounds on the event streams (/v1/watch). */
  watchLimits?: Partial<WatchLimits>;
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

/** Write an API reply on the response (JSON with its length; bytes as given). */
function writeReply(res: ServerResponse, reply: Exclude<ApiReply, { stream: unknown }>): void {
  if (res.headersSent) return void res.end();
  const body = "json" in reply ? JSON.stringify(reply.json) : reply.bytes;
  res.writeHead(reply.status, {
    ...reply.headers,
    ...(reply.status === 204 ? {} : { "content-length": Buffer.byteLength(body) }),
  });
  res.end(reply.status === 204 ? undefined : body);
}

export function listenHttp(host: string, port: number, deps: HttpDeps): Promise<HttpListener> {
  const api = new HttpApi(deps);
  const streams = new Set<ServerResponse>();
  const streamsFrom = new Map<string, number>();
  const watchLimits: WatchLimits = { ...DEFAULT_WATCH_LIMITS, ...deps.watchLimits };

  function watch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    source: string,
    headers: Record<string, string>,
  ): void {
    const fromSource = streamsFrom.get(source) ?? 0;
    if (streams.size >= watchLimits.maxStreams) {
      deps.observeLimit?.("http-watchers");
      deps.log.warn({ peer: source, max: watchLimits.maxStreams }, "event stream refused: too many open");
      throw new HttpError(
        503,
        `too many event streams are open (${watchLimits.maxStreams}, --http-max-watchers); try again later`,
        { "retry-after": "10" },
      );
    }
    if (fromSource >= watchLimits.maxPerSource) {
      deps.observeLimit?.("http-watchers-per-source");
      deps.log.warn(
        { peer: source, max: watchLimits.maxPerSource },
        "event stream refused: too many open from this address",
      );
      throw new HttpError(
        429,
        `too many event streams are open from ${source} (${watchLimits.maxPerSource}, --http-max-watchers-per-source)`,
        { "retry-after": "10" },
      );
    }
    const only = url.searchParams.get("type");
    const wanted = (e: WatchEvent) => !only || e.event === "host" || e.type === only;
    const framed = (e: WatchEvent) => `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`;
    res.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    // live events are written with backpressure: a reader that lets more than maxUnsentBytes pile up is dropped, never buffered for
    let dropped = false;
    const send = (text: string) => {
      if (dropped || res.destroyed) return;
      if (res.writableLength > watchLimits.maxUnsentBytes) {
        dropped = true;
        deps.observeLimit?.("http-watch-slow-reader");
        deps.log.info(
          { peer: source, unsentBytes: res.writableLength, max: watchLimits.maxUnsentBytes },
          "event stream closed: its reader is too far behind (it may reconnect with Last-Event-ID)",
        );
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
      if (missed === undefined)
        res.write(
          `id: ${deps.watch.lastId}\nevent: reset\ndata: {"reason":"history no longer kept; reload the state"}\n\n`,
        );
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
      const peer = addressOf(req.socket.remoteAddress ?? "");
      const request: ApiRequest = {
        method: req.method ?? "GET",
        target: req.url ?? "/",
        headers: req.headers,
        peer,
        body: () => readBody(req),
      };
      const reply = await api.handle(request);
      if (!("stream" in reply)) return writeReply(res, reply);
      // HEAD of the stream: its headers only, no stream held open (nor counted against the limits)
      if (req.method === "HEAD")
        return writeReply(res, {
          status: 200,
          headers: { ...reply.headers, "content-type": "text/event-stream; charset=utf-8" },
          bytes: "",
        });
      try {
        watch(req, res, reply.stream.url, peer, reply.headers);
      } catch (err) {
        if (!(err instanceof HttpError)) {
          res.destroy(); // a fault of ours (reported by guarded): the client is not left waiting
          throw err;
        }
        writeReply(res, {
          status: err.status,
          headers: {
            ...reply.headers,
            ...err.headers,
            "content-type": "application/json; charset=utf-8",
            "cache-control": "no-store",
          },
          json: { error: err.message },
        });
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
        setToken: (t) => api.setToken(t),
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
