// Peers are "address:port" ("[v6]:port") strings in the frontends.

/** The source address without its port: what policies, cookies and rate limits are about. */
export function addressOf(peer: string): string {
  return peer.replace(/^\[?(.*?)\]?:\d+$/, "$1");
}
