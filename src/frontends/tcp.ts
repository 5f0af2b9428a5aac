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
import { once } from "node:events";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type SecureContextOptions } from "node:tls";
import { guarded, later, reportInternalError } from "../guard.js";
import { DSO_OPCODE, encodeDso, retryDelayTlv, type Keepalive } from "../wire/dso.js";
import { handleDnsMessage, lanProxy, type DnsHandlerDeps } from "./dns-handler.js";
import { hasSuffix, LOCAL } from "../names.js";
import { PushSession } from "./dns-push.js";
import { answerDso, DEFAULT_DSO_POLICY, response as dsoResponse, type DsoOutcome } from "./dso-session.js";
import { addressOf, formatPeer, sourceOf } from "./peer.js";
import type { PushSessionView } from "../api/shapes.js";
import { isTransferRequest, startTransfer } from "./xfr.js";

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
  /** DNS Push: subscriptions one source address may hold across its sessions (default 1,024). */
  pushMaxPerSource?: number;
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
  /** DNS over TLS: the sessions holding DNS Push subscriptions now, oldest first. */
  pushSessions?(): PushSessionView[];
}

/** A session with DNS Push state, as the listener keeps it for the HTTP API. */
interface PushEntry {
  id: number;
  peer: string;
  since: number;
  push: PushSession;
}
/** Session numbers: one sequence for every listener of the process, so the API's cursor orders them all. */
let pushSessionsMade = 0;

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
  /**
   * Open connections, least recently active first (a Map keeps insertion order; activity moves one to the end),
   * by the accepted socket (for TLS, the TCP connection under the session: counted from its first moment).
   */
  const open = new Map<Socket, { source: string; connection: Connection; close: () => void }>();
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
    for (const [socket, { connection, close }] of open) {
      if (!connection.idle()) continue;
      forget(socket);
      close();
      return true;
    }
    return false;
  };
  /** DNS Push sessions of this listener, in the order they were made. */
  const pushSessions = new Set<PushEntry>();
  /** TLS: connections in their handshake, by peer address and port, to find when the session is up. */
  const handshaking = new Map<string, Socket>();
  const peerKey = (s: Socket) => `${s.remoteAddress ?? ""}|${s.remotePort ?? 0}`;
  // the caps apply to every TCP connection as it is accepted, before any TLS handshake: one source
  // cannot hold more than its share of sockets with handshakes it never finishes
  const accept = (socket: Socket) => {
    const source = sourceOf(socket.remoteAddress ?? "");
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
      guarded("tcp close", () => {
        forget(socket);
        handshaking.delete(peerKey(socket));
      }),
    );
    if (!tlsServer) {
      open.set(socket, {
        source,
        connection: serveConnection(socket, deps, options, () => touch(socket)),
        close: () => socket.destroy(),
      });
      return;
    }
    // a handshake has no query under way: under pressure it may make room like an idle connection
    // (it is bounded by the read timeout anyway)
    open.set(socket, { source, connection: { idle: () => true }, close: () => socket.destroy() });
    handshaking.set(peerKey(socket), socket);
    tlsServer.emit("connection", socket);
  };
  /** A TLS session is up on a connection accepted above: served from now on. */
  const secured = (session: Socket) => {
    const raw = handshaking.get(peerKey(session));
    const entry = raw && open.get(raw);
    if (!raw || !entry) {
      session.destroy(); // its connection was closed meanwhile
      return;
    }
    handshaking.delete(peerKey(session));
    entry.connection = serveConnection(session, deps, options, () => touch(raw), pushSessions);
    entry.close = () => {
      session.destroy();
      raw.destroy();
    };
  };
  const secure = (c: TlsCredentials): SecureContextOptions => ({ cert: c.cert, key: c.key, minVersion: "TLSv1.2" });
  // TLS runs on the connections the TCP server accepts (handed to it as its 'connection' event); a
  // handshake must be done within the read timeout
  const tlsServer = tls
    ? createTlsServer({ ...secure(tls), handshakeTimeout: options.readTimeoutMs }, guarded("tls session", secured))
    : undefined;
  const server: Server = createServer(guarded("tcp connection", accept));
  tlsServer?.on(
    "tlsClientError",
    guarded("tls client error", (err: Error, socket: Socket) => {
      deps.log.debug({ err: err.message, peer: addressOf(socket.remoteAddress ?? "") }, "TLS handshake failed");
      socket.destroy();
    }),
  );
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
        ...(tlsServer
          ? {
              setCredentials: (c: TlsCredentials) => tlsServer.setSecureContext(secure(c)),
              pushSessions: () =>
                [...pushSessions]
                  .filter((e) => e.push.size > 0)
                  .map((e) => ({
                    id: e.id,
                    peer: e.peer,
                    since: new Date(e.since).toISOString(),
                    subscriptions: e.push.describe(),
                  })),
            }
          : {}),
        close: () =>
          new Promise<void>((r) => {
            for (const { close } of open.values()) close();
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

/**
 * Serve one connection; `active` is called whenever the client sends something. `pushSessions`: DNS over TLS,
 * where DSO is offered; a session with DNS Push state is in it while the connection lasts.
 */
function serveConnection(
  socket: Socket,
  deps: DnsHandlerDeps,
  options: TcpOptions,
  active: () => void,
  pushSessions?: Set<PushEntry>,
): Connection {
  const tls = pushSessions !== undefined;
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

  /** DNS Push subscriptions of this session (RFC 8765), made at the first SUBSCRIBE; listed for the HTTP API. */
  let push: PushSession | undefined;
  let listed: PushEntry | undefined;
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
          source: sourceOf(socket.remoteAddress ?? ""),
          ...(options.pushMaxPerSource !== undefined ? { maxPerSource: options.pushMaxPerSource } : {}),
          refused: (limit) => deps.metrics?.observeLimit(limit),
          ...(lanProxy(deps) ? { followLan: lanProxy(deps)!.follow } : {}),
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
      if (!listed) {
        listed = { id: ++pushSessionsMade, peer, since: deps.clock.now(), push };
        pushSessions?.add(listed);
      }
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
    if (o.kind === "reconfirm") {
      // RFC 8490 §5.4: a unidirectional message before the session is established aborts the connection
      if (!session) {
        deps.log.info({ peer }, "DSO: RECONFIRM before a session was established, closing");
        socket.destroy();
        return;
      }
      // only what was learned from the LAN can be doubted; the rest is this server's own data (RFC 8765 §6.5)
      const lan = lanProxy(deps);
      if (lan && hasSuffix(o.record.name, LOCAL)) lan.reconfirm(o.record.name, o.record.type, o.record.data);
      return;
    }
    write(o.reply);
    if (o.session) {
      if (!session) deps.log.debug({ peer, ...o.session }, "DSO session established");
      session = o.session;
      sessionTimeout();
    }
  };

  /** Until the socket has taken what it holds (or closed): a transfer makes its next message only then. */
  const drained = async () => {
    const both = new AbortController(); // the listener of the event that did not come goes too
    try {
      await Promise.race([
        once(socket, "drain", { signal: both.signal }),
        once(socket, "close", { signal: both.signal }),
      ]);
    } finally {
      both.abort();
    }
  };

  /** A zone transfer: its messages one at a time, each after the socket took the one before (xfr.ts). */
  const transfer = async (msg: Buffer): Promise<void> => {
    const start = startTransfer(msg, peer, deps.transfer!);
    if (start.kind === "reply") return write(start.reply);
    const sent = { messages: 0, bytes: 0 };
    let aborted = true;
    try {
      for (let r = start.messages.next(); !r.done; r = start.messages.next()) {
        if (socket.destroyed || socket.writableEnded) return;
        write(r.value);
        sent.messages++;
        sent.bytes += r.value.length;
        // the stall watch closes a connection whose client takes nothing for the write timeout
        if (socket.writableNeedDrain) {
          watchStall();
          await drained();
        }
      }
      aborted = socket.destroyed;
    } finally {
      start.done(sent, aborted);
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
      if (deps.transfer && !deps.lifecycle?.draining && isTransferRequest(msg)) {
        const run = () => transfer(msg);
        enqueue(queue ? queue.then(run) : run());
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
      if (listed) pushSessions?.delete(listed);
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
  // a session with subscriptions is never idle: its client waits on it, and closing it to make room would end them
  return {
    idle: () => pending.length === 0 && unanswered === 0 && socket.writableLength === 0 && !(push && push.size > 0),
  };
}
