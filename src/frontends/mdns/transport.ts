// One mDNS socket per interface. multicast-dns manages the socket's life
// (bind 0.0.0.0:5353 with SO_REUSEADDR so avahi can share the port, group
// membership on the chosen interface, multicast TTL 255, loopback). We pass it
// our own dgram socket and read and write raw bytes on it ourselves, because
// multicast-dns decodes with dns-packet (which joins labels with dots, so the
// instance "Printer v1.2" comes out as two labels, and which drops the QU
// bit), and because its respond() always multicasts where RFC 6762 needs
// unicast replies to QU and legacy queries.
import { createSocket, type RemoteInfo } from "node:dgram";
import { BlockList } from "node:net";
import { networkInterfaces } from "node:os";
import type { Logger } from "pino";
import multicastDns from "multicast-dns";
import { RingdnsError } from "../../errors.js";
import { guarded } from "../../guard.js";

export const MDNS_PORT = 5353;
export const MDNS_GROUP = "224.0.0.251";
export const MDNS_GROUP6 = "ff02::fb";

export interface MdnsTransport {
  /** Interface name, e.g. eth0. */
  readonly iface: string;
  readonly family: 4 | 6;
  /** Its address in that family (IPv6: the link-local one): where our packets come from. */
  readonly address: string;
  /** Multicast to the group, or unicast to `to`. */
  send(msg: Buffer, to?: { address: string; port: number }): void;
  onMessage(listener: (msg: Buffer, from: RemoteInfo) => void): void;
  /**
   * Is `address` (a datagram's source) on this interface's link: in one of
   * its subnets, or link-local? RFC 6762 §5.5 and §11: packets from off-link
   * sources are ignored, so a unicast query from afar cannot make us reply
   * (mDNS reflection).
   */
  isOnLink(address: string): boolean;
  close(): Promise<void>;
}

/** The subnets of `iface` in `family`, plus the link-local range, as a BlockList (empty when the interface is gone). */
export function linkSubnets(iface: string, family: 4 | 6): BlockList {
  const list = new BlockList();
  const type = family === 4 ? "ipv4" : "ipv6";
  if (family === 4) list.addSubnet("169.254.0.0", 16, "ipv4");
  else list.addSubnet("fe80::", 10, "ipv6");
  for (const a of networkInterfaces()[iface] ?? []) {
    if ((family === 4) !== (a.family === "IPv4") || !a.cidr) continue;
    const [net, prefix] = a.cidr.split("/");
    list.addSubnet(net!, Number(prefix), type);
  }
  return list;
}

/** The interface's IPv4 address, or its IPv6 link-local one; undefined when it has none. */
export function interfaceAddress(iface: string, family: 4 | 6): string | undefined {
  const addrs = networkInterfaces()[iface];
  if (!addrs)
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `--mdns-interface: no interface "${iface}" (have: ${Object.keys(networkInterfaces()).join(", ")})`,
    );
  const a =
    family === 4
      ? addrs.find((x) => x.family === "IPv4")
      : addrs.find((x) => x.family === "IPv6" && x.address.toLowerCase().startsWith("fe80:"));
  return a?.address;
}

/** Is `from` (a datagram's source address, IPv6 possibly with a %scope) the address `ours`? */
export function sameAddress(from: string, ours: string): boolean {
  return from.replace(/%.*$/, "").toLowerCase() === ours.toLowerCase();
}

export async function openTransport(
  iface: string,
  family: 4 | 6,
  log: Logger,
  port = MDNS_PORT,
): Promise<MdnsTransport> {
  const address = interfaceAddress(iface, family);
  if (!address)
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `--mdns-interface: interface "${iface}" has no ${family === 4 ? "IPv4 address" : "IPv6 link-local address"}`,
    );
  const group = family === 4 ? MDNS_GROUP : `${MDNS_GROUP6}%${iface}`;
  const socket = createSocket({ type: family === 4 ? "udp4" : "udp6", reuseAddr: true, ipv6Only: family === 6 });
  const mdns =
    family === 4
      ? multicastDns({ socket, interface: address, bind: "0.0.0.0", port, loopback: true, multicast: true })
      : multicastDns({
          socket,
          type: "udp6",
          ip: MDNS_GROUP6,
          interface: `::%${iface}`,
          bind: "::",
          port,
          loopback: true,
          multicast: true,
        });
  mdns.on(
    "warning",
    guarded(`mdns socket ${iface}`, (err: Error) => log.debug({ err: err.message, iface }, "mDNS socket warning")),
  );
  await new Promise<void>((resolve, reject) => {
    mdns.once("ready", resolve);
    mdns.once("error", (err: Error) =>
      reject(new RingdnsError("RINGDNS_E_LISTEN", `mDNS on ${iface}: ${err.message}`)),
    );
  });
  // an error event without a listener would end the process: after start-up, one is logged and mDNS goes on
  mdns.on(
    "error",
    guarded(`mdns socket ${iface}`, (err: Error) => log.error({ err: err.message, iface }, "mDNS socket error")),
  );
  try {
    socket.setRecvBufferSize(1 << 20);
  } catch {
    /* the kernel's default will do */
  }
  // the interface's addresses can change while we run: on a miss the list is read again, at most once a second
  let subnets = linkSubnets(iface, family);
  let readAt = performance.now();
  const onLink = (address: string) => {
    const bare = address.replace(/%.*$/, "");
    try {
      return subnets.check(bare, family === 4 ? "ipv4" : "ipv6");
    } catch {
      return false; // not an address of this family
    }
  };
  return {
    iface,
    family,
    address,
    isOnLink(from) {
      if (onLink(from)) return true;
      if (performance.now() - readAt < 1000) return false;
      subnets = linkSubnets(iface, family);
      readAt = performance.now();
      return onLink(from);
    },
    send(msg, to) {
      socket.send(
        msg,
        to?.port ?? port,
        to?.address ?? group,
        guarded(
          `mdns send ${iface}`,
          (err: Error | null) => err && log.debug({ err: err.message, iface }, "mDNS send failed"),
        ),
      );
    },
    onMessage(listener) {
      socket.on("message", guarded(`mdns socket ${iface}`, listener));
    },
    close: () => new Promise<void>((r) => mdns.destroy(() => r())),
  };
}
