// Peers are strings in the frontends: "192.0.2.1:53", "[2001:db8::1]:53", or
// a bare address when the transport has no port to tell (HTTP hands over
// `socket.remoteAddress`). An IPv6 address is bracketed whenever a port
// follows it, so the two forms never read alike ("::1:53" is an address).
import { isIP, isIPv4 } from "node:net";

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
