// Unicast DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length prefix,
// many queries per connection answered in order, an idle timeout, and a cap
// on open connections so slow or idle clients cannot hold every socket.
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import { handleDnsMessage, type DnsHandlerDeps } from "./dns-handler.js";
import { formatPeer } from "./peer.js";

export interface TcpOptions {
  /** Close a connection after this long without traffic, ms. */
  idleTimeoutMs: number;
  /** A message must arrive whole within this long of its first byte, ms (a client trickling bytes cannot hold a socket). */
  readTimeoutMs: number;
  /** Open connections at most; new ones beyond are closed at once. */
  maxConnections: number;
  /** Open connections from one address at most. */
  maxPerSource: number;
}

export const DEFAULT_TCP_OPTIONS: TcpOptions = { idleTimeoutMs: 10_000, readTimeoutMs: 2_000, maxConnections: 256, maxPerSource: 32 };

export interface TcpListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export function listenTcp(host: string, port: number, deps: DnsHandlerDeps, options: TcpOptions = DEFAULT_TCP_OPTIONS): Promise<TcpListener> {
  const sockets = new Set<Socket>();
  const perSource = new Map<string, number>();
  const server: Server = createServer((socket) => {
    const source = socket.remoteAddress ?? "";
    const fromSource = perSource.get(source) ?? 0;
    if (sockets.size >= options.maxConnections || fromSource >= options.maxPerSource) {
      const limit = sockets.size >= options.maxConnections ? "tcp-connections" : "tcp-connections-per-source";
      deps.metrics?.observeLimit(limit);
      deps.log.warn({ peer: source, limit, max: limit === "tcp-connections" ? options.maxConnections : options.maxPerSource }, "TCP connection limit reached, closing new connection");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    perSource.set(source, fromSource + 1);
    socket.on("close", () => {
      sockets.delete(socket);
      const left = (perSource.get(source) ?? 1) - 1;
      if (left > 0) perSource.set(source, left);
      else perSource.delete(source);
    });
    serveConnection(socket, deps, options);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, ipv6Only: isIPv6(host) }, () => {
      server.off("error", reject);
      server.on("error", (err) => deps.log.error({ err }, "TCP server error"));
      const a = server.address() as { address: string; port: number };
      resolve({
        address: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

function serveConnection(socket: Socket, deps: DnsHandlerDeps, options: TcpOptions): void {
  const peer = formatPeer(socket.remoteAddress ?? "", socket.remotePort ?? 0);
  let pending = Buffer.alloc(0);
  // replies go out in request order; an UPDATE in the queue holds back what follows it
  let queue: Promise<void> | undefined;
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
  socket.on("error", (err) => deps.log.debug({ err, peer }, "TCP connection error"));
  const write = (reply: Buffer | null) => {
    if (!reply || socket.destroyed) return;
    const framed = Buffer.allocUnsafe(2 + reply.length);
    framed.writeUInt16BE(reply.length, 0);
    reply.copy(framed, 2);
    socket.write(framed);
  };
  const enqueue = (p: Promise<void>) => {
    queue = p;
    void p.finally(() => {
      if (queue === p) queue = undefined;
    });
  };
  // a message under way must be complete within readTimeoutMs of its first byte
  let readDeadline: NodeJS.Timeout | undefined;
  const onReadTimeout = () => {
    deps.metrics?.observeLimit("tcp-read-timeout");
    deps.log.info({ peer, ms: options.readTimeoutMs }, "TCP message not complete in time, closing the connection");
    socket.destroy();
  };
  socket.on("close", () => clearTimeout(readDeadline));
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      clearTimeout(readDeadline);
      readDeadline = undefined;
      if (queue) {
        enqueue(queue.then(async () => write(await handleDnsMessage(msg, "tcp", peer, deps))));
        continue;
      }
      const reply = handleDnsMessage(msg, "tcp", peer, deps);
      if (reply instanceof Promise) enqueue(reply.then(write));
      else write(reply);
    }
    if (pending.length > 0 && readDeadline === undefined) readDeadline = setTimeout(onReadTimeout, options.readTimeoutMs);
  });
}
