// Who may update what (the project design: signed updates always, unsigned ones only from
// allowed sources; keys may be limited to zones).
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { RingdnsError } from "../errors.js";
import { formatName, hasSuffix, type Labels } from "../names.js";
import type { TsigKey } from "../wire/tsig.js";

export const DEFAULT_ALLOW_UPDATE = ["127.0.0.0/8", "::1/128"];

export interface UpdatePolicy {
  /** May an unsigned update from `address` go ahead? */
  allowsUnsigned(address: string): boolean;
  /** May `key` send an update for `zone` (one of its --key-zone zones, or a served domain above one)? */
  allowsKey(key: TsigKey, zone: Labels): boolean;
  /** The zones a key (presentation form) may change names in; undefined = not limited. */
  zonesOf(keyName: string): readonly Labels[] | undefined;
}

/** A test for "is this address in one of these CIDRs" ("none" in the list matches nothing); `setting` names the flag in errors. */
export function sourceMatcher(cidrs: readonly string[], setting: string): (address: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    if (c === "none") continue;
    const [addr = "", bitsText] = c.split("/");
    const family = isIPv4(addr) ? "ipv4" : isIPv6(addr) ? "ipv6" : undefined;
    const bits = bitsText === undefined ? (family === "ipv4" ? 32 : 128) : Number(bitsText);
    if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === "ipv4" ? 32 : 128)) {
      throw new RingdnsError(
        "RINGDNS_E_BAD_CONFIG",
        `${setting}: "${c}" is not a CIDR like 192.0.2.0/24 or 2001:db8::/32 (or "none")`,
      );
    }
    list.addSubnet(addr, bits, family);
  }
  // a BlockList check makes a SocketAddress each time; the few sources a server hears from are remembered
  // (bounded: a flood from many addresses only empties the memo)
  const known = new Map<string, boolean>();
  return (address) => {
    const hit = known.get(address);
    if (hit !== undefined) return hit;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const a = mapped ?? address;
    const allowed = (isIPv4(a) || isIPv6(a)) && list.check(a, isIPv4(a) ? "ipv4" : "ipv6");
    if (known.size >= 4096) known.clear();
    known.set(address, allowed);
    return allowed;
  };
}

/** `cidrs`: sources for unsigned updates ("none" for no source); `keyZones`: key name -> zones it may update. */
export function makePolicy(cidrs: readonly string[], keyZones: ReadonlyMap<string, readonly Labels[]>): UpdatePolicy {
  const allowed = sourceMatcher(cidrs, "--allow-update");
  return {
    allowsUnsigned: allowed,
    allowsKey(key, zone) {
      const zones = keyZones.get(formatName(key.name));
      // the names inside are checked one by one (update.ts): a key zone may be narrower than a served domain
      return !zones || zones.some((z) => hasSuffix(z, zone));
    },
    zonesOf: (keyName) => keyZones.get(keyName),
  };
}
