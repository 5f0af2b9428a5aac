// Property tests over the wire layer (fast-check): whatever bytes arrive,
// decoding stops at its boundary (a result, or a WireError; never a
// TypeError or RangeError from deep inside), the daemon's handler always
// produces a reply that parses (or chooses silence), and what is encoded
// decodes back to the same meaning.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { handlerDeps } from "../lab/handler.js";
import { handleDnsMessage } from "../../src/frontends/dns-handler.js";
import { CookieJar } from "../../src/frontends/cookies.js";
import { Class, Opcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery, encodeResponse } from "../../src/wire/message.js";
import { WireError } from "../../src/wire/name.js";
import {
  badCounts,
  compressionLoop,
  everything,
  FUZZ_KEY as key,
  FUZZ_NOW as NOW,
  FUZZ_ZONE as zone,
  hugeRdlength,
  longName,
  qtype,
  queryName,
  record,
  signedUpdate,
  updateOp,
} from "../lab/wire-arbitraries.js";
import { decodeQuery } from "../../src/wire/query.js";
import { decodeUpdate, encodeUpdate } from "../../src/wire/update.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

// -- the handler the daemon runs, over an in-memory registry ------------

const fuzzDeps = () =>
  handlerDeps(
    { nowMs: NOW, zone, keys: [key], allowUnsigned: ["127.0.0.0/8"] },
    { status: () => ["version=fuzz"], cookies: new CookieJar() },
  );

const onlyWireErrors = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
};

describe("wire decoding under fuzzing", () => {
  it("decodeQuery never throws: every input is a query, an error to answer, or a drop", () => {
    fc.assert(
      fc.property(everything, (m) => {
        const r = decodeQuery(m);
        expect(["query", "error", "drop"]).toContain(r.kind);
      }),
      { numRuns: RUNS },
    );
  });

  it("decodeMessage and decodeUpdate stop at their boundary: a result or a WireError", () => {
    fc.assert(
      fc.property(everything, (m) => {
        onlyWireErrors(() => decodeMessage(m));
        const u = decodeUpdate(m);
        expect(["update", "error"]).toContain(u.kind);
      }),
      { numRuns: RUNS },
    );
  });

  it("the handler answers everything with a reply that parses, no larger than allowed, with the request's ID — or stays silent", async () => {
    const deps = await fuzzDeps();
    await fc.assert(
      fc.asyncProperty(everything, fc.constantFrom("udp" as const, "tcp" as const), async (m, transport) => {
        const reply = await handleDnsMessage(m, transport, "127.0.0.1:5353", deps);
        if (reply === null) return;
        const d = decodeMessage(reply);
        expect(d.flags.qr).toBe(true);
        expect(d.id).toBe(m.readUInt16BE(0));
        if (transport === "udp") expect(reply.length).toBeLessThanOrEqual(Math.max(1232, 512));
        const opcode = (m[2]! >> 3) & 0xf;
        if (d.rcodeName === "FORMERR") expect(reply.length).toBeLessThanOrEqual(Math.max(m.length, 12 + 11 + 512));
        if (opcode === Opcode.UPDATE && d.rcodeName === "NOERROR") expect(decodeUpdate(m).kind).toBe("update"); // only a well-formed UPDATE applies
      }),
      { numRuns: RUNS },
    );
  });

  it("a signed UPDATE with any byte changed is never applied", async () => {
    const deps = await fuzzDeps();
    await fc.assert(
      fc.asyncProperty(signedUpdate, fc.nat(), fc.integer({ min: 1, max: 255 }), async (m, at, delta) => {
        const damaged = Buffer.from(m);
        const i = 2 + (at % (damaged.length - 2)); // the ID is not part of what differs in practice
        damaged[i] = (damaged[i]! + delta) & 0xff;
        const serial = deps.registry.serial();
        const reply = await handleDnsMessage(damaged, "udp", "198.51.100.7:5353", deps); // not an unsigned-update source
        // the one change that is no change: the TSIG key and algorithm names enter the MAC lower-cased (RFC 8945
        // §4.3.3), so a letter's case flipped there is the same signed message; it verifies, once
        const t = (decodeUpdate(m) as { update: { tsig: { start: number; keyName: string[]; algorithm: string[] } } })
          .update.tsig;
        const wireLength = (labels: string[]) => labels.reduce((n, l) => n + 1 + l.length, 1);
        const keyEnd = t.start + wireLength(t.keyName);
        const algAt = keyEnd + 10; // type, class, TTL, RDLENGTH
        const inNames = (i >= t.start && i < keyEnd) || (i >= algAt && i < algAt + wireLength(t.algorithm));
        const caseOnly =
          inNames && String.fromCharCode(m[i]!).toLowerCase() === String.fromCharCode(damaged[i]!).toLowerCase();
        if (caseOnly) return;
        if (reply) expect(decodeMessage(reply).rcodeName).not.toBe("NOERROR");
        expect(deps.registry.serial()).toBe(serial);
      }),
      { numRuns: Math.min(RUNS, 1000) },
    );
  });

  it("compression loops, over-long names, bad counts and huge RDLENGTH are refused, not followed", () => {
    for (const arb of [compressionLoop, longName, badCounts, hugeRdlength]) {
      fc.assert(
        fc.property(arb, (m) => {
          const r = decodeQuery(m);
          if (r.kind === "query")
            expect(r.query.question.name.reduce((n, l) => n + l.length + 1, 1)).toBeLessThanOrEqual(255);
        }),
        { numRuns: 200 },
      );
    }
    fc.assert(
      fc.property(compressionLoop, (m) => {
        expect(decodeQuery(m).kind).not.toBe("query");
      }),
      { numRuns: 50 },
    );
  });
});

describe("encoding round trips", () => {
  it("a response's records decode back to the same names, types, TTLs and data", () => {
    fc.assert(
      fc.property(
        fc.nat(0xffff),
        fc.array(record, { maxLength: 8 }),
        fc.array(record, { maxLength: 4 }),
        (id, answers, additionals) => {
          const wire = encodeResponse({
            id,
            opcode: 0,
            aa: true,
            rd: false,
            cd: false,
            rcode: 0,
            answers,
            authorities: [],
            additionals,
          });
          const d = decodeMessage(wire);
          expect(d.id).toBe(id);
          const meaning = (rs: { name: readonly string[]; ttl: number; data: unknown }[]) =>
            rs.map((r) => ({ name: r.name.join(".").toLowerCase(), ttl: r.ttl, data: JSON.stringify(normal(r.data)) }));
          expect(meaning(d.answers)).toEqual(meaning(answers));
          expect(meaning(d.additionals)).toEqual(meaning(additionals));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("a TXT record with no strings goes out as one empty string (RFC 6763 §6.1)", () => {
    const d = decodeMessage(
      encodeResponse({
        id: 1,
        opcode: 0,
        aa: true,
        rd: false,
        cd: false,
        rcode: 0,
        answers: [{ name: ["a"], ttl: 1, data: { type: Type.TXT, strings: [] } }],
        authorities: [],
        additionals: [],
      }),
    );
    expect((d.answers[0]!.data as { strings: Buffer[] }).strings.map((b) => b.length)).toEqual([0]);
  });

  it("an UPDATE decodes back to its zone, operations and lease", () => {
    fc.assert(
      fc.property(
        fc.nat(0xffff),
        fc.array(updateOp, { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(100_000)),
        (id, ops, lease) => {
          const u = decodeUpdate(
            encodeUpdate({ id, zone, updates: ops, ...(lease !== null ? { lease: { lease } } : {}) }),
          );
          expect(u.kind).toBe("update");
          if (u.kind !== "update") return;
          expect(u.update.id).toBe(id);
          expect(u.update.zone.name).toEqual(zone);
          expect(u.update.lease?.lease).toBe(lease ?? undefined);
          expect(u.update.updates.map((r) => ({ name: r.name, class: r.class, type: r.type, ttl: r.ttl }))).toEqual(
            ops.map((o) =>
              o.op === "add"
                ? { name: o.name, class: Class.IN, type: o.data.type, ttl: o.ttl }
                : { name: o.name, class: 255, type: Type.ANY, ttl: 0 },
            ),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("a query encodes and decodes to the same question", () => {
    fc.assert(
      fc.property(fc.nat(0xffff), queryName, qtype, (id, n, t) => {
        const r = decodeQuery(encodeQuery(id, n, t, { udpSize: 1232 }, Class.IN));
        if (r.kind !== "query") return; // ANY/AXFR-like types may be refused by policy, never misread
        expect(r.query.id).toBe(id);
        expect(r.query.question.name).toEqual(n);
        expect(r.query.question.type).toBe(t);
      }),
      { numRuns: RUNS },
    );
  });
});

/** "::" and "0:0:0:0:0:0:0:0" are one address: compare the 16 (or 4) bytes. */
function addressBytes(a: string): string {
  if (!a.includes(":")) return a;
  const [head, tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = a.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/** Decoded and encoded data differ in shape (Buffer vs Uint8Array, names as labels): compare their meaning. */
function normal(d: unknown): unknown {
  if (d instanceof Uint8Array) return Buffer.from(d).toString("hex");
  if (Array.isArray(d)) return d.map(normal);
  if (d && typeof d === "object" && "srv" in d) return normal((d as { srv: unknown }).srv);
  if (d && typeof d === "object")
    return Object.fromEntries(
      Object.entries(d)
        .filter(([k]) => k !== "type")
        .map(([k, v]) => [
          k,
          k === "address" ? addressBytes(v as string) : typeof v === "string" ? v.toLowerCase() : normal(v),
        ]),
    );
  return d;
}
