// The naming scheme (README "Names", docs/hash.md for keys): the only module that builds or splits names.
//
// A name is a list of labels, most specific first, each label the raw text of
// one DNS label (it may contain dots, spaces, UTF-8). Presentation strings
// ("alpha._cache._tcp.local.") exist only at the edges: config files, CLI,
// logs. Comparison is ASCII case-insensitive (RFC 4343); answers reuse the
// spelling the client asked with.

export type Labels = readonly string[];

/** A DNS-SD service type such as `_cache._tcp`, stored lower-case. */
export interface ServiceType {
  readonly service: string; // "_cache"
  readonly proto: "_tcp" | "_udp";
}

/** The result of matching a query name against the served domains. */
export type ParsedName =
  | { kind: "apex"; domain: Labels }
  | { kind: "services"; domain: Labels } // _services._dns-sd._udp.<d>
  | { kind: "type"; type: ServiceType; domain: Labels; typeLabels: Labels } // _group._tcp.<d>
  | { kind: "subtype"; type: ServiceType; subtype: string; domain: Labels; typeLabels: Labels }
  | { kind: "instance"; type: ServiceType; instance: string; domain: Labels; typeLabels: Labels }
  | { kind: "hash"; type: ServiceType; key: Uint8Array; domain: Labels; typeLabels: Labels }
  | { kind: "host"; host: string; domain: Labels }
  // names that exist only because longer names exist under them (RFC 8020 empty non-terminals)
  | { kind: "intermediate"; domain: Labels; path: Labels }
  | { kind: "unknown"; domain: Labels }
  | { kind: "badhash"; domain: Labels; reason: string };

export const MAX_LABEL_BYTES = 63;
export const MAX_NAME_BYTES = 255; // wire length, including length octets and the root

const utf8 = new TextEncoder();

/** ASCII-only lower-casing: DNS matching is case-insensitive for A-Z only. */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s; // the common case: already lower-case, no copy
}

export function labelEquals(a: string, b: string): boolean {
  return a === b || (a.length === b.length && lowerAscii(a) === lowerAscii(b));
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!labelEquals(a[i]!, b[i]!)) return false;
  return true;
}

/** A cheap canonical key for maps and sets: equal exactly when the names match case-insensitively. */
export function nameKey(name: Labels): string {
  let k = "";
  for (const l of name) k += `${l.length}:${l}`;
  return lowerAscii(k);
}

/** Does `name` end with `suffix` (compared case-insensitively)? */
export function hasSuffix(name: Labels, suffix: Labels): boolean {
  if (suffix.length > name.length) return false;
  const off = name.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (!labelEquals(name[off + i]!, suffix[i]!)) return false;
  return true;
}

export function labelBytes(label: string): number {
  return Buffer.byteLength(label, "utf8"); // counted, not encoded: nothing allocated on the update path
}

/** Wire length of a name: one length octet per label, the label bytes, the root octet. */
export function nameWireLength(name: Labels): number {
  let n = 1;
  for (const l of name) n += 1 + labelBytes(l);
  return n;
}

/** Why `name` cannot be sent on the wire, or null when it can. */
export function nameProblem(name: Labels): string | null {
  for (const l of name) {
    const b = labelBytes(l);
    if (b === 0) return "empty label";
    if (b > MAX_LABEL_BYTES) return `label "${l}" is ${b} bytes (max ${MAX_LABEL_BYTES})`;
  }
  const total = nameWireLength(name);
  if (total > MAX_NAME_BYTES) return `name is ${total} bytes on the wire (max ${MAX_NAME_BYTES})`;
  return null;
}

// ---- presentation format (RFC 1035 §5.1): "\." and "\\" escapes, "\DDD" for bytes ----

/** Parse a presentation-format name ("a\.b.example." or "example") into labels. */
export function parseName(text: string): Labels {
  if (text === "." || text === "") return [];
  const labels: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    labels.push(Buffer.from(bytes).toString("utf8"));
    bytes = [];
  };
  const raw = Buffer.from(text, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c /* \ */) {
      const d = raw.subarray(i + 1, i + 4).toString("latin1");
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new Error(`bad escape \\${d} in name "${text}"`);
        bytes.push(v);
        i += 3;
      } else if (i + 1 < raw.length) {
        bytes.push(raw[++i]!);
      } else {
        throw new Error(`name "${text}" ends with a lone backslash`);
      }
    } else if (c === 0x2e /* . */) {
      if (bytes.length === 0) throw new Error(`empty label in name "${text}"`);
      flush();
    } else {
      bytes.push(c);
    }
  }
  if (bytes.length > 0) flush();
  return labels;
}

/** Format labels as an absolute presentation name with a trailing dot. */
export function formatName(name: Labels): string {
  if (name.length === 0) return ".";
  return `${name.map(escapeLabel).join(".")}.`;
}

function escapeLabel(label: string): string {
  let out = "";
  for (const ch of label) {
    const cp = ch.codePointAt(0)!;
    if (ch === "." || ch === "\\") out += `\\${ch}`;
    else if (cp < 0x21 && cp !== 0x20) out += `\\${String(cp).padStart(3, "0")}`;
    else if (cp === 0x7f) out += "\\127";
    else out += ch;
  }
  return out;
}

// ---- service types ----

const SERVICE_LABEL = /^_[a-z0-9]([a-z0-9-]{0,14})$/; // RFC 6335 §5.1: 1-15 chars, leading underscore

export function isServiceLabel(label: string): boolean {
  return label.startsWith("_") && label.length >= 2 && label.length <= 16;
}

/** Parse "_cache._tcp" (any case); throws with a reason when it is not a service type. */
export function parseServiceType(text: string): ServiceType {
  const labels = parseName(text.replace(/\.$/, ""));
  if (labels.length !== 2) throw new Error(`"${text}" is not a service type like _name._tcp`);
  const service = lowerAscii(labels[0]!);
  const proto = lowerAscii(labels[1]!);
  if (!SERVICE_LABEL.test(service) || service.includes("--") || service.endsWith("-")) {
    throw new Error(`"${labels[0]}" is not a service name (RFC 6335: _ then 1-15 letters, digits, hyphens)`);
  }
  if (proto !== "_tcp" && proto !== "_udp") throw new Error(`"${labels[1]}" must be _tcp or _udp`);
  return { service, proto };
}

export function formatServiceType(t: ServiceType): string {
  return `${t.service}.${t.proto}`;
}

export function typeLabels(t: ServiceType): Labels {
  return [t.service, t.proto];
}

/** Parse a subtype label "_eu" (any case), stored lower-case. */
export function parseSubtype(text: string): string {
  const l = lowerAscii(text);
  if (!l.startsWith("_") || l.length < 2 || labelBytes(l) > MAX_LABEL_BYTES || l.includes(".")) {
    throw new Error(`"${text}" is not a subtype label like _eu`);
  }
  return l;
}

// ---- hash keys (docs/hash.md "Key") ----

const B32_PREFIX = "b32-";
const B32HEX = "0123456789abcdefghijklmnopqrstuv";

export function base32hexEncode(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32HEX[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32HEX[(acc << (5 - bits)) & 31];
  return out;
}

/** Decode unpadded base32hex (either case); null when it is not valid. */
export function base32hexDecode(text: string): Uint8Array | null {
  const s = lowerAscii(text);
  // lengths that cannot come from whole bytes (1, 3, 6 mod 8) are invalid
  if ([1, 3, 6].includes(s.length % 8)) return null;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of s) {
    const v = B32HEX.indexOf(ch);
    if (v < 0) return null;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null; // non-zero trailing bits: not canonical
  return Uint8Array.from(out);
}

/**
 * The key bytes a `_hash` query asks for: the labels left of `_hash`, joined
 * with "." and lower-cased, or the decoded bytes of a single `b32-` label.
 */
export function hashKeyFromLabels(labels: Labels): Uint8Array | string {
  if (labels.length === 0) return "the key is empty";
  if (labels.length === 1 && lowerAscii(labels[0]!).startsWith(B32_PREFIX)) {
    const bytes = base32hexDecode(labels[0]!.slice(B32_PREFIX.length));
    return bytes ?? `"${labels[0]}" is not valid base32hex after b32-`;
  }
  return utf8.encode(lowerAscii(labels.join(".")));
}

/** Labels that carry `key` in a `_hash` name: plain labels when they survive the round trip, else `b32-`. */
export function hashKeyLabels(key: Uint8Array | string): Labels {
  const bytes = typeof key === "string" ? utf8.encode(key) : key;
  const text = Buffer.from(bytes).toString("utf8");
  const plain = parseNameSafe(text);
  if (
    plain &&
    plain.length > 0 &&
    !lowerAscii(plain[0]!).startsWith(B32_PREFIX) &&
    text === lowerAscii(text) &&
    /^[\x21-\x7e]+$/.test(text) &&
    !text.includes("\\") &&
    plain.every((l) => labelBytes(l) <= MAX_LABEL_BYTES)
  ) {
    return plain;
  }
  return [B32_PREFIX + base32hexEncode(bytes)];
}

function parseNameSafe(text: string): Labels | null {
  try {
    return text.endsWith(".") ? null : parseName(text);
  } catch {
    return null;
  }
}

// ---- building names ----

export const SERVICES_ENUM: Labels = ["_services", "_dns-sd", "_udp"];
/** The mDNS domain (RFC 6762), as labels. */
export const LOCAL: Labels = ["local"];
const HASH_LABEL = "_hash";
const SUB_LABEL = "_sub";

export function servicesEnumName(domain: Labels): Labels {
  return [...SERVICES_ENUM, ...domain];
}

/** `_group._tcp.<d>`; `typeAs` lets answers reuse the client's spelling. */
export function typeName(t: ServiceType, domain: Labels, typeAs: Labels = typeLabels(t)): Labels {
  return [...typeAs, ...domain];
}

export function subtypeName(t: ServiceType, subtype: string, domain: Labels, typeAs?: Labels): Labels {
  return [subtype, SUB_LABEL, ...typeName(t, domain, typeAs)];
}

export function instanceName(t: ServiceType, instance: string, domain: Labels, typeAs?: Labels): Labels {
  return [instance, ...typeName(t, domain, typeAs)];
}

export function hashName(t: ServiceType, key: Uint8Array | string, domain: Labels, typeAs?: Labels): Labels {
  return [...hashKeyLabels(key), HASH_LABEL, ...typeName(t, domain, typeAs)];
}

/** A host: a bare label lives under the domain; an absolute name (parsed from "x.example.") is used as is. */
export function hostName(host: Labels, domain: Labels): Labels {
  return host.length === 1 ? [host[0]!, ...domain] : host;
}

// ---- parsing query names ----

/** The served domain `name` falls under (longest match), or null when none does. */
export function matchDomain(name: Labels, domains: readonly Labels[]): Labels | null {
  let best: Labels | null = null;
  for (const d of domains) if (hasSuffix(name, d) && (!best || d.length > best.length)) best = d;
  return best;
}

function asType(service: string, proto: string): ServiceType | null {
  const s = lowerAscii(service);
  const p = lowerAscii(proto);
  if ((p !== "_tcp" && p !== "_udp") || !isServiceLabel(s)) return null;
  return { service: s, proto: p };
}

/**
 * Classify a query name under the served domains. Returns null when the name
 * is outside every served domain (the server is not authoritative: REFUSED).
 * `domain` and `typeLabels` keep the client's spelling.
 */
export function parseQueryName(name: Labels, domains: readonly Labels[]): ParsedName | null {
  const served = matchDomain(name, domains);
  if (!served) return null;
  const domain = name.slice(name.length - served.length);
  const rest = name.slice(0, name.length - served.length);
  const n = rest.length;
  if (n === 0) return { kind: "apex", domain };
  const at = (i: number) => lowerAscii(rest[n - i]!); // 1-based from the right

  if (n === 3 && at(3) === "_services" && at(2) === "_dns-sd" && at(1) === "_udp") return { kind: "services", domain };
  if (n === 1 && (at(1) === "_tcp" || at(1) === "_udp")) return { kind: "intermediate", domain, path: rest };
  if (n === 2 && at(2) === "_dns-sd" && at(1) === "_udp") return { kind: "intermediate", domain, path: rest };

  const type = n >= 2 ? asType(rest[n - 2]!, rest[n - 1]!) : null;
  if (type) {
    const tl = rest.slice(n - 2);
    if (n === 2) return { kind: "type", type, domain, typeLabels: tl };
    const third = at(3);
    if (third === HASH_LABEL) {
      if (n === 3) return { kind: "intermediate", domain, path: rest };
      const key = hashKeyFromLabels(rest.slice(0, n - 3));
      if (typeof key === "string") return { kind: "badhash", domain, reason: key };
      return { kind: "hash", type, key, domain, typeLabels: tl };
    }
    if (third === SUB_LABEL) {
      if (n === 3) return { kind: "intermediate", domain, path: rest };
      if (n === 4) return { kind: "subtype", type, subtype: lowerAscii(rest[0]!), domain, typeLabels: tl };
      return { kind: "unknown", domain };
    }
    if (n === 3) return { kind: "instance", type, instance: rest[0]!, domain, typeLabels: tl };
    return { kind: "unknown", domain };
  }
  if (n === 1) return { kind: "host", host: rest[0]!, domain };
  return { kind: "unknown", domain };
}
