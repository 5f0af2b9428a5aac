// Differential conformance (issue 17, docs/conformance.md): one data set served
// by ringdns (from a services file) and by knotd (from a zone file written from
// the same entries), the same queries sent to both over UDP, UDP without EDNS
// and TCP, the replies compared. A difference not in KNOWN_DIFFERENCES fails.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Labels } from "../../src/names.js";
import { Class, Opcode, Type } from "../../src/wire/constants.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";
import {
  aaaaHex,
  askTcp,
  buildQuery,
  optRecord,
  readReply,
  rrsetKey,
  UdpClient,
  wireName,
  type QuerySpec,
  type Reply,
  type Transport,
} from "./client.js";
import { compareReplies, formatDifference, matches, type Difference, type KnownDifference } from "./compare.js";
import { buildDataset, ENTRIES, NS_HOST, writeServicesFile, writeZoneFile, ZONE } from "./dataset.js";
import { KNOTD, startKnot } from "./knot.js";

/**
 * THE table of differences from knotd. Each is either justified (an RFC
 * section says ringdns may or must differ) or a ringdns bug listed until it is
 * fixed (`fixBy`). Anything else fails the suite.
 */
const KNOWN_DIFFERENCES: KnownDifference[] = [
  // ---- justified ----
  {
    query: / ANY\b/,
    what: /^(answer|additional) /,
    why: "ANY gets one RRset, each server picks its own (ringdns: SRV, PTR, A, AAAA, TXT, SOA first)",
    rfc: "RFC 8482 §4.1",
  },
  {
    query: /\.local\. /,
    why: "ringdns also answers the mDNS domain local. (from its registry and the LAN); knotd is not authoritative there",
    rfc: "RFC 6762 §3",
  },
  {
    what: /^OPT options$/,
    ringdns: /^none$/,
    knot: /^15$/,
    why: "knotd adds an Extended DNS Error (Not Authoritative, Not Implemented, …) to some errors; ringdns where it has more to say (Not Ready, Prohibited)",
    rfc: "RFC 8914 §3 (optional)",
  },
  {
    query: /^UPDATE /,
    what: /^OPT options$/,
    ringdns: /^15$/,
    knot: /^none$/,
    why: "ringdns says why an UPDATE is refused in an Extended DNS Error",
    rfc: "RFC 8914 §3 (optional)",
  },
  {
    query: /^SOA apex COOKIE client$/,
    transport: "udp",
    what: /^(rcode|flag AA|answer .*)$/,
    ringdns: /^(0|true|svc\.example\. .*)$/,
    knot: /^(23|false|absent)$/,
    why: "a query with only a client cookie: ringdns answers it (with a server cookie), knotd's mod-cookies says BADCOOKIE over UDP; both are server policy",
    rfc: "RFC 7873 §5.2.3",
  },
  {
    what: /^flag CD$/,
    ringdns: /^true$/,
    knot: /^false$/,
    why: "ringdns copies CD into the reply; knotd clears it",
    rfc: "RFC 4035 §3.1.6 (MUST copy CD)",
  },
  {
    what: /^question$/,
    ringdns: /^0:$/,
    why: "a request ringdns does not process (FORMERR, NOTIMP) gets a header with no question: never larger than what it answers",
    rfc: "RFC 1035 §4.1.1 (FORMERR/NOTIMP do not require the question)",
  },
  {
    query: /^SOA apex opcode 6$/,
    transport: "tcp",
    what: /^(rcode|OPT)$/,
    ringdns: /^(1|absent)$/,
    knot: /^(4|present)$/,
    why: "ringdns speaks DSO on TCP (opcode 6): a DSO message with a question is malformed and gets FORMERR, with no OPT (DSO carries none), then the connection closes; knotd has no DSO (NOTIMP)",
    rfc: "RFC 8490 §5.4",
  },
  {
    query: /^SOA apex opcode 4$/,
    what: /^rcode$/,
    ringdns: /^4$/,
    knot: /^9$/,
    why: "ringdns is no secondary: NOTIFY is not implemented (NOTIMP); knotd knows the zone and refuses an unknown primary (NOTAUTH)",
    rfc: "RFC 1996 (NOTIFY is optional), RFC 1035 §4.1.1",
  },
  {
    query: /^version\.bind CH TXT$/,
    what: /^(flag AA|answer version\.bind\. CLASS3 TXT)$/,
    why: "version text and AA on CHAOS identity answers are each server's own",
    rfc: "RFC 4892 §2",
  },
  {
    query: /^(256-octet name|label type 0x40)$/,
    what: /^reply$/,
    ringdns: /^reply$/,
    knot: /^no reply$/,
    why: "a question that cannot be read: ringdns answers FORMERR (a header only), knotd drops it",
    rfc: "RFC 1035 §4.1.1, RFC 6891 §7",
  },
  // ---- ringdns bugs, until fixed (issue 17) ----
];

/**
 * Another server to compare with instead of knotd: the loopback port of one
 * already serving the zone file `npx tsx test/conformance/write-zone.ts DIR`
 * writes (docs/conformance.md). Its SOA serial cannot be ringdns's, so serials
 * are not compared then.
 */
const REFERENCE_PORT = process.env.CONFORMANCE_REFERENCE_PORT
  ? Number(process.env.CONFORMANCE_REFERENCE_PORT)
  : undefined;

/** A SOA's RDATA with its serial blanked (see REFERENCE_PORT). */
const blankSerial = (soa: string) =>
  soa
    .split(" ")
    .map((f, i) => (i === 2 ? "*" : f))
    .join(" ");

function withoutSerials(r: Reply | null): Reply | null {
  if (!r || REFERENCE_PORT === undefined) return r;
  for (const section of r.sections)
    for (const [key, rdata] of section) if (key.endsWith(" SOA")) section.set(key, rdata.map(blankSerial));
  return r;
}

const MX = 15;
const UNKNOWN_TYPE = 65280;
const HS = 4;
const TYPES = [
  Type.A,
  Type.AAAA,
  Type.SRV,
  Type.TXT,
  Type.PTR,
  Type.SOA,
  Type.NS,
  Type.ANY,
  MX,
  Type.CNAME,
  UNKNOWN_TYPE,
];
const COOKIE = 10;

const under = (...labels: string[]): Labels => [...labels, ...ZONE];
const show = (name: Labels | Buffer) =>
  Buffer.isBuffer(name)
    ? `<${name.length}-byte wire name>`
    : name.length === 0
      ? "."
      : `${name.map((l) => JSON.stringify(l).slice(1, -1)).join(".")}.`;
const typeLabel = (t: number) =>
  ({ [MX]: "MX", [UNKNOWN_TYPE]: "TYPE65280" })[t] ?? Object.entries(Type).find(([, v]) => v === t)?.[0] ?? `TYPE${t}`;

/** A name under the zone of exactly `octets` octets on the wire. */
function longName(octets: number): Labels {
  const zoneBytes = wireName(ZONE).length; // includes the root
  let left = octets - zoneBytes;
  const labels: string[] = [];
  while (left > 0) {
    const len = Math.min(63, left - 1);
    labels.push("x".repeat(len));
    left -= len + 1;
  }
  return [...labels, ...ZONE];
}

/** Flip the case of every other letter (0x20 mixed case). */
const mixCase = (name: Labels): Labels =>
  name.map((l) => [...l].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join(""));

function battery(): QuerySpec[] {
  const data = buildDataset();
  const edns = { udpSize: 1232 };
  const names: Labels[] = [
    ...data.names,
    ...data.emptyNonTerminals,
    under("nx"),
    under("x", "alpha"), // below a host
    under("nx", "_tcp"),
    under("_nx", "_sub", "_cache", "_tcp"),
    under("nobody", "_cache", "_tcp"),
    under("_nx", "_tcp"),
    ["example"],
    ["svc", "example", "org"],
    ["other", "example"],
    [],
    mixCase(ZONE),
    mixCase(under("_cache", "_tcp")),
    mixCase(under("Front Door Printer", "_ipp", "_tcp")),
    mixCase(under("big")),
    longName(255),
    longName(254),
  ];
  const specs: QuerySpec[] = [];
  for (const name of names)
    for (const type of TYPES) specs.push({ label: `${show(name)} ${typeLabel(type)}`, name, type, edns });
  const apexSoa = { name: ZONE, type: Type.SOA };
  const alphaA = { name: under("alpha"), type: Type.A };
  // sizes: the big host (40 A, 20 AAAA) as an answer and as additionals
  for (const udpSize of [512, 600, 1232, 4096]) {
    for (const [name, type] of [
      [under("big", "_cache", "_tcp"), Type.SRV],
      [under("_cache", "_tcp"), Type.PTR],
      [under("_eu", "_sub", "_cache", "_tcp"), Type.PTR],
      [under("big"), Type.A],
      [under("big"), Type.AAAA],
      [under("big"), Type.ANY],
      [ZONE, Type.ANY],
      [ZONE, Type.NS],
    ] as const) {
      specs.push({
        label: `${show(name)} ${typeLabel(type)} edns=${udpSize}`,
        name,
        type,
        edns: { udpSize },
        transports: ["udp", "tcp"],
      });
    }
  }
  // EDNS version, DO, options
  specs.push({
    label: "SOA apex edns version 1",
    ...apexSoa,
    edns: { udpSize: 1232, version: 1 },
    transports: ["udp", "tcp"],
  });
  for (const s of [apexSoa, alphaA, { name: under("nx"), type: Type.A }, { name: under("_udp"), type: Type.A }])
    specs.push({
      label: `${show(s.name)} ${typeLabel(s.type)} DO`,
      ...s,
      edns: { udpSize: 1232, do: true },
      transports: ["udp", "tcp"],
    });
  specs.push({
    label: "SOA apex COOKIE malformed",
    ...apexSoa,
    edns: { udpSize: 1232, options: [{ code: COOKIE, data: Buffer.from("12345") }] },
    transports: ["udp", "tcp"],
  });
  specs.push({
    label: "SOA apex COOKIE client",
    ...apexSoa,
    edns: { udpSize: 1232, options: [{ code: COOKIE, data: Buffer.from("12345678") }] },
    transports: ["udp", "tcp"],
  });
  specs.push({
    label: "SOA apex unknown EDNS option",
    ...apexSoa,
    edns: { udpSize: 1232, options: [{ code: 65001, data: Buffer.from("x") }] },
    transports: ["udp", "tcp"],
  });
  specs.push({
    label: "SOA apex two OPT",
    ...apexSoa,
    edns,
    additionalSection: [optRecord(edns)],
    transports: ["udp", "tcp"],
  });
  specs.push({ label: "SOA apex OPT in answer section", ...apexSoa, answerSection: [optRecord(edns)] });
  specs.push({ label: "SOA apex OPT in authority section", ...apexSoa, authoritySection: [optRecord(edns)] });
  const aRecord = Buffer.concat([
    wireName(under("alpha")),
    Buffer.from([0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 10]),
  ]);
  specs.push({ label: "A alpha with a record in the answer section", ...alphaA, answerSection: [aRecord] });
  // header flags (RD, AA, TC, Z, AD, CD set in a query)
  for (const [flag, bit] of [
    ["RD", 0x0100],
    ["AA", 0x0400],
    ["TC", 0x0200],
    ["Z", 0x0040],
    ["AD", 0x0020],
    ["CD", 0x0010],
  ] as const) {
    specs.push({ label: `A alpha flag ${flag}`, ...alphaA, flags: bit, edns });
  }
  // opcodes: UPDATE only for a zone neither serves (loopback may update ringdns)
  for (const opcode of [Opcode.IQUERY, Opcode.STATUS, 3, Opcode.NOTIFY, 6, 15])
    specs.push({ label: `SOA apex opcode ${opcode}`, ...apexSoa, opcode, edns });
  specs.push({
    label: "UPDATE of a zone neither serves",
    name: ["other", "example"],
    type: Type.SOA,
    opcode: Opcode.UPDATE,
    edns,
  });
  // classes
  for (const [cname, klass] of [
    ["CH", Class.CH],
    ["HS", HS],
    ["ANY", Class.ANY],
    ["NONE", Class.NONE],
  ] as const) {
    specs.push({ label: `SOA apex class ${cname}`, ...apexSoa, class: klass, edns });
    specs.push({ label: `A alpha class ${cname}`, ...alphaA, class: klass, edns });
  }
  specs.push({ label: "version.bind CH TXT", name: ["version", "bind"], type: Type.TXT, class: Class.CH, edns });
  // malformed questions
  specs.push({ label: "no question, OPT", name: [], type: 0, noQuestion: true, edns });
  specs.push({
    label: "256-octet name",
    name: Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 120), wireName(longName(193))]),
    type: Type.A,
    edns,
  });
  specs.push({ label: "label type 0x40", name: Buffer.from([0x41, 0x00]), type: Type.A, edns });
  // local. (ringdns also answers mDNS-domain names; knotd is not authoritative there)
  specs.push({ label: "_cache._tcp.local. PTR", name: ["_cache", "_tcp", "local"], type: Type.PTR, edns });
  return specs;
}

/** Canonical RRsets of the data set (with the SOA ringdns serves), to tell a whole RRset from part of one. */
function truthMap(soa: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of buildDataset().records) {
    const key = rrsetKey(r.owner, 1, r.type);
    m.set(key, [
      ...(m.get(key) ?? []),
      r.type === Type.AAAA ? aaaaHex(r.rdata) : r.type === Type.TXT ? r.rdata : r.rdata,
    ]);
  }
  m.set(rrsetKey(ZONE, 1, Type.SOA), [soa]);
  return m;
}

describe.skipIf(REFERENCE_PORT === undefined && missingTool(KNOTD))("differential conformance against knotd", () => {
  let ringdns: RunningDaemon;
  let knot: { port: number; stop(): Promise<void> };
  let truth: Map<string, string[]>;
  const dir = mkdtempSync(join(tmpdir(), "ringdns-conformance-"));

  beforeAll(async () => {
    ringdns = await startDaemon([
      "--services",
      writeServicesFile(dir),
      "--domain",
      "svc.example.",
      "--max-addresses-per-host",
      "64",
      "--zone-ns",
      NS_HOST,
    ]);
    // knotd's zone takes ringdns's SOA, serial included
    const udp = new UdpClient(ringdns.port);
    const soaReply = await udp.ask(buildQuery({ label: "soa", name: ZONE, type: Type.SOA }, 1, "udp-noedns"));
    udp.close();
    const soa = readReply(soaReply!).sections[0].get(rrsetKey(ZONE, 1, Type.SOA))![0]!;
    const [, , serial, , , , minimum] = soa.split(" ").map(Number);
    truth = truthMap(REFERENCE_PORT === undefined ? soa : blankSerial(soa));
    if (REFERENCE_PORT !== undefined) {
      knot = { port: REFERENCE_PORT, stop: async () => {} };
      return;
    }
    const zoneFile = writeZoneFile(dir, { serial: serial!, minimum: minimum! });
    knot = await startKnot(dir, "svc.example.", zoneFile, async (port) => {
      const c = new UdpClient(port);
      const r = await c.ask(buildQuery({ label: "probe", name: ZONE, type: Type.SOA }, 2, "udp-noedns"), 200);
      c.close();
      return r !== null && (r.readUInt16BE(2) & 0xf) === 0;
    });
  }, 20_000);
  afterAll(async () => {
    await ringdns?.stop();
    await knot?.stop();
  });

  it("serves the data set the same, but for the justified differences", async () => {
    const specs = battery();
    const found: Difference[] = [];
    const qtypeOf = (s: QuerySpec) => s.type;
    const rUdp = new UdpClient(ringdns.port);
    const kUdp = new UdpClient(knot.port);
    let id = 100;
    let exchanges = 0;
    try {
      for (const spec of specs) {
        for (const transport of spec.transports ?? (["udp", "udp-noedns", "tcp"] as Transport[])) {
          id = (id + 1) & 0xffff;
          const msg = buildQuery(spec, id, transport);
          const [r, k] =
            transport === "tcp"
              ? await Promise.all([askTcp(ringdns.port, [msg]), askTcp(knot.port, [msg])]).then(([a, b]) => [
                  a[0]!,
                  b[0]!,
                ])
              : await Promise.all([rUdp.ask(msg), kUdp.ask(msg)]);
          exchanges++;
          found.push(
            ...compareReplies(
              spec.label,
              transport,
              qtypeOf(spec),
              withoutSerials(r && readReply(r)),
              withoutSerials(k && readReply(k)),
              truth,
            ),
          );
        }
      }
      // TCP framing: three queries pipelined in one write, and one sent a byte at a time
      const pipelined = [under("alpha"), under("big"), under("nx")].map((n, i) =>
        buildQuery({ label: "", name: n, type: Type.A, edns: { udpSize: 1232 } }, 60_000 + i, "tcp"),
      );
      for (const split of [false, true]) {
        const [rs, ks] = await Promise.all([
          askTcp(ringdns.port, pipelined, { split }),
          askTcp(knot.port, pipelined, { split }),
        ]);
        const byId = (list: (Buffer | null)[], i: number) =>
          list.find((b) => b && b.readUInt16BE(0) === 60_000 + i) ?? null;
        for (let i = 0; i < pipelined.length; i++) {
          const r = byId(rs, i);
          const k = byId(ks, i);
          found.push(
            ...compareReplies(
              `TCP ${split ? "byte-by-byte" : "pipelined"} query ${i}`,
              "tcp",
              Type.A,
              withoutSerials(r && readReply(r)),
              withoutSerials(k && readReply(k)),
              truth,
            ),
          );
        }
      }
    } finally {
      rUdp.close();
      kUdp.close();
    }
    const unexplained = found.filter((d) => !KNOWN_DIFFERENCES.some((k) => matches(k, d)));
    const stale = KNOWN_DIFFERENCES.filter((k) => k.fixBy && !found.some((d) => matches(k, d)));
    const counts = new Map<string, number>();
    for (const d of found) {
      const k = KNOWN_DIFFERENCES.find((e) => matches(e, d));
      const key = k ? `${k.fixBy ? "to fix" : "justified"}: ${k.why}` : "UNEXPLAINED";
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    console.log(
      `${specs.length} queries, ${exchanges} exchanges per server; differences:\n${[...counts].map(([k, n]) => `  ${n} × ${k}`).join("\n")}`,
    );
    expect(unexplained.map(formatDifference), "differences from knotd not in KNOWN_DIFFERENCES").toEqual([]);
    expect(
      stale.map((k) => k.why),
      "KNOWN_DIFFERENCES marked fixBy that no longer occur: remove them",
    ).toEqual([]);
    expect(ENTRIES.length).toBeGreaterThan(0);
  }, 60_000);
});
