// What the HTTP API says about the registry, as plain JSON-ready objects.
// Pure: the registry and the time in, views out.
import { formatName, formatServiceType, type ServiceType } from "../../names.js";
import { instanceId, type Registry } from "../../registry/registry.js";
import type { Ring } from "../../ring/ring.js";
import { listKey, SortedInstanceLists } from "./sorted-lists.js";
import type { HostView, InstanceView, SrpView } from "../../api/shapes.js";
import { hostStoreKey, instanceStoreKey } from "../../registry/scopes.js";
import { LOCAL_DOMAIN, whoOwns, type Claim, type Host, type Instance, type Owner } from "../../registry/types.js";

export type { HostView, InstanceView };

/** When "now" is, and which node this daemon is in a cluster (to tell its own registrations from its peers'). */
export interface ViewContext {
  now: number;
  node?: string;
  /** The SRP claim on a registration, by its store key (to show the key and its lease). */
  claim?: (record: string) => Claim | undefined;
}

function ownership(r: Instance | Host): { owner?: Owner; domain?: string } {
  const owner = whoOwns(r);
  return { ...(owner ? { owner } : {}), ...(r.domain !== undefined ? { domain: r.domain } : {}) };
}

const remaining = (expiresAt: number | undefined, now: number) =>
  expiresAt === undefined ? null : Math.max(0, Math.round((expiresAt - now) / 1000));

/** The key behind an SRP registration and how long it holds the name. */
function srpOf(r: Instance | Host, record: string, ctx: ViewContext): { srp?: SrpView } {
  if (r.owner?.kind !== "srp") return {};
  const c = ctx.claim?.(record);
  if (!c) return {};
  return {
    srp: {
      ...(c.tag !== undefined ? { keyTag: c.tag } : {}),
      keyLeaseRemainingSeconds: remaining(c.expiresAt, ctx.now) ?? 0,
    },
  };
}

export function hostLabelText(host: readonly string[]): string {
  return host.length === 1 ? host[0]! : formatName(host);
}

export function instanceView(inst: Instance, share: number | undefined, ctx: ViewContext): InstanceView {
  const now = ctx.now;
  const peer = inst.writer !== undefined && inst.writer !== ctx.node;
  return {
    name: inst.name,
    type: formatServiceType(inst.type),
    subtypes: [...inst.subtypes],
    host: hostLabelText(inst.host),
    port: inst.port,
    priority: inst.priority,
    weight: inst.weight,
    txt: inst.txt.map((t) => Buffer.from(t).toString("utf8")),
    source: peer ? "cluster" : inst.source,
    ...(peer ? { origin: { node: inst.writer!, source: inst.source } } : {}),
    ...(inst.key !== undefined ? { key: inst.key } : {}),
    ...ownership(inst),
    leaseRemainingSeconds: remaining(inst.expiresAt, now),
    ...srpOf(inst, instanceStoreKey(inst), ctx),
    ...(share !== undefined ? { share } : {}),
  };
}

export function hostView(h: Host, ctx: ViewContext): HostView {
  return {
    name: h.name,
    addresses: [...h.addresses],
    source: h.source,
    ...ownership(h),
    leaseRemainingSeconds: remaining(h.expiresAt, ctx.now),
    ...srpOf(h, hostStoreKey(h), ctx),
  };
}

/**
 * An instance's share of the ring it is on: its own domain's (one served
 * everywhere: local.'s). A big ring's shares are computed aside: until they
 * are, undefined.
 */
function shareOf(registry: Registry, type: ServiceType): (inst: Instance) => number | undefined {
  const rings = new Map<string, Ring | undefined>();
  return (inst) => {
    const domain = inst.domain ?? LOCAL_DOMAIN;
    if (!rings.has(domain)) rings.set(domain, registry.ringWithShares(type, domain));
    return rings.get(domain)?.shareOf(instanceId(inst.name)) ?? (rings.get(domain) ? 0 : undefined);
  };
}

export function typesView(registry: Registry): { types: { type: string; instances: number }[] } {
  return {
    types: registry
      .serviceTypes()
      .map((t) => ({ type: formatServiceType(t), instances: registry.instanceCount(t) }))
      .sort((a, b) => a.type.localeCompare(b.type)),
  };
}

/** A page of a type's instances: by name, those after `after` whose name holds `search` (any case), at most `limit`. */
export interface InstancePage {
  limit: number;
  after?: string;
  search?: string;
}

export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;

/** Each registry's sorted lists, made on the first page asked for. */
const sortedLists = new WeakMap<Registry, SortedInstanceLists>();

function listsOf(registry: Registry): SortedInstanceLists {
  let lists = sortedLists.get(registry);
  if (!lists) sortedLists.set(registry, (lists = new SortedInstanceLists(registry)));
  return lists;
}

/**
 * A type's instances, a page at a time: a type may hold 100,000, and a list
 * of them all is megabytes of JSON. Sorted by name, then domain, in UTF-16
 * order (the same page boundaries for every client); views are made only for
 * the page. `next` is the (opaque) `after` of the following page; `total`
 * counts every match of the search. `domain`: only what is answered in that
 * served domain; default every domain's.
 */
export async function instancesView(
  registry: Registry,
  type: ServiceType,
  ctx: ViewContext,
  domain?: string,
  page: InstancePage = { limit: DEFAULT_PAGE },
): Promise<{ type: string; total: number; instances: InstanceView[]; next?: string }> {
  const needle = page.search?.toLowerCase();
  const all = await listsOf(registry).list(type, domain);
  const matching = needle === undefined ? all.items : all.items.filter((i) => i.name.toLowerCase().includes(needle));
  // the first after the cursor, by binary search over the sorted list
  let from = 0;
  if (page.after !== undefined) {
    let hi = matching.length;
    while (from < hi) {
      const mid = (from + hi) >> 1;
      if (listKey(matching[mid]!) <= page.after) from = mid + 1;
      else hi = mid;
    }
  }
  const shown = matching.slice(from, from + page.limit);
  const share = shareOf(registry, type);
  const more = from + shown.length < matching.length;
  return {
    type: formatServiceType(type),
    total: matching.length,
    instances: shown.map((i) => instanceView(i, share(i), ctx)),
    ...(more ? { next: listKey(shown.at(-1)!) } : {}),
  };
}

export function oneInstanceView(
  registry: Registry,
  type: ServiceType,
  name: string,
  ctx: ViewContext,
  domain?: string,
): InstanceView | undefined {
  const inst = registry.instance(type, name, domain);
  return inst && instanceView(inst, shareOf(registry, type)(inst), ctx);
}

/** The ring of `domain` (default local.): the same owner as a `_hash` query in that domain. */
export function ownerView(
  registry: Registry,
  type: ServiceType,
  key: string,
  successors: number,
  ctx: ViewContext,
  domain?: string,
): { type: string; key: string; owner: InstanceView | null; successors: InstanceView[] } {
  const share = shareOf(registry, type);
  const list = registry
    .successors(type, key, Math.max(1, successors), domain)
    .map((i) => instanceView(i, share(i), ctx));
  return { type: formatServiceType(type), key, owner: list[0] ?? null, successors: list };
}

/** The ring as a user looks at it: how even it is, its busiest instances, and a picture in `slices` slices. */
export interface RingView {
  type: string;
  instances: number;
  points: number;
  /** The highest and lowest share over the share its weight asks for (1 is exact). */
  balance: { busiest: number; quietest: number };
  /** The `shares` busiest instances and their shares: a list of 100,000 is no picture. */
  shares: Record<string, number>;
  slices: (string | null)[];
}

export async function ringView(
  registry: Registry,
  type: ServiceType,
  slices: number,
  topShares: number,
  domain?: string,
): Promise<RingView> {
  const { ring, summary } = await registry.shares(type, domain);
  const name = (id: string) => registry.instance(type, id, domain)?.name ?? id;
  const shares: Record<string, number> = {};
  for (const slot of summary.busiest.subarray(0, topShares)) shares[name(ring.idAt(slot)!)] = summary.bySlot[slot]!;
  const names = new Map<string, string>();
  return {
    type: formatServiceType(type),
    instances: ring.size,
    points: ring.pointCount,
    balance: { busiest: summary.highest, quietest: summary.lowest },
    shares,
    slices: ring
      .picture(slices)
      .map((id) => (id === undefined ? null : (names.get(id) ?? names.set(id, name(id)).get(id)!))),
  };
}
