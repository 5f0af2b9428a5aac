// Zone transfer messages (wire/transfer.ts) and their TSIG chain (RFC 8945 §5.3.1).
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Class, Opcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery, type ResourceRecord } from "../../src/wire/message.js";
import { decodeQuery } from "../../src/wire/query.js";
import { encodeNotify, ixfrClientSerial, notifyResponse, packTransfer } from "../../src/wire/transfer.js";
import { replyStreamSigner, signRequest, verifyReply, verifyRequest, type TsigKey } from "../../src/wire/tsig.js";

const zone = ["svc", "example"];
const soa: ResourceRecord = {
  name: zone,
  ttl: 5,
  data: {
    type: Type.SOA,
    soa: { mname: zone, rname: ["hostmaster", ...zone], serial: 7, refresh: 1, retry: 1, expire: 1, minimum: 5 },
  },
};
const records = (n: number): ResourceRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    name: [`node-${i}`, "_big", "_tcp", ...zone],
    ttl: 30,
    data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 10000 + i, target: [`node-${i}`, ...zone] } },
  }));
const question = { name: zone, type: Type.AXFR, class: Class.IN };

describe("packTransfer", () => {
  it("fills messages up to the size, question in the first only, every record sent once in order", () => {
    const all = [soa, ...records(5000), soa];
    const messages = [...packTransfer({ id: 9, question }, all, 16_000)];
    expect(messages.length).toBeGreaterThan(5);
    const decoded = messages.map((m) => decodeMessage(m));
    for (const [i, m] of messages.entries()) {
      expect(m.length).toBeLessThanOrEqual(16_000);
      expect(decoded[i]!.id).toBe(9);
      expect(decoded[i]!.flags.aa).toBe(true);
      expect(decoded[i]!.questions.length).toBe(i === 0 ? 1 : 0);
    }
    const answers = decoded.flatMap((d) => d.answers);
    expect(answers.length).toBe(all.length);
    expect(answers[0]!.type).toBe(Type.SOA);
    expect(answers.at(-1)!.type).toBe(Type.SOA);
    expect(answers.map((a) => (a.data.type === Type.SRV && "port" in a.data ? a.data.port : 0)).slice(1, 4)).toEqual([
      10000, 10001, 10002,
    ]);
    // names are compressed within each message: 5,000 SRVs take far less than their names spelled out
    expect(messages.reduce((n, m) => n + m.length, 0)).toBeLessThan(5000 * 70);
  });

  it("sends an empty transfer as one message with the question", () => {
    const [m, ...rest] = [...packTransfer({ id: 1, question }, [], 65535)];
    expect(rest).toEqual([]);
    expect(decodeMessage(m!).questions.length).toBe(1);
  });
});

describe("IXFR request and NOTIFY", () => {
  it("reads the client's serial from the authority SOA", () => {
    const q = encodeQuery(3, zone, Type.IXFR);
    expect(ixfrClientSerial(q)).toBeUndefined();
    // append an authority SOA by hand: owner = pointer to the question name
    const rdata = Buffer.concat([Buffer.from([0xc0, 12, 0xc0, 12]), Buffer.alloc(20)]);
    rdata.writeUInt32BE(4242, 4);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(Type.SOA, 2);
    rr.writeUInt16BE(Class.IN, 4);
    rr.writeUInt16BE(rdata.length, 10);
    const withSoa = Buffer.concat([q, rr, rdata]);
    withSoa.writeUInt16BE(1, 8);
    expect(ixfrClientSerial(withSoa)).toBe(4242);
  });

  it("makes a NOTIFY (opcode 4, AA, SOA question) and recognises its answer", () => {
    const n = encodeNotify(77, zone);
    const d = decodeQuery(n);
    expect(d.kind).toBe("error"); // our query decoder takes opcode QUERY only; the header is what matters
    expect((n.readUInt16BE(2) >> 11) & 0xf).toBe(Opcode.NOTIFY);
    expect(n.readUInt16BE(2) & 0x0400).toBe(0x0400);
    const reply = Buffer.from(n);
    reply.writeUInt16BE(reply.readUInt16BE(2) | 0x8000, 2);
    expect(notifyResponse(reply, 77)).toBe(0);
    expect(notifyResponse(reply, 78)).toBeUndefined();
    expect(notifyResponse(n, 77)).toBeUndefined(); // not a response
  });
});

describe("replyStreamSigner (RFC 8945 §5.3.1)", () => {
  const key: TsigKey = { name: ["xfr-key"], algorithm: "hmac-sha256", secret: Buffer.alloc(32, 3) };
  it("signs the first message as a reply, each next one over the MAC before it and the timers", () => {
    const { signed, mac: requestMac } = signRequest(encodeQuery(5, zone, Type.AXFR), key, 1_800_000_000);
    const d = decodeQuery(signed);
    if (d.kind !== "query" || !d.query.tsig) throw new Error("not signed");
    const v = verifyRequest(signed, d.query.tsig, [key], 1_800_000_000);
    if (v.kind !== "verified") throw new Error(v.kind);
    const sign = replyStreamSigner(v.request, () => 1_800_000_001);
    const messages = [...packTransfer({ id: 5, question }, [soa, ...records(3000), soa], 60_000)].map(sign);
    expect(messages.length).toBeGreaterThan(1);
    const first = decodeMessage(messages[0]!);
    expect(verifyReply(messages[0]!, first.tsig!, key, requestMac)).toBe(true);
    // each next: HMAC(prior MAC length and MAC, the message without its TSIG, time signed and fudge)
    let prior = first.tsig!.mac;
    for (const m of messages.slice(1)) {
      const t = decodeMessage(m).tsig!;
      const unsigned = Buffer.from(m.subarray(0, t.start));
      unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
      const timers = Buffer.alloc(8);
      timers.writeUIntBE(t.timeSigned, 0, 6);
      timers.writeUInt16BE(t.fudge, 6);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(prior.length);
      const want = createHmac("sha256", key.secret).update(len).update(prior).update(unsigned).update(timers).digest();
      expect(t.mac.equals(want)).toBe(true);
      prior = t.mac;
    }
  });
});
