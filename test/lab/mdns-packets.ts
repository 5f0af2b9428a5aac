// Hostile and broken mDNS traffic for the lab tests and `npm run fuzz -- --mdns`:
// the one-packet flood of issue 14 finding 2, and fast-check generators of
// mutated and oversized mDNS responses and queries (on top of the unicast
// generators in wire-arbitraries.ts).
import fc from "fast-check";
import type { Labels } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import { encodeResponse, type ResourceRecord } from "../../src/wire/message.js";
import { encodeMdnsQuery, encodeMdnsResponses } from "../../src/wire/mdns.js";
import {
  anyBytes,
  compressionLoop,
  hugeRdlength,
  badCounts,
  longName,
  label,
  mutated,
  qtype,
  record,
} from "./wire-arbitraries.js";

const ENUM: Labels = ["_services", "_dns-sd", "_udp", "local"];

const typeName = (i: number): Labels => [`_t${String(i).padStart(3, "0")}`, "_tcp", "local"];
const oneResponse = (answers: ResourceRecord[], maxSize = 65535) =>
  encodeResponse(
    { id: 0, opcode: 0, aa: true, rd: false, cd: false, rcode: 0, answers, authorities: [], additionals: [] },
    maxSize,
  );

/**
 * Issue 14 finding 2: one response of 390 PTRs, each announcing an instance
 * of a new service type (`_tNNN._tcp.local PTR in._tNNN._tcp.local`), 8,992
 * bytes. Before the fix the learner asked 1,170 questions (each type, and SRV
 * and TXT of each instance) in one 9000-byte buffer and died writing past it.
 */
export function serviceTypeFlood(n = 390, ttl = 4500): Buffer {
  return oneResponse(
    Array.from({ length: n }, (_, i) => ({
      name: typeName(i),
      ttl,
      data: { type: Type.PTR, target: ["in", ...typeName(i)] },
    })),
  );
}

/** The type enumeration naming `n` service types (`_services._dns-sd._udp.local PTR _tNNN._tcp.local`, 390: 7,845 bytes). */
export function serviceTypeEnumeration(n = 390, ttl = 4500): Buffer {
  return oneResponse(
    Array.from({ length: n }, (_, i) => ({ name: ENUM, ttl, data: { type: Type.PTR, target: typeName(i) } })),
  );
}

/**
 * One response announcing `n` instances of `_heavy._tcp.local`, each with
 * SRV weight 65535 (as much of a ring as one announcement can claim) and an
 * address: PTR, SRV and A for each.
 */
export function heavyInstances(n: number, ttl = 4500): Buffer {
  const type: Labels = ["_heavy", "_tcp", "local"];
  return oneResponse(
    Array.from({ length: n }, (_, i): ResourceRecord[] => {
      const instance = [`h${i}`, ...type];
      const host = [`h${i}`, "local"];
      return [
        { name: type, ttl, data: { type: Type.PTR, target: instance } },
        { name: instance, ttl, data: { type: Type.SRV, srv: { priority: 0, weight: 65535, port: 80, target: host } } },
        { name: host, ttl, data: { type: Type.A, address: `198.51.100.${i + 1}` } },
      ];
    }).flat(),
  );
}

/** Packets as mdns-send.mjs reads them: flag (1: from an ephemeral port), length, bytes. */
export function framePackets(packets: readonly { bytes: Buffer; legacy?: boolean }[]): Buffer {
  return Buffer.concat(
    packets.flatMap(({ bytes, legacy }) => {
      const head = Buffer.alloc(3);
      head[0] = legacy ? 1 : 0;
      head.writeUInt16BE(Math.min(bytes.length, 0xffff), 1);
      return [head, bytes.subarray(0, 0xffff)];
    }),
  );
}

const local = fc.array(label, { minLength: 1, maxLength: 4 }).map((n) => [...n, "local"]);
const serviceType = fc
  .tuple(label, fc.constantFrom("_tcp", "_udp"))
  .map(([s, p]) => [`_${s.replace(/^_/, "")}`.slice(0, 63), p, "local"]);
export const mdnsRecord: fc.Arbitrary<ResourceRecord> = fc.oneof(
  record.map((r) => ({ ...r, name: [...r.name, "local"], ttl: r.ttl % 5000 })),
  fc
    .tuple(serviceType, local)
    .map(([t, i]) => ({ name: t, ttl: 120, data: { type: Type.PTR, target: [i[0]!, ...t] } }) as ResourceRecord),
  serviceType.map((t) => ({ name: ENUM, ttl: 4500, data: { type: Type.PTR, target: t } }) as ResourceRecord),
  fc.tuple(local, fc.nat(0xffff), local).map(
    ([n, port, host]) =>
      ({
        name: n,
        ttl: 120,
        class: 0x8001,
        data: { type: Type.SRV, srv: { priority: 0, weight: 0, port, target: host } },
      }) as ResourceRecord,
  ),
);
/** A response as a peer sends it (several records), split as the encoder splits. */
export const response = fc
  .array(mdnsRecord, { minLength: 1, maxLength: 30 })
  .map((answers) => encodeMdnsResponses({ answers })[0] ?? Buffer.alloc(12));
/** Goodbyes: the same records with TTL 0. */
export const goodbyes = fc
  .array(mdnsRecord, { minLength: 1, maxLength: 30 })
  .map((answers) => encodeMdnsResponses({ answers: answers.map((r) => ({ ...r, ttl: 0 })) })[0] ?? Buffer.alloc(12));
/** Names the daemon under test answers (examples/services.yaml), so queries reach the responder's answers too. */
const ours = fc.constantFrom<Labels>(
  ENUM,
  ["_cache", "_tcp", "local"],
  ["alpha", "_cache", "_tcp", "local"],
  ["_eu", "_sub", "_cache", "_tcp", "local"],
  ["alpha", "local"],
  ["user42", "_hash", "_cache", "_tcp", "local"],
  ["_http", "_tcp", "local"],
);
/** A query, with known answers and a probe's authorities at times. */
export const query = fc
  .tuple(
    fc.array(fc.record({ name: fc.oneof(ours, local, serviceType), type: qtype, qu: fc.boolean() }), {
      minLength: 1,
      maxLength: 40,
    }),
    fc.array(mdnsRecord, { maxLength: 20 }),
    fc.array(mdnsRecord, { maxLength: 3 }),
  )
  .map(([qs, known, auth]) => encodeMdnsQuery(qs, known, auth)[0] ?? Buffer.alloc(12));
/** Up to 9000 bytes of records in one packet (past the Ethernet-sized budget), or the flood. */
export const oversized = fc.oneof(
  fc.integer({ min: 100, max: 400 }).map((n) => serviceTypeFlood(n)),
  fc.integer({ min: 100, max: 1000 }).map((n) => serviceTypeEnumeration(n)),
  // a few generated records, repeated under numbered names up to several hundred (cheaper to make than as many generated ones)
  fc
    .tuple(fc.array(mdnsRecord, { minLength: 5, maxLength: 20 }), fc.integer({ min: 5, max: 30 }))
    .map(([rs, times]) =>
      oneResponse(
        Array.from({ length: times }, (_, i) => rs.map((r) => ({ ...r, name: [`n${i}`, ...r.name] }))).flat(),
        9000,
      ),
    ),
);

/** What the mDNS fuzz sends: good, damaged and oversized responses and queries, and plain garbage; `legacy` from an ephemeral port. */
export const mdnsTraffic: fc.Arbitrary<{ bytes: Buffer; legacy: boolean }> = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: mutated(response) },
      { weight: 2, arbitrary: response },
      { weight: 1, arbitrary: goodbyes },
      { weight: 3, arbitrary: mutated(query) },
      { weight: 1, arbitrary: query },
      { weight: 1, arbitrary: oversized },
      { weight: 1, arbitrary: mutated(oversized) },
      { weight: 1, arbitrary: fc.oneof(anyBytes, compressionLoop, hugeRdlength, badCounts, longName) },
    ),
    fc.nat(9),
  )
  .map(([bytes, n]) => ({ bytes, legacy: n === 0 }));
