// DNS UPDATE (RFC 2136) as a pure function: (UPDATE message, registry, now)
// -> rcode + registry changes. The zone is seen as the RRsets the registry
// implies (DNS-SD shapes only); prerequisites are checked and updates applied
// to that view, and the result is mapped back to instances and hosts. Nothing
// is changed unless every step succeeds: the caller applies `ops` in one
// store commit.
import {
  formatName,
  hasSuffix,
  hostName,
  instanceName,
  labelsEqual,
  lowerAscii,
  nameKey,
  nameProblem,
  parseQueryName,
  subtypeName,
  typeName,
  type Labels,
  type ParsedName,
  type ServiceType,
} from "../names.js";
import { domainKey, hostStoreKey, instanceStoreKey, type RegistryOp, type RegistryView } from "../registry/registry.js";
import { ownerKind, sameOwner, whoOwns, type Host, type Instance, type Owner } from "../registry/types.js";
import { Class, Rcode, Type, typeName as rrTypeName } from "../wire/constants.js";
import type { DecodedData } from "../wire/decode.js";
import { ipv6Bytes } from "../wire/message.js";
import type { UpdateMessage, UpdateRecord } from "../wire/update.js";

export interface UpdateOutcome {
  rcode: number;
  ops: RegistryOp[];
  /** Why, for the log and the reply's extended error text. */
  reason?: string;
  /** Instances registered or renewed, and removed (for logs). */
  registered: string[];
  removed: string[];
}

export interface UpdateOptions {
  /** Served domains; an update's zone must be one of them. */
  readonly domains: readonly Labels[];
  /** Lease for what this update adds, seconds; undefined = permanent. */
  readonly leaseSeconds?: number;
  /** Who sends it; default: an unsigned update. */
  readonly actor?: Actor;
}

/** Who an UPDATE comes from, and what that lets it change. */
export interface Actor {
  /** What it registers is owned by this, and it may change what this owns. */
  readonly owner: Owner;
  /** May change registrations of any owner but the services file (--admin-key; the HTTP API's token). */
  readonly admin?: boolean;
  /** Every name it changes or tests must be at or below one of these (--key-zone); undefined = anywhere in the zone. */
  readonly zones?: readonly Labels[];
}

const UNSIGNED: Actor = { owner: { kind: "unsigned" } };

const META_TYPES = new Set<number>([Type.ANY, Type.AXFR, Type.IXFR, 253, 254]); // + MAILB, MAILA

class Refusal extends Error {
  constructor(
    readonly rcode: number,
    reason: string,
  ) {
    super(reason);
  }
}

const fail = (rcode: number, reason: string): never => {
  throw new Refusal(rcode, reason);
};

export function processUpdate(
  msg: UpdateMessage,
  registry: RegistryView,
  options: UpdateOptions,
  now: number,
): UpdateOutcome {
  try {
    return run(msg, registry, options, now);
  } catch (e) {
    if (e instanceof Refusal) return { rcode: e.rcode, ops: [], reason: e.message, registered: [], removed: [] };
    throw e;
  }
}

function run(msg: UpdateMessage, registry: RegistryView, options: UpdateOptions, now: number): UpdateOutcome {
  // §3.1: the zone section
  if (msg.zone.type !== Type.SOA) fail(Rcode.FORMERR, `zone section type is ${rrTypeName(msg.zone.type)}, must be SOA`);
  const zone = options.domains.find((d) => labelsEqual(d, msg.zone.name));
  if (!zone || msg.zone.class !== Class.IN)
    fail(Rcode.NOTAUTH, `not authoritative for zone ${formatName(msg.zone.name)}`);
  const view = new ZoneView(registry, zone!);
  const actor = options.actor ?? UNSIGNED;
  if (actor.zones) checkNamesAllowed(msg, actor.zones);

  // §3.2: prerequisites, against the zone before any change
  checkPrerequisites(msg.prerequisites, view);
  // §3.4.1: prescan, so that nothing is applied from a message that is partly wrong
  prescan(msg.updates, view);
  // §3.4.2: apply to the view
  for (const rr of msg.updates) applyUpdate(rr, view);
  return toRegistryOps(view, registry, options, actor, now);
}

// ---- who may change which names ----

/**
 * A key limited to zones (--key-zone) changes and tests only names in them:
 * every name of the prerequisite and update sections, not only the zone
 * section (which may be the served domain above a narrower key zone).
 */
function checkNamesAllowed(msg: UpdateMessage, zones: readonly Labels[]): void {
  const inside = (name: Labels) => zones.some((z) => hasSuffix(name, z));
  if (!zones.some((z) => hasSuffix(z, msg.zone.name)))
    fail(Rcode.REFUSED, `this key may not update zone ${formatName(msg.zone.name)} (--key-zone)`);
  for (const rr of [...msg.prerequisites, ...msg.updates]) {
    if (!inside(rr.name))
      fail(Rcode.REFUSED, `this key may not change ${formatName(rr.name)}: outside its zones (--key-zone)`);
  }
}

/** Refuse unless `actor` may change `r`; says whose it is by kind only. */
function mayChange(actor: Actor, r: Instance | Host, shown: string): void {
  const owner = whoOwns(r);
  if (!owner) return; // stored before owners existed and claimed by no one
  if (owner.kind === "static") fail(Rcode.REFUSED, `${shown} is a static registration; change it in the services file`);
  if (actor.admin || sameOwner(owner, actor.owner)) return;
  fail(
    Rcode.REFUSED,
    `${shown} is registered by ${ownerKind(owner)}; only its owner (or an --admin-key) may change it`,
  );
}

/**
 * A host stored before owners were recorded (no owner, no domain) belongs to
 * whoever owns the instances of that time that point at it: another key may
 * not repoint them by changing their address. O(instances), but only for such
 * hosts, and a renewal by their owner gives them an owner.
 */
function mayChangeLegacyHost(actor: Actor, host: Host, registry: RegistryView, shown: string): void {
  if (actor.admin) return;
  for (const type of registry.serviceTypes()) {
    for (const i of registry.instances(type))
      if (i.domain === undefined && i.source !== "mdns" && i.host.length === 1 && i.host[0] === host.name)
        mayChange(actor, i, shown);
  }
}

// ---- the zone as RRsets ----

interface RRset {
  type: number;
  rdatas: Rdatas;
}

/** The records of one RRset; adding, deleting and testing one record is O(1) whatever its size. */
interface Rdatas {
  has(d: DecodedData): boolean;
  add(d: DecodedData): void;
  remove(d: DecodedData): void;
  clear(): void;
  isEmpty(): boolean;
  /** Every record (may be O(size): only prerequisites comparing whole RRsets need it). */
  all(): DecodedData[];
}

class PlainRdatas implements Rdatas {
  private readonly m = new Map<string, DecodedData>();
  has(d: DecodedData) {
    return this.m.has(rdataKey(d));
  }
  add(d: DecodedData) {
    this.m.set(rdataKey(d), d);
  }
  remove(d: DecodedData) {
    this.m.delete(rdataKey(d));
  }
  clear() {
    this.m.clear();
  }
  isEmpty() {
    return this.m.size === 0;
  }
  all() {
    return [...this.m.values()];
  }
}

/**
 * The PTR RRset of a type or subtype: one PTR per instance, so it can be as
 * large as the registry. Kept as changes over the registry, which answers
 * membership, so an update touching one instance costs O(1), not O(instances).
 */
class LazyPtrRdatas implements Rdatas {
  private readonly added = new Map<string, DecodedData>();
  private readonly removed = new Map<string, DecodedData>();
  private cleared = false;

  constructor(
    private readonly inBase: (target: Labels) => boolean,
    private readonly baseSize: () => number,
    private readonly base: () => DecodedData[],
  ) {}

  private static target(d: DecodedData): Labels {
    return (d as Ptr).target;
  }
  has(d: DecodedData) {
    const k = rdataKey(d);
    if (this.removed.has(k)) return false;
    if (this.added.has(k)) return true;
    return !this.cleared && this.inBase(LazyPtrRdatas.target(d));
  }
  add(d: DecodedData) {
    const k = rdataKey(d);
    this.removed.delete(k);
    if (this.cleared || !this.inBase(LazyPtrRdatas.target(d))) this.added.set(k, d);
  }
  remove(d: DecodedData) {
    const k = rdataKey(d);
    this.added.delete(k);
    if (!this.cleared && this.inBase(LazyPtrRdatas.target(d))) this.removed.set(k, d);
  }
  clear() {
    this.cleared = true;
    this.added.clear();
    this.removed.clear();
  }
  isEmpty() {
    return this.added.size === 0 && (this.cleared || this.baseSize() - this.removed.size <= 0);
  }
  all() {
    const base = this.cleared ? [] : this.base().filter((d) => !this.removed.has(rdataKey(d)));
    return [...base, ...this.added.values()];
  }
  /** PTR targets added and removed by this update. */
  changes(): { added: DecodedData[]; removed: DecodedData[] } {
    return { added: [...this.added.values()], removed: this.cleared ? this.base() : [...this.removed.values()] };
  }
}

type Ptr = Extract<DecodedData, { type: typeof Type.PTR }>;

/** RDATA in a form that compares equal exactly when the records are the same (names case-insensitively). */
function rdataKey(d: DecodedData): string {
  if ("target" in d && d.type === Type.PTR) return nameKey(d.target);
  if (d.type === Type.SRV && "target" in d) return `${d.priority} ${d.weight} ${d.port} ${nameKey(d.target)}`;
  if ("address" in d) return d.type === Type.AAAA ? Buffer.from(ipv6Bytes(d.address)).toString("hex") : d.address;
  if ("strings" in d) return d.strings.map((s) => `${s.toString("hex")}/`).join("");
  if ("raw" in d) return d.raw.toString("hex");
  return JSON.stringify(d);
}

/** The zone's RRsets as the registry implies them, with this update's changes overlaid. */
class ZoneView {
  private readonly overlay = new Map<string, { name: Labels; sets: Map<number, RRset> }>();
  /** The zone as the registry names a domain: the view holds only what is served there. */
  readonly scope: string;

  constructor(
    private readonly registry: RegistryView,
    readonly zone: Labels,
  ) {
    this.scope = domainKey(zone);
  }

  parse(name: Labels): ParsedName | null {
    return parseQueryName(name, [this.zone]);
  }

  inZone(name: Labels): boolean {
    return this.parse(name) !== null;
  }

  /** RRsets at `name` (a live copy when the update touched it). */
  sets(name: Labels): Map<number, RRset> {
    return this.overlay.get(nameKey(name))?.sets ?? this.derive(name);
  }

  private writable(name: Labels): Map<number, RRset> {
    const key = nameKey(name);
    let entry = this.overlay.get(key);
    if (!entry) {
      entry = { name, sets: this.derive(name) };
      this.overlay.set(key, entry);
    }
    return entry.sets;
  }

  touched(): Labels[] {
    return [...this.overlay.values()].map((e) => e.name);
  }

  /** Is there a non-empty RRset of `type` at `name`? */
  hasRRset(name: Labels, type: number): boolean {
    const set = this.sets(name).get(type);
    return set !== undefined && !set.rdatas.isEmpty();
  }

  /** RFC 2136 "name is in use": at least one record at `name`. */
  nameInUse(name: Labels): boolean {
    for (const set of this.sets(name).values()) if (!set.rdatas.isEmpty()) return true;
    return false;
  }

  add(name: Labels, d: DecodedData): void {
    const sets = this.writable(name);
    let set = sets.get(d.type);
    if (!set) sets.set(d.type, (set = { type: d.type, rdatas: new PlainRdatas() }));
    set.rdatas.add(d);
  }

  deleteRRset(name: Labels, type: number): void {
    this.writable(name).get(type)?.rdatas.clear();
  }

  deleteName(name: Labels): void {
    for (const set of this.writable(name).values()) set.rdatas.clear();
  }

  deleteRR(name: Labels, d: DecodedData): void {
    this.writable(name).get(d.type)?.rdatas.remove(d);
  }

  /** RRsets at `name` before this update. */
  derive(name: Labels): Map<number, RRset> {
    const out = new Map<number, RRset>();
    const put = (rd: DecodedData) => {
      let set = out.get(rd.type);
      if (!set) out.set(rd.type, (set = { type: rd.type, rdatas: new PlainRdatas() }));
      set.rdatas.add(rd);
    };
    const p = this.parse(name);
    if (!p) return out;
    const d = this.zone;
    // what mDNS taught us is not zone data an UPDATE edits: an explicit registration simply replaces it
    const owned = <T extends { source: string }>(x: T | undefined): T | undefined =>
      x && x.source !== "mdns" ? x : undefined;
    const ptrTo = (t: ServiceType, i: Instance): DecodedData => ({
      type: Type.PTR,
      target: instanceName(t, i.name, d),
    });
    // an instance of `t` (with `sub`) that the registry holds and an UPDATE may edit
    const member = (t: ServiceType, sub: string | undefined) => (target: Labels) => {
      const q = this.parse(target);
      if (q?.kind !== "instance" || q.type.service !== t.service || q.type.proto !== t.proto) return false;
      const i = owned(this.registry.instance(t, q.instance, this.scope));
      return i !== undefined && (sub === undefined || i.subtypes.includes(sub));
    };
    switch (p.kind) {
      case "apex":
        put({ type: Type.SOA, mname: d, rname: ["hostmaster", ...d], serial: this.registry.serial(), minimum: 0 });
        break;
      case "services":
        for (const t of this.registry.serviceTypes(this.scope)) put({ type: Type.PTR, target: typeName(t, d) });
        break;
      case "type": {
        const t = p.type;
        const base = () =>
          this.registry
            .instances(t, this.scope)
            .filter((i) => owned(i))
            .map((i) => ptrTo(t, i));
        out.set(Type.PTR, {
          type: Type.PTR,
          rdatas: new LazyPtrRdatas(member(t, undefined), () => this.registry.instanceCount(t, this.scope), base),
        });
        break;
      }
      case "subtype": {
        const { type: t, subtype } = p;
        const base = () =>
          this.registry
            .instancesWithSubtype(t, subtype, this.scope)
            .filter((i) => owned(i))
            .map((i) => ptrTo(t, i));
        out.set(Type.PTR, { type: Type.PTR, rdatas: new LazyPtrRdatas(member(t, subtype), () => base().length, base) });
        break;
      }
      case "instance": {
        const i = owned(this.registry.instance(p.type, p.instance, this.scope));
        if (i) {
          put({ type: Type.SRV, priority: i.priority, weight: i.weight, port: i.port, target: hostName(i.host, d) });
          put({ type: Type.TXT, strings: i.txt.map((t) => Buffer.from(t)) });
        }
        break;
      }
      case "host": {
        const h = owned(this.registry.host(p.host, this.scope));
        for (const address of h?.addresses ?? [])
          put(address.includes(":") ? { type: Type.AAAA, address } : { type: Type.A, address });
        break;
      }
      default:
        break;
    }
    return out;
  }
}

// ---- RFC 2136 §3.2: prerequisites ----

function checkPrerequisites(prereqs: readonly UpdateRecord[], view: ZoneView): void {
  // value-dependent prerequisites are compared as whole RRsets (§3.2.3)
  const expected = new Map<string, { name: Labels; type: number; keys: Set<string> }>();
  for (const rr of prereqs) {
    if (rr.ttl !== 0) fail(Rcode.FORMERR, `prerequisite for ${formatName(rr.name)} has TTL ${rr.ttl}, must be 0`);
    if (!view.inZone(rr.name))
      fail(Rcode.NOTZONE, `prerequisite name ${formatName(rr.name)} is outside zone ${formatName(view.zone)}`);
    if (rr.class === Class.ANY) {
      if (rr.rdataLength !== 0) fail(Rcode.FORMERR, "class ANY prerequisite with RDATA");
      if (rr.type === Type.ANY) {
        if (!view.nameInUse(rr.name)) fail(Rcode.NXDOMAIN, `${formatName(rr.name)} is not in use`);
      } else if (!view.hasRRset(rr.name, rr.type)) {
        fail(Rcode.NXRRSET, `no ${rrTypeName(rr.type)} RRset at ${formatName(rr.name)}`);
      }
    } else if (rr.class === Class.NONE) {
      if (rr.rdataLength !== 0) fail(Rcode.FORMERR, "class NONE prerequisite with RDATA");
      if (rr.type === Type.ANY) {
        if (view.nameInUse(rr.name)) fail(Rcode.YXDOMAIN, `${formatName(rr.name)} is in use`);
      } else if (view.hasRRset(rr.name, rr.type)) {
        fail(Rcode.YXRRSET, `${rrTypeName(rr.type)} RRset exists at ${formatName(rr.name)}`);
      }
    } else if (rr.class === Class.IN) {
      if (rr.type === Type.ANY || META_TYPES.has(rr.type))
        fail(Rcode.FORMERR, `prerequisite of type ${rrTypeName(rr.type)} with RDATA`);
      const key = `${nameKey(rr.name)}|${rr.type}`;
      const e = expected.get(key) ?? { name: rr.name, type: rr.type, keys: new Set<string>() };
      e.keys.add(rdataKey(rr.data));
      expected.set(key, e);
    } else {
      fail(Rcode.FORMERR, `prerequisite class ${rr.class}`);
    }
  }
  for (const e of expected.values()) {
    const have = new Set((view.sets(e.name).get(e.type)?.rdatas.all() ?? []).map(rdataKey));
    if (have.size !== e.keys.size || [...e.keys].some((k) => !have.has(k))) {
      fail(Rcode.NXRRSET, `${rrTypeName(e.type)} RRset at ${formatName(e.name)} differs from the prerequisite`);
    }
  }
}

// ---- RFC 2136 §3.4.1: prescan ----

function prescan(updates: readonly UpdateRecord[], view: ZoneView): void {
  for (const rr of updates) {
    if (!view.inZone(rr.name))
      fail(Rcode.NOTZONE, `update name ${formatName(rr.name)} is outside zone ${formatName(view.zone)}`);
    if (rr.class === Class.IN) {
      if (META_TYPES.has(rr.type)) fail(Rcode.FORMERR, `cannot add a record of type ${rrTypeName(rr.type)}`);
      if (rr.rdataLength === 0)
        fail(Rcode.FORMERR, `add of ${rrTypeName(rr.type)} at ${formatName(rr.name)} without RDATA`);
    } else if (rr.class === Class.ANY) {
      if (rr.ttl !== 0 || rr.rdataLength !== 0 || (META_TYPES.has(rr.type) && rr.type !== Type.ANY))
        fail(Rcode.FORMERR, "malformed delete of an RRset");
    } else if (rr.class === Class.NONE) {
      if (rr.ttl !== 0 || META_TYPES.has(rr.type)) fail(Rcode.FORMERR, "malformed delete of a record");
    } else {
      fail(Rcode.FORMERR, `update class ${rr.class}`);
    }
    // only DNS-SD shapes are stored: say so now rather than accept and drop
    const p = view.parse(rr.name)!;
    const allowed = ALLOWED_TYPES[p.kind];
    const isDelete = rr.class !== Class.IN;
    if (!allowed || (!(isDelete && rr.type === Type.ANY) && !allowed.includes(rr.type))) {
      fail(
        Rcode.REFUSED,
        `${rrTypeName(rr.type)} at ${formatName(rr.name)} is not a DNS-SD record ringdns stores (PTR at types and subtypes, SRV/TXT at instances, A/AAAA at hosts)`,
      );
    }
  }
}

const ALLOWED_TYPES: Partial<Record<ParsedName["kind"], number[]>> = {
  type: [Type.PTR],
  subtype: [Type.PTR],
  instance: [Type.SRV, Type.TXT],
  host: [Type.A, Type.AAAA],
};

// ---- RFC 2136 §3.4.2: apply ----

function applyUpdate(rr: UpdateRecord, view: ZoneView): void {
  if (rr.class === Class.IN) view.add(rr.name, rr.data);
  else if (rr.class === Class.ANY) {
    if (rr.type === Type.ANY) view.deleteName(rr.name);
    else view.deleteRRset(rr.name, rr.type);
  } else view.deleteRR(rr.name, rr.data);
}

// ---- from RRsets back to registrations ----

const removeInstance = (i: Instance): RegistryOp => ({
  op: "remove-instance",
  type: i.type,
  name: i.name,
  ...(i.domain !== undefined ? { domain: i.domain } : {}),
});
const removeHost = (h: Host): RegistryOp => ({
  op: "remove-host",
  name: h.name,
  ...(h.domain !== undefined ? { domain: h.domain } : {}),
});

/** What the registry ops for one update are made with. */
interface OpsContext {
  view: ZoneView;
  registry: RegistryView;
  actor: Actor;
  /** Lease end for what the update registers; undefined = permanent. */
  expiresAt: number | undefined;
}

/**
 * The update's result as registry ops: each instance and host it may have
 * changed, put as the zone view now has it (or removed), owned by its sender
 * (an admin's edit leaves the owner as it was). Hosts first, so an instance
 * never points at an address set not yet stored.
 */
function toRegistryOps(
  view: ZoneView,
  registry: RegistryView,
  options: UpdateOptions,
  actor: Actor,
  now: number,
): UpdateOutcome {
  const c: OpsContext = {
    view,
    registry,
    actor,
    expiresAt: options.leaseSeconds === undefined ? undefined : now + options.leaseSeconds * 1000,
  };
  const ops: RegistryOp[] = [];
  const registered: string[] = [];
  const removed: string[] = [];
  const { affected, touchedSubtypes } = affectedInstances(view);
  for (const { type, label } of affected.values()) {
    const change = instanceOps(c, type, label, touchedSubtypes.get(`${type.service}.${type.proto}`));
    ops.push(...change.ops);
    if (change.registered) registered.push(change.registered);
    if (change.removed) removed.push(change.removed);
  }
  ops.push(...hostOps(c));
  ops.sort((a, b) => Number(b.op.endsWith("host")) - Number(a.op.endsWith("host")));
  return { rcode: Rcode.NOERROR, ops, registered, removed };
}

/** The owner a registration made by this update gets: an admin's edit leaves it with its owner; everything else is the sender's. */
function ownedBy(actor: Actor, existing: Instance | Host | undefined): { owner: Owner; key?: string } {
  const owner = (existing && whoOwns(existing)) ?? actor.owner;
  return owner.kind === "key" ? { owner, key: owner.name } : { owner };
}

/** Every instance the update may have changed (by its own names, or a PTR to it added or deleted), and per type the subtypes whose PTR set changed. */
function affectedInstances(view: ZoneView): {
  affected: Map<string, { type: ServiceType; label: string }>;
  touchedSubtypes: Map<string, Set<string>>;
} {
  const zone = view.zone;
  const affected = new Map<string, { type: ServiceType; label: string }>();
  const touchedSubtypes = new Map<string, Set<string>>(); // type -> subtypes whose PTR set changed
  const note = (type: ServiceType, label: string) =>
    affected.set(`${type.service}.${type.proto}/${lowerAscii(label)}`, { type, label });
  for (const name of view.touched()) {
    const p = view.parse(name)!;
    if (p.kind === "instance") note(p.type, p.instance);
    if (p.kind === "type" || p.kind === "subtype") {
      if (p.kind === "subtype") {
        const key = `${p.type.service}.${p.type.proto}`;
        touchedSubtypes.set(key, (touchedSubtypes.get(key) ?? new Set()).add(p.subtype));
      }
      const ptrs = view.sets(name).get(Type.PTR)?.rdatas;
      const { added, removed } = ptrs instanceof LazyPtrRdatas ? ptrs.changes() : { added: [], removed: [] };
      for (const r of added) {
        const target = view.parse((r as Ptr).target);
        if (
          target?.kind !== "instance" ||
          target.type.service !== p.type.service ||
          target.type.proto !== p.type.proto
        ) {
          fail(
            Rcode.REFUSED,
            `PTR at ${formatName(name)} must point to an instance of ${formatName(typeName(p.type, zone))}`,
          );
        }
        note(p.type, (target as { instance: string }).instance);
      }
      for (const r of removed) note(p.type, (r as Ptr).target[0]!);
    }
  }
  return { affected, touchedSubtypes };
}

/** One instance as the zone view has it now: put (with its subtypes), removed, or refused when its records do not make one instance. */
function instanceOps(
  c: OpsContext,
  type: ServiceType,
  label: string,
  touchedSubtypes: ReadonlySet<string> | undefined,
): { ops: RegistryOp[]; registered?: string; removed?: string } {
  const { view, registry, actor } = c;
  const zone = view.zone;
  const domain = view.scope;
  const found = registry.instance(type, label, domain);
  const iname = instanceName(type, label, zone);
  const shown = formatName(iname);
  // what mDNS taught us is no one's to edit, and yields to an explicit registration (the LAN's claim is unauthenticated)
  const existing = found?.source === "mdns" ? undefined : found;
  if (existing) mayChange(actor, existing, shown);
  const sets = view.sets(iname);
  const srvs = sets.get(Type.SRV)?.rdatas.all() ?? [];
  const txts = sets.get(Type.TXT)?.rdatas.all() ?? [];
  const ptr: DecodedData = { type: Type.PTR, target: iname };
  const listed = view.sets(typeName(type, zone)).get(Type.PTR)?.rdatas.has(ptr) ?? false;
  const subtypes = new Set(existing?.subtypes ?? []);
  for (const sub of touchedSubtypes ?? []) {
    const inSub =
      view
        .sets(subtypeName(type, sub, zone))
        .get(Type.PTR)
        ?.rdatas.has(ptr) ?? false;
    if (inSub) subtypes.add(sub);
    else subtypes.delete(sub);
  }
  if (srvs.length === 0 && !listed) {
    // its subtype PTRs go with it: they exist only because the instance does
    if (txts.length > 0) fail(Rcode.REFUSED, `${shown} keeps a TXT record without SRV and PTR`);
    return existing ? { ops: [removeInstance(existing)], removed: shown } : { ops: [] };
  }
  if (srvs.length === 0) fail(Rcode.REFUSED, `${shown} is listed by PTR but has no SRV record`);
  if (!listed) fail(Rcode.REFUSED, `${shown} has an SRV record but no PTR from ${formatName(typeName(type, zone))}`);
  if (srvs.length > 1) fail(Rcode.REFUSED, `${shown} has ${srvs.length} SRV records; an instance has one`);
  if (txts.length > 1) fail(Rcode.REFUSED, `${shown} has ${txts.length} TXT records; an instance has one`);
  const problem = nameProblem(iname);
  if (problem) fail(Rcode.REFUSED, `${shown}: ${problem}`);
  const srv = srvs[0] as Extract<DecodedData, { type: typeof Type.SRV }>;
  const inZoneHost = srv.target.length === zone.length + 1 && labelsEqual(srv.target.slice(1), zone);
  const instance: Instance = {
    name: existing?.name ?? label,
    type,
    subtypes: [...subtypes].sort(),
    host: inZoneHost ? [lowerAscii(srv.target[0]!)] : srv.target.map(lowerAscii),
    port: srv.port,
    priority: srv.priority,
    weight: srv.weight,
    txt: txts.length ? (txts[0] as { strings: Buffer[] }).strings.filter((s) => s.length > 0) : [],
    source: "update",
    ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
    ...ownedBy(actor, existing),
    domain,
  };
  const ops: RegistryOp[] = [];
  // one served everywhere (stored before domains were recorded) or learned by mDNS gives way to the domain's own
  if (found && instanceStoreKey(found) !== instanceStoreKey(instance)) ops.push(removeInstance(found));
  ops.push({ op: "put-instance", instance });
  return { ops, registered: shown };
}

/** Each host the update touched, as the zone view has its addresses now: put, or removed when it has none left. */
function hostOps(c: OpsContext): RegistryOp[] {
  const { view, registry, actor } = c;
  const domain = view.scope;
  const ops: RegistryOp[] = [];
  for (const name of view.touched()) {
    const p = view.parse(name)!;
    if (p.kind !== "host") continue;
    const found = registry.host(p.host, domain);
    const existing = found?.source === "mdns" ? undefined : found;
    if (existing && whoOwns(existing) === undefined) mayChangeLegacyHost(actor, existing, registry, formatName(name));
    else if (existing) mayChange(actor, existing, formatName(name));
    const sets = view.sets(name);
    const addresses = [...(sets.get(Type.A)?.rdatas.all() ?? []), ...(sets.get(Type.AAAA)?.rdatas.all() ?? [])].map(
      (r) => (r as { address: string }).address,
    );
    if (addresses.length === 0) {
      if (existing) ops.push(removeHost(existing));
      continue;
    }
    const host: Host = {
      name: lowerAscii(p.host),
      addresses,
      source: "update",
      ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
      owner: ownedBy(actor, existing).owner,
      domain,
    };
    if (found && hostStoreKey(found) !== hostStoreKey(host)) ops.push(removeHost(found));
    ops.push({ op: "put-host", host });
  }
  return ops;
}
