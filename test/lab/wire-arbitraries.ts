// fast-check generators of DNS messages, good and damaged, shared by the wire
// property tests and `npm run fuzz` (scripts/fuzz.ts).
import fc from "fast-check";
import { parseName } from "../../src/names.js";
import { generateKey } from "../../src/update/keys.js";
import { Type } from "../../src/wire/constants.js";
import { encodeQuery, type ResourceRecord } from "../../src/wire/message.js";
import { signRequest } from "../../src/wire/tsig.js";
import { encodeUpdate, type UpdateOp } from "../../src/wire/update.js";

export const FUZZ_ZONE = parseName("svc.example.");
export const FUZZ_KEY = generateKey("fuzz-key");
export const FUZZ_NOW = 1_700_000_000_000;
const zone = FUZZ_ZONE;

export const label = fc.stringMatching(/^[a-z0-9_][a-z0-9_ -]{0,20}$/);
export const name = fc.array(label, { minLength: 1, maxLength: 5 });
export const address4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
export const address6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((p) => p.map((x) => x.toString(16)).join(":"));
export const rdata = fc.oneof(
  address4.map((address) => ({ type: Type.A, address }) as const),
  address6.map((address) => ({ type: Type.AAAA, address }) as const),
  name.map((target) => ({ type: Type.PTR, target }) as const),
  fc
    .record({ priority: fc.nat(0xffff), weight: fc.nat(0xffff), port: fc.nat(0xffff), target: name })
    .map((srv) => ({ type: Type.SRV, srv }) as const),
  fc
    .array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 })
    .map((strings) => ({ type: Type.TXT, strings }) as const),
);
export const record = fc.record({ name, ttl: fc.nat(0x7fffffff), data: rdata }) as fc.Arbitrary<ResourceRecord>;
export const qtype = fc.constantFrom(Type.A, Type.AAAA, Type.PTR, Type.SRV, Type.TXT, Type.SOA, Type.ANY, 65, 99, 252);
export const queryName = fc.oneof(
  name.map((n) => [...n, ...zone]),
  fc.tuple(label, fc.constantFrom("_kv", "_web"), label).map(([k, svc]) => [k, "_hash", svc, "_tcp", ...zone]),
  name,
);

/** A message, then damaged: bytes flipped, cut short, or grown. */
export function mutated(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
      fc.option(fc.nat()),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([msg, flips, cut, tail]) => {
      let m = Buffer.from(msg);
      for (const [at, v] of flips) if (m.length > 0) m[at % m.length] = v;
      if (cut !== null && m.length > 0) m = m.subarray(0, cut % (m.length + 1));
      return Buffer.concat([m, Buffer.from(tail)]);
    });
}

export const validQuery = fc
  .tuple(fc.nat(0xffff), queryName, qtype, fc.option(fc.integer({ min: 0, max: 4096 })))
  .map(([id, n, t, udp]) => encodeQuery(id, n, t, udp === null ? undefined : { udpSize: udp }));
export const updateOp: fc.Arbitrary<UpdateOp> = fc.oneof(
  fc
    .record({ name: name.map((n) => [...n, ...zone]), ttl: fc.nat(86400), data: rdata })
    .map((r) => ({ op: "add" as const, ...r })),
  name.map((n) => ({ op: "delete-name" as const, name: [...n, ...zone] })),
);
export const validUpdate = fc
  .tuple(fc.nat(0xffff), fc.array(updateOp, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(100_000)))
  .map(([id, updates, lease]) => encodeUpdate({ id, zone, updates, ...(lease !== null ? { lease: { lease } } : {}) }));
/** Signed with FUZZ_KEY at `now` (seconds); the default time is fixed for tests, the fuzz script passes the clock. */
export const signedUpdateAt = (now: number) => validUpdate.map((m) => signRequest(m, FUZZ_KEY, now).signed);
export const signedUpdate = signedUpdateAt(FUZZ_NOW / 1000);
export const anyBytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b));
export const compressionLoop = fc.tuple(fc.nat(0xffff), fc.nat(3)).map(([id, extra]) => {
  // a question whose name is a pointer to itself (or to a pointer back to it)
  const m = Buffer.alloc(12 + 2 + extra * 2 + 4);
  m.writeUInt16BE(id, 0);
  m.writeUInt16BE(1, 4);
  for (let i = 0; i <= extra; i++) m.writeUInt16BE(0xc000 | (12 + ((i + 1) % (extra + 1)) * 2), 12 + i * 2);
  return m;
});
export const hugeRdlength = validQuery.map((q) => {
  // an additional record whose RDLENGTH runs far past the end
  const rr = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3]);
  const m = Buffer.concat([q.subarray(0, 12), q.subarray(12), rr]);
  m.writeUInt16BE(1, 10);
  return m;
});
export const badCounts = fc
  .tuple(validQuery, fc.array(fc.nat(0xffff), { minLength: 4, maxLength: 4 }))
  .map(([q, counts]) => {
    const m = Buffer.from(q);
    counts.forEach((c, i) => m.writeUInt16BE(c, 4 + 2 * i));
    return m;
  });
export const longName = fc.integer({ min: 40, max: 200 }).map((n) => {
  // a name longer than 255 octets, written out label by label
  const labels = Array.from({ length: n }, () => "abcd");
  const parts = labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const m = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...parts, Buffer.from([0, 0, 1, 0, 1])]);
  return m;
});

export const everythingAt = (now: number) =>
  fc.oneof(
    anyBytes,
    mutated(validQuery),
    mutated(validUpdate),
    mutated(signedUpdateAt(now)),
    validQuery,
    validUpdate,
    signedUpdateAt(now),
    compressionLoop,
    hugeRdlength,
    badCounts,
    longName,
  );
export const everything = everythingAt(FUZZ_NOW / 1000);
