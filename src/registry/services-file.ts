// Static registrations (`--services FILE`, YAML or JSON; see examples/services.yaml).
// Every problem is reported as file, entry and field, and nothing is loaded
// from a file that has one.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parse as parseYaml } from "yaml";
import { RingdnsError } from "../errors.js";
import {
  labelBytes,
  lowerAscii,
  MAX_LABEL_BYTES,
  nameProblem,
  parseName,
  parseServiceType,
  parseSubtype,
  type Labels,
} from "../names.js";
import { instanceId } from "./registry.js";
import { staticOverLimit, type RegistrationLimits } from "./limits.js";
import type { Host, Instance } from "./types.js";

export interface StaticRegistrations {
  instances: Instance[];
  hosts: Host[];
}

const FIELDS = new Set(["instance", "type", "subtypes", "host", "addresses", "port", "priority", "weight", "txt"]);
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const utf8 = new TextEncoder();

class EntryError extends Error {}

function parseDocument(text: string): unknown {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // a YAML flow mapping, or a mistake the YAML parser names better
    }
  }
  return parseYaml(text, { prettyErrors: false });
}

/** Read and check a services file; with `limits`, a file that alone goes over one (served in `domains` domains) is refused too. */
export function loadServicesFile(path: string, domains = 1, limits?: RegistrationLimits): StaticRegistrations {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new RingdnsError("RINGDNS_E_BAD_SERVICES_FILE", `${path}: cannot read: ${(e as Error).message}`);
  }
  const parsed = parseServicesFile(text, path);
  const over = limits && staticOverLimit(parsed.instances, parsed.hosts, domains, limits);
  if (over)
    throw new RingdnsError("RINGDNS_E_BAD_SERVICES_FILE", `${path}: ${over}; raise the limit or split the file`);
  return parsed;
}

export function parseServicesFile(text: string, file: string): StaticRegistrations {
  const fail = (where: string, msg: string): never => {
    throw new RingdnsError("RINGDNS_E_BAD_SERVICES_FILE", `${file}: ${where}${msg}`);
  };
  let doc: unknown;
  try {
    // JSON is YAML too, and JSON.parse reads it ~100x faster: a generated file of 100,000 entries
    // starts in a second instead of ten (and without the YAML parser's gigabyte of garbage)
    doc = parseDocument(text);
  } catch (e) {
    return fail("", `not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return { instances: [], hosts: [] };
  if (typeof doc !== "object" || Array.isArray(doc) || !("services" in doc)) {
    return fail("", 'expected a top-level "services:" list');
  }
  const list = (doc as { services: unknown }).services;
  if (list === null) return { instances: [], hosts: [] };
  if (!Array.isArray(list)) return fail("services: ", "must be a list of entries");

  const instances: Instance[] = [];
  const seen = new Map<string, number>();
  const hosts = new Map<string, { host: Host; entry: number }>();
  list.forEach((raw, i) => {
    const label = `services[${i}]${isRecord(raw) && typeof raw.instance === "string" ? ` (${raw.instance})` : ""}: `;
    try {
      const { instance, addresses } = parseEntry(raw);
      const key = `${instance.type.service}.${instance.type.proto}/${instanceId(instance.name)}`;
      const dup = seen.get(key);
      if (dup !== undefined)
        throw new EntryError(`instance: "${instance.name}" of ${raw.type} is already defined in services[${dup}]`);
      seen.set(key, i);
      instances.push(instance);
      if (instance.host.length === 1 && addresses.length > 0) {
        const hname = instance.host[0]!;
        const prior = hosts.get(hname);
        if (prior && prior.host.addresses.join() !== addresses.join()) {
          throw new EntryError(`addresses: host "${hname}" already has other addresses in services[${prior.entry}]`);
        }
        if (!prior) hosts.set(hname, { host: { name: hname, addresses, source: "static" }, entry: i });
      }
    } catch (e) {
      if (e instanceof EntryError) fail(label, e.message);
      throw e;
    }
  });
  for (const [idx, inst] of instances.entries()) {
    if (inst.host.length === 1 && !hosts.has(inst.host[0]!)) {
      fail(
        `services[${idx}] (${inst.name}): `,
        `addresses: host "${inst.host[0]}" has no addresses (give them here or on another entry with this host, or use an absolute host name ending in ".")`,
      );
    }
  }
  return { instances, hosts: [...hosts.values()].map((h) => h.host) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseEntry(raw: unknown): { instance: Instance; addresses: string[] } {
  if (!isRecord(raw)) throw new EntryError("must be a mapping with instance, type, host, port, …");
  for (const k of Object.keys(raw))
    if (!FIELDS.has(k)) throw new EntryError(`${k}: unknown field (known: ${[...FIELDS].join(", ")})`);

  const name = raw.instance;
  if (typeof name !== "string" || name.length === 0) throw new EntryError("instance: required, a non-empty string");
  if (labelBytes(name) > MAX_LABEL_BYTES)
    throw new EntryError(`instance: "${name}" is ${labelBytes(name)} bytes, max ${MAX_LABEL_BYTES}`);

  if (typeof raw.type !== "string") throw new EntryError("type: required, e.g. _cache._tcp");
  const type = field("type", () => parseServiceType(raw.type as string));

  const subtypes = raw.subtypes === undefined ? [] : raw.subtypes;
  if (!Array.isArray(subtypes) || !subtypes.every((s) => typeof s === "string"))
    throw new EntryError("subtypes: must be a list of labels like [_eu]");
  const subs = field("subtypes", () => [...new Set(subtypes.map((s: string) => parseSubtype(s)))]);

  const host = parseHost(raw.host, name);
  const addresses = raw.addresses === undefined ? [] : raw.addresses;
  if (!Array.isArray(addresses)) throw new EntryError("addresses: must be a list of IPv4/IPv6 addresses");
  for (const a of addresses)
    if (typeof a !== "string" || isIP(a) === 0)
      throw new EntryError(`addresses: "${String(a)}" is not an IPv4 or IPv6 address`);
  if (host.length > 1 && addresses.length > 0)
    throw new EntryError(
      `addresses: not allowed with an absolute host name (${raw.host}); its addresses come from its own zone`,
    );

  const instance: Instance = {
    name,
    type,
    subtypes: subs,
    host,
    port: u16("port", raw.port, undefined),
    priority: u16("priority", raw.priority, 0),
    weight: u16("weight", raw.weight, 1),
    txt: parseTxt(raw.txt),
    source: "static",
  };
  return { instance, addresses: addresses as string[] };
}

function field<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new EntryError(`${name}: ${(e as Error).message}`);
  }
}

function parseHost(raw: unknown, instance: string): Labels {
  if (raw === undefined) {
    const guess = lowerAscii(instance);
    if (!HOST_LABEL.test(guess))
      throw new EntryError(`host: required (instance name "${instance}" is not a valid host label)`);
    return [guess];
  }
  if (typeof raw !== "string" || raw.length === 0)
    throw new EntryError("host: must be a host label (alpha) or an absolute name (db.example.com.)");
  if (raw.endsWith(".")) {
    const labels = field("host", () => parseName(raw));
    const problem = nameProblem(labels);
    if (problem || labels.length === 0) throw new EntryError(`host: "${raw}": ${problem ?? "the root is not a host"}`);
    return labels.map(lowerAscii);
  }
  if (!HOST_LABEL.test(raw))
    throw new EntryError(
      `host: "${raw}" is not a host label (letters, digits, hyphens; end with "." for an absolute name)`,
    );
  return [lowerAscii(raw)];
}

function u16(name: string, raw: unknown, dflt: number | undefined): number {
  if (raw === undefined) {
    if (dflt === undefined) throw new EntryError(`${name}: required, an integer 0-65535`);
    return dflt;
  }
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0 || raw > 65535) {
    throw new EntryError(`${name}: must be an integer 0-65535, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** TXT as a mapping ({version: "1.4", debug: true}) or a list of raw "key=value" strings. */
function parseTxt(raw: unknown): Uint8Array[] {
  if (raw === undefined || raw === null) return [];
  const check = (s: string): Uint8Array => {
    const b = utf8.encode(s);
    if (b.length > 255) throw new EntryError(`txt: "${s.slice(0, 20)}…" is ${b.length} bytes, max 255 per string`);
    if (b.length === 0 || s.startsWith("=")) throw new EntryError(`txt: "${s}" has an empty key`);
    return b;
  };
  if (Array.isArray(raw)) {
    return raw.map((s) => {
      if (typeof s !== "string") throw new EntryError(`txt: list entries must be strings, got ${JSON.stringify(s)}`);
      return check(s);
    });
  }
  if (!isRecord(raw)) throw new EntryError("txt: must be a mapping (key: value) or a list of key=value strings");
  return Object.entries(raw).map(([k, v]) => {
    if (k.includes("=")) throw new EntryError(`txt: key "${k}" contains "="`);
    if (v === true) return check(k); // boolean attribute (RFC 6763 §6.4)
    if (typeof v === "string" || typeof v === "number") return check(`${k}=${v}`);
    throw new EntryError(`txt: value of "${k}" must be a string, number or true`);
  });
}
