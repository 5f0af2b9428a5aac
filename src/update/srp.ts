// Service Registration Protocol (RFC 9665) as pure functions: is a SIG(0)
// signed UPDATE an SRP update (§3.3.1, §3.3.2), and what it does to the
// registry (first come, first served names, §3.3.3; leases and removal,
// §3.2.5.5 and §5.1). The signature is checked by the caller, between the
// two: structure first, cryptography after, the registry last.
import {
  formatName,
  labelsEqual,
  lowerAscii,
  nameKey,
  nameProblem,
  parseQueryName,
  type Labels,
  type ServiceType,
} from "../names.js";
import { domainKey, hostKey, instanceKey, instancesOfDomain, slotHost, slotInstance } from "../registry/scopes.js";
import type { RegistryOp, RegistryView } from "../registry/registry.js";
import { whoOwns, type Host, type Instance, type Owner } from "../registry/types.js";
import { Class, Rcode, Type, typeName as rrTypeName } from "../wire/constants.js";
import type { DecodedData } from "../wire/decode.js";
import { encodeKeyRdata, keyId, keyTag, sameKey, type KeyData } from "../wire/sig0.js";
import type { UpdateMessage, UpdateRecord } from "../wire/update.js";

export interface SrpService {
  type: ServiceType;
  /** Instance label as sent. */
  instance: string;
  /** Subtype labels (lower-case): the instance's whole set (§3.3.4). */
  subtypes: string[];
  priority: number;
  weight: number;
  port: number;
  txt: Buffer[];
}

export interface SrpUpdate {
  zone: Labels;
  /** Host label as sent. */
  host: string;
  key: KeyData;
  addresses: string[];
  /** Services registered (or renewed) by this update. */
  services: SrpService[];
  /** Services this update removes (a Service Description with only its delete). */
  removals: { type: ServiceType; instance: string }[];
  /** Undefined when the update had no Update Lease option (nsupdate cannot send one): the default is granted. */
  lease?: number;
  /** Undefined when the Update Lease option had only LEASE (4 bytes): KEY-LEASE is then LEASE (RFC 9664 §4.3). */
  keyLease?: number;
}

export type SrpParse = { ok: true; srp: SrpUpdate } | { ok: false; reason: string };

/** Per name: its delete-all, its adds, and the PTRs deleted (the instructions of §3.3.1 are per name). */
interface NameInstructions {
  name: Labels;
  deleteAll: number;
  adds: DecodedData[];
  ptrDeletes: Labels[];
}

const notSrp = (reason: string): SrpParse => ({ ok: false, reason: `not an SRP update: ${reason}` });

/**
 * Classify and validate an UPDATE signed with SIG(0) as RFC 9665 §3.3.1 and
 * §3.3.2 describe an SRP update: one Host Description (delete-all, one KEY,
 * A/AAAA), Service Discovery PTRs added or deleted, Service Descriptions
 * (delete-all, then SRV + TXT and an optional KEY equal to the host's), no
 * prerequisites, the Update Lease option with LEASE ≤ KEY-LEASE. Cheap: no
 * cryptography, no registry.
 */
export function parseSrpUpdate(u: UpdateMessage, domains: readonly Labels[]): SrpParse {
  const zone = domains.find((d) => labelsEqual(d, u.zone.name));
  if (!zone || u.zone.type !== Type.SOA || u.zone.class !== Class.IN)
    return notSrp(`zone ${formatName(u.zone.name)} is not a served domain`);
  // local. is the LAN's (what mDNS learned answers there): SRP clients register in the SRP zone, advertised on the LAN from there
  if (labelsEqual(zone, ["local"]))
    return notSrp(
      "local. is the LAN's own; register in default.service.arpa. (advertised as .local with --mdns-interface)",
    );
  if (u.prerequisites.length > 0) return notSrp("it has prerequisites");
  // RFC 9665 §3.3.2 wants the Update Lease option; BIND's nsupdate signs SIG(0) but cannot send one: such an
  // update is taken with the default leases, as the signature authenticates it all the same
  if (u.lease && u.lease.keyLease !== undefined && u.lease.keyLease < u.lease.lease)
    return notSrp(`KEY-LEASE ${u.lease.keyLease} is shorter than LEASE ${u.lease.lease}`);

  const byName = new Map<string, NameInstructions>();
  for (const rr of u.updates) {
    const k = nameKey(rr.name);
    let n = byName.get(k);
    if (!n) byName.set(k, (n = { name: rr.name, deleteAll: 0, adds: [], ptrDeletes: [] }));
    const problem = instructionOf(rr, n);
    if (problem) return notSrp(problem);
  }

  let host: { name: Labels; label: string; key: KeyData; addresses: string[] } | undefined;
  const descriptions = new Map<string, { type: ServiceType; instance: string; n: NameInstructions }>();
  const listed = new Map<string, string[]>(); // instance name -> subtypes its PTRs add ("" = the type itself)
  const unlisted = new Set<string>(); // instance names whose type PTR is deleted
  for (const n of byName.values()) {
    const p = parseQueryName(n.name, [zone]);
    // the name in words only for a refusal's reason: most updates are accepted
    const shown = () => formatName(n.name);
    if (p?.kind === "host") {
      if (host) return notSrp(`two host descriptions (${formatName(host.name)} and ${shown()})`);
      const keys = n.adds.filter((d) => d.type === Type.KEY);
      if (n.deleteAll !== 1 || keys.length !== 1)
        return notSrp(`the host description of ${shown()} needs one delete of all its RRsets and one KEY`);
      const other = n.adds.find((d) => d.type !== Type.KEY && d.type !== Type.A && d.type !== Type.AAAA);
      if (other) return notSrp(`${rrTypeName(other.type)} at host ${shown()}`);
      const problem = nameProblem(n.name);
      if (problem) return notSrp(`${shown()}: ${problem}`);
      host = {
        name: n.name,
        label: p.host,
        key: (keys[0] as { key: KeyData }).key,
        addresses: n.adds.filter((d) => "address" in d).map((d) => (d as { address: string }).address),
      };
    } else if (p?.kind === "instance") {
      if (n.deleteAll !== 1) return notSrp(`the service description of ${shown()} needs one delete of all its RRsets`);
      const other = n.adds.find((d) => d.type !== Type.SRV && d.type !== Type.TXT && d.type !== Type.KEY);
      if (other) return notSrp(`${rrTypeName(other.type)} at service instance ${shown()}`);
      descriptions.set(nameKey(n.name), { type: p.type, instance: p.instance, n });
    } else if (p?.kind === "type" || p?.kind === "subtype") {
      if (n.deleteAll > 0 || n.adds.some((d) => d.type !== Type.PTR))
        return notSrp(`only PTR records may be added or deleted at ${shown()}`);
      for (const d of n.adds) {
        const target = (d as { target: Labels }).target;
        const t = parseQueryName(target, [zone]);
        if (t?.kind !== "instance" || t.type.service !== p.type.service || t.type.proto !== p.type.proto)
          return notSrp(`PTR at ${shown()} must point to an instance of its type`);
        const k = nameKey(target);
        // appended in place: a copy per PTR made thousands of PTRs to one instance quadratic, before any budget
        const subs = listed.get(k);
        if (subs) subs.push(p.kind === "subtype" ? p.subtype : "");
        else listed.set(k, [p.kind === "subtype" ? p.subtype : ""]);
      }
      // a subtype PTR's delete goes with its instance's; only the type's own matters
      if (p.kind === "type") for (const target of n.ptrDeletes) unlisted.add(nameKey(target));
    } else {
      return notSrp(`${shown()} is not a host, service instance or service type name in ${formatName(zone)}`);
    }
  }
  if (!host) return notSrp("no host description (delete-all, KEY and addresses at the host name)");
  if (!labelsEqual(u.sig0?.signer ?? [], host.name))
    return notSrp(`signed by ${formatName(u.sig0?.signer ?? [])}, not by the host ${formatName(host.name)}`);

  const services: SrpService[] = [];
  const removals: SrpUpdate["removals"] = [];
  for (const [k, d] of descriptions) {
    const shown = () => formatName(d.n.name);
    const srvs = d.n.adds.filter((x) => x.type === Type.SRV) as Extract<DecodedData, { type: typeof Type.SRV }>[];
    const txts = d.n.adds.filter((x) => x.type === Type.TXT) as Extract<DecodedData, { type: typeof Type.TXT }>[];
    const key = d.n.adds.find((x) => x.type === Type.KEY) as { key: KeyData } | undefined;
    if (d.n.adds.filter((x) => x.type === Type.KEY).length > 1) return notSrp(`${shown()} has more than one KEY`);
    if (key && !sameKey(key.key, host.key)) return notSrp(`the KEY of ${shown()} differs from the host's`);
    const subs = listed.get(k);
    if (srvs.length === 0) {
      if (txts.length > 0) return notSrp(`${shown()} has TXT without SRV`);
      if (subs) return notSrp(`${shown()} is listed by a PTR but described as deleted`);
      removals.push({ type: d.type, instance: d.instance });
      continue;
    }
    if (srvs.length > 1) return notSrp(`${shown()} has ${srvs.length} SRV records; an instance has one`);
    if (txts.length !== 1) return notSrp(`${shown()} needs one TXT record (it has ${txts.length})`);
    const srv = srvs[0]!;
    if (!labelsEqual(srv.target, host.name))
      return notSrp(
        `the SRV of ${shown()} points to ${formatName(srv.target)}, not to the host ${formatName(host.name)}`,
      );
    if (!subs?.includes("")) return notSrp(`${shown()} is not listed by a PTR from its service type`);
    if (unlisted.has(k)) return notSrp(`${shown()} is both listed and unlisted`);
    const problem = nameProblem(d.n.name);
    if (problem) return notSrp(`${shown()}: ${problem}`);
    services.push({
      type: d.type,
      instance: d.instance,
      subtypes: [...new Set(subs.filter((s) => s !== "").map(lowerAscii))].sort(),
      priority: srv.priority,
      weight: srv.weight,
      port: srv.port,
      txt: txts[0]!.strings,
    });
  }
  for (const k of listed.keys())
    if (!descriptions.has(k)) return notSrp(`a PTR points to ${k}, which the update does not describe`);
  return {
    ok: true,
    srp: {
      zone,
      host: host.label,
      key: host.key,
      addresses: host.addresses,
      services,
      removals,
      ...(u.lease ? { lease: u.lease.lease } : {}),
      ...(u.lease?.keyLease !== undefined ? { keyLease: u.lease.keyLease } : {}),
    },
  };
}

/** Record `rr` as one of the instructions SRP allows at its name; a problem in words when it is none. */
function instructionOf(rr: UpdateRecord, n: NameInstructions): string | undefined {
  if (rr.class === Class.ANY && rr.type === Type.ANY && rr.rdataLength === 0) {
    n.deleteAll++;
    if (n.deleteAll > 1) return `two deletes of all RRsets at ${formatName(rr.name)}`;
    return undefined;
  }
  if (rr.class === Class.NONE && rr.type === Type.PTR && rr.rdataLength > 0) {
    n.ptrDeletes.push((rr.data as { target: Labels }).target);
    return undefined;
  }
  if (rr.class === Class.IN && rr.rdataLength > 0) {
    if (![Type.PTR, Type.SRV, Type.TXT, Type.KEY, Type.A, Type.AAAA].includes(rr.type as 12))
      return `${rrTypeName(rr.type)} records are not part of an SRP update`;
    n.adds.push(rr.data);
    return undefined;
  }
  return `${rrTypeName(rr.type)} at ${formatName(rr.name)} is neither an add, a delete of all RRsets, nor a PTR delete`;
}

/** Leases as granted (seconds): LEASE 0 stays 0 (removal); KEY-LEASE follows LEASE when the client gave none. */
export interface SrpLeasePolicy {
  min: number;
  max: number;
  keyMax: number;
}

/** LEASE for an SRP update without the Update Lease option (RFC 9665 §5.1 suggests two hours), clamped as any other. */
export const SRP_DEFAULT_LEASE = 7200;

export function grantSrpLeases(
  srp: Pick<SrpUpdate, "lease" | "keyLease">,
  p: SrpLeasePolicy,
): { lease: number; keyLease: number } {
  if (srp.lease === undefined) {
    const lease = Math.min(Math.max(SRP_DEFAULT_LEASE, p.min), p.max);
    return { lease, keyLease: Math.max(p.keyMax, lease) };
  }
  const lease = srp.lease === 0 ? 0 : Math.min(Math.max(srp.lease, p.min), p.max);
  if (srp.keyLease === undefined) return { lease, keyLease: lease };
  const keyLease = srp.keyLease === 0 ? 0 : Math.min(Math.max(srp.keyLease, p.min, lease), Math.max(p.keyMax, lease));
  return { lease, keyLease };
}

export type SrpPlan =
  | { ok: true; ops: RegistryOp[]; registered: string[]; removed: string[] }
  | { ok: false; rcode: typeof Rcode.YXDOMAIN | typeof Rcode.REFUSED; reason: string };

/**
 * What a verified SRP update does to the registry. The host name and every
 * instance name belong to the key that first claimed them until its key lease
 * ends (YXDOMAIN for any other key, nothing changed); a name in use by a
 * registration that is not an SRP key's is not the SRP client's to take either.
 * LEASE 0 removes the host and every instance of its that points at it; the
 * claims stay for KEY-LEASE (and go with KEY-LEASE 0).
 */
export function planSrp(
  srp: SrpUpdate,
  view: RegistryView,
  grant: { lease: number; keyLease: number },
  now: number,
): SrpPlan {
  const domain = domainKey(srp.zone);
  const id = keyId(srp.key);
  const tag = keyTag(encodeKeyRdata(srp.key));
  const owner: Owner = { kind: "srp", key: id };
  const hostLabel = lowerAscii(srp.host);
  const hostRecord = hostKey(hostLabel, domain);
  const instanceRecord = (s: { type: ServiceType; instance: string }) => instanceKey(s.type, s.instance, domain);

  // first come, first served (§3.3.3): the claim, and a registration of another kind at the name
  const taken = (record: string, existing: Instance | Host | undefined, shown: () => string): SrpPlan | undefined => {
    const c = view.claim(record);
    if (c && c.key !== id && c.expiresAt > now)
      return { ok: false, rcode: Rcode.YXDOMAIN, reason: `${shown()} is registered with another key` };
    const o = existing && existing.source !== "mdns" ? whoOwns(existing) : undefined;
    if (o && !(o.kind === "srp" && (o.key === id || !c || c.expiresAt <= now)))
      return {
        ok: false,
        rcode: Rcode.YXDOMAIN,
        reason: `${shown()} is in use by a registration that is not this key's`,
      };
    return undefined;
  };
  const hostShown = () => formatName([srp.host, ...srp.zone]);
  const existingHost = view.hostRecord(hostRecord);
  // what answers at the name in the zone: its own record, else one served everywhere (the services file's), which
  // the SRP record would otherwise shadow there
  const hostRecordOf = (k: string) => view.hostRecord(k);
  const instanceRecordOf = (k: string) => view.instanceRecord(k);
  const hostConflict = taken(hostRecord, slotHost(hostRecordOf, domain, hostLabel), hostShown);
  if (hostConflict) return hostConflict;
  const named = [...srp.services, ...srp.removals];
  for (const s of named) {
    const conflict = taken(
      instanceRecord(s),
      slotInstance(instanceRecordOf, domain, s.type, s.instance),
      () => `${s.instance}.${s.type.service}.${s.type.proto}`,
    );
    if (conflict) return conflict;
  }

  const ops: RegistryOp[] = [];
  const registered: string[] = [];
  const removed: string[] = [];
  const claim = (record: string): RegistryOp =>
    grant.keyLease === 0
      ? { op: "remove-claim", record }
      : { op: "put-claim", claim: { record, key: id, expiresAt: now + grant.keyLease * 1000, tag } };
  const ours = (r: Instance | Host | undefined): boolean => {
    const o = r && whoOwns(r);
    return o?.kind === "srp" && o.key === id;
  };
  const removeInstance = (i: Instance) => {
    ops.push({ op: "remove-instance", type: i.type, name: i.name, domain });
    removed.push(`${i.name}.${i.type.service}.${i.type.proto}`);
  };

  if (grant.lease === 0) {
    // §3.2.5.5.1: the host and every instance of this key that points at it, listed in the update or not
    const inZone = instancesOfDomain(domain);
    for (const record of new Set([...view.claimsOf(id), ...named.map(instanceRecord)])) {
      if (!record.startsWith(inZone)) continue;
      const i = view.instanceRecord(record);
      const itsHost = i !== undefined && i.host.length === 1 && i.host[0] === hostLabel;
      if (i && ours(i) && itsHost) removeInstance(i);
      if (i === undefined || (ours(i) && itsHost)) ops.push(claim(record));
    }
    if (existingHost && ours(existingHost)) ops.push({ op: "remove-host", name: hostLabel, domain });
    ops.push(claim(hostRecord));
    return { ok: true, ops: dedupeClaims(ops), registered, removed };
  }

  if (srp.addresses.length === 0)
    return { ok: false, rcode: Rcode.REFUSED, reason: `host ${hostShown()} has no A or AAAA record` };
  const expiresAt = now + grant.lease * 1000;
  const host: Host = {
    name: hostLabel,
    addresses: [...new Set(srp.addresses)],
    source: "srp",
    expiresAt,
    owner,
    domain,
  };
  ops.push({ op: "put-host", host }, claim(hostRecord));
  for (const s of srp.removals) {
    const i = view.instanceRecord(instanceRecord(s));
    if (i && ours(i)) removeInstance(i);
    ops.push(claim(instanceRecord(s)));
  }
  for (const s of srp.services) {
    const existing = view.instanceRecord(instanceRecord(s));
    const instance: Instance = {
      name: existing && ours(existing) ? existing.name : s.instance,
      type: s.type,
      subtypes: s.subtypes,
      host: [hostLabel],
      port: s.port,
      priority: s.priority,
      weight: s.weight,
      txt: s.txt.filter((t) => t.length > 0),
      source: "srp",
      expiresAt,
      owner,
      domain,
    };
    ops.push({ op: "put-instance", instance }, claim(instanceRecord(s)));
    registered.push(`${s.instance}.${s.type.service}.${s.type.proto}`);
  }
  return { ok: true, ops, registered, removed };
}

/** One claim op per record (a removal may list an instance twice: by the key's claims and by the update). */
function dedupeClaims(ops: RegistryOp[]): RegistryOp[] {
  const seen = new Set<string>();
  return ops.filter((o) => {
    if (o.op !== "put-claim" && o.op !== "remove-claim") return true;
    const r = o.op === "put-claim" ? o.claim.record : o.record;
    if (seen.has(r)) return false;
    seen.add(r);
    return true;
  });
}
