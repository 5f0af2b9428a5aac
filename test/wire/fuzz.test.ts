// Property tests over the wire layer (fast-check): whatever bytes arrive,
// decoding stops at its boundary (a result, or a WireError; never a
// TypeError or RangeError from deep inside), the daemon's handler always
// produces a reply that parses (or chooses silence), and what is encoded
// decodes back to the same meaning.
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { handleDnsMessage, type DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { parseName, type Labels } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { generateKey } from "../../src/update/keys.js";
import { makePolicy } from "../../src/update/policy.js";
import { Class, Opcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery, encodeResponse, type ResourceRecord } from "../../src/wire/message.js";
import { WireError } from "../../src/wire/name.js";
import { decodeQuery } from "../../src/wire/query.js";
import { signRequest } from "../../src/wire/tsig.js";
import { decodeUpdate, encodeUpdate, type UpdateOp } from "../../src/wire/update.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const zone = parseName("svc.example.");
const key = generateKey("fuzz-key");
const NOW = 1_700_000_000_000;

// -- generators ----------------------------------------------------------

const label = fc.stringMatching(/^[a-z0-9_][a-z0-9_ -]{0,20}$/);
const name = fc.array(label, { minLength: 1, maxLength: 5 });
const address4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const address6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((p) => p.map((x) => x.toString(16)).join(":"));
const rdata = fc.oneof(
  address4.map((address) => ({ type: Type.A, address }) as const),
  address6.map((address) => ({ type: Type.AAAA, address }) as const),
  name.map((target) => ({ type: Type.PTR, target }) as const),
  fc.record({ priority: fc.nat(0xffff), weight: fc.nat(0xffff), port: fc.nat(0xffff), target: name }).map((srv) => ({ type: Type.SRV, srv }) as const),
  fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }).map((strings) => ({ type: Type.TXT, strings }) as const),
);
const record = fc.record({ name, ttl: fc.nat(0x7fffffff), data: rdata }) as fc.Arbitrary<ResourceRecord>;
const qtype = fc.constantFrom(Type.A, Type.AAAA, Type.PTR, Type.SRV, Type.TXT, Type.SOA, Type.ANY, 65, 99, 252);
const queryName = fc.oneof(
  name.map((n) => [...n, ...zone]),
  fc.tuple(label, fc.constantFrom("_kv", "_web"), label).map(([k, svc]) => [k, "_hash", svc, "_tcp", ...zone]),
  name,
);

/** A message, then damaged: bytes flipped, cut short, or grown. */
function mutated(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()), fc.uint8Array({ maxLength: 20 })).map(([msg, flips, cut, tail]) => {
    let m = Buffer.from(msg);
    for (const [at, v] of flips) if (m.length > 0) m[at % m.length] = v;
    if (cut !== null && m.length > 0) m = m.subarray(0, cut % (m.length + 1));
    return Buffer.concat([m, Buffer.from(tail)]);
  });
}

const validQuery = fc.tuple(fc.nat(0xffff), queryName, qtype, fc.option(fc.integer({ min: 0, max: 4096 }))).map(([id, n, t, udp]) => encodeQuery(id, n, t, udp === null ? undefined : { udpSize: udp }));
const updateOp: fc.Arbitrary<UpdateOp> = fc.oneof(
  fc.record({ name: name.map((n) => [...n, ...zone]), ttl: fc.nat(86400), data: rdata }).map((r) => ({ op: "add" as const, ...r })),
  name.map((n) => ({ op: "delete-name" as const, name: [...n, ...zone] })),
);
const validUpdate = fc.tuple(fc.nat(0xffff), fc.array(updateOp, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(100_000))).map(([id, updates, lease]) =>
  encodeUpdate({ id, zone, updates, ...(lease !== null ? { lease: { lease } } : {}) }),
);
const signedUpdate = validUpdate.map((m) => signRequest(m, key, NOW / 1000).signed);
const anyBytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b));
const compressionLoop = fc.tuple(fc.nat(0xffff), fc.nat(3)).map(([id, extra]) => {
  // a question whose name is a pointer to itself (or to a pointer back to it)
  const m = Buffer.alloc(12 + 2 + extra * 2 + 4);
  m.writeUInt16BE(id, 0);
  m.writeUInt16BE(1, 4);
  for (let i = 0; i <= extra; i++) m.writeUInt16BE(0xc000 | (12 + ((i + 1) % (extra + 1)) * 2), 12 + i * 2);
  return m;
});
const hugeRdlength = validQuery.map((q) => {
  // an additional record whose RDLENGTH runs far past the end
  const rr = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3]);
  const m = Buffer.concat([q.subarray(0, 12), q.subarray(12), rr]);
  m.writeUInt16BE(1, 10);
  return m;
});
const badCounts = fc.tuple(validQuery, fc.array(fc.nat(0xffff), { minLength: 4, maxLength: 4 })).map(([q, counts]) => {
  const m = Buffer.from(q);
  counts.forEach((c, i) => m.writeUInt16BE(c, 4 + 2 * i));
  return m;
});
const longName = fc.integer({ min: 40, max: 200 }).map((n) => {
  // a name longer than 255 octets, written out label by label
  const labels = Array.from({ length: n }, () => "abcd");
  const parts = labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const m = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...parts, Buffer.from([0, 0, 1, 0, 1])]);
  return m;
});

const everything = fc.oneof(anyBytes, mutated(validQuery), mutated(validUpdate), mutated(signedUpdate), validQuery, validUpdate, signedUpdate, compressionLoop, hugeRdlength, badCounts, longName);

// -- the handler the daemon runs, over an in-memory registry ------------

async function handlerDeps(): Promise<DnsHandlerDeps> {
  const clock = new ManualClock(NOW);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const log = pino({ level: "silent" });
  const domains: Labels[] = [["local"], zone];
  return {
    registry,
    clock,
    log,
    maxUdpPayload: 1232,
    answer: { domains, ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    update: { registry, clock, log, domains, keys: [key], policy: makePolicy(["127.0.0.0/8"], new Map()), lease: { min: 1, max: 86400 } },
    status: () => ["version=fuzz"],
  };
}

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
    const deps = await handlerDeps();
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
    const deps = await handlerDeps();
    await fc.assert(
      fc.asyncProperty(signedUpdate, fc.nat(), fc.integer({ min: 1, max: 255 }), async (m, at, delta) => {
        const damaged = Buffer.from(m);
        const i = 2 + (at % (damaged.length - 2)); // the ID is not part of what differs in practice
        damaged[i] = (damaged[i]! + delta) & 0xff;
        const serial = deps.registry.serial();
        const reply = await handleDnsMessage(damaged, "udp", "198.51.100.7:5353", deps); // not an unsigned-update source
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
          if (r.kind === "query") expect(r.query.question.name.reduce((n, l) => n + l.length + 1, 1)).toBeLessThanOrEqual(255);
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
      fc.property(fc.nat(0xffff), fc.array(record, { maxLength: 8 }), fc.array(record, { maxLength: 4 }), (id, answers, additionals) => {
        const wire = encodeResponse({ id, opcode: 0, aa: true, rd: false, cd: false, rcode: 0, answers, authorities: [], additionals });
        const d = decodeMessage(wire);
        expect(d.id).toBe(id);
        const meaning = (rs: { name: readonly string[]; ttl: number; data: unknown }[]) =>
          rs.map((r) => ({ name: r.name.join(".").toLowerCase(), ttl: r.ttl, data: JSON.stringify(normal(r.data)) }));
        expect(meaning(d.answers)).toEqual(meaning(answers));
        expect(meaning(d.additionals)).toEqual(meaning(additionals));
      }),
      { numRuns: RUNS },
    );
  });

  it("a TXT record with no strings goes out as one empty string (RFC 6763 §6.1)", () => {
    const d = decodeMessage(encodeResponse({ id: 1, opcode: 0, aa: true, rd: false, cd: false, rcode: 0, answers: [{ name: ["a"], ttl: 1, data: { type: Type.TXT, strings: [] } }], authorities: [], additionals: [] }));
    expect((d.answers[0]!.data as { strings: Buffer[] }).strings.map((b) => b.length)).toEqual([0]);
  });

  it("an UPDATE decodes back to its zone, operations and lease", () => {
    fc.assert(
      fc.property(fc.nat(0xffff), fc.array(updateOp, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(100_000)), (id, ops, lease) => {
        const u = decodeUpdate(encodeUpdate({ id, zone, updates: ops, ...(lease !== null ? { lease: { lease } } : {}) }));
        expect(u.kind).toBe("update");
        if (u.kind !== "update") return;
        expect(u.update.id).toBe(id);
        expect(u.update.zone.name).toEqual(zone);
        expect(u.update.lease?.lease).toBe(lease ?? undefined);
        expect(u.update.updates.map((r) => ({ name: r.name, class: r.class, type: r.type, ttl: r.ttl }))).toEqual(
          ops.map((o) => (o.op === "add" ? { name: o.name, class: Class.IN, type: o.data.type, ttl: o.ttl } : { name: o.name, class: 255, type: Type.ANY, ttl: 0 })),
        );
      }),
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
  if (d && typeof d === "object") return Object.fromEntries(Object.entries(d).filter(([k]) => k !== "type").map(([k, v]) => [k, k === "address" ? addressBytes(v as string) : typeof v === "string" ? v.toLowerCase() : normal(v)]));
  return d;
}
