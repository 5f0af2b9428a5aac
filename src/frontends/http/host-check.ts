// Which Host values the HTTP frontend answers (against DNS rebinding: a page
// on attacker.example whose name is re-pointed at 127.0.0.1 makes the user's
// browser send `Host: attacker.example` to us, and may read the reply as its
// own origin). Accepted: any IP address literal (a browser sending one went
// to that address itself, and no DNS answer can stand in for it), `localhost`
// and names under it (RFC 6761 §6.3: they never leave the machine), and the
// names the operator lists (`--http-host`, default this machine's host name).
import { isIP } from "node:net";

/** The host of a Host header (or absolute-form authority), lower case, without port or trailing dot; undefined when it is not one. */
export function hostOf(authority: string): string | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]@/\s]+))(?::\d{0,5})?$/.exec(authority);
  if (!m) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1].toLowerCase() : undefined;
  const name = m[2]!.toLowerCase().replace(/\.$/, "");
  return name === "" ? undefined : name;
}

/** A check for Host values: true when `authority` names this server (see above). */
export function hostCheck(names: readonly string[]): (authority: string) => boolean {
  const accepted = new Set(names.map((n) => n.toLowerCase().replace(/\.$/, "")));
  return (authority) => {
    const host = hostOf(authority);
    if (host === undefined) return false;
    return isIP(host) !== 0 || host === "localhost" || host.endsWith(".localhost") || accepted.has(host);
  };
}
