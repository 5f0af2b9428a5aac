// What the registry holds. Plain data: stores serialize it, answers read it.
import type { Labels, ServiceType } from "../names.js";

/** Where a registration came from. ("cluster" is how the HTTP API shows one another daemon wrote.) */
export type Source = "static" | "update" | "srp" | "mdns" | "cluster";

/**
 * Who may change a registration: the TSIG key whose signed UPDATE made it,
 * unsigned updates (from an --allow-update source), the HTTP API (bearer
 * token), the services file, mDNS, or the public key an SRP client (RFC 9665)
 * signed its registration with (`keyId`: algorithm and key).
 */
export type Owner =
  | { readonly kind: "key"; readonly name: string }
  | { readonly kind: "srp"; readonly key: string }
  | { readonly kind: "unsigned" }
  | { readonly kind: "http" }
  | { readonly kind: "static" }
  | { readonly kind: "mdns" };

/** Served domains are named by their presentation form, ASCII lower-case ("a.example."). */
export const LOCAL_DOMAIN = "local.";

export interface Instance {
  /** Instance label as registered (display case, may contain spaces, dots, UTF-8). */
  readonly name: string;
  readonly type: ServiceType;
  /** Subtype labels, lower-case ("_eu"). */
  readonly subtypes: readonly string[];
  /** SRV target: one label means a host under each served domain; more labels are an absolute name. */
  readonly host: Labels;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  /** TXT strings (RFC 6763 §6), raw bytes, in order. */
  readonly txt: readonly Uint8Array[];
  readonly source: Source;
  /** Lease end in ms on the registry's clock; undefined = permanent. */
  readonly expiresAt?: number;
  /** In a cluster: the node (--node-name) whose store write this is; undefined when this daemon made it. */
  readonly writer?: string;
  /** The TSIG key (name, presentation form) whose signed UPDATE registered it (the HTTP API shows it; `owner` says the same). */
  readonly key?: string;
  /** Who may change it; absent in records stored before owners existed (see `whoOwns`). */
  readonly owner?: Owner;
  /** The served domain it was registered in ("a.example."); absent = served under every domain (see `servedDomain`). */
  readonly domain?: string;
}

export interface Host {
  /** Host label, lower-case. */
  readonly name: string;
  /** IPv4 and IPv6 addresses in text form. */
  readonly addresses: readonly string[];
  readonly source: Source;
  readonly expiresAt?: number;
  readonly writer?: string;
  readonly owner?: Owner;
  readonly domain?: string;
}

/**
 * Who may change `r`. Records stored before owners existed have none: a
 * signed registration's key still names its owner, an instance without one
 * came from an unsigned update; such a host could have come from either, so
 * it has no owner (undefined): the update core asks the owners of the old
 * instances that point at it (mayChangeLegacyHost).
 */
export function whoOwns(r: Instance | Host): Owner | undefined {
  if (r.owner) return r.owner;
  if ("key" in r && r.key !== undefined) return { kind: "key", name: r.key };
  if (r.source === "static") return { kind: "static" };
  if (r.source === "mdns") return { kind: "mdns" };
  return "port" in r ? { kind: "unsigned" } : undefined;
}

/** The TSIG key that owns `r` (its limits are counted per key), or undefined for any other owner. */
export function owningKey(r: Instance | Host | undefined): string | undefined {
  const o = r && whoOwns(r);
  return o?.kind === "key" ? o.name : undefined;
}

/** Add `delta` to the count kept for key `k` (no key: nothing to count); a count that reaches 0 goes. */
export function countPerKey(counts: Map<string, number>, k: string | undefined, delta: number): void {
  if (k === undefined || delta === 0) return;
  const n = (counts.get(k) ?? 0) + delta;
  if (n !== 0) counts.set(k, n);
  else counts.delete(k);
}

export function sameOwner(a: Owner | undefined, b: Owner | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === "key") return a.name === (b as { name: string }).name;
  if (a.kind === "srp") return a.key === (b as { key: string }).key;
  return true;
}

/** An owner in words that say its kind and nothing more (refusals go to whoever asked). */
export function ownerKind(o: Owner): string {
  return {
    key: "another TSIG key",
    srp: "another SRP key",
    unsigned: "unsigned updates",
    http: "the HTTP API",
    static: "the services file",
    mdns: "mDNS",
  }[o.kind];
}

/**
 * The one rule for where a registration is served: in the domain it was
 * registered in; mDNS-learned ones in local. only; the rest (the services
 * file, and UPDATE registrations stored before domains were recorded) under
 * every served domain. undefined = every domain.
 */
export function servedDomain(r: Instance | Host): string | undefined {
  return r.domain ?? (r.source === "mdns" ? LOCAL_DOMAIN : undefined);
}

/**
 * A name an SRP client's key holds, first come, first served (RFC 9665
 * §3.3.2): a host or an instance, by the store key its registration has or
 * would have. It outlives the registration until the key lease ends, so no
 * other key can take the name over meanwhile.
 */
export interface Claim {
  /** Store key of the claimed host or instance (scopes.ts). */
  readonly record: string;
  /** The claiming key (`keyId` in wire/sig0.ts: algorithm and public key). */
  readonly key: string;
  /** Key lease end, ms on the registry's clock. */
  readonly expiresAt: number;
  /** The key's tag (RFC 4034 App. B, over the KEY as the client sent it), to name it in views and logs. */
  readonly tag?: number;
  readonly writer?: string;
}

export type ChangeOp = "add" | "update" | "remove" | "expire";

export type Change =
  | { op: ChangeOp; kind: "instance"; instance: Instance; previous?: Instance }
  | { op: ChangeOp; kind: "host"; host: Host; previous?: Host };

/** Same registration in every field; lease ends within `expirySlackMs` of each other count as the same. */
export function sameInstance(a: Instance, b: Instance, expirySlackMs = 0): boolean {
  const expiry =
    a.expiresAt === b.expiresAt ||
    (a.expiresAt !== undefined && b.expiresAt !== undefined && Math.abs(a.expiresAt - b.expiresAt) <= expirySlackMs);
  return (
    a.name === b.name &&
    a.port === b.port &&
    a.priority === b.priority &&
    a.weight === b.weight &&
    a.source === b.source &&
    a.domain === b.domain &&
    sameOwner(whoOwns(a), whoOwns(b)) &&
    expiry &&
    a.host.join("\0") === b.host.join("\0") &&
    a.subtypes.join("\0") === b.subtypes.join("\0") &&
    a.txt.length === b.txt.length &&
    a.txt.every((t, i) => Buffer.compare(t, b.txt[i]!) === 0)
  );
}
