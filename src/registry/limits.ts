// Bounds on what the registry holds, whoever writes it: DNS UPDATE and the
// HTTP API (all or nothing, REFUSED with the reason), the mDNS learner (what
// would go over is not learned) and the services file (a file over a limit is
// not loaded). Hosts count like instances: each limit on registrations bounds
// the instances and, separately, the hosts (a registration is usually one of
// each), so address records cannot go around them. Rings cost memory by
// weight: 16 points (--ring-points) of 8 bytes per unit, so their weights are
// bounded per ring and all together.
import { formatServiceType, type ServiceType } from "../names.js";
import { DEFAULT_POINTS_PER_WEIGHT, ringWeight } from "../ring/ring.js";
import type { RegistryOp, RegistryView } from "./pending-view.js";
import { hostKey, hostStoreKey, instanceKey, instanceStoreKey } from "./scopes.js";
import { countPerKey, LOCAL_DOMAIN, owningKey, servedDomain, type Host, type Instance } from "./types.js";

export interface RegistrationLimits {
  /** Instances in total, and hosts in total. */
  maxRegistrations: number;
  /** Instances, and hosts, one TSIG key may own. */
  maxPerKey: number;
  /** Instances of one type in one domain (one ring). */
  maxInstancesPerType: number;
  /** The weights of one ring together (0 counts as 1). */
  maxRingWeight?: number;
  /** The weights of every ring together: what all rings' points cost. */
  maxTotalRingWeight?: number;
  /** A host's A and AAAA records together. */
  maxAddressesPerHost?: number;
  /** Subtypes one instance is listed under. */
  maxSubtypes?: number;
  /** An instance's TXT strings, bytes on the wire (each string plus its length byte). */
  maxTxtBytes: number;
  /** Counts a limit that was hit. */
  hit?: (limit: string) => void;
}

/** Ring weights allowed at the default 16 points per unit; fewer or more points per unit scale them (ringWeightLimits). */
const RING_WEIGHT_AT_16 = 1_048_576;
const TOTAL_RING_WEIGHT_AT_16 = 4_194_304;

export const DEFAULT_LIMITS = {
  maxRegistrations: 100_000,
  maxPerKey: 10_000,
  maxInstancesPerType: 100_000,
  maxRingWeight: RING_WEIGHT_AT_16,
  maxTotalRingWeight: TOTAL_RING_WEIGHT_AT_16,
  maxAddressesPerHost: 16,
  maxSubtypes: 32,
  maxTxtBytes: 4000,
  updateRate: 100,
};

/**
 * The default ring weight limits for `pointsPerWeight` points per unit: the
 * same memory (one ring ≤ 16 M points, 128 MiB; all ≤ 64 M points, 512 MiB)
 * whatever --ring-points is.
 */
export function ringWeightLimits(pointsPerWeight: number): { maxRingWeight: number; maxTotalRingWeight: number } {
  const scale = DEFAULT_POINTS_PER_WEIGHT / pointsPerWeight;
  return {
    maxRingWeight: Math.max(1, Math.floor(RING_WEIGHT_AT_16 * scale)),
    maxTotalRingWeight: Math.max(1, Math.floor(TOTAL_RING_WEIGHT_AT_16 * scale)),
  };
}

/** A limit one record goes over by itself (TXT size, subtypes, addresses), in words; undefined when none. */
function recordOverLimit(
  o: RegistryOp,
  instanceRecord: (key: string) => Instance | undefined,
  l: RegistrationLimits,
): [string, string] | undefined {
  if (o.op === "put-instance") {
    const txtBytes = o.instance.txt.reduce((n, t) => n + 1 + t.length, 0);
    if (txtBytes > l.maxTxtBytes)
      return [
        "txt-bytes",
        `TXT of ${o.instance.name} is ${txtBytes} bytes; at most ${l.maxTxtBytes} (--max-txt-bytes)`,
      ];
    const maxSubtypes = l.maxSubtypes ?? DEFAULT_LIMITS.maxSubtypes;
    // only growth is refused: an instance stored with more (before the limit was lowered) still renews
    const had = instanceRecord(instanceStoreKey(o.instance))?.subtypes.length ?? 0;
    if (o.instance.subtypes.length > maxSubtypes && o.instance.subtypes.length > had)
      return [
        "subtypes",
        `${o.instance.name} would be listed under ${o.instance.subtypes.length} subtypes; at most ${maxSubtypes} (--max-subtypes)`,
      ];
  } else if (o.op === "put-host") {
    const maxAddresses = l.maxAddressesPerHost ?? DEFAULT_LIMITS.maxAddressesPerHost;
    if (o.host.addresses.length > maxAddresses)
      return [
        "addresses-per-host",
        `host ${o.host.name} would have ${o.host.addresses.length} addresses; at most ${maxAddresses} (--max-addresses-per-host)`,
      ];
  }
  return undefined;
}

const ringOverLimit = (
  type: ServiceType,
  domain: string,
  weight: number,
  l: RegistrationLimits,
): [string, string] | undefined =>
  l.maxRingWeight !== undefined && weight > l.maxRingWeight
    ? [
        "ring-weight",
        `the ring of ${formatServiceType(type)} in ${domain} would weigh ${weight} (SRV weights, 0 counting as 1); at most ${l.maxRingWeight} (--max-ring-weight)`,
      ]
    : undefined;

const totalOverLimit = (weight: number, l: RegistrationLimits): [string, string] | undefined =>
  l.maxTotalRingWeight !== undefined && weight > l.maxTotalRingWeight
    ? [
        "total-ring-weight",
        `the rings would weigh ${weight} together (SRV weights, 0 counting as 1); at most ${l.maxTotalRingWeight} (--max-total-ring-weight)`,
      ]
    : undefined;

/** `r`, unless the mDNS learner holds it: authenticated writers' limits do not count what the LAN announced. */
const authored = <R extends Instance | Host>(r: R | undefined): R | undefined => (r?.source === "mdns" ? undefined : r);

/** The ring a record is on, for the limits: its own domain's (a record served everywhere counts in local.). */
function ringOf(r: Instance): { key: string; type: ServiceType; domain: string } {
  const domain = servedDomain(r) ?? LOCAL_DOMAIN;
  return { key: `${domain} ${formatServiceType(r.type)}`, type: r.type, domain };
}

/**
 * What over a limit these ops, taken together, would go, in words; undefined
 * when within them all. Only what grows is held to a limit (renewals always
 * pass, and so does a change that shrinks what is already over a lowered limit).
 * For authenticated writers (UPDATE, HTTP): what the mDNS learner holds is not
 * counted, so anyone on the LAN cannot use up their room; the learner is held
 * to every limit with everything counted (`admit`), so the two together stay
 * within twice the limits.
 */
export function overLimit(
  ops: readonly RegistryOp[],
  registry: RegistryView,
  l: RegistrationLimits,
): [string, string] | undefined {
  const instances = new Map<string, Instance | undefined>();
  const hosts = new Map<string, Host | undefined>();
  for (const o of ops) {
    const over = recordOverLimit(o, (k) => registry.instanceRecord(k), l);
    if (over) return over;
    if (o.op === "put-instance") instances.set(instanceStoreKey(o.instance), o.instance);
    else if (o.op === "remove-instance") instances.set(instanceKey(o.type, o.name, o.domain), undefined);
    else if (o.op === "put-host") hosts.set(hostStoreKey(o.host), o.host);
    else if (o.op === "remove-host") hosts.set(hostKey(o.name, o.domain), undefined);
  }
  let moreInstances = 0;
  let moreHosts = 0;
  let moreWeight = 0;
  const instancesByKey = new Map<string, number>();
  const hostsByKey = new Map<string, number>();
  const perRing = new Map<string, { type: ServiceType; domain: string; n: number; weight: number }>();
  for (const [key, after] of instances) {
    const before = authored(registry.instanceRecord(key));
    if (!before && !after) continue; // a learned record an UPDATE takes over: not counted either way
    const d = Number(after !== undefined) - Number(before !== undefined);
    moreInstances += d;
    countPerKey(instancesByKey, owningKey(before), -1);
    countPerKey(instancesByKey, owningKey(after), 1);
    const ring = ringOf((after ?? before)!);
    const dw = (after ? ringWeight(after.weight) : 0) - (before ? ringWeight(before.weight) : 0);
    moreWeight += dw;
    const had = perRing.get(ring.key);
    perRing.set(ring.key, {
      type: ring.type,
      domain: ring.domain,
      n: (had?.n ?? 0) + d,
      weight: (had?.weight ?? 0) + dw,
    });
  }
  for (const [key, after] of hosts) {
    const before = authored(registry.hostRecord(key));
    moreHosts += Number(after !== undefined) - Number(before !== undefined);
    countPerKey(hostsByKey, owningKey(before), -1);
    countPerKey(hostsByKey, owningKey(after), 1);
  }
  for (const [k, n] of instancesByKey) {
    if (n > 0 && registry.registrationsByKey(k) + n > l.maxPerKey)
      return [
        "registrations-per-key",
        `key ${k} has registered ${registry.registrationsByKey(k)} instances; at most ${l.maxPerKey} (--max-registrations-per-key)`,
      ];
  }
  for (const [k, n] of hostsByKey) {
    if (n > 0 && registry.hostsByKey(k) + n > l.maxPerKey)
      return [
        "registrations-per-key",
        `key ${k} has registered ${registry.hostsByKey(k)} hosts; at most ${l.maxPerKey} (--max-registrations-per-key counts hosts too)`,
      ];
  }
  for (const { type, domain, n, weight } of perRing.values()) {
    const learned = registry.learned(type, domain);
    const have = registry.instanceCount(type, domain) - learned.instances;
    if (n > 0 && have + n > l.maxInstancesPerType)
      return [
        "instances-per-type",
        `${formatServiceType(type)} has ${have} instances; at most ${l.maxInstancesPerType} (--max-instances-per-type) in ${domain}`,
      ];
    const over =
      weight > 0
        ? ringOverLimit(type, domain, registry.ringWeight(type, domain) - learned.weight + weight, l)
        : undefined;
    if (over) return over;
  }
  const learned = registry.learned();
  const overTotal =
    moreWeight > 0 ? totalOverLimit(registry.totalRingWeight() - learned.weight + moreWeight, l) : undefined;
  if (overTotal) return overTotal;
  const instanceTotal = registry.instanceTotal() - learned.instances;
  const hostTotal = registry.hostTotal() - learned.hosts;
  if (moreInstances > 0 && instanceTotal + moreInstances > l.maxRegistrations)
    return [
      "registrations",
      `${instanceTotal} instances are registered; at most ${l.maxRegistrations} (--max-registrations)`,
    ];
  if (moreHosts > 0 && hostTotal + moreHosts > l.maxRegistrations)
    return [
      "registrations",
      `${hostTotal} hosts are registered; at most ${l.maxRegistrations} (--max-registrations counts hosts too)`,
    ];
  return undefined;
}

export interface Refusal {
  op: RegistryOp;
  limit: string;
  reason: string;
}

/**
 * The ops that fit the limits, taken one at a time, and those left out:
 * for writers that take what fits (the mDNS learner). Removals go first, so
 * what they free is there for the puts. O(ops): running counts, no view copies.
 */
export function admit(
  ops: readonly RegistryOp[],
  view: RegistryView,
  l: RegistrationLimits,
): { admitted: RegistryOp[]; refused: Refusal[] } {
  const planned = new Map<string, Instance | Host | undefined>();
  const instanceRecord = (key: string) =>
    planned.has(key) ? (planned.get(key) as Instance | undefined) : view.instanceRecord(key);
  const hostRecord = (key: string) =>
    planned.has(key) ? (planned.get(key) as Host | undefined) : view.hostRecord(key);
  const rings = new Map<string, { n: number; weight: number }>();
  const ringCount = (r: Instance) => {
    const ring = ringOf(r);
    let c = rings.get(ring.key);
    if (!c)
      rings.set(
        ring.key,
        (c = { n: view.instanceCount(ring.type, ring.domain), weight: view.ringWeight(ring.type, ring.domain) }),
      );
    return c;
  };
  let instances = view.instanceTotal();
  let hosts = view.hostTotal();
  let totalWeight = view.totalRingWeight();
  const admitted = new Set<RegistryOp>();
  const refused: Refusal[] = [];

  for (const o of ops) {
    if (o.op === "remove-instance") {
      const key = instanceKey(o.type, o.name, o.domain);
      const before = instanceRecord(key);
      if (before) {
        const c = ringCount(before);
        c.n--;
        c.weight -= ringWeight(before.weight);
        totalWeight -= ringWeight(before.weight);
        instances--;
      }
      planned.set(key, undefined);
      admitted.add(o);
    } else if (o.op === "remove-host") {
      const key = hostKey(o.name, o.domain);
      if (hostRecord(key)) hosts--;
      planned.set(key, undefined);
      admitted.add(o);
    }
  }
  for (const o of ops) {
    if (o.op !== "put-instance" && o.op !== "put-host") continue;
    const refuse = ([limit, reason]: [string, string]) => {
      refused.push({ op: o, limit, reason });
      l.hit?.(limit);
    };
    const over = recordOverLimit(o, instanceRecord, l);
    if (over) {
      refuse(over);
      continue;
    }
    if (o.op === "put-host") {
      const key = hostStoreKey(o.host);
      const grows = hostRecord(key) === undefined;
      if (grows && hosts + 1 > l.maxRegistrations) {
        refuse([
          "registrations",
          `${hosts} hosts are registered; at most ${l.maxRegistrations} (--max-registrations counts hosts too)`,
        ]);
        continue;
      }
      if (grows) hosts++;
      planned.set(key, o.host);
      admitted.add(o);
      continue;
    }
    const key = instanceStoreKey(o.instance);
    const before = instanceRecord(key);
    const c = ringCount(o.instance);
    const dn = before ? 0 : 1;
    const dw = ringWeight(o.instance.weight) - (before ? ringWeight(before.weight) : 0);
    const ring = ringOf(o.instance);
    const over2: [string, string] | undefined =
      dn > 0 && instances + 1 > l.maxRegistrations
        ? [
            "registrations",
            `${instances} instances are registered; at most ${l.maxRegistrations} (--max-registrations)`,
          ]
        : dn > 0 && c.n + 1 > l.maxInstancesPerType
          ? [
              "instances-per-type",
              `${formatServiceType(ring.type)} has ${c.n} instances; at most ${l.maxInstancesPerType} (--max-instances-per-type) in ${ring.domain}`,
            ]
          : dw > 0
            ? (ringOverLimit(ring.type, ring.domain, c.weight + dw, l) ?? totalOverLimit(totalWeight + dw, l))
            : undefined;
    if (over2) {
      refuse(over2);
      continue;
    }
    c.n += dn;
    c.weight += dw;
    totalWeight += dw;
    instances += dn;
    planned.set(key, o.instance);
    admitted.add(o);
  }
  return { admitted: ops.filter((o) => admitted.has(o)), refused };
}

/**
 * What in a services file goes over a limit by itself, in words (the first
 * problem found); undefined when it fits. Its registrations are served in
 * each of the `domains` served domains, one ring per type in each.
 */
export function staticOverLimit(
  instances: readonly Instance[],
  hosts: readonly Host[],
  domains: number,
  l: RegistrationLimits,
): string | undefined {
  const none = () => undefined;
  const perType = new Map<string, { type: ServiceType; n: number; weight: number }>();
  let total = 0;
  for (const i of instances) {
    const over = recordOverLimit({ op: "put-instance", instance: i }, none, l);
    if (over) return over[1];
    const tk = formatServiceType(i.type);
    const t = perType.get(tk) ?? { type: i.type, n: 0, weight: 0 };
    perType.set(tk, t);
    t.n++;
    t.weight += ringWeight(i.weight);
    total += ringWeight(i.weight);
  }
  for (const h of hosts) {
    const over = recordOverLimit({ op: "put-host", host: h }, none, l);
    if (over) return over[1];
  }
  for (const t of perType.values()) {
    if (t.n > l.maxInstancesPerType)
      return `${formatServiceType(t.type)} has ${t.n} instances; at most ${l.maxInstancesPerType} (--max-instances-per-type)`;
    const over = ringOverLimit(t.type, "each domain", t.weight, l);
    if (over) return over[1];
  }
  const overTotal = totalOverLimit(total * domains, l);
  if (overTotal) return overTotal[1];
  if (instances.length > l.maxRegistrations)
    return `${instances.length} instances; at most ${l.maxRegistrations} (--max-registrations)`;
  if (hosts.length > l.maxRegistrations)
    return `${hosts.length} hosts; at most ${l.maxRegistrations} (--max-registrations counts hosts too)`;
  return undefined;
}
