// The one data set both servers serve: a services file for ringdns and, from
// the same entries, the zone file for knotd, plus the records themselves
// (`truth`) so a reply's RRsets can be checked for being whole.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatName, type Labels } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";

export const ZONE: Labels = ["svc", "example"];
export const NS_HOST = "ns1";
export const NS_NAME: Labels = [NS_HOST, ...ZONE];

interface Entry {
  instance: string;
  type: string; // "_ipp._tcp"
  subtypes?: string[];
  host: string;
  addresses?: string[];
  port: number;
  txt: string[];
}

const big = [
  ...Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`),
  ...Array.from({ length: 20 }, (_, i) => `2001:db8::1:${(i + 1).toString(16)}`),
];

export const ENTRIES: readonly Entry[] = [
  {
    instance: "Front Door Printer",
    type: "_ipp._tcp",
    host: "printer",
    addresses: ["203.0.113.40"],
    port: 631,
    txt: ["txtvers=1", "ty=Example LaserJet", "rp=ipp/print", "Color"],
  },
  { instance: "a.b c", type: "_ipp._tcp", host: "printer", port: 632, txt: ["note=dots.and spaces"] },
  {
    instance: "Café ☕ Ünïcode",
    type: "_http._tcp",
    host: "web",
    addresses: ["192.0.2.21", "2001:db8::21"],
    port: 8080,
    txt: ["path=/v1", "name=Grüße"],
  },
  { instance: "nul\u0000byte", type: "_http._tcp", host: "web", port: 8081, txt: ["k=v"] },
  {
    instance: "big",
    type: "_cache._tcp",
    subtypes: ["_eu"],
    host: "big",
    addresses: big,
    port: 11211,
    txt: ["role=many addresses"],
  },
  {
    instance: "alpha",
    type: "_cache._tcp",
    subtypes: ["_eu", "_us"],
    host: "alpha",
    addresses: ["192.0.2.10", "2001:db8::10"],
    port: 11211,
    txt: ["version=1.4"],
  },
  { instance: "dns", type: "_domain._tcp", host: NS_HOST, addresses: ["192.0.2.53"], port: 53, txt: ["role=ns"] },
];

/** One record as both servers should hold it: owner and RDATA in a canonical text form. */
export interface TruthRecord {
  owner: Labels;
  type: number;
  rdata: string;
}

/** A name in canonical (lower-case ASCII) presentation form, as RRsets are keyed. */
export const canon = (name: Labels) => formatName(name.map((l) => l.replace(/[A-Z]+/g, (m) => m.toLowerCase())));

const typeLabels = (t: string) => t.split(".");
const under = (...labels: string[]): Labels => [...labels, ...ZONE];

export interface Dataset {
  records: TruthRecord[];
  /** Every owner name, and every empty non-terminal above them (RFC 8020). */
  names: Labels[];
  emptyNonTerminals: Labels[];
}

/** The records of ENTRIES (the SOA is added by the caller, with ringdns's serial). */
export function buildDataset(): Dataset {
  const records: TruthRecord[] = [];
  const add = (owner: Labels, type: number, rdata: string) => records.push({ owner, type, rdata });
  add(ZONE, Type.NS, canon(NS_NAME));
  const types = [...new Set(ENTRIES.map((e) => e.type))];
  for (const t of types) add(under("_services", "_dns-sd", "_udp"), Type.PTR, canon(under(...typeLabels(t))));
  const hostsDone = new Set<string>();
  for (const e of ENTRIES) {
    const inst = under(e.instance, ...typeLabels(e.type));
    add(under(...typeLabels(e.type)), Type.PTR, canon(inst));
    for (const s of e.subtypes ?? []) add(under(s, "_sub", ...typeLabels(e.type)), Type.PTR, canon(inst));
    add(inst, Type.SRV, `0 1 ${e.port} ${canon(under(e.host))}`);
    add(inst, Type.TXT, txtRdata(e.txt));
    if (e.addresses && !hostsDone.has(e.host)) {
      hostsDone.add(e.host);
      for (const a of e.addresses) add(under(e.host), a.includes(":") ? Type.AAAA : Type.A, a);
    }
  }
  const names = new Map<string, Labels>();
  for (const r of records) names.set(canon(r.owner), r.owner);
  const ents = new Map<string, Labels>();
  for (const n of names.values()) {
    for (let i = 1; i < n.length - ZONE.length; i++) {
      const above = n.slice(i);
      if (!names.has(canon(above))) ents.set(canon(above), above);
    }
  }
  return { records, names: [...names.values()], emptyNonTerminals: [...ents.values()] };
}

/** TXT RDATA as the comparison reads it: each string's bytes in hex. */
export function txtRdata(strings: readonly (string | Uint8Array)[]): string {
  return strings.map((s) => Buffer.from(s).toString("hex")).join(" ");
}

export function writeServicesFile(dir: string): string {
  const file = join(dir, "services.json");
  const hostsDone = new Set<string>();
  const services = ENTRIES.map((e) => {
    const first = !hostsDone.has(e.host);
    hostsDone.add(e.host);
    return {
      instance: e.instance,
      type: e.type,
      ...(e.subtypes ? { subtypes: e.subtypes } : {}),
      host: e.host,
      ...(first && e.addresses ? { addresses: e.addresses } : {}),
      port: e.port,
      txt: e.txt,
    };
  });
  writeFileSync(file, JSON.stringify({ services }, null, 1));
  return file;
}

/** A label in zone-file form: every byte but letters, digits, '-' and '_' as \DDD. */
function zoneLabel(label: string): string {
  let out = "";
  for (const b of Buffer.from(label, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `\\${String(b).padStart(3, "0")}`;
  }
  return out;
}

const zoneName = (name: Labels) => `${name.map(zoneLabel).join(".")}.`;

/** The zone file for knotd: `soa` as ringdns serves it, the records of `data`, TTL 30 as ringdns's. */
export function writeZoneFile(dir: string, soa: { serial: number; minimum: number }): string {
  const lines = [
    `$TTL 30`,
    `${zoneName(ZONE)} SOA ${zoneName(ZONE)} ${zoneName(["hostmaster", ...ZONE])} ${soa.serial} 3600 600 86400 ${soa.minimum}`,
  ];
  const hostsDone = new Set<string>();
  lines.push(`${zoneName(ZONE)} NS ${zoneName(NS_NAME)}`);
  const types = [...new Set(ENTRIES.map((e) => e.type))];
  for (const t of types)
    lines.push(`${zoneName(under("_services", "_dns-sd", "_udp"))} PTR ${zoneName(under(...typeLabels(t)))}`);
  for (const e of ENTRIES) {
    const inst = zoneName(under(e.instance, ...typeLabels(e.type)));
    lines.push(`${zoneName(under(...typeLabels(e.type)))} PTR ${inst}`);
    for (const s of e.subtypes ?? []) lines.push(`${zoneName(under(s, "_sub", ...typeLabels(e.type)))} PTR ${inst}`);
    lines.push(`${inst} SRV 0 1 ${e.port} ${zoneName(under(e.host))}`);
    lines.push(
      `${inst} TXT ${e.txt.map((s) => `"${[...Buffer.from(s, "utf8")].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, "0")}`)).join("")}"`).join(" ")}`,
    );
    if (e.addresses && !hostsDone.has(e.host)) {
      hostsDone.add(e.host);
      for (const a of e.addresses) lines.push(`${zoneName(under(e.host))} ${a.includes(":") ? "AAAA" : "A"} ${a}`);
    }
  }
  const file = join(dir, "svc.example.zone");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}
