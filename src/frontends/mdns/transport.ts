// One mDNS socket per interface. multicast-dns manages the socket's life
// (bind 0.0.0.0:5353 with SO_REUSEADDR so avahi can share the port, group
// membership on the chosen interface, multicast TTL 255, loopback). We pass it
// our own dgram socket and read and write raw bytes on it ourselves, because
// multicast-dns decodes with dns-packet (which joins labels with dots, so the
// instance "Printer v1.2" comes out as two labels, and which drops the QU
// bit), and because its respond() always multicasts where RFC 6762 needs
// unicast replies to QU and legacy queries.
import { createSocket, type RemoteInfo } from "node:dgram";
import { networkInterfaces } from "node:os";
import type { Logger } from "pino";
import multicastDns from "multicast-dns";
import { RingdnsError } from "../../errors.js";

export const MDNS_PORT = 5353;
export const MDNS_GROUP = "224.0.0.251";

export interface MdnsTransport {
  /** Interface name, e.g. eth0. */
  readonly iface: string;
  /** Its IPv4 address: where our packets come from. */
  readonly address: string;
  /** Multicast to the group, or unicast to `to`. */
  send(msg: Buffer, to?: { address: string; port: number }): void;
  onMessage(listener: (msg: Buffer, from: RemoteInfo) => void): void;
  close(): Promise<void>;
}

export function interfaceAddress(iface: string): string {
  const addrs = networkInterfaces()[iface];
  if (!addrs) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--mdns-interface: no interface "${iface}" (have: ${Object.keys(networkInterfaces()).join(", ")})`);
  const v4 = addrs.find((a) => a.family === "IPv4");
  if (!v4) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--mdns-interface: interface "${iface}" has no IPv4 address`);
  return v4.address;
}

export async function openTransport(iface: string, log: Logger, port = MDNS_PORT): Promise<MdnsTransport> {
  const address = interfaceAddress(iface);
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  const mdns = multicastDns({ socket, interface: address, bind: "0.0.0.0", port, loopback: true, multicast: true });
  mdns.on("warning", (err: Error) => log.debug({ err: err.message, iface }, "mDNS socket warning"));
  await new Promise<void>((resolve, reject) => {
    mdns.once("ready", resolve);
    mdns.once("error", (err: Error) => reject(new RingdnsError("RINGDNS_E_LISTEN", `mDNS on ${iface}: ${err.message}`)));
  });
  try {
    socket.setRecvBufferSize(1 << 20);
  } catch {
    /* the kernel's default will do */
  }
  return {
    iface,
    address,
    send(msg, to) {
      socket.send(msg, to?.port ?? port, to?.address ?? MDNS_GROUP, (err) => err && log.debug({ err: err.message, iface }, "mDNS send failed"));
    },
    onMessage(listener) {
      socket.on("message", listener);
    },
    close: () => new Promise<void>((r) => mdns.destroy(() => r())),
  };
}
