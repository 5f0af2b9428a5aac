// Advertising what was registered (UPDATE, services file, SRP) on the LAN,
// as RFC 6762 asks: probe, announce, answer, defend, say goodbye. Instances
// learned from mDNS are never advertised.
import type { RemoteInfo } from "node:dgram";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { guarded, later, sleep } from "../../guard.js";
import {
  LOCAL,
  hostName,
  instanceName,
  labelsEqual,
  lowerAscii,
  nameKey,
  parseQueryName,
  servicesEnumName,
  subtypeName,
  typeName,
  type Labels,
  type ServiceType,
} from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import { LOCAL_DOMAIN, servedDomain, type Change, type Instance } from "../../registry/types.js";
import { compareRecordSets } from "../../wire/canonical.js";
import { Class, Type } from "../../wire/constants.js";
import type { DecodedMessage, DecodedRecord } from "../../wire/decode.js";
import { encodeMdnsQuery, encodeMdnsResponse, encodeMdnsResponses, UNICAST_RESPONSE } from "../../wire/mdns.js";
import type { ResourceRecord } from "../../wire/message.js";
import { MDNS_PORT, type MdnsTransport } from "./transport.js";

/** RFC 6762 §10: 120 s for records about hosts, 75 min for the rest. */
const HOST_TTL = 120;
const SERVICE_TTL = 4500;
const LEGACY_TTL_CAP = 10;
const PROBE_INTERVAL = 250;
/** Size at which the per-record bookkeeping drops what no longer matters. */
const SWEEP_AT = 10_000;

export interface ResponderDeps {
  registry: Registry;
  clock: Clock;
  log: Logger;
  transports: readonly MdnsTransport[];
}

interface Advertised {
  type: ServiceType;
  /** Registry name (what unicast DNS serves). */
  name: string;
  /** The served domain the registration answers in (local., or the SRP zone for what SRP clients registered). */
  domain: string;
  /** Name on the LAN: the same, or "name (2)" after a conflict. */
  mdnsName: string;
  state: "probing" | "announced";
  records: ResourceRecord[];
  probes: number;
  timers: NodeJS.Timeout[];
  /** The one-label host its instance points at, as last advertised (the `byHost` index). */
  host?: string;
}

const keyOf = (t: ServiceType, name: string) => `${t.service}.${t.proto}/${lowerAscii(name)}`;
const isUnique = (t: number) => t !== Type.PTR;

/** JSON of each RDATA object, made once: copies of a record ({ ...r, ttl }) share their data object. */
const dataJson = new WeakMap<object, string>();

function recordKey(r: { name: Labels; data: { type: number } }, data: object): string {
  let json = dataJson.get(data);
  if (json === undefined) dataJson.set(data, (json = JSON.stringify(data)));
  return `${nameKey(r.name)}|${r.data.type}|${json}`;
}

/**
 * What the LAN hears of: registrations answered under local. (the services
 * file's, and UPDATEs in zone local.), and what SRP clients registered
 * (RFC 9665: the registrar is their advertising proxy, as an OpenThread border
 * router is). One made by UPDATE in another served domain is that domain's;
 * the same label there must not be announced, or conflict with ours, as a
 * .local name. Learned ones are the LAN's own and never repeated.
 */
const onLan = (i: Instance): boolean =>
  i.source === "srp" || (i.source !== "mdns" && (servedDomain(i) ?? LOCAL_DOMAIN) === LOCAL_DOMAIN);

/** The domain an advertised instance (and its host) is looked up in. */
const domainOf = (i: Instance): string => servedDomain(i) ?? LOCAL_DOMAIN;

export class MdnsResponder {
  private readonly advertised = new Map<string, Advertised>();
  /** Advertised keys by host label: a host's change looks at its own instances, not at every one (SRP makes hosts cheap). */
  private readonly byHost = new Map<string, Set<string>>();
  private readonly lastMulticast = new Map<string, number>();
  /** Names we said goodbye to, until the stale copies peers may hold have lapsed: never learned back (ot-br-posix#2793). */
  private readonly withdrawn = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  /** Since start, for metrics. */
  readonly counts = { probes: 0, conflicts: 0, goodbyes: 0 };

  constructor(private readonly deps: ResponderDeps) {}

  start(): void {
    // a fault in advertising a change is ours to count, never the registration's that caused it
    this.unsubscribe = this.deps.registry.onChange(guarded("mdns responder change", (c: Change) => this.onChange(c)));
    for (const t of this.deps.registry.serviceTypes())
      for (const i of this.deps.registry.instances(t)) if (onLan(i)) this.advertise(i);
  }

  /** Is this instance label on the LAN ours (under its registry or its mDNS name)? */
  isOurs(type: ServiceType, label: string): boolean {
    const l = lowerAscii(label);
    const now = this.deps.clock.now();
    const until = this.withdrawn.get(keyOf(type, l));
    if (until !== undefined && until > now) return true;
    if (until !== undefined) this.withdrawn.delete(keyOf(type, l));
    for (const a of this.advertised.values())
      if (
        a.type.service === type.service &&
        a.type.proto === type.proto &&
        (lowerAscii(a.mdnsName) === l || lowerAscii(a.name) === l)
      )
        return true;
    return false;
  }

  /** Goodbyes for everything (§10.1), then stop. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    const all = [...this.advertised.values()].filter((a) => a.state === "announced");
    for (const a of this.advertised.values()) a.timers.forEach(clearTimeout);
    if (all.length > 0)
      this.multicast(
        all.flatMap((a) => a.records).map((r) => ({ ...r, ttl: 0 })),
        [],
        true,
      );
    this.advertised.clear();
    this.byHost.clear();
    await sleep(50); // let the goodbye leave the socket
  }

  private onChange(c: Change): void {
    if (c.kind === "host") {
      // address changes are re-announced with the instances that use them
      for (const key of [...(this.byHost.get(c.host.name) ?? [])]) {
        const a = this.advertised.get(key);
        if (!a) continue;
        const inst = this.deps.registry.instance(a.type, a.name, a.domain);
        if (inst && a.state === "announced" && inst.host.length === 1 && inst.host[0] === c.host.name)
          this.advertise(inst, true);
      }
      return;
    }
    const inst = c.instance;
    if (!onLan(inst)) return;
    if (c.op === "remove" || c.op === "expire") this.withdraw(inst.type, inst.name, domainOf(inst));
    else this.advertise(inst, c.op === "update");
  }

  private recordsFor(inst: Instance, mdnsName: string): ResourceRecord[] {
    const name = instanceName(inst.type, mdnsName, LOCAL);
    const target = hostName(inst.host, LOCAL);
    const flush = Class.IN | 0x8000;
    const records: ResourceRecord[] = [
      { name: servicesEnumName(LOCAL), ttl: SERVICE_TTL, data: { type: Type.PTR, target: typeName(inst.type, LOCAL) } },
      { name: typeName(inst.type, LOCAL), ttl: SERVICE_TTL, data: { type: Type.PTR, target: name } },
      ...inst.subtypes.map(
        (s): ResourceRecord => ({
          name: subtypeName(inst.type, s, LOCAL),
          ttl: SERVICE_TTL,
          data: { type: Type.PTR, target: name },
        }),
      ),
      {
        name,
        ttl: HOST_TTL,
        class: flush,
        data: { type: Type.SRV, srv: { priority: inst.priority, weight: inst.weight, port: inst.port, target } },
      },
      { name, ttl: SERVICE_TTL, class: flush, data: { type: Type.TXT, strings: inst.txt } },
    ];
    const host = inst.host.length === 1 ? this.deps.registry.host(inst.host[0]!, domainOf(inst)) : undefined;
    for (const address of host?.addresses ?? []) {
      records.push({
        name: target,
        ttl: HOST_TTL,
        class: flush,
        data: address.includes(":") ? { type: Type.AAAA, address } : { type: Type.A, address },
      });
    }
    return records;
  }

  private advertise(inst: Instance, reannounce = false): void {
    const key = keyOf(inst.type, inst.name);
    const prior = this.advertised.get(key);
    if (prior && prior.domain !== domainOf(inst)) return; // the .local name is another domain's registration's
    if (prior) this.indexHost(key, prior, inst);
    if (prior && reannounce && prior.state === "announced") {
      prior.records = this.recordsFor(inst, prior.mdnsName);
      this.announce(prior);
      return;
    }
    if (prior) return;
    const a: Advertised = {
      type: inst.type,
      name: inst.name,
      domain: domainOf(inst),
      mdnsName: inst.name,
      state: "probing",
      records: this.recordsFor(inst, inst.name),
      probes: 0,
      timers: [],
    };
    this.advertised.set(key, a);
    this.indexHost(key, a, inst);
    this.probe(a);
  }

  /** Keep `byHost` on the host `inst` points at now (none: an absolute name, not one of ours). */
  private indexHost(key: string, a: Advertised, inst: Instance | undefined): void {
    const host = inst && inst.host.length === 1 ? inst.host[0] : undefined;
    if (a.host === host) return;
    this.unindexHost(key, a);
    if (host === undefined) return;
    a.host = host;
    let keys = this.byHost.get(host);
    if (!keys) this.byHost.set(host, (keys = new Set()));
    keys.add(key);
  }

  private unindexHost(key: string, a: Advertised): void {
    if (a.host === undefined) return;
    const keys = this.byHost.get(a.host);
    keys?.delete(key);
    if (keys?.size === 0) this.byHost.delete(a.host);
    delete a.host;
  }

  /** §8.1: three probes 250 ms apart, asking for the name, our proposal in the authority section. */
  private probe(a: Advertised): void {
    const name = instanceName(a.type, a.mdnsName, LOCAL);
    const proposal = a.records.filter((r) => labelsEqual(r.name, name));
    a.probes++;
    this.counts.probes++;
    a.timers.forEach(clearTimeout); // the previous probe's timer has fired (or is superseded)
    // the next step is scheduled before anything is sent: a send that fails must not stall the sequence
    a.timers = [
      later("mdns responder probe", PROBE_INTERVAL, () => {
        if (!this.advertised.has(keyOf(a.type, a.name))) return;
        if (a.probes < 3) this.probe(a);
        else {
          a.state = "announced";
          this.announce(a);
        }
      }),
    ];
    for (const wire of encodeMdnsQuery([{ name, type: Type.ANY, qu: true }], [], proposal))
      for (const t of this.deps.transports) t.send(wire);
  }

  /** §8.3: announce twice, a second apart. */
  private announce(a: Advertised): void {
    // earlier timers (probes done, a previous announcement's second shot) are over or superseded: the list stays short however often it is re-announced
    a.timers.forEach(clearTimeout);
    a.timers = [
      later(
        "mdns responder announce",
        1000,
        () => this.advertised.has(keyOf(a.type, a.name)) && this.multicast(a.records, [], true),
      ),
    ];
    this.deps.log.info({ instance: a.mdnsName, type: `${a.type.service}.${a.type.proto}` }, "mDNS: announced");
    this.multicast(a.records, [], true);
  }

  private withdraw(type: ServiceType, name: string, domain: string): void {
    const key = keyOf(type, name);
    const a = this.advertised.get(key);
    if (!a || a.domain !== domain) return;
    a.timers.forEach(clearTimeout);
    this.advertised.delete(key);
    this.unindexHost(key, a);
    const now = this.deps.clock.now();
    const until = now + HOST_TTL * 1000;
    if (this.withdrawn.size > SWEEP_AT) for (const [k, t] of this.withdrawn) if (t <= now) this.withdrawn.delete(k);
    this.withdrawn.set(keyOf(a.type, a.mdnsName), until);
    this.withdrawn.set(keyOf(a.type, a.name), until);
    if (a.state !== "announced") return;
    // §10.1: goodbye; shared PTRs still claimed by another of our instances stay
    const stillUsed = new Set([...this.advertised.values()].flatMap((o) => o.records.map((r) => recordKey(r, r.data))));
    this.multicast(
      a.records.filter((r) => !stillUsed.has(recordKey(r, r.data))).map((r) => ({ ...r, ttl: 0 })),
      [],
      true,
    );
    this.deps.log.info({ instance: a.mdnsName }, "mDNS: goodbye sent");
    this.counts.goodbyes++;
  }

  private multicast(answers: ResourceRecord[], additionals: ResourceRecord[], force = false): void {
    const now = this.deps.clock.now();
    // §6: a record is multicast at most once a second
    const fresh = force
      ? answers
      : answers.filter((r) => (this.lastMulticast.get(recordKey(r, r.data)) ?? 0) < now - 1000);
    if (fresh.length === 0) return;
    for (const r of fresh) this.lastMulticast.set(recordKey(r, r.data), now);
    // only the last second matters: older entries (records of instances since withdrawn among them) are dropped in bulk
    if (this.lastMulticast.size > SWEEP_AT)
      for (const [k, at] of this.lastMulticast) if (at < now - 1000) this.lastMulticast.delete(k);
    for (const wire of encodeMdnsResponses({ answers: fresh, additionals }))
      for (const t of this.deps.transports) t.send(wire);
  }

  /** A response from someone else: does it claim one of our names (§9)? */
  onResponse(msg: DecodedMessage): void {
    const ours = this.byMdnsName(); // once per packet, not once per record
    for (const r of [...msg.answers, ...msg.additionals]) {
      if (r.ttl === 0 || !isUnique(r.type)) continue;
      const k = nameKey(r.name);
      const a = ours.get(k)?.[0];
      if (!a) continue;
      const same = a.records.some((x) => x.data.type === r.type && sameData(x, r));
      if (same) continue;
      ours.delete(k); // renamed: later records for the old name are no longer ours
      this.conflict(a);
    }
  }

  /** Our instances by the name they have on the LAN. */
  private byMdnsName(): Map<string, Advertised[]> {
    const out = new Map<string, Advertised[]>();
    for (const a of this.advertised.values()) {
      const k = nameKey(instanceName(a.type, a.mdnsName, LOCAL));
      const list = out.get(k);
      if (list) list.push(a);
      else out.set(k, [a]);
    }
    return out;
  }

  /** Rename to "name (2)", "name (3)", … and probe again (RFC 6763 §9 style, as avahi does). */
  private conflict(a: Advertised): void {
    this.counts.conflicts++;
    a.timers.forEach(clearTimeout);
    a.timers = [];
    const m = /^(.*) \((\d+)\)$/.exec(a.mdnsName);
    a.mdnsName = m ? `${m[1]} (${Number(m[2]) + 1})` : `${a.mdnsName} (2)`;
    const inst = this.deps.registry.instance(a.type, a.name, a.domain);
    if (!inst) return;
    a.records = this.recordsFor(inst, a.mdnsName);
    a.state = "probing";
    a.probes = 0;
    this.deps.log.warn({ instance: a.name, now: a.mdnsName }, "mDNS: name conflict, renamed");
    this.probe(a);
  }

  /** Answer a query from `from` on `t`. */
  onQuery(msg: DecodedMessage, from: RemoteInfo, t: MdnsTransport): void {
    const legacy = from.port !== MDNS_PORT;
    // simultaneous probes for a name we are probing too (§8.2): the lexicographically later proposal wins
    if (msg.authorities.length > 0) this.tieBreak(msg);
    const multicastAnswers: ResourceRecord[] = [];
    const unicastAnswers: ResourceRecord[] = [];
    const extras: ResourceRecord[] = [];
    // indexed once per packet: a packet may carry a thousand questions and known answers, and we many records
    const ours = this.announcedByName();
    const known = byNameAndType(msg.answers);
    // the same question twice in a packet asks nothing new
    const asked = new Set<string>();
    for (const q of msg.questions) {
      const qk = `${nameKey(q.name)}|${q.type}|${q.class & UNICAST_RESPONSE}`;
      if (asked.has(qk)) continue;
      asked.add(qk);
      const answers = this.answer(ours, q.name, q.type).filter((r) => !knownAnswer(r, known));
      if (answers.length === 0) continue;
      if (legacy || q.class & UNICAST_RESPONSE) unicastAnswers.push(...answers);
      else multicastAnswers.push(...answers);
      extras.push(...additionalFor(ours, answers));
    }
    if (unicastAnswers.length === 0 && multicastAnswers.length === 0) return;
    const dedup = (rs: ResourceRecord[], not: ResourceRecord[] = []) => {
      const seen = new Set(not.map((r) => recordKey(r, r.data)));
      return rs.filter((r) => {
        const k = recordKey(r, r.data);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    };
    if (unicastAnswers.length > 0) {
      const answers = dedup(unicastAnswers);
      const additionals = dedup(extras, answers);
      if (legacy) {
        // §6.7: the querier is a plain DNS client: its ID and question, short TTLs, no cache-flush bits
        const cap = (r: ResourceRecord): ResourceRecord => ({
          ...r,
          ttl: Math.min(r.ttl, LEGACY_TTL_CAP),
          class: Class.IN,
        });
        const q = msg.questions[0]!;
        t.send(
          encodeMdnsResponse(
            { answers: answers.map(cap), additionals: additionals.map(cap) },
            { id: msg.id, question: { name: q.name, type: q.type, class: q.class & 0x7fff } },
          ),
          { address: from.address, port: from.port },
        );
      } else {
        for (const wire of encodeMdnsResponses({ answers, additionals }))
          t.send(wire, { address: from.address, port: from.port });
      }
    }
    if (multicastAnswers.length > 0) {
      const answers = dedup(multicastAnswers);
      const shared = answers.some((r) => !isUnique(r.data.type));
      // §6: answers with shared records wait 20-120 ms, so that several responders do not collide
      const send = () => this.multicast(answers, dedup(extras, answers));
      if (shared) later("mdns responder answer", 20 + Math.floor(Math.random() * 100), send);
      else send();
    }
  }

  private tieBreak(msg: DecodedMessage): void {
    const ours = this.byMdnsName();
    for (const q of msg.questions) {
      for (const a of ours.get(nameKey(q.name)) ?? []) {
        if (a.state !== "probing") continue;
        const theirs = msg.authorities.filter((r) => labelsEqual(r.name, q.name));
        const ours = a.records.filter((r) => labelsEqual(r.name, q.name));
        if (theirs.length === 0 || theirs.every((r) => ours.some((o) => o.data.type === r.type && sameData(o, r))))
          continue;
        // §8.2: the lexicographically later set of records wins; losing: defer a second, probe again
        if (compareRecordSets(ours, theirs) < 0) {
          a.timers.forEach(clearTimeout);
          a.probes = 0;
          a.timers = [later("mdns responder probe", 1000, () => this.probe(a))];
        }
      }
    }
  }

  /** The records of announced instances, by owner name key. */
  private announcedByName(): Map<string, ResourceRecord[]> {
    const out = new Map<string, ResourceRecord[]>();
    for (const a of this.advertised.values()) {
      if (a.state !== "announced") continue;
      for (const r of a.records) {
        const k = nameKey(r.name);
        const list = out.get(k);
        if (list) list.push(r);
        else out.set(k, [r]);
      }
    }
    return out;
  }

  /** Our records answering one question (learned instances are never among them). */
  private answer(ours: Map<string, ResourceRecord[]>, qname: Labels, qtype: number): ResourceRecord[] {
    const direct = (ours.get(nameKey(qname)) ?? []).filter((r) => qtype === Type.ANY || r.data.type === qtype);
    if (direct.length > 0) return direct;
    // _hash names are answered on mDNS too, when the owner is one of ours
    const p = parseQueryName(qname, [LOCAL]);
    if (p?.kind !== "hash") return [];
    const owner = this.deps.registry.ownerOf(p.type, p.key);
    const a = owner && this.advertised.get(keyOf(owner.type, owner.name));
    if (a?.state !== "announced") return [];
    const own = instanceName(a.type, a.mdnsName, LOCAL);
    return a.records
      .filter((r) => labelsEqual(r.name, own) || r.data.type === Type.A || r.data.type === Type.AAAA)
      .map((r) => ({ ...r, name: qname }))
      .filter((r) => qtype === Type.ANY || r.data.type === qtype);
  }
}

/** RFC 6763 §12 additional records for what we answer: SRV, TXT and addresses of a PTR's instance; addresses of an SRV's target. */
function additionalFor(ours: Map<string, ResourceRecord[]>, answers: ResourceRecord[]): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  const addresses = (name: Labels) =>
    (ours.get(nameKey(name)) ?? []).filter((x) => x.data.type === Type.A || x.data.type === Type.AAAA);
  for (const r of answers) {
    if (r.data.type === Type.PTR) {
      const own = (ours.get(nameKey(r.data.target)) ?? []).filter((x) => x.data.type !== Type.PTR);
      out.push(...own);
      for (const x of own) if (x.data.type === Type.SRV) out.push(...addresses(x.data.srv.target));
    } else if (r.data.type === Type.SRV) {
      out.push(...addresses(r.data.srv.target));
    }
  }
  return out;
}

/** Known answers by name key and type. */
function byNameAndType(records: readonly DecodedRecord[]): Map<string, DecodedRecord[]> {
  const out = new Map<string, DecodedRecord[]>();
  for (const r of records) {
    const k = `${nameKey(r.name)}|${r.type}`;
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** A known answer (§7.1) suppresses ours when it has the same data and at least half our TTL. */
function knownAnswer(r: ResourceRecord, known: Map<string, DecodedRecord[]>): boolean {
  return (known.get(`${nameKey(r.name)}|${r.data.type}`) ?? []).some((k) => sameData(r, k) && k.ttl >= r.ttl / 2);
}

/** Our record's data against one decoded off the wire. */
function sameData(ours: ResourceRecord, theirs: DecodedRecord): boolean {
  const d = ours.data;
  const t = theirs.data;
  switch (d.type) {
    case Type.PTR:
      return "target" in t && labelsEqual(d.target, t.target);
    case Type.SRV:
      return (
        "port" in t &&
        t.port === d.srv.port &&
        t.priority === d.srv.priority &&
        t.weight === d.srv.weight &&
        labelsEqual(t.target, d.srv.target)
      );
    case Type.TXT: {
      if (!("strings" in t)) return false;
      const mine = d.strings.length === 0 ? [new Uint8Array(0)] : d.strings;
      return mine.length === t.strings.length && mine.every((s, i) => Buffer.compare(s, t.strings[i]!) === 0);
    }
    case Type.A:
    case Type.AAAA:
      return "address" in t && t.address === d.address;
    default:
      return false;
  }
}
