// The DNS UPDATE that registers or removes a service instance: what the
// client library sends and what the HTTP API's POST and DELETE become, so
// both go through the same RFC 2136 core. Pure: a description in, ops out.
import { instanceName, parseServiceType, parseSubtype, subtypeName, typeName, type Labels } from "../names.js";
import { Type } from "../wire/constants.js";
import type { RData } from "../wire/message.js";
import type { KeyData } from "../wire/sig0.js";
import type { UpdateOp } from "../wire/update.js";

export interface ServiceInstance {
  /** Instance label: any UTF-8, max 63 bytes. */
  instance: string;
  /** Service type, e.g. "_cache._tcp". */
  type: string;
  subtypes?: string[];
  /** Host label (served as <host>.<domain>); its addresses are registered when given. */
  host: string;
  addresses?: string[];
  port: number;
  priority?: number;
  /** SRV weight: the instance's share of the ring (0 counts as 1). */
  weight?: number;
  /** TXT as a mapping (true for a boolean key) or raw "key=value" strings. */
  txt?: Record<string, string | number | true> | string[];
}

function txtStrings(txt: ServiceInstance["txt"]): Buffer[] {
  if (!txt) return [];
  if (Array.isArray(txt)) return txt.map((t) => Buffer.from(t));
  return Object.entries(txt).map(([k, v]) => Buffer.from(v === true ? k : `${k}=${v}`));
}

/**
 * The UPDATE that registers `s` (the shape Service Registration Protocol,
 * RFC 9665, uses): replace the instance's SRV/TXT, list it under its type and
 * subtypes, and replace the host's addresses when given.
 */
export function registrationUpdate(s: ServiceInstance, domain: Labels): UpdateOp[] {
  const type = parseServiceType(s.type);
  const name = instanceName(type, s.instance, domain);
  const host = [s.host, ...domain];
  const ops: UpdateOp[] = [
    { op: "delete-name", name },
    { op: "add", name: typeName(type, domain), ttl: 120, data: { type: Type.PTR, target: name } },
    ...(s.subtypes ?? []).map(
      (sub): UpdateOp => ({
        op: "add",
        name: subtypeName(type, parseSubtype(sub), domain),
        ttl: 120,
        data: { type: Type.PTR, target: name },
      }),
    ),
    {
      op: "add",
      name,
      ttl: 120,
      data: { type: Type.SRV, srv: { priority: s.priority ?? 0, weight: s.weight ?? 1, port: s.port, target: host } },
    },
    { op: "add", name, ttl: 120, data: { type: Type.TXT, strings: txtStrings(s.txt) } },
  ];
  if (s.addresses && s.addresses.length > 0) {
    ops.push({ op: "delete-rrset", name: host, type: Type.A }, { op: "delete-rrset", name: host, type: Type.AAAA });
    for (const address of s.addresses) {
      const data: RData = address.includes(":") ? { type: Type.AAAA, address } : { type: Type.A, address };
      ops.push({ op: "add", name: host, ttl: 120, data });
    }
  }
  return ops;
}

/** The UPDATE that removes an instance (its subtype listings go with it). */
export function deregistrationUpdate(type: string, instance: string, domain: Labels): UpdateOp[] {
  const t = parseServiceType(type);
  const name = instanceName(t, instance, domain);
  return [
    { op: "delete-name", name },
    { op: "delete-rr", name: typeName(t, domain), data: { type: Type.PTR, target: name } },
  ];
}

/** A host as an SRP client describes itself (RFC 9665 §3.3.1.3): its label, its own public key, its addresses. */
export interface SrpHostDescription {
  host: string;
  key: KeyData;
  addresses: readonly string[];
}

/**
 * The instructions of an SRP update (RFC 9665 §3.3.1): the host description
 * (delete all, KEY, addresses), then per service its discovery PTRs (type
 * and subtypes) and its description (delete all, SRV, TXT). `removed`
 * instances get their delete and the PTR delete. Signed with SIG(0) by the
 * caller; sent with the Update Lease option.
 */
export function srpUpdate(
  h: SrpHostDescription,
  services: readonly Omit<ServiceInstance, "host" | "addresses">[],
  domain: Labels,
  removed: readonly { type: string; instance: string }[] = [],
): UpdateOp[] {
  const host = [h.host, ...domain];
  const ops: UpdateOp[] = [
    { op: "delete-name", name: host },
    { op: "add", name: host, ttl: 120, data: { type: Type.KEY, key: h.key } },
    ...h.addresses.map(
      (address): UpdateOp => ({
        op: "add",
        name: host,
        ttl: 120,
        data: address.includes(":") ? { type: Type.AAAA, address } : { type: Type.A, address },
      }),
    ),
  ];
  for (const s of services) {
    const t = parseServiceType(s.type);
    const name = instanceName(t, s.instance, domain);
    const ptr = (at: Labels): UpdateOp => ({ op: "add", name: at, ttl: 120, data: { type: Type.PTR, target: name } });
    ops.push(
      ptr(typeName(t, domain)),
      ...(s.subtypes ?? []).map((sub) => ptr(subtypeName(t, parseSubtype(sub), domain))),
      { op: "delete-name", name },
      {
        op: "add",
        name,
        ttl: 120,
        data: { type: Type.SRV, srv: { priority: s.priority ?? 0, weight: s.weight ?? 1, port: s.port, target: host } },
      },
      { op: "add", name, ttl: 120, data: { type: Type.TXT, strings: txtStrings(s.txt) } },
    );
  }
  for (const r of removed) {
    const t = parseServiceType(r.type);
    const name = instanceName(t, r.instance, domain);
    ops.push(
      { op: "delete-rr", name: typeName(t, domain), data: { type: Type.PTR, target: name } },
      { op: "delete-name", name },
    );
  }
  return ops;
}
