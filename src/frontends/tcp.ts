// Unicast DNS over TCP (RFC 1035 §4.2.2, RFC 7766), and over TLS (RFC 7858:
// the same framing and limits inside a TLS session): two-byte length prefix,
// many queries per connection answered in order, an idle timeout, and a cap
// on open connections so slow or idle clients cannot hold every socket: at
// the cap a new connection closes the one idle the longest (RFC 7766
// §6.2.3), and is itself closed only when every connection has work under way.
//
// Pipelining (RFC 7766 §6.2.1.1) is bounded the way miekg/dns (CoreDNS) and
// BIND bound it: a client gets only so much ahead of us. A connection stops
// reading while its unsent replies exceed `maxUnsentBytes` or while
// `maxPipelined` of its queries wait for an answer (UPDATEs waiting for the
// store), and reads on when they drain; a client that takes none of its
// replies for `writeTimeoutMs` is closed. Without this, one connection
// pipelining thousands of browse queries and never reading made the daemon
// buffer every reply (+75 MiB for 2,000).
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type SecureContextOptions } from "node:tls";
import { guarded, later, reportInternalError } from "../guard.js";
import { DSO_OPCODE, encodeDso, retryDelayTlv, type Keepalive } from "../wire/dso.js";
import { handleDnsMessage, type DnsHandlerDeps } from "./dns-handler.js";
import { PushSession } from "./dns-push.js";
import { answerDso, DEFAULT_DSO_POLICY, response as dsoResponse, type DsoOutcome } from "./dso-session.js";
import { addressOf, formatPeer } from "./peer.js";

export interface TcpOptions {
  /** Close a connection after this long without traffic, ms. */
  idleTimeoutMs: number;
  /** A message must arrive whole within this long of its first byte, ms (a client trickling bytes cannot hold a socket). */
  readTimeoutMs: number;
  /** Open connections at most; beyond, a new one takes the place of the one idle the longest, or is closed when none is idle. */
  maxConnections: number;
  /** Open connections from one address at most. */
  maxPerSource: number;
  /** Replies written and not yet taken by the client, bytes, beyond which the connection reads no more queries until they drain. */
  maxUnsentBytes: number;
  /** Queries of one connection read and not yet answered (UPDATEs waiting for the store) at most; reading pauses beyond. */
  maxPipelined: number;
  /** A connection whose client takes none of its unsent replies for this long is closed, ms. */
  writeTimeoutMs: number;
  /** DNS over TLS: the inactivity timeout a DSO session is given (RFC 8490 §6.2; default 15 s), ms. */
  dsoInactivityMs?: number;
}

export const DEFAULT_TCP_OPTIONS: TcpOptions = {
  idleTimeoutMs: 10_000,
  readTimeoutMs: 2_000,
  maxConnections: 256,
  maxPerSource: 32,
  maxUnsentBytes: 128 * 1024,
  maxPipelined: 16,
  writeTimeoutMs: 2_000,
};

/** The smallest `maxUnsentBytes`: above a socket's high-water mark (16 KiB), so going over it always ends in a 'drain'. */
export const MIN_UNSENT_BYTES = 64 * 1024;

export interface TcpListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
  /** DNS over TLS: new sessions use this certificate and key (SIGHUP); sessions open keep theirs. */
  setCredentials?(credentials: TlsCredentials): void;
}

/** A certificate chain and its private key, PEM, read and checked by the caller. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

export function listenTcp(
  host: string,
  port: number,
  deps: DnsHandlerDeps,
  options: TcpOptions = DEFAULT_TCP_OPTIONS,
  tls?: TlsCredentials,
): Promise<TcpListener> {
  /** Open connections, least recently active first (a Map keeps insertion order; activity moves one to the end). */
  const open = new Map<Socket, { source: string; connection: Connection }>();
  const perSource = new Map<string, number>();
  const forget = (socket: Socket) => {
    const entry = open.get(socket);
    if (!entry) return; // already let go of (closed to make room)
    open.delete(socket);
    const left = (perSource.get(entry.source) ?? 1) - 1;
    if (left > 0) perSource.set(entry.source, left);
    else perSource.delete(entry.source);
  };
  const touch = (socket: Socket) => {
    const entry = open.get(socket);
    if (!entry) return;
    open.delete(socket);
    open.set(socket, entry);
  };
  /** RFC 7766 §6.2.3: under pressure, the connection idle the longest goes; one with work under way is kept. */
  const closeLongestIdle = (): boolean => {
    for (const [socket, { connection }] of open) {
      if (!connection.idle()) continue;
      forget(socket);
      socket.destroy();
      return true;
    }
    return false;
  };
  const accept = (socket: Socket) => {
    const source = addressOf(socket.remoteAddress ?? "");
    const fromSource = perSource.get(source) ?? 0;
    const full = open.size >= options.maxConnections;
    if (fromSource >= options.maxPerSource || (full && !closeLongestIdle())) {
      const limit = fromSource >= options.maxPerSource ? "tcp-connections-per-source" : "tcp-connections";
      deps.metrics?.observeLimit(limit);
      deps.log.warn(
        { peer: source, limit, max: limit === "tcp-connections" ? options.maxConnections : options.maxPerSource },
        limit === "tcp-connections"
          ? "TCP connection limit reached and every connection busy, closing new connection"
          : "TCP connection limit reached, closing new connection",
      );
      socket.destroy();
      return;
    }
    if (full) {
      deps.metrics?.observeLimit("tcp-idle-closed");
      deps.log.debug(
        { peer: source, max: options.maxConnections },
        "TCP connection limit reached: closed the connection idle the longest to take a new one",
      );
    }
    // counted as it is now: the connection just closed to make room may have been this source's own
    perSource.set(source, (perSource.get(source) ?? 0) + 1);
    socket.on(
      "close",
      guarded("tcp close", () => forget(socket)),
    );
    open.set(socket, {
      source,
      connection: serveConnection(socket, deps, options, () => touch(socket), tls !== undefined),
    });
  };
  const secure = (c: TlsCredentials): SecureContextOptions => ({ cert: c.cert, key: c.key, minVersion: "TLSv1.2" });
  // TLS: a session counts once its handshake is done, which must be within the read timeout; the raw
  // connections still in their handshake are bounded apart (twice the cap, so an idle one can still be replaced)
  const server: Server = tls
    ? createTlsServer({ ...secure(tls), handshakeTimeout: options.readTimeoutMs }, guarded("tls connection", accept))
    : createServer(guarded("tcp connection", accept));
  if (tls) {
    server.maxConnections = 2 * options.maxConnections;
    server.on(
      "tlsClientError",
      guarded("tls client error", (err: Error, socket: Socket) => {
        deps.log.debug({ err: err.message, peer: addressOf(socket.remoteAddress ?? "") }, "TLS handshake failed");
        socket.destroy();
      }),
    );
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, ipv6Only: isIPv6(host) }, () => {
      server.off("error", reject);
      server.on(
        "error",
        guarded("tcp server error", (err: Error) => deps.log.error({ err }, "TCP server error")),
      );
      const a = server.address() as { address: string; port: number };
      resolve({
        address: a.address,
        port: a.port,
        ...(tls
          ? {
              setCredentials: (c: TlsCredentials) =>
                (server as ReturnType<typeof createTlsServer>).setSecureContext(secure(c)),
            }
          : {}),
        close: () =>
          new Promise<void>((r) => {
            for (const s of open.keys()) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** What the listener asks of a connection: is it idle (no message under way, no reply owed or unsent)? */
interface Connection {
  idle(): boolean;
}

/** Serve one connection; `active` is called whenever the client sends something. `tls`: DNS over TLS, where DSO is offered. */
function serveConnection(
  socket: Socket,
  deps: DnsHandlerDeps,
  options: TcpOptions,
  active: () => void,
  tls = false,
): Connection {
  const peer = formatPeer(socket.remoteAddress ?? "", socket.remotePort ?? 0);
  let pending: Buffer = Buffer.alloc(0);
  // replies go out in request order; an UPDATE in the queue holds back what follows it
  let queue: Promise<void> | undefined;
  /** Queries read whose reply is not written yet (the asynchronous ones: UPDATEs, handed-on messages). */
  let unanswered = 0;
  /** Reading stopped because the client is too far ahead of us. */
  let paused = false;
  /** Reply bytes handed to the socket since it opened; minus socket.writableLength, what the client has taken. */
  let written = 0;
  /** The DSO session's timers once a Keepalive established one (RFC 8490). */
  let session: Keepalive | undefined;
  socket.setNoDelay(true);
  socket.setTimeout(
    options.idleTimeoutMs,
    guarded("tcp idle timeout", () => {
      // a DSO session idle past twice its inactivity timeout is told when to come back, then closed (§6.4.1)
      if (session && !socket.destroyed && !socket.writableEnded) {
        write(encodeDso({ id: 0, response: false, rcode: 0, tlvs: [retryDelayTlv(0)] }));
        socket.end(); // the Retry Delay goes out first; a client that never closes its side is cut off shortly
        later("dso close", options.writeTimeoutMs, () => socket.destroy());
        return;
      }
      socket.destroy();
    }),
  );
  socket.on(
    "error",
    guarded("tcp socket error", (err: Error) => deps.log.debug({ err, peer }, "TCP connection error")),
  );

  /** Messages, each with its length, in one write (the PUSHes of one change go out together). */
  const writeAll = (messages: readonly Buffer[]) => {
    if (socket.destroyed || socket.writableEnded) return;
    const framed = Buffer.allocUnsafe(messages.reduce((n, m) => n + 2 + m.length, 0));
    let at = 0;
    for (const m of messages) {
      framed.writeUInt16BE(m.length, at);
      m.copy(framed, at + 2);
      at += 2 + m.length;
    }
    written += framed.length;
    socket.write(framed);
  };
  const write = (reply: Buffer | null) => {
    if (reply) writeAll([reply]);
  };

  // a client that takes none of its replies for writeTimeoutMs is closed; one that reads slowly is not
  let stall: NodeJS.Timeout | undefined;
  const watchStall = () => {
    if (stall !== undefined) return;
    const takenThen = written - socket.writableLength;
    stall = later("tcp write timeout", options.writeTimeoutMs, () => {
      stall = undefined;
      if (socket.destroyed || socket.writableLength === 0) return;
      if (written - socket.writableLength > takenThen) return watchStall();
      deps.metrics?.observeLimit("tcp-write-timeout");
      deps.log.info(
        { peer, unsentBytes: socket.writableLength, ms: options.writeTimeoutMs },
        "TCP client takes none of its replies, closing the connection",
      );
      socket.destroy();
    });
  };

  const tooFarAhead = (): "tcp-unsent-bytes" | "tcp-pipelined" | undefined =>
    socket.writableLength > options.maxUnsentBytes && socket.writableNeedDrain
      ? "tcp-unsent-bytes"
      : unanswered >= options.maxPipelined
        ? "tcp-pipelined"
        : undefined;

  const answered = () => {
    unanswered--;
    if (paused) readQueries();
  };
  const enqueue = (p: Promise<void>) => {
    unanswered++;
    const tracked = p.then(guarded("tcp reply written", answered), (err: unknown) => {
      reportInternalError("tcp reply", err);
      socket.destroy();
    });
    queue = tracked;
    void tracked.finally(() => {
      if (queue === tracked) queue = undefined;
    });
  };

  // a message under way must be complete within readTimeoutMs of its first byte
  let readDeadline: NodeJS.Timeout | undefined;
  const onReadTimeout = () => {
    deps.metrics?.observeLimit("tcp-read-timeout");
    deps.log.info({ peer, ms: options.readTimeoutMs }, "TCP message not complete in time, closing the connection");
    socket.destroy();
  };

  /** DNS Push subscriptions of this session (RFC 8765), made at the first SUBSCRIBE. */
  let push: PushSession | undefined;
  /** Timers: a session with subscriptions lives by its keepalive interval, one without by its inactivity timeout. */
  const sessionTimeout = () => {
    if (!session) return;
    const ms = push && push.size > 0 ? session.keepaliveMs : session.inactivityMs;
    socket.setTimeout(Math.max(options.idleTimeoutMs, 2 * ms)); // the client is given twice it
  };
  const dsoPolicy = { ...DEFAULT_DSO_POLICY, inactivityMs: options.dsoInactivityMs ?? DEFAULT_DSO_POLICY.inactivityMs };

  /** A DSO message's outcome, in its turn among the replies. */
  const applyDso = (o: DsoOutcome) => {
    // queued behind an UPDATE, an outcome may come after the connection closed: nothing of it may outlive that
    if (o.kind === "none" || socket.destroyed) return;
    if (o.kind === "close") {
      deps.log.info({ peer, reason: o.reason }, "DSO: closing the session");
      if (o.reply) write(o.reply);
      socket.end();
      return;
    }
    if (o.kind === "subscribe") {
      // a SUBSCRIBE establishes the session too (RFC 8765 §6.2), with the default timers
      session ??= { inactivityMs: dsoPolicy.inactivityMs, keepaliveMs: dsoPolicy.defaultKeepaliveMs };
      push ??= new PushSession(
        {
          registry: deps.registry,
          answer: deps.answer,
          clock: deps.clock,
          refused: (limit) => deps.metrics?.observeLimit(limit),
        },
        // pushes obey the limits replies do: a client that takes none of them is closed, never buffered for
        (messages) => {
          writeAll(messages);
          if (socket.writableLength > options.maxUnsentBytes) {
            deps.metrics?.observeLimit("tcp-unsent-bytes");
            socket.destroy();
          } else if (socket.writableLength > 0) watchStall();
        },
      );
      const rcode = push.subscribe(o.id, o.question);
      write(dsoResponse(o.id, rcode));
      if (rcode === 0) push.pushCurrent(o.id);
      sessionTimeout();
      return;
    }
    if (o.kind === "unsubscribe") {
      push?.unsubscribeById(o.subscribeId);
      sessionTimeout();
      return;
    }
    write(o.reply);
    if (o.session) {
      if (!session) deps.log.debug({ peer, ...o.session }, "DSO session established");
      session = o.session;
      sessionTimeout();
    }
  };

  /** Answer the whole messages in `pending`, as far as the client's unsent replies and unanswered queries allow. */
  const readQueries = () => {
    while (pending.length >= 2 && !socket.destroyed) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const limit = tooFarAhead();
      if (limit) {
        if (!paused) {
          paused = true;
          socket.pause();
          deps.metrics?.observeLimit(limit);
          deps.log.debug(
            { peer, limit, unsentBytes: socket.writableLength, unanswered },
            "TCP client too far ahead: reading paused",
          );
        }
        if (limit === "tcp-unsent-bytes") watchStall();
        return;
      }
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      clearTimeout(readDeadline);
      readDeadline = undefined;
      if (msg.length >= 4 && ((msg[2]! >> 3) & 0xf) === DSO_OPCODE) {
        const outcome = answerDso(msg, { tls, policy: dsoPolicy });
        if (queue) enqueue(queue.then(() => applyDso(outcome)));
        else applyDso(outcome);
        continue;
      }
      if (queue) {
        enqueue(queue.then(async () => write(await handleDnsMessage(msg, "tcp", peer, deps))));
        continue;
      }
      const reply = handleDnsMessage(msg, "tcp", peer, deps);
      if (reply instanceof Promise) enqueue(reply.then(write));
      else write(reply);
    }
    if (pending.length > 0 && readDeadline === undefined)
      readDeadline = later("tcp read timeout", options.readTimeoutMs, onReadTimeout);
    if (paused && !socket.destroyed) {
      paused = false;
      socket.resume();
    }
  };

  socket.on(
    "drain",
    guarded("tcp drain", () => {
      clearTimeout(stall);
      stall = undefined;
      if (paused) readQueries();
    }),
  );
  socket.on(
    "close",
    guarded("tcp connection close", () => {
      clearTimeout(readDeadline);
      clearTimeout(stall);
      push?.close(); // its registry listener goes with the connection
    }),
  );
  socket.on(
    "data",
    guarded("tcp data", (chunk: Buffer) => {
      active();
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      readQueries();
    }),
  );
  return { idle: () => pending.length === 0 && unanswered === 0 && socket.writableLength === 0 };
}
