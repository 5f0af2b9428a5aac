// Unicast DNS over UDP (RFC 1035 §4.2.1).
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { guarded } from "../guard.js";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { isIP, isIPv6 } from "node:net";
import { truncatedReply } from "../wire/message.js";
import { handleDnsMessage, type DnsHandlerDeps, type ReplyNotes } from "./dns-handler.js";
import { formatPeer } from "./peer.js";

const UDP_RECEIVE_BUFFER = 4 << 20;

/**
 * dgram's lookup for where a reply goes: always the IP literal a query came from, so it is
 * answered at once. The default, dns.lookup, answers an IP literal on the next tick: every
 * reply waited for a second turn of the event loop (and its closures) before it was sent.
 */
export function replyLookup(
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options, callback);
}

/** Answer what arrives on a bound socket: ours, or one a query worker was handed. */
export function serveUdp(socket: Socket, deps: DnsHandlerDeps): void {
  const rrl = deps.rrl?.enabled ? deps.rrl : undefined;
  socket.on(
    "message",
    guarded("udp query", (msg: Buffer, rinfo: RemoteInfo) => {
      // source port 0 is forged (no reply can go there; dgram's send throws): dropped unanswered, not an
      // internal error logged per packet
      if (rinfo.port === 0) return;
      const notes: ReplyNotes | undefined = rrl ? {} : undefined; // only the rate limiter reads them
      const send = (reply: Buffer | null) => {
        if (!reply) return;
        if (rrl && !notes?.sourceProven) {
          const decision = rrl.decide(rinfo.address, Date.now());
          if (decision !== "send") {
            deps.metrics?.observeRateLimited(decision);
            if (decision === "drop") return;
            reply = truncatedReply(reply);
          }
        }
        // no callback: a reply the kernel refuses (a full send buffer) is dropped like a datagram lost on the way,
        // and the hot path allocates one closure less
        socket.send(reply, rinfo.port, rinfo.address);
      };
      const reply = handleDnsMessage(msg, "udp", formatPeer(rinfo.address, rinfo.port), deps, notes);
      if (reply instanceof Promise) return reply.then(send);
      send(reply);
    }),
  );
  socket.on(
    "error",
    guarded("udp socket error", (err: Error) => deps.log.error({ err }, "UDP socket error")),
  );
}

export interface UdpListener {
  readonly address: string;
  readonly port: number;
  /** The bound socket, for query workers to share. */
  readonly socket: Socket;
  close(): Promise<void>;
}

export function listenUdp(host: string, port: number, deps: DnsHandlerDeps): Promise<UdpListener> {
  const v6 = isIPv6(host);
  const socket: Socket = createSocket({
    type: v6 ? "udp6" : "udp4",
    ipv6Only: v6,
    reuseAddr: false,
    lookup: replyLookup,
  });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      serveUdp(socket, deps);
      // bursts (a fleet re-registering after a restart) must queue, not drop: ask for a large
      // receive buffer; the kernel caps it at net.core.rmem_max
      try {
        socket.setRecvBufferSize(UDP_RECEIVE_BUFFER);
      } catch (err) {
        deps.log.debug({ err }, "could not enlarge the UDP receive buffer");
      }
      const a = socket.address();
      resolve({
        address: a.address,
        port: a.port,
        socket,
        close: () => new Promise<void>((r) => socket.close(() => r())),
      });
    });
  });
}
