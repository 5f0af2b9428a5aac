// The mDNS packet builders (src/wire/mdns.ts) split whatever they are given
// over packets that each decode and stay within the size budget (issue 14
// finding 2: all questions went into one fixed 9000-byte buffer, and 390
// questions overflowed it with ERR_OUT_OF_RANGE).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Labels } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage, type DecodedMessage } from "../../src/wire/decode.js";
import type { ResourceRecord } from "../../src/wire/message.js";
import {
  encodeMdnsQuery,
  encodeMdnsResponses,
  MDNS_PACKET_BUDGET,
  MDNS_PACKET_MAX,
  nameWireLength,
  type MdnsQuestion,
} from "../../src/wire/mdns.js";
import { qtype, record } from "../lab/wire-arbitraries.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 50);

// names up to the 255-byte limit, and some that cannot be written (a label over 63 bytes, a name over 255)
const longLabel = fc.stringMatching(/^[a-z0-9_][a-z0-9_-]{0,70}$/);
const mdnsName: fc.Arbitrary<Labels> = fc.array(longLabel, { minLength: 1, maxLength: 6 }).map((n) => [...n, "local"]);
const question: fc.Arbitrary<MdnsQuestion> = fc.record({ name: mdnsName, type: qtype, qu: fc.boolean() });
const bigTxt = fc
  .array(fc.uint8Array({ minLength: 200, maxLength: 255 }), { minLength: 1, maxLength: 45 })
  .map((strings) => ({ type: Type.TXT, strings }) as const);
const anyRecord: fc.Arbitrary<ResourceRecord> = fc.oneof(
  { weight: 8, arbitrary: record },
  {
    weight: 1,
    arbitrary: fc.record({ name: mdnsName, ttl: fc.nat(0x7fffffff), data: bigTxt }) as fc.Arbitrary<ResourceRecord>,
  },
);

const key = (name: Labels, type: number, extra = "") => `${name.join("\u0000")}|${type}|${extra}`;
const count = (keys: string[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
/** Can this record be sent at all (alone in a packet of at most MDNS_PACKET_MAX)? */
const sendable = (rr: ResourceRecord) => encodeMdnsResponses({ answers: [rr] }).length === 1;
const items = (m: DecodedMessage) =>
  m.questions.length + m.answers.length + m.authorities.length + m.additionals.length;

function checkSizes(packets: Buffer[], decoded: DecodedMessage[]): void {
  packets.forEach((p, i) => {
    expect(p.length).toBeLessThanOrEqual(MDNS_PACKET_MAX);
    // over the Ethernet-sized budget only for one record that needs it alone
    if (p.length > MDNS_PACKET_BUDGET) expect(items(decoded[i]!)).toBe(1);
    expect(p.readUInt16BE(0)).toBe(0); // §18.1: ID 0
  });
}

describe("encodeMdnsQuery", () => {
  it("puts every question and known answer in packets that decode and stay within the budget, TC on all but the last of a known-answer run (§7.2, §17)", () => {
    fc.assert(
      fc.property(
        fc.array(question, { maxLength: 250, size: "max" }),
        fc.array(anyRecord, { maxLength: 200, size: "max" }),
        fc.array(record, { maxLength: 3 }),
        (questions, known, authorities) => {
          // known answers that answer some of the questions, and others that answer none
          const matching = known
            .slice(0, known.length / 2)
            .map((rr, i) => (questions.length > 0 ? { ...rr, name: questions[i % questions.length]!.name } : rr));
          const knownAnswers = [...matching, ...known.slice(known.length / 2)];
          const packets = encodeMdnsQuery(questions, knownAnswers, authorities);
          const decoded = packets.map((p) => decodeMessage(p));
          checkSizes(packets, decoded);
          for (const m of decoded) expect(m.flags.qr).toBe(false);
          // every question that can be written, once
          const sentQ = decoded.flatMap((m) => m.questions.map((q) => key(q.name, q.type, String(q.class))));
          const wantQ = questions
            .filter((q) => nameWireLength(q.name) !== Infinity)
            .map((q) => key(q.name, q.type, String(1 | (q.qu ? 0x8000 : 0))));
          expect(count(sentQ)).toEqual(count(wantQ));
          // every known answer that can be sent, once
          const sentA = decoded.flatMap((m) => m.answers.map((r) => key(r.name, r.type, String(r.ttl))));
          const wantA = knownAnswers.filter(sendable).map((r) => key(r.name, r.data.type, String(r.ttl)));
          expect(count(sentA)).toEqual(count(wantA));
          // TC only where known answers go on in the next packet, which has no questions
          decoded.forEach((m, i) => {
            const next = decoded[i + 1];
            if (m.flags.tc) expect(next?.questions.length).toBe(0);
            if (next && next.questions.length === 0) expect(m.flags.tc).toBe(true);
          });
          // a probe's proposal rides with its question
          if (questions.some((q) => nameWireLength(q.name) !== Infinity) && known.length === 0) {
            const withAuthority = decoded.filter((m) => m.authorities.length > 0);
            for (const m of withAuthority) expect(m.questions.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("390 service-type questions (the packet of finding 2) become packets of at most 1452 bytes", () => {
    const questions = Array.from({ length: 390 }, (_, i) => ({
      name: [`_t${String(i).padStart(3, "0")}`, "_tcp", "local"],
      type: Type.PTR,
    }));
    const packets = encodeMdnsQuery(questions);
    expect(packets.length).toBeGreaterThan(1);
    for (const p of packets) expect(p.length).toBeLessThanOrEqual(MDNS_PACKET_BUDGET);
    expect(packets.flatMap((p) => decodeMessage(p).questions.map((q) => q.name[0]))).toEqual(
      questions.map((q) => q.name[0]),
    );
  });

  it("nothing to ask: no packet", () => {
    expect(encodeMdnsQuery([])).toEqual([]);
  });
});

describe("encodeMdnsResponses", () => {
  it("puts every answer in packets that decode and stay within the budget; additionals as fit", () => {
    fc.assert(
      fc.property(
        fc.array(anyRecord, { maxLength: 250, size: "max" }),
        fc.array(record, { maxLength: 40 }),
        (answers, additionals) => {
          const packets = encodeMdnsResponses({ answers, additionals });
          const decoded = packets.map((p) => decodeMessage(p));
          checkSizes(packets, decoded);
          for (const m of decoded) {
            expect(m.flags.qr && m.flags.aa && !m.flags.tc).toBe(true);
            expect(m.questions).toEqual([]);
          }
          const sent = decoded.flatMap((m) => m.answers.map((r) => key(r.name, r.type, String(r.ttl))));
          expect(count(sent)).toEqual(
            count(answers.filter(sendable).map((r) => key(r.name, r.data.type, String(r.ttl)))),
          );
          // additionals only in the last packet
          decoded.slice(0, -1).forEach((m) => expect(m.additionals).toEqual([]));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
