import dnsPacket from "dns-packet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rcode, Type } from "../../src/wire/constants.js";
import { encodeQuery, encodeResponse, ipv6Bytes, type ResourceRecord, type Response } from "../../src/wire/message.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { decodeName, NameCompressor } from "../../src/wire/name.js";
import { decodeQuery } from "../../src/wire/query.js";

const cache = ["_cache", "_tcp", "local"];
function browse(n: number): Response {
  const answers: ResourceRecord[] = [];
  const additionals: ResourceRecord[] = [];
  for (let i = 0; i < n; i++) {
    const inst = [`instance-${i}`, ...cache];
    const host = [`host-${i}`, "local"];
    answers.push({ name: cache, ttl: 30, data: { type: Type.PTR, target: inst } });
    additionals.push({
      name: inst,
      ttl: 30,
      data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 11211, target: host } },
    });
    additionals.push({ name: inst, ttl: 30, data: { type: Type.TXT, strings: [Buffer.from("version=1.4")] } });
    additionals.push({ name: host, ttl: 30, data: { type: Type.A, address: `192.0.2.${i % 250}` } });
  }
  return {
    id: 7,
    opcode: 0,
    aa: true,
    rd: false,
    cd: false,
    rcode: 0,
    question: { name: cache, type: Type.PTR, class: 1 },
    answers,
    authorities: [],
    additionals,
  };
}

describe("names on the wire", () => {
  it("rejects pointer loops, forward pointers and overlong names", () => {
    const loop = Buffer.from([0xc0, 0x00]);
    expect(() => decodeName(loop, 0)).toThrow(/backwards/);
    const forward = Buffer.from([0xc0, 0x02, 0x01, 0x61, 0x00]);
    expect(() => decodeName(forward, 0)).toThrow(/backwards/);
    const long = Buffer.concat([...Array(5).fill(Buffer.from([63, ...Buffer.alloc(63, 0x61)])), Buffer.from([0])]);
    expect(() => decodeName(long, 0)).toThrow(/255/);
    expect(() => decodeName(Buffer.from([5, 0x61]), 0)).toThrow(/past the end/);
    expect(() => decodeName(Buffer.from([0x40]), 0)).toThrow(/label type/);
  });

  it("compresses repeated suffixes and keeps labels with dots intact", () => {
    const buf = Buffer.alloc(200);
    const c = new NameCompressor();
    let off = c.write(buf, 0, ["My.Printer", "_ipp", "_tcp", "local"]);
    const second = off;
    off = c.write(buf, off, ["other", "_ipp", "_tcp", "local"]);
    expect(off - second).toBe(1 + 5 + 2); // "other" then a pointer
    expect(decodeName(buf, 0).labels).toEqual(["My.Printer", "_ipp", "_tcp", "local"]);
    expect(decodeName(buf, second).labels).toEqual(["other", "_ipp", "_tcp", "local"]);
  });

  it("writes IPv6 addresses in every text form", () => {
    expect(Buffer.from(ipv6Bytes("2001:db8::10")).toString("hex")).toBe("20010db8000000000000000000000010");
    expect(Buffer.from(ipv6Bytes("::ffff:192.0.2.1")).toString("hex")).toBe("00000000000000000000ffffc0000201");
    expect(Buffer.from(ipv6Bytes("::")).toString("hex")).toBe("0".repeat(32));
  });
});

describe("encodeResponse", () => {
  it("produces what dns-packet decodes to the same records, far smaller than uncompressed", () => {
    const msg = browse(100);
    const wire = encodeResponse(msg);
    const decoded = dnsPacket.decode(wire);
    expect(decoded.answers).toHaveLength(100);
    expect(decoded.additionals).toHaveLength(300);
    expect((decoded.answers![5] as { data: string }).data).toBe("instance-5._cache._tcp.local");
    expect((decoded.additionals![0] as { data: { target: string } }).data.target).toBe("host-0.local");
    const uncompressed = dnsPacket.encode(decoded as dnsPacket.Packet).length;
    expect(wire.length).toBeLessThan(uncompressed * 0.6);
  });

  it("sets TC and sends no records when the answer does not fit", () => {
    const wire = encodeResponse(browse(100), 512);
    expect(wire.length).toBeLessThanOrEqual(512);
    const d = dnsPacket.decode(wire);
    expect(d.flag_tc).toBe(true);
    expect(d.answers).toHaveLength(0);
    expect(d.questions).toHaveLength(1);
  });

  it("drops additional records that do not fit, without TC", () => {
    const wire = encodeResponse(browse(10), 600);
    const d = dnsPacket.decode(wire);
    expect(d.flag_tc).toBe(false);
    expect(d.answers).toHaveLength(10);
    expect(d.additionals!.length).toBeLessThan(30);
    expect(wire.length).toBeLessThanOrEqual(600);
  });

  // Large types: over TCP the answer RRset may be cut to what fits, with TC=1 (RFC 2181 §9 allows a partial
  // RRset only with TC); the additional section is whole RRsets or nothing.
  describe("a partial answer (keepPartialAnswer, for TCP)", () => {
    /** The size of a reply carrying the first `k` answers of browse(100) and nothing else. */
    const sizeWith = (k: number) =>
      encodeResponse({ ...browse(100), answers: browse(100).answers.slice(0, k), additionals: [] }).length;

    it.each([1, 7, 50])("keeps exactly the %i answers that fit the limit, TC=1, no additional records", (k) => {
      const limit = sizeWith(k);
      for (const [size, expected] of [
        [limit, k],
        [limit + 1, k],
        [sizeWith(k + 1) - 1, k],
        [limit - 1, k - 1],
      ] as const) {
        const wire = encodeResponse(browse(100), size, { keepPartialAnswer: true });
        const d = dnsPacket.decode(wire);
        expect(wire.length).toBeLessThanOrEqual(size);
        expect(d.flag_tc).toBe(true);
        expect(d.answers).toHaveLength(expected);
        expect(d.answers!.map((a) => a.data)).toEqual(
          browse(100)
            .answers.slice(0, expected)
            .map((a) => (a.data as { target: string[] }).target.join(".")),
        );
        expect(d.additionals).toHaveLength(0);
      }
    });

    it("keeps room for OPT: a partial answer with EDNS still ends in the OPT record", () => {
      const msg = { ...browse(100), edns: { udpSize: 1232, version: 0, dnssecOk: false, options: [] } };
      const wire = encodeResponse(msg, 600, { keepPartialAnswer: true });
      const d = dnsPacket.decode(wire);
      expect(wire.length).toBeLessThanOrEqual(600);
      expect(d.flag_tc).toBe(true);
      expect(d.answers!.length).toBeGreaterThan(10);
      expect(d.additionals!.map((a) => a.type)).toEqual(["OPT"]);
    });

    it("an authority section that does not fit after a whole answer leaves no bytes behind", () => {
      const soa: ResourceRecord = {
        name: ["local"],
        ttl: 5,
        data: {
          type: Type.SOA,
          soa: {
            mname: ["local"],
            rname: ["hostmaster", "local"],
            serial: 1,
            refresh: 2,
            retry: 3,
            expire: 4,
            minimum: 5,
          },
        },
      };
      const msg: Response = { ...browse(3), additionals: [], authorities: [soa, soa] };
      const answersOnly = encodeResponse({ ...msg, authorities: [] }).length;
      const oneSoa = encodeResponse({ ...msg, authorities: [soa] }).length;
      for (const size of [oneSoa, oneSoa + 5]) {
        const wire = encodeResponse(msg, size, { keepPartialAnswer: true });
        const d = dnsPacket.decode(wire);
        expect(d.flag_tc).toBe(true);
        expect(d.answers).toHaveLength(3);
        expect(d.authorities).toHaveLength(0);
        expect(wire.length).toBe(answersOnly);
      }
      const omitted = encodeResponse({ ...msg, omittedAnswers: 1 }, 65535, { keepPartialAnswer: true });
      expect(omitted.length).toBe(answersOnly);
    });

    it("without the option the same reply is TC=1 and empty, as before (UDP)", () => {
      const d = dnsPacket.decode(encodeResponse(browse(100), 600));
      expect(d.flag_tc).toBe(true);
      expect(d.answers).toHaveLength(0);
    });

    it("answers left out before encoding (omittedAnswers) set TC even when the listed ones fit", () => {
      const msg = { ...browse(3), omittedAnswers: 9997 };
      const kept = dnsPacket.decode(encodeResponse(msg, 65535, { keepPartialAnswer: true }));
      expect(kept.flag_tc).toBe(true);
      expect(kept.answers).toHaveLength(3);
      expect(kept.additionals).toHaveLength(0);
      const udp = dnsPacket.decode(encodeResponse(msg, 65535));
      expect(udp.flag_tc).toBe(true);
      expect(udp.answers).toHaveLength(0);
    });
  });

  it("drops a whole additional RRset when only part of it fits (RFC 2181 §9), without TC", () => {
    const host = ["multi", "local"];
    const srv: ResourceRecord = {
      name: ["i", ...cache],
      ttl: 30,
      data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 1, target: host } },
    };
    const a1: ResourceRecord = { name: host, ttl: 30, data: { type: Type.A, address: "192.0.2.1" } };
    const a2: ResourceRecord = { name: ["MULTI", "local"], ttl: 30, data: { type: Type.A, address: "192.0.2.2" } }; // same RRset: names compare case-insensitively
    const msg: Response = {
      ...browse(0),
      answers: [{ name: cache, ttl: 30, data: { type: Type.PTR, target: ["i", ...cache] } }],
      additionals: [srv, a1, a2],
    };
    const withOneA = encodeResponse({ ...msg, additionals: [srv, a1] }).length;
    const all = encodeResponse(msg).length;
    for (const size of [withOneA, all - 1]) {
      const d = dnsPacket.decode(encodeResponse(msg, size));
      expect(d.flag_tc).toBe(false);
      expect(d.answers).toHaveLength(1);
      expect(d.additionals!.map((a) => a.type)).toEqual(["SRV"]);
    }
    expect(dnsPacket.decode(encodeResponse(msg, all)).additionals!.map((a) => a.type)).toEqual(["SRV", "A", "A"]);
  });

  it("always keeps room for OPT and carries extended rcodes in it", () => {
    const msg = {
      ...browse(100),
      rcode: Rcode.BADVERS,
      edns: { udpSize: 1232, version: 0, dnssecOk: false, options: [] },
    };
    const wire = encodeResponse(msg, 1232);
    const d = dnsPacket.decode(wire);
    const opt = d.additionals!.find((a) => a.type === "OPT") as { extendedRcode: number } | undefined;
    expect(wire.length).toBeLessThanOrEqual(1232);
    expect(opt?.extendedRcode).toBe(1); // 16 >> 4
    expect(wire[3]! & 0xf).toBe(0);
  });

  it("encodes an empty TXT as one empty string (RFC 6763 §6.1)", () => {
    const msg: Response = {
      ...browse(0),
      answers: [{ name: ["x", "local"], ttl: 1, data: { type: Type.TXT, strings: [] } }],
    };
    const d = dnsPacket.decode(encodeResponse(msg));
    expect((d.answers![0] as { data: Buffer[] }).data.map((b) => b.length)).toEqual([0]);
  });
});

describe("decodeMessage", () => {
  it("reads back what encodeResponse wrote, labels with dots intact", () => {
    const msg = browse(3);
    msg.answers[0] = { name: cache, ttl: 30, data: { type: Type.PTR, target: ["My.Printer", ...cache] } };
    const d = decodeMessage(
      encodeResponse({ ...msg, edns: { udpSize: 1232, version: 0, dnssecOk: false, options: [] } }),
    );
    expect(d.answers[0]!.data).toEqual({ type: Type.PTR, target: ["My.Printer", "_cache", "_tcp", "local"] });
    expect(d.additionals[0]!.data).toEqual({
      type: Type.SRV,
      priority: 0,
      weight: 1,
      port: 11211,
      target: ["host-0", "local"],
    });
    expect(d.additionals[1]!.data).toEqual({ type: Type.TXT, strings: [Buffer.from("version=1.4")] });
    expect(d.additionals[2]!.data).toEqual({ type: Type.A, address: "192.0.2.0" });
    expect(d.edns).toEqual({ udpSize: 1232, version: 0, options: [] });
    expect(d.flags.aa).toBe(true);
  });
});

describe("decodeQuery", () => {
  const q = encodeQuery(99, ["_cache", "_tcp", "local"], Type.PTR, { udpSize: 4096 });

  it("reads the question and EDNS", () => {
    const d = decodeQuery(q);
    expect(d).toMatchObject({
      kind: "query",
      query: {
        id: 99,
        question: { name: ["_cache", "_tcp", "local"], type: Type.PTR, class: 1 },
        edns: { udpSize: 4096, version: 0 },
      },
    });
  });

  it("echoes a question name that is not valid UTF-8 byte for byte", () => {
    const raw = Buffer.from([2, 0xff, 0xfe, 5, ...Buffer.from("local"), 0]);
    const msg = Buffer.concat([Buffer.from([0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), raw, Buffer.from([0, 1, 0, 1])]);
    const d = decodeQuery(msg);
    if (d.kind !== "query") throw new Error(d.kind);
    const reply = encodeResponse({
      id: 9,
      opcode: 0,
      aa: true,
      rd: false,
      cd: false,
      rcode: 3,
      question: d.query.question,
      answers: [],
      authorities: [],
      additionals: [],
    });
    expect(reply.subarray(12, 12 + raw.length)).toEqual(raw);
  });

  it("keeps a name with a label that is not valid UTF-8 as its bytes, written out when it was compressed", () => {
    // "local" at 12, then \xff\xfe.dev.<pointer to local>
    const msg = Buffer.from([
      ...new Array(12).fill(0),
      5,
      ...Buffer.from("local"),
      0,
      2,
      0xff,
      0xfe,
      3,
      ...Buffer.from("dev"),
      0xc0,
      12,
    ]);
    const n = decodeName(msg, 19);
    expect(n.end).toBe(msg.length);
    expect(n.raw).toEqual(Buffer.from([2, 0xff, 0xfe, 3, ...Buffer.from("dev"), 5, ...Buffer.from("local"), 0]));
    expect(decodeName(msg, 12).raw).toBeUndefined();
  });

  it("drops what is not a query and answers malformed queries with FORMERR", () => {
    expect(decodeQuery(Buffer.alloc(5))).toMatchObject({ kind: "drop" });
    const resp = Buffer.from(q);
    resp[2]! |= 0x80;
    expect(decodeQuery(resp)).toMatchObject({ kind: "drop" });
    const twoQ = Buffer.from(q);
    twoQ.writeUInt16BE(2, 4);
    expect(decodeQuery(twoQ)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeQuery(q.subarray(0, q.length - 3))).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeQuery(Buffer.concat([q, Buffer.from([1, 2])]))).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    const notify = Buffer.from(q);
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    expect(decodeQuery(notify)).toMatchObject({ kind: "error", rcode: Rcode.NOTIMP, opcode: 4 });
  });

  it("FORMERR for an OPT outside the additional section; an error keeps the request's OPT when it has exactly one there (RFC 6891 §6.1.1)", () => {
    const opt = q.subarray(q.length - 11);
    const bare = encodeQuery(99, ["_cache", "_tcp", "local"], Type.PTR);
    const inAnswer = Buffer.concat([bare, opt]);
    inAnswer.writeUInt16BE(1, 6);
    expect(decodeQuery(inAnswer)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeQuery(inAnswer)).not.toHaveProperty("edns");
    const notify = Buffer.from(q);
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    notify.writeUInt16BE(0x8000, notify.length - 4); // DO
    expect(decodeQuery(notify)).toMatchObject({
      kind: "error",
      rcode: Rcode.NOTIMP,
      edns: { udpSize: 4096, version: 0, dnssecOk: true },
    });
    const noQuestion = Buffer.concat([q.subarray(0, 12), opt]);
    noQuestion.writeUInt16BE(0, 4);
    expect(decodeQuery(noQuestion)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR, edns: { udpSize: 4096 } });
    const twoOpt = Buffer.concat([q, opt]);
    twoOpt.writeUInt16BE(2, 10);
    expect(decodeQuery(twoOpt)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeQuery(twoOpt)).not.toHaveProperty("edns");
  });

  it("never throws, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeQuery(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(q.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (edits) => {
          const m = Buffer.from(q);
          for (const [at, v] of edits) m[at] = v;
          decodeQuery(m);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
