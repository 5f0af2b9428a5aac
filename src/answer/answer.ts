// The one handler contract between frontends and the core:
//
//   answerQuery(query, registry, options, now) -> Response
//
// Pure: no sockets, no clock of its own. The frontend decodes the request,
// calls this, and encodes the Response with the size its transport allows
// (UDP: the client's EDNS size or 512, setting TC when the answer does not
// fit; TCP: 65535). NXDOMAIN, NODATA and REFUSED are results, not errors.
//
// `sizeLimit` is that size: a browse lists no more PTRs than it can hold, and
// no more additional records than the room its PTRs leave, so a type of
// 100,000 instances costs what one message of it costs, not what the type
// costs; PTRs left out are counted in `omittedAnswers` (the reply has TC=1).
import {
  formatServiceType,
  hostName,
  instanceName,
  labelsEqual,
  lowerAscii,
  parseQueryName,
  typeName,
  type Labels,
  type ParsedName,
  type ServiceType,
} from "../names.js";
import { domainKey, type Registry } from "../registry/registry.js";
import { LOCAL_DOMAIN, type Instance } from "../registry/types.js";
import { Class, Opcode, Rcode, Type } from "../wire/constants.js";
import { ExtendedError, extendedErrorOption, type Edns, type ResourceRecord, type Response } from "../wire/message.js";
import type { Query } from "../wire/query.js";
import { typeKey } from "./type-versions.js";
import { zoneNameServer, zoneSoa } from "./zone.js";

export interface AnswerOptions {
  /** Served domains, `local.` included, each as labels. */
  readonly domains: readonly Labels[];
  /** TTL of positive answers, seconds (capped by a lease's remaining time). */
  readonly ttl: number;
  /** SOA minimum: how long resolvers may cache NXDOMAIN/NODATA (RFC 2308), seconds. */
  readonly negativeTtl: number;
  /** UDP payload size we advertise in our OPT record. */
  readonly udpPayloadSize: number;
  /**
   * The name server named by the NS RRset at each served apex (RFC 1034
   * §4.2.1; `local.` has none): `host` = that label under each zone (its
   * addresses, when registered there, go in the additional section), `name` =
   * one absolute name for every zone. Undefined: no NS RRset.
   */
  readonly zoneNs?: ZoneNs;
  /**
   * The DNS-over-TLS port where DNS Push is offered (--dns-tls): then
   * `_dns-push-tls._tcp.<zone>` SRV names it, on the zone's name server
   * (RFC 8765 §6.1). Undefined: no such record.
   */
  readonly pushPort?: number;
  /**
   * With a discovery proxy (mDNS on): TTLs of answers in `local.`, negative
   * ones included, are at most this (RFC 8766 §5.5.1: 10 s), since the LAN
   * may change them any moment. Undefined: `local.` is like any zone.
   */
  readonly localTtlCap?: number;
}

export type ZoneNs = { readonly host: string } | { readonly name: Labels };

export const DEFAULT_ANSWER_OPTIONS: Omit<AnswerOptions, "domains"> = {
  ttl: 30,
  negativeTtl: 5,
  udpPayloadSize: 1232,
};

/** A node's data: its RRsets by type, or `exists: false` for NXDOMAIN. */
interface Node {
  exists: boolean;
  rrsets: Map<number, ResourceRecord[]>;
  /** Records owed in the additional section when an RRset of this type is answered. */
  extra?: (type: number) => ResourceRecord[];
  /** Records of the answer RRset not listed because they cannot fit the size limit. */
  omitted?: number;
  /** A cut browse: what it depends on (see Response.onlyType). */
  onlyType?: { key: string; timeless: boolean };
  /** A `_hash` name whose type's first ring is still being built: SERVFAIL, Not Ready. */
  notReady?: string;
  /** Answered from a ring that is catching up: right for now, not to be kept. */
  provisional?: true;
}

// The fewest bytes a record of a browse reply can take once encoded (the
// encoder compresses every name it may): owner, type, class, TTL and RDATA
// length are 2 (a pointer) + 10; the rest is each type's RDATA. Sizes at least
// this large are what lets a browse stop listing early and still be right:
// records past the limit by these counts could never have been sent.

/** A PTR: its target is the instance's own label then a pointer to the type's name (the question). */
export function ptrBytesAtLeast(instanceLabel: string): number {
  return 12 + 1 + Buffer.byteLength(instanceLabel) + 2;
}

/** An instance's SRV (target never compressed, RFC 2782) and TXT, owners pointing at its PTR target. */
function instanceBytesAtLeast(target: Labels, txt: readonly Uint8Array[]): number {
  let targetBytes = 1;
  for (const l of target) targetBytes += 1 + Buffer.byteLength(l);
  let txtBytes = 0;
  for (const s of txt) txtBytes += 1 + s.length;
  return 12 + 6 + targetBytes + 12 + Math.max(1, txtBytes);
}

/** RFC 8482 §4.1: ANY gets one RRset, the most useful one the name has. */
const ANY_PREFERENCE = [Type.SRV, Type.PTR, Type.A, Type.AAAA, Type.TXT, Type.SOA];

export function answerQuery(
  query: Query,
  registry: Registry,
  options: AnswerOptions,
  now: number,
  sizeLimit = 65535,
): Response {
  const q = query.question;
  const res = baseResponse(query, options);
  if (query.edns && query.edns.version > 0) {
    res.rcode = Rcode.BADVERS; // RFC 6891 §6.1.3
    return res;
  }
  const parsed = parseQueryName(q.name, options.domains);
  if (!parsed || (q.class !== Class.IN && q.class !== Class.ANY) || q.type === Type.AXFR || q.type === Type.IXFR) {
    res.rcode = Rcode.REFUSED;
    return res;
  }
  res.aa = true;
  // the served domain's own labels (not the query's spelling of them) name its registrations: their key is worked out once
  const served = options.domains.find((d) => labelsEqual(d, parsed.domain)) ?? parsed.domain;
  const ctx = new Context(registry, options, now, parsed.domain, domainKey(served), Math.min(sizeLimit, 65535));
  if (
    options.pushPort !== undefined &&
    parsed.kind === "type" &&
    parsed.type.service === "_dns-push-tls" &&
    parsed.type.proto === "_tcp"
  ) {
    const push = ctx.pushService(q.name, options.pushPort);
    if (push) {
      if (q.type === Type.SRV || q.type === Type.ANY) res.answers.push(push.srv);
      else res.authorities.push(ctx.soa()); // NODATA
      res.additionals.push(...push.addresses);
      return res;
    }
  }
  const node = ctx.node(parsed, q.name);
  if (node.notReady !== undefined) {
    // RFC 8914 §4.15: Not Ready; a resolver tries again or elsewhere, and nothing is cached
    res.rcode = Rcode.SERVFAIL;
    res.aa = false;
    res.uncacheable = true;
    if (res.edns) res.edns.options.push(extendedErrorOption(ExtendedError.NOT_READY, node.notReady));
    return res;
  }
  if (node.provisional) res.uncacheable = true;
  if (!node.exists) {
    res.rcode = Rcode.NXDOMAIN;
    res.authorities.push(ctx.soa());
    return res;
  }
  let type = q.type;
  if (type === Type.ANY) type = ANY_PREFERENCE.find((t) => node.rrsets.has(t)) ?? Type.ANY;
  const rrs = node.rrsets.get(type);
  if (!rrs || rrs.length === 0) {
    res.authorities.push(ctx.soa()); // NODATA
    return res;
  }
  res.answers.push(...rrs);
  if (node.onlyType) res.onlyType = node.onlyType;
  if (node.omitted)
    res.omittedAnswers = node.omitted; // it cannot fit: its additional records would not either
  else res.additionals.push(...(node.extra?.(type) ?? []));
  return res;
}

/**
 * The reply to a request that could not be processed (FORMERR, NOTIMP): a
 * header only, and an OPT when the request had one (`edns`, from replyEdns).
 */
export function errorResponse(id: number, opcode: number, rd: boolean, rcode: number, edns?: Edns): Response {
  return {
    id,
    opcode,
    aa: false,
    rd,
    cd: false,
    rcode,
    answers: [],
    authorities: [],
    additionals: [],
    ...(edns ? { edns } : {}),
  };
}

/**
 * The OPT of a reply to a request that carried `requestEdns`: every such reply
 * has one, errors included (RFC 6891 §6.1.1), with our UDP size, version 0
 * and the request's DO bit (RFC 3225 §3).
 */
export function replyEdns(requestEdns: Edns | undefined, udpPayloadSize: number): Edns | undefined {
  return requestEdns ? { udpSize: udpPayloadSize, version: 0, dnssecOk: requestEdns.dnssecOk, options: [] } : undefined;
}

function baseResponse(query: Query, options: AnswerOptions): Response {
  const edns = replyEdns(query.edns, options.udpPayloadSize);
  return {
    id: query.id,
    opcode: Opcode.QUERY,
    aa: false,
    rd: query.rd,
    cd: query.cd,
    rcode: Rcode.NOERROR,
    question: query.question,
    answers: [],
    authorities: [],
    additionals: [],
    ...(edns ? { edns } : {}),
  };
}

/** Builds the records of one answer, spelling names the way the client did. */
class Context {
  constructor(
    private readonly registry: Registry,
    private readonly options: AnswerOptions,
    private readonly now: number,
    private readonly domain: Labels,
    /** The served domain asked about, as the registry names it: every read is of what is served there. */
    private readonly scope: string,
    /** The reply's size limit: a browse lists no more than fits it (see ptrBytesAtLeast). */
    private readonly sizeLimit: number,
  ) {}

  /** The zone's SOA, as a transfer sends it (zone.ts): one serial everywhere. */
  soa(): ResourceRecord {
    return zoneSoa(this.domain, this.registry.serial(), { negativeTtl: this.capped(this.options.negativeTtl) });
  }

  private ttlFor(expiresAt: number | undefined): number {
    if (expiresAt === undefined) return this.ttl;
    return Math.max(0, Math.min(this.ttl, Math.floor((expiresAt - this.now) / 1000)));
  }

  /** The TTL of positive answers here. */
  private get ttl(): number {
    return this.capped(this.options.ttl);
  }

  private capped(ttl: number): number {
    const cap = this.options.localTtlCap;
    return cap !== undefined && this.scope === LOCAL_DOMAIN ? Math.min(ttl, cap) : ttl;
  }

  node(p: ParsedName, qname: Labels): Node {
    switch (p.kind) {
      case "apex": {
        const rrsets = new Map<number, ResourceRecord[]>([[Type.SOA, [this.soa()]]]);
        const ns = this.nameServer();
        if (!ns) return { exists: true, rrsets };
        rrsets.set(Type.NS, [{ name: this.domain, ttl: this.ttl, data: { type: Type.NS, target: ns.name } }]);
        // like glue: the name server's addresses, when the registry has them
        return {
          exists: true,
          rrsets,
          extra: (t) => (t === Type.NS && ns.host ? this.hostAddressRecords(ns.name, ns.host) : []),
        };
      }
      case "services": {
        const types = this.registry.serviceTypes(this.scope);
        const ptrs = types.map((t) => this.ptr(qname, typeName(t, this.domain)));
        return { exists: ptrs.length > 0, rrsets: new Map([[Type.PTR, ptrs]]) };
      }
      case "type": {
        const held = this.registry.instancesHeld(p.type, this.scope); // no copy of a type of 100,000
        return this.browse(qname, p.type, p.typeLabels, held?.size ?? 0, held?.values() ?? []);
      }
      case "subtype": {
        const matching = this.registry.instancesWithSubtype(p.type, p.subtype, this.scope);
        return this.browse(qname, p.type, p.typeLabels, matching.length, matching);
      }
      case "instance": {
        const inst = this.registry.instance(p.type, p.instance, this.scope);
        if (!inst) return { exists: false, rrsets: new Map() };
        return this.instanceNode(qname, inst, p.typeLabels, false);
      }
      case "hash": {
        const owner = this.registry.ownerOf(p.type, p.key, this.scope);
        const state = this.registry.ringState(p.type, this.scope);
        if (state === "building")
          return {
            exists: true,
            rrsets: new Map(),
            notReady: `the ring of ${formatServiceType(p.type)} is being built`,
          };
        // catching up, and the old ring's owner and those after it have left: the new ring will say
        if (!owner && state === "catching-up")
          return {
            exists: true,
            rrsets: new Map(),
            notReady: `the ring of ${formatServiceType(p.type)} is being rebuilt`,
          };
        if (!owner) return { exists: false, rrsets: new Map() };
        const node = this.instanceNode(qname, owner, p.typeLabels, true);
        return state === "catching-up" ? { ...node, provisional: true } : node;
      }
      case "host": {
        const host = this.registry.host(p.host, this.scope);
        if (!host) return { exists: false, rrsets: new Map() };
        return { exists: true, rrsets: this.addressSets(qname, host.addresses, host.expiresAt) };
      }
      case "intermediate":
        return { exists: this.intermediateExists(p.path), rrsets: new Map() };
      case "unknown":
      case "badhash":
        return { exists: false, rrsets: new Map() };
    }
  }

  /** `_dns-push-tls._tcp.<zone>` SRV: DNS Push on the zone's name server (none in local.), its addresses when it is a host here. */
  pushService(owner: Labels, port: number): { srv: ResourceRecord; addresses: ResourceRecord[] } | undefined {
    const ns = this.nameServer();
    if (!ns) return undefined;
    return {
      srv: {
        name: owner,
        ttl: this.ttl,
        data: { type: Type.SRV, srv: { priority: 0, weight: 0, port, target: ns.name } },
      },
      addresses: ns.host !== undefined ? this.hostAddressRecords(ns.name, ns.host) : [],
    };
  }

  private nameServer(): { name: Labels; host?: string } | undefined {
    return zoneNameServer(this.domain, this.options.zoneNs);
  }

  private hostAddressRecords(owner: Labels, host: string): ResourceRecord[] {
    const h = this.registry.host(host, this.scope);
    if (!h) return [];
    const { a, aaaa } = this.addressRecords(owner, h.addresses, h.expiresAt);
    return a.concat(aaaa);
  }

  /** Empty non-terminals (RFC 8020): they exist when a name below them does. */
  private intermediateExists(path: Labels): boolean {
    const types = this.registry.serviceTypes(this.scope);
    const last = lowerAscii(path[path.length - 1]!);
    // _udp is also above _services._dns-sd._udp, which lists every type (RFC 6763 §9)
    if (path.length === 1) return types.some((t) => t.proto === last) || (last === "_udp" && types.length > 0);
    if (path.length === 2) return types.length > 0; // _dns-sd._udp
    const t: ServiceType = { service: lowerAscii(path[1]!), proto: last as ServiceType["proto"] };
    const instances = this.registry.instances(t, this.scope);
    if (lowerAscii(path[0]!) === "_sub") return instances.some((i) => i.subtypes.length > 0);
    return instances.length > 0; // _hash
  }

  private ptr(owner: Labels, target: Labels, ttl = this.ttl): ResourceRecord {
    return { name: owner, ttl, data: { type: Type.PTR, target } };
  }

  /** `total` instances, read from `all` only as far as they can fit. */
  private browse(qname: Labels, type: ServiceType, typeAs: Labels, total: number, all: Iterable<Instance>): Node {
    // only what can fit is turned into records: up to the first PTR that takes the set past the limit,
    // which alone proves the set cannot fit
    let answerBytes = 0;
    const instances: Instance[] = [];
    for (const i of all) {
      if (answerBytes > this.sizeLimit) break;
      instances.push(i);
      answerBytes += ptrBytesAtLeast(i.name);
    }
    const ptrs = instances.map((i) =>
      this.ptr(qname, instanceName(type, i.name, this.domain, typeAs), this.ttlFor(i.expiresAt)),
    );
    return {
      exists: ptrs.length > 0,
      rrsets: new Map([[Type.PTR, ptrs]]),
      omitted: total - instances.length,
      // cut (TC), a browse carries its PTRs and nothing else: it changes when the type does, or as leases count down
      onlyType: { key: typeKey(type), timeless: instances.every((i) => i.expiresAt === undefined) },
      // RFC 6763 §12.1: PTR -> the instances' SRV, TXT and address records (each host's once)
      // built only while they may fit the room the PTRs leave (the encoder then drops what does not, a whole RRset at a time)
      extra: () => {
        const out: ResourceRecord[] = [];
        const hostsDone = new Set<string>();
        let room = this.sizeLimit - answerBytes;
        for (const i of instances) {
          room -= instanceBytesAtLeast(this.target(i), i.txt);
          if (room < 0) break;
          out.push(...this.instanceRecords(instanceName(type, i.name, this.domain, typeAs), i));
          const hostKey = i.host.join(".");
          if (!hostsDone.has(hostKey)) {
            hostsDone.add(hostKey);
            const addresses = this.targetAddresses(i); // one host's: the encoder sends each RRset whole or not at all
            for (const a of addresses) room -= a.data.type === Type.A ? 2 + 10 + 4 : 2 + 10 + 16; // owner: a pointer to the SRV target
            out.push(...addresses);
          }
        }
        return out;
      },
    };
  }

  private instanceNode(owner: Labels, inst: Instance, typeAs: Labels, isHash: boolean): Node {
    const [srv, txt] = this.instanceRecords(owner, inst);
    const rrsets = new Map<number, ResourceRecord[]>([
      [Type.SRV, [srv]],
      [Type.TXT, [txt]],
    ]);
    const hostAddrs = this.hostAddresses(inst);
    if (isHash) {
      // the owner's addresses and TXT under the hash name, for clients that can only ask for A
      for (const [t, rrs] of this.addressSets(owner, hostAddrs?.addresses ?? [], hostAddrs?.expiresAt))
        rrsets.set(t, rrs);
    }
    const realName = instanceName(inst.type, inst.name, this.domain, typeAs);
    return {
      exists: true,
      rrsets,
      extra: (t) => {
        if (t === Type.SRV) {
          // RFC 6763 §12.2: SRV -> target addresses; a hash answer also names the owning instance
          const own = isHash && !labelsEqual(realName, owner) ? this.instanceRecords(realName, inst) : [];
          return [...own, ...this.targetAddresses(inst)];
        }
        return [];
      },
    };
  }

  /** SRV and TXT of an instance, under `owner`. */
  private instanceRecords(owner: Labels, inst: Instance): [ResourceRecord, ResourceRecord] {
    const ttl = this.ttlFor(inst.expiresAt);
    return [
      {
        name: owner,
        ttl,
        data: {
          type: Type.SRV,
          srv: { priority: inst.priority, weight: inst.weight, port: inst.port, target: this.target(inst) },
        },
      },
      { name: owner, ttl, data: { type: Type.TXT, strings: inst.txt } },
    ];
  }

  private target(inst: Instance): Labels {
    return hostName(inst.host, this.domain);
  }

  private hostAddresses(inst: Instance) {
    return inst.host.length === 1 ? this.registry.host(inst.host[0]!, this.scope) : undefined;
  }

  private targetAddresses(inst: Instance): ResourceRecord[] {
    const h = this.hostAddresses(inst);
    if (!h) return [];
    const { a, aaaa } = this.addressRecords(this.target(inst), h.addresses, h.expiresAt);
    return a.concat(aaaa);
  }

  private addressRecords(
    owner: Labels,
    addresses: readonly string[],
    expiresAt: number | undefined,
  ): { a: ResourceRecord[]; aaaa: ResourceRecord[] } {
    const ttl = this.ttlFor(expiresAt);
    const a: ResourceRecord[] = [];
    const aaaa: ResourceRecord[] = [];
    for (const address of addresses) {
      // registries hold only valid addresses, so a colon is enough to tell the families apart
      if (address.includes(":")) aaaa.push({ name: owner, ttl, data: { type: Type.AAAA, address } });
      else a.push({ name: owner, ttl, data: { type: Type.A, address } });
    }
    return { a, aaaa };
  }

  /** A and AAAA RRsets as a node's data. */
  private addressSets(
    owner: Labels,
    addresses: readonly string[],
    expiresAt: number | undefined,
  ): Map<number, ResourceRecord[]> {
    const { a, aaaa } = this.addressRecords(owner, addresses, expiresAt);
    const m = new Map<number, ResourceRecord[]>();
    if (a.length) m.set(Type.A, a);
    if (aaaa.length) m.set(Type.AAAA, aaaa);
    return m;
  }
}
