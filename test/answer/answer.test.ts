// Answers as tables (CoreDNS style): question -> rcode, flags and sections as
// zone-file text, sorted. "*" as a TTL means "don't compare" (leases count down).
import { beforeAll, describe, expect, it } from "vitest";
import { answerQuery, ptrBytesAtLeast, type AnswerOptions } from "../../src/answer/answer.js";
import { ManualClock } from "../../src/clock.js";
import { formatName, parseName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { parseServicesFile } from "../../src/registry/services-file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Class, rcodeName, Type, typeName } from "../../src/wire/constants.js";
import { encodeResponse, type ResourceRecord, type Response } from "../../src/wire/message.js";
import type { Query } from "../../src/wire/query.js";

const SERVICES = `
services:
  - {instance: alpha, type: _cache._tcp, subtypes: [_eu], host: alpha, addresses: [192.0.2.10, "2001:db8::10"], port: 11211, txt: {v: "1"}}
  - {instance: beta, type: _cache._tcp, host: beta, addresses: [192.0.2.11], port: 11212, weight: 2}
  - {instance: My.Printer, type: _ipp._tcp, host: printer, addresses: [203.0.113.4], port: 631}
  - {instance: ext, type: _db._tcp, host: db.example.com., port: 5432}
`;

const clock = new ManualClock(1_800_000_000_000);
const registry = new Registry({ clock, store: new MemoryStore() });
const options: AnswerOptions = {
  domains: [["local"], ["svc", "example"]],
  ttl: 30,
  negativeTtl: 5,
  udpPayloadSize: 1232,
};

beforeAll(async () => {
  await registry.open();
  const s = parseServicesFile(SERVICES, "t.yaml");
  registry.loadStatic(s.instances, s.hosts);
  await registry.register(
    {
      name: "leased",
      type: { service: "_lease", proto: "_udp" },
      subtypes: [],
      host: ["lh"],
      port: 9,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update",
      expiresAt: clock.now() + 12_500,
    },
    [{ name: "lh", addresses: ["198.51.100.9"], source: "update" }],
  );
});

function query(name: string, type: number, extra: Partial<Query> = {}): Query {
  return {
    id: 1,
    opcode: 0,
    rd: true,
    cd: false,
    question: { name: parseName(name), type, class: Class.IN },
    ...extra,
  };
}

function rr(r: ResourceRecord, ttl: boolean): string {
  const d = r.data;
  const rdata = (() => {
    switch (d.type) {
      case Type.A:
      case Type.AAAA:
        return d.address;
      case Type.PTR:
      case Type.NS:
        return formatName(d.target);
      case Type.SRV:
        return `${d.srv.priority} ${d.srv.weight} ${d.srv.port} ${formatName(d.srv.target)}`;
      case Type.TXT:
        return d.strings.length === 0
          ? '""'
          : d.strings.map((s) => JSON.stringify(Buffer.from(s).toString())).join(" ");
      case Type.SOA:
        return `${formatName(d.soa.mname)} ${formatName(d.soa.rname)} * ${d.soa.refresh} ${d.soa.retry} ${d.soa.expire} ${d.soa.minimum}`;
      default:
        return "?";
    }
  })();
  return `${formatName(r.name)} ${ttl ? r.ttl : "*"} IN ${typeName(d.type)} ${rdata}`;
}

interface Case {
  q: [string, number];
  rcode?: string;
  aa?: boolean;
  answer?: string[];
  ns?: string[];
  extra?: string[];
  ttl?: boolean; // compare TTLs too
}

function check(res: Response, c: Case) {
  const ttl = c.ttl ?? false;
  expect(rcodeName(res.rcode)).toBe(c.rcode ?? "NOERROR");
  expect(res.aa).toBe(c.aa ?? true);
  expect(res.answers.map((r) => rr(r, ttl)).sort()).toEqual([...(c.answer ?? [])].sort());
  expect(res.authorities.map((r) => rr(r, ttl)).sort()).toEqual([...(c.ns ?? [])].sort());
  if (c.extra) expect(res.additionals.map((r) => rr(r, ttl)).sort()).toEqual([...c.extra].sort());
}

const SOA_LOCAL = "local. * IN SOA local. hostmaster.local. * 3600 600 86400 5";
const SOA_SVC = "svc.example. * IN SOA svc.example. hostmaster.svc.example. * 3600 600 86400 5";

const cases: [string, Case][] = [
  [
    "service type enumeration",
    {
      q: ["_services._dns-sd._udp.local.", Type.PTR],
      answer: [
        "_services._dns-sd._udp.local. * IN PTR _cache._tcp.local.",
        "_services._dns-sd._udp.local. * IN PTR _ipp._tcp.local.",
        "_services._dns-sd._udp.local. * IN PTR _db._tcp.local.",
        "_services._dns-sd._udp.local. * IN PTR _lease._udp.local.",
      ],
      extra: [],
    },
  ],
  [
    "browse with RFC 6763 §12.1 additionals",
    {
      q: ["_cache._tcp.local.", Type.PTR],
      answer: [
        "_cache._tcp.local. * IN PTR alpha._cache._tcp.local.",
        "_cache._tcp.local. * IN PTR beta._cache._tcp.local.",
      ],
      extra: [
        "alpha._cache._tcp.local. * IN SRV 0 1 11211 alpha.local.",
        'alpha._cache._tcp.local. * IN TXT "v=1"',
        "alpha.local. * IN A 192.0.2.10",
        "alpha.local. * IN AAAA 2001:db8::10",
        "beta._cache._tcp.local. * IN SRV 0 2 11212 beta.local.",
        'beta._cache._tcp.local. * IN TXT ""',
        "beta.local. * IN A 192.0.2.11",
      ],
    },
  ],
  [
    "browse keeps the client's case",
    {
      q: ["_CACHE._Tcp.Svc.Example.", Type.PTR],
      answer: [
        "_CACHE._Tcp.Svc.Example. * IN PTR alpha._CACHE._Tcp.Svc.Example.",
        "_CACHE._Tcp.Svc.Example. * IN PTR beta._CACHE._Tcp.Svc.Example.",
      ],
    },
  ],
  [
    "subtype browse",
    {
      q: ["_eu._sub._cache._tcp.local.", Type.PTR],
      answer: ["_eu._sub._cache._tcp.local. * IN PTR alpha._cache._tcp.local."],
    },
  ],
  ["unknown subtype is NXDOMAIN", { q: ["_us._sub._cache._tcp.local.", Type.PTR], rcode: "NXDOMAIN", ns: [SOA_LOCAL] }],
  [
    "SRV with target addresses (§12.2)",
    {
      q: ["alpha._cache._tcp.local.", Type.SRV],
      answer: ["alpha._cache._tcp.local. * IN SRV 0 1 11211 alpha.local."],
      extra: ["alpha.local. * IN A 192.0.2.10", "alpha.local. * IN AAAA 2001:db8::10"],
    },
  ],
  [
    "instance names are case-insensitive, answered as asked",
    { q: ["ALPHA._cache._tcp.local.", Type.TXT], answer: ['ALPHA._cache._tcp.local. * IN TXT "v=1"'], extra: [] },
  ],
  [
    "an instance label with a dot",
    {
      q: ["My\\.Printer._ipp._tcp.local.", Type.SRV],
      answer: ["My\\.Printer._ipp._tcp.local. * IN SRV 0 1 631 printer.local."],
    },
  ],
  [
    "an absolute SRV target gets no additional addresses",
    {
      q: ["ext._db._tcp.local.", Type.SRV],
      answer: ["ext._db._tcp.local. * IN SRV 0 1 5432 db.example.com."],
      extra: [],
    },
  ],
  ["host A", { q: ["alpha.local.", Type.A], answer: ["alpha.local. * IN A 192.0.2.10"] }],
  [
    "host AAAA under another domain",
    { q: ["alpha.svc.example.", Type.AAAA], answer: ["alpha.svc.example. * IN AAAA 2001:db8::10"] },
  ],
  ["NODATA: host without AAAA", { q: ["beta.local.", Type.AAAA], ns: [SOA_LOCAL] }],
  ["NODATA: instance asked for A", { q: ["alpha._cache._tcp.local.", Type.A], ns: [SOA_LOCAL] }],
  ["NXDOMAIN: unknown instance", { q: ["nobody._cache._tcp.local.", Type.SRV], rcode: "NXDOMAIN", ns: [SOA_LOCAL] }],
  [
    "NXDOMAIN under a configured domain carries its SOA",
    { q: ["nobody.svc.example.", Type.A], rcode: "NXDOMAIN", ns: [SOA_SVC] },
  ],
  ["NXDOMAIN: unknown type", { q: ["_none._tcp.local.", Type.PTR], rcode: "NXDOMAIN", ns: [SOA_LOCAL] }],
  ["empty non-terminal _tcp is NODATA", { q: ["_tcp.local.", Type.PTR], ns: [SOA_LOCAL] }],
  ["empty non-terminal _hash is NODATA", { q: ["_hash._cache._tcp.local.", Type.SRV], ns: [SOA_LOCAL] }],
  ["apex SOA", { q: ["svc.example.", Type.SOA], answer: [SOA_SVC] }],
  ["REFUSED outside served domains, not authoritative", { q: ["example.com.", Type.A], rcode: "REFUSED", aa: false }],
  ["REFUSED for zone transfers", { q: ["local.", Type.AXFR], rcode: "REFUSED", aa: false }],
  [
    "ANY gets one RRset (RFC 8482)",
    { q: ["alpha._cache._tcp.local.", Type.ANY], answer: ["alpha._cache._tcp.local. * IN SRV 0 1 11211 alpha.local."] },
  ],
  [
    "leased records: TTL capped by the lease",
    {
      q: ["leased._lease._udp.local.", Type.SRV],
      ttl: true,
      answer: ["leased._lease._udp.local. 12 IN SRV 0 1 9 lh.local."],
      extra: ["lh.local. 30 IN A 198.51.100.9"],
    },
  ],
];

describe("answerQuery", () => {
  it.each(cases)("%s", (_, c) => check(answerQuery(query(c.q[0], c.q[1]), registry, options, clock.now()), c));

  it("_hash SRV: exactly one answer, the ring owner, named as asked", () => {
    for (let k = 0; k < 200; k++) {
      const res = answerQuery(query(`Key-${k}._hash._cache._tcp.local.`, Type.SRV), registry, options, clock.now());
      const owner = registry.ownerOf({ service: "_cache", proto: "_tcp" }, `key-${k}`)!;
      expect(res.answers).toHaveLength(1);
      expect(rr(res.answers[0]!, false)).toBe(
        `Key-${k}._hash._cache._tcp.local. * IN SRV 0 ${owner.weight} ${owner.port} ${owner.name}.local.`,
      );
      // the additional section names the owning instance and its addresses
      expect(res.additionals.map((r) => rr(r, false))).toContain(
        `${owner.name}._cache._tcp.local. * IN SRV 0 ${owner.weight} ${owner.port} ${owner.name}.local.`,
      );
    }
  });

  it("_hash A/AAAA/TXT answer with the owner's data", () => {
    const owner = registry.ownerOf({ service: "_cache", proto: "_tcp" }, "k1")!.name;
    const a = answerQuery(query("k1._hash._cache._tcp.local.", Type.A), registry, options, clock.now());
    expect(a.answers.map((r) => rr(r, false))).toEqual([
      `k1._hash._cache._tcp.local. * IN A ${owner === "alpha" ? "192.0.2.10" : "192.0.2.11"}`,
    ]);
    const txt = answerQuery(query("k1._hash._cache._tcp.local.", Type.TXT), registry, options, clock.now());
    expect(txt.answers.map((r) => rr(r, false))).toEqual([
      `k1._hash._cache._tcp.local. * IN TXT ${owner === "alpha" ? '"v=1"' : '""'}`,
    ]);
  });

  it("an NS RRset at each served apex but local. (--zone-ns), with the name server's addresses when it is a registered host", () => {
    const withNs = (zoneNs: AnswerOptions["zoneNs"]) => ({ ...options, zoneNs });
    check(answerQuery(query("svc.example.", Type.NS), registry, withNs({ host: "alpha" }), clock.now()), {
      q: ["", 0],
      answer: ["svc.example. * IN NS alpha.svc.example."],
      extra: ["alpha.svc.example. * IN A 192.0.2.10", "alpha.svc.example. * IN AAAA 2001:db8::10"],
    });
    check(answerQuery(query("svc.example.", Type.NS), registry, withNs({ host: "ns" }), clock.now()), {
      q: ["", 0],
      answer: ["svc.example. * IN NS ns.svc.example."],
      extra: [],
    });
    check(
      answerQuery(
        query("svc.example.", Type.NS),
        registry,
        withNs({ name: parseName("ns1.example.net.") }),
        clock.now(),
      ),
      { q: ["", 0], answer: ["svc.example. * IN NS ns1.example.net."], extra: [] },
    );
    check(answerQuery(query("local.", Type.NS), registry, withNs({ host: "alpha" }), clock.now()), {
      q: ["", 0],
      ns: [SOA_LOCAL],
    });
    check(answerQuery(query("svc.example.", Type.NS), registry, options, clock.now()), { q: ["", 0], ns: [SOA_SVC] });
  });

  it("_hash of a type with no instances is NXDOMAIN; a bad b32 key too", () => {
    check(answerQuery(query("k._hash._none._tcp.local.", Type.SRV), registry, options, clock.now()), {
      q: ["", 0],
      rcode: "NXDOMAIN",
      ns: [SOA_LOCAL],
    });
    check(answerQuery(query("b32-zz._hash._cache._tcp.local.", Type.SRV), registry, options, clock.now()), {
      q: ["", 0],
      rcode: "NXDOMAIN",
      ns: [SOA_LOCAL],
    });
  });

  describe("a browse builds no more than its size limit can hold", () => {
    const type = { service: "_big", proto: "_tcp" } as const;
    async function bigRegistry(n: number) {
      const big = new Registry({ clock, store: new MemoryStore() });
      await big.open();
      big.loadStatic(
        Array.from({ length: n }, (_, i) => ({
          name: `node-${i}`,
          type,
          subtypes: [],
          host: [`node-${i}`],
          port: 1,
          priority: 0,
          weight: 1,
          txt: [Buffer.from(`index=${i}`)],
          source: "static" as const,
        })),
        Array.from({ length: n }, (_, i) => ({
          name: `node-${i}`,
          addresses: ["192.0.2.1", "2001:db8::1"],
          source: "static" as const,
        })),
      );
      return big;
    }

    it("PTRs up to the first that takes the set past the limit, the rest counted, no additional records", async () => {
      const n = 5000;
      const big = await bigRegistry(n);
      for (const limit of [512, 1232, 65535]) {
        const res = answerQuery(query("_big._tcp.local.", Type.PTR), big, options, clock.now(), limit);
        const sizes = res.answers.map((r) => ptrBytesAtLeast((r.data as { target: string[] }).target[0]!));
        const total = sizes.reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThan(limit); // so the set could never fit
        expect(total - sizes.at(-1)!).toBeLessThanOrEqual(limit); // and no more was built than that proof needs
        expect(res.omittedAnswers).toBe(n - res.answers.length);
        expect(res.additionals).toHaveLength(0);
        expect(res.answers.map((r) => rr(r, false)).slice(0, 2)).toEqual([
          "_big._tcp.local. * IN PTR node-0._big._tcp.local.",
          "_big._tcp.local. * IN PTR node-1._big._tcp.local.",
        ]);
        // each PTR takes exactly what was counted (header 12, question 17 + 4)
        if (limit < 65535)
          expect(encodeResponse(res, 65535, { keepPartialAnswer: true }).length).toBe(12 + 17 + 4 + total);
      }
    });

    it("additional records only while they may fit: the same bytes as building them all", async () => {
      const big = await bigRegistry(300);
      const full = answerQuery(query("_big._tcp.local.", Type.PTR), big, options, clock.now(), 65535);
      expect(full.additionals).toHaveLength(1200); // SRV, TXT, A, AAAA each
      for (const limit of [8000, 12_345, 20_000, 30_000]) {
        const res = answerQuery(query("_big._tcp.local.", Type.PTR), big, options, clock.now(), limit);
        expect(res.answers).toHaveLength(300);
        expect(res.additionals.length).toBeLessThan(full.additionals.length);
        expect(encodeResponse(res, limit, { keepPartialAnswer: true })).toEqual(
          encodeResponse(full, limit, { keepPartialAnswer: true }),
        );
      }
    });

    it("a type that may fit is listed whole, with its additional records", () => {
      const small = answerQuery(query("_cache._tcp.local.", Type.PTR), registry, options, clock.now(), 512);
      expect(small.answers).toHaveLength(2);
      expect(small.omittedAnswers).toBeUndefined();
      expect(small.additionals.length).toBeGreaterThan(0);
    });
  });

  it("echoes EDNS with our size, and answers BADVERS to version 1", () => {
    const edns = { udpSize: 4096, version: 0, dnssecOk: false, options: [] };
    expect(answerQuery(query("alpha.local.", Type.A, { edns }), registry, options, clock.now()).edns).toMatchObject({
      udpSize: 1232,
      version: 0,
    });
    const bad = answerQuery(
      query("alpha.local.", Type.A, { edns: { ...edns, version: 1 } }),
      registry,
      options,
      clock.now(),
    );
    expect(rcodeName(bad.rcode)).toBe("BADVERS");
    expect(bad.edns?.version).toBe(0);
  });

  it("copies RD, never claims recursion", () => {
    const res = answerQuery(query("alpha.local.", Type.A), registry, options, clock.now());
    expect(res.rd).toBe(true);
    expect("ra" in res).toBe(false);
  });
});
