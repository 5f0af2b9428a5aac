// The DNS UPDATE that registers or removes a service instance: what the
// client library sends and what the HTTP API's POST and DELETE become, so
// both go through the same RFC 2136 core. Pure: a description in, ops out.
import { instanceName, parseServiceType, parseSubtype, subtypeName, typeName, type Labels } from "../names.js";
import { Type } from "../wire/constants.js";
import type { RData } from "../wire/message.js";
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
