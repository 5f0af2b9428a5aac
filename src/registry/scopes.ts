// Where a registration lives: its store key, and which record answers for a
// name in a served domain. One rule, used by the registry, by the writes
// planned against it and by the stores' keys:
//
// - a registration made by UPDATE (or the HTTP API) belongs to the domain it
//   was registered in: `instance@<domain>/<type>/<id>`, `host@<domain>/<name>`;
// - the services file's entries, mDNS-learned ones and UPDATE registrations
//   stored before domains were recorded have no domain in their key
//   (`instance/<type>/<id>`, `host/<name>`): served under every domain
//   (mDNS-learned: local. only, see `servedDomain`);
// - in a domain, the record registered there wins over one served everywhere.
import { formatName, formatServiceType, lowerAscii, type Labels, type ServiceType } from "../names.js";
import { servedDomain, type Host, type Instance } from "./types.js";

export function instanceId(name: string): string {
  return lowerAscii(name);
}

/** A served domain as registrations name it: presentation form, ASCII lower-case ("a.example."). */
export function domainKey(domain: Labels): string {
  let k = domainKeys.get(domain);
  if (k === undefined) domainKeys.set(domain, (k = lowerAscii(formatName(domain))));
  return k;
}
/** The served domains' label arrays are the same objects query after query: their keys are worked out once. */
const domainKeys = new WeakMap<Labels, string>();

const scopePart = (domain: string | undefined) => (domain === undefined ? "" : `@${encodeURIComponent(domain)}`);

/** A store key is a group (type and domain, or domain) followed by an id (the name, lower-cased); see records.ts. */
export function instanceGroup(type: ServiceType, domain?: string): string {
  return `instance${scopePart(domain)}/${formatServiceType(type)}/`;
}

/** What every instance key of `domain` starts with. */
export function instancesOfDomain(domain: string): string {
  return `instance${scopePart(domain)}/`;
}

export function hostGroup(domain?: string): string {
  if (domain === undefined) return "host/";
  let g = hostGroups.get(domain);
  if (g === undefined) {
    if (hostGroups.size >= 1000) hostGroups.clear(); // domains are few; a bound all the same
    hostGroups.set(domain, (g = `host${scopePart(domain)}/`));
  }
  return g;
}
/** A host is looked up in its domain's group on every address query: the group's name is made once. */
const hostGroups = new Map<string, string>();

export function instanceKey(type: ServiceType, name: string, domain?: string): string {
  return instanceGroup(type, domain) + instanceId(name);
}

export function hostKey(name: string, domain?: string): string {
  return hostGroup(domain) + lowerAscii(name);
}

/** Where an instance key's id starts: after its type (no domain part and no service type holds a "/"). */
export function instanceIdAt(key: string): number {
  const at = key.indexOf("/", key.indexOf("/") + 1);
  return at < 0 ? -1 : at + 1;
}

/** Where a host key's name starts. */
export function hostIdAt(key: string): number {
  const at = key.indexOf("/");
  return at < 0 ? -1 : at + 1;
}

/** An SRP claim's store key: `claim/` and the store key of the name it claims. */
export const claimKey = (record: string): string => `claim/${record}`;

export const instanceStoreKey = (i: Instance): string => instanceKey(i.type, i.name, i.domain);
export const hostStoreKey = (h: Host): string => hostKey(h.name, h.domain);

/** Is `r` answered in `domain` (its own, or one served everywhere)? */
export const servedIn = (r: Instance | Host, domain: string): boolean => {
  const d = servedDomain(r);
  return d === undefined || d === domain;
};

/** The instance answering for `name` of `type` in `domain`, given a lookup of records by store key. */
export function slotInstance(
  record: (key: string) => Instance | undefined,
  domain: string,
  type: ServiceType,
  name: string,
): Instance | undefined {
  const own = record(instanceKey(type, name, domain));
  if (own) return own;
  const shared = record(instanceKey(type, name));
  return shared && servedIn(shared, domain) ? shared : undefined;
}

/** The host answering for `name` in `domain`. */
export function slotHost(record: (key: string) => Host | undefined, domain: string, name: string): Host | undefined {
  const own = record(hostKey(name, domain));
  if (own) return own;
  const shared = record(hostKey(name));
  return shared && servedIn(shared, domain) ? shared : undefined;
}
