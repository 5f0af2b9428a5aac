// Peers are strings in the frontends: "192.0.2.1:53", "[2001:db8::1]:53", or
// a bare address when the transport has no port to tell (HTTP hands over
// `socket.remoteAddress`). An IPv6 address is bracketed whenever a port
// follows it, so the two forms never read alike ("::1:53" is an address).
import { isIP, isIPv4, SocketAddress } from "node:net";

/** "address:port" for IPv4, "[address]:port" for IPv6: the one way frontends write a peer. */
export function formatPeer(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The source address without its port: what policies, cookies and rate limits
 * are about. Every form gives the same address for the same source: "::1",
 * "[::1]" and "[::1]:53" give "::1"; "192.0.2.1", "192.0.2.1:53" and the
 * IPv4-mapped "::ffff:192.0.2.1" (a dual-stack socket's view of an IPv4
 * client) give "192.0.2.1". IPv6 letters are lower-cased. Anything else comes
 * back as it was given (it matches no address policy).
 */
export function addressOf(peer: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(peer);
  const bare = bracketed ? bracketed[1]! : isIP(peer) !== 0 ? peer : /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(peer)?.[1];
  if (bare === undefined || isIP(bare) === 0) return peer;
  if (isIPv4(bare)) return bare;
  const v6 = bare.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6)?.[1];
  return mapped !== undefined && isIPv4(mapped) ? mapped : v6;
}

/** An IPv6 address's eight groups, four hex digits each ("::" written out). */
export function ipv6Groups(address: string): string[] {
  const [head = "", tail = ""] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = address.includes("::") && tail ? tail.split(":") : [];
  return [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t].map((g) => g.padStart(4, "0"));
}

/**
 * What one client is, for limits that count per source (connections,
 * subscriptions): its IPv4 address, or its IPv6 /64, since anyone given a /64
 * holds every address in it (RFC 7421) and could otherwise take a limit many
 * times over.
 */
export function sourceOf(peer: string): string {
  const address = addressOf(peer);
  if (isIP(address) !== 6) return address;
  return `${ipv6Groups(address).slice(0, 4).join(":")}::/64`;
}

/** An address in the one form inet_ntop writes it ("0:0:0:0:0:0:0:1" and "::1" alike give "::1"), IPv4-mapped ones as IPv4. */
export function canonicalAddress(address: string): string {
  const a = addressOf(address);
  return isIP(a) === 6 ? new SocketAddress({ address: a, family: "ipv6" }).address : a;
}
