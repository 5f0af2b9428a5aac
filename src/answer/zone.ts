// A served zone as a standard secondary copies it (AXFR, RFC 5936; IXFR,
// RFC 1995): every record a query could be answered with, each owner name
// once, apart from the `_hash` names. Those are computed per key from a ring
// (any of 2^128 names answers), so they cannot be listed; a secondary holding
// the zone has the ring's members (the browse PTRs and SRVs) and clients can
// pick owners themselves (README "Hidden primary").
//
// Pure: the registry is read synchronously, once, into a snapshot of record
// references (registrations are immutable objects, replaced on change), and
// the records are made from the snapshot as the transfer sends them; a zone
// of 100,000 registrations costs one array of references up front, not its
// records.
import {
  hostName,
  instanceName,
  labelsEqual,
  lowerAscii,
  servicesEnumName,
  subtypeName,
  typeName,
  type Labels,
  type ServiceType,
} from "../names.js";
import { domainKey, type Registry } from "../registry/registry.js";
import type { Host, Instance } from "../registry/types.js";
import { Type } from "../wire/constants.js";
import { encodeRdata, type ResourceRecord } from "../wire/message.js";
import type { AnswerOptions, ZoneNs } from "./answer.js";

export interface TransferOptions {
  /** Transfer instances and hosts learned from the LAN by mDNS (unauthenticated): off unless the operator asks (--transfer-learned). */
  learned: boolean;
}

/** What one zone held at one serial: the references its records are made from. */
export interface ZoneSnapshot {
  readonly zone: Labels;
  readonly serial: number;
  readonly soa: ResourceRecord;
  readonly types: readonly { type: ServiceType; instances: readonly Instance[] }[];
  readonly hosts: readonly Host[];
  readonly apex: readonly ResourceRecord[];
}

/** May a registration be transferred? mDNS-learned ones only when the operator said so. */
export function transferable(r: Instance | Host, t: TransferOptions): boolean {
  return t.learned || r.source !== "mdns";
}

/** The zone's SOA at `serial`: what queries (answer.ts) and transfers send. */
export function zoneSoa(zone: Labels, serial: number, options: Pick<AnswerOptions, "negativeTtl">): ResourceRecord {
  const min = options.negativeTtl;
  return {
    name: zone,
    ttl: min,
    data: {
      type: Type.SOA,
      soa: {
        mname: zone,
        rname: ["hostmaster", ...zone],
        serial,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: min,
      },
    },
  };
}

/** Read `zone` from the registry now, synchronously: one consistent view whatever changes while it is sent. */
export function zoneSnapshot(
  registry: Registry,
  options: AnswerOptions,
  zone: Labels,
  t: TransferOptions,
): ZoneSnapshot {
  const scope = domainKey(zone);
  const types: { type: ServiceType; instances: Instance[] }[] = [];
  for (const type of registry.serviceTypes(scope)) {
    const instances: Instance[] = [];
    for (const i of registry.instancesHeld(type, scope)?.values() ?? []) if (transferable(i, t)) instances.push(i);
    if (instances.length > 0) types.push({ type, instances });
  }
  const hosts = registry.allHosts(scope).filter((h) => transferable(h, t));
  const serial = registry.serial();
  return { zone, serial, soa: zoneSoa(zone, serial, options), types, hosts, apex: apexRecords(zone, options) };
}

/** NS at the apex (--zone-ns), and the DNS Push SRV on that name server when DNS Push is on. */
export function apexRecords(zone: Labels, options: AnswerOptions): ResourceRecord[] {
  const ns = zoneNameServer(zone, options.zoneNs)?.name;
  if (!ns) return [];
  const out: ResourceRecord[] = [{ name: zone, ttl: options.ttl, data: { type: Type.NS, target: ns } }];
  if (options.pushPort !== undefined)
    out.push({
      name: ["_dns-push-tls", "_tcp", ...zone],
      ttl: options.ttl,
      data: { type: Type.SRV, srv: { priority: 0, weight: 0, port: options.pushPort, target: ns } },
    });
  return out;
}

/** The name server of `zone`'s apex (see AnswerOptions.zoneNs), and its host label when it is a host of the zone; none in local. */
export function zoneNameServer(zone: Labels, ns: ZoneNs | undefined): { name: Labels; host?: string } | undefined {
  if (!ns || (zone.length === 1 && lowerAscii(zone[0]!) === "local")) return undefined;
  if ("host" in ns) return { name: [ns.host, ...zone], host: ns.host };
  const under = ns.name.length === zone.length + 1 && labelsEqual(ns.name.slice(1), zone);
  return under ? { name: ns.name, host: ns.name[0]! } : { name: ns.name };
}

/**
 * Every record of the snapshot but the SOA, made as they are taken: the apex,
 * `_services._dns-sd._udp` PTRs, then per type its PTRs, subtype PTRs, SRV and
 * TXT of each instance, then the hosts' addresses.
 */
export function* zoneRecords(s: ZoneSnapshot, ttl: number): Generator<ResourceRecord> {
  yield* s.apex;
  for (const { type } of s.types) yield servicesPtr(s.zone, type, ttl);
  for (const { instances } of s.types) for (const i of instances) yield* instanceRecords(s.zone, i, ttl);
  for (const h of s.hosts) yield* hostRecords(s.zone, h, ttl);
}

/** `_services._dns-sd._udp.<zone>` PTR to a type (RFC 6763 §9). */
export function servicesPtr(zone: Labels, type: ServiceType, ttl: number): ResourceRecord {
  return { name: servicesEnumName(zone), ttl, data: { type: Type.PTR, target: typeName(type, zone) } };
}

/** An instance's records in `zone`: the browse PTR, a PTR per subtype, its SRV and TXT. */
export function instanceRecords(zone: Labels, i: Instance, ttl: number): ResourceRecord[] {
  const name = instanceName(i.type, i.name, zone);
  const out: ResourceRecord[] = [{ name: typeName(i.type, zone), ttl, data: { type: Type.PTR, target: name } }];
  for (const sub of i.subtypes)
    out.push({ name: subtypeName(i.type, sub, zone), ttl, data: { type: Type.PTR, target: name } });
  out.push(
    {
      name,
      ttl,
      data: {
        type: Type.SRV,
        srv: { priority: i.priority, weight: i.weight, port: i.port, target: hostName(i.host, zone) },
      },
    },
    { name, ttl, data: { type: Type.TXT, strings: i.txt } },
  );
  return out;
}

/** A host's A and AAAA records in `zone`. */
export function hostRecords(zone: Labels, h: Host, ttl: number): ResourceRecord[] {
  const name = [h.name, ...zone];
  return h.addresses.map((address) =>
    address.includes(":")
      ? { name, ttl, data: { type: Type.AAAA, address } }
      : { name, ttl, data: { type: Type.A, address } },
  );
}

/** One record's identity: owner (case-folded), type and RDATA; TTLs and name case aside. */
export function recordKey(rr: ResourceRecord): string {
  const owner = rr.name.map(lowerAscii).join("\u0000");
  const rdata =
    rr.data.type === Type.PTR || rr.data.type === Type.NS
      ? rr.data.target.map(lowerAscii).join("\u0000")
      : encodeRdata(rr.data).toString("base64");
  return `${owner}/${rr.data.type}/${rdata}`;
}

/** What turns `before` into `after`: records only in one of them, each once (RFC 1995 deletions, then additions). */
export function recordDiff(
  before: readonly ResourceRecord[],
  after: readonly ResourceRecord[],
): { removed: ResourceRecord[]; added: ResourceRecord[] } {
  const was = new Map(before.map((r) => [recordKey(r), r]));
  const now = new Map(after.map((r) => [recordKey(r), r]));
  return {
    removed: [...was].filter(([k]) => !now.has(k)).map(([, r]) => r),
    added: [...now].filter(([k]) => !was.has(k)).map(([, r]) => r),
  };
}

/** Is `type` transferred in `scope` by a registration other than instance `except` (lower-cased name)? */
export function typeHasOthers(
  registry: Registry,
  type: ServiceType,
  scope: string,
  except: string,
  t: TransferOptions,
): boolean {
  for (const [id, i] of registry.instancesHeld(type, scope) ?? []) if (id !== except && transferable(i, t)) return true;
  return false;
}
