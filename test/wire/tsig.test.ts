import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { handlerDeps } from "../lab/handler.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { handleDnsMessage } from "../../src/frontends/dns-handler.js";
import { parseName } from "../../src/names.js";
import { formatKeyFile, generateKey, parseKeyFile, parseKeySpec } from "../../src/update/keys.js";
import { Rcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { decodeQuery } from "../../src/wire/query.js";
import {
  MAC_BYTES,
  macSizeRange,
  MAX_FUDGE,
  signReply,
  signRequest,
  TSIG_ALGORITHMS,
  TsigError,
  unsignedErrorReply,
  VerifiedRequest,
  verifyReply,
  verifyRequest,
  type TsigAlgorithm,
  type TsigKey,
  type TsigRecord,
} from "../../src/wire/tsig.js";
import { decodeUpdate, encodeUpdate } from "../../src/wire/update.js";

const key: TsigKey = { name: ["ringdns-key"], algorithm: "hmac-sha256", secret: Buffer.alloc(32, 7) };
const now = 1_800_000_000;
const ALGORITHMS = Object.keys(TSIG_ALGORITHMS) as TsigAlgorithm[];

function signedQuery(k: TsigKey, at = now, fudge = 300, macLength?: number) {
  const { signed, mac } = signRequest(encodeQuery(42, ["alpha", "local"], Type.A), k, at, fudge, macLength);
  const d = decodeQuery(signed);
  if (d.kind !== "query" || !d.query.tsig) throw new Error("no TSIG decoded");
  return { signed, mac, tsig: d.query.tsig };
}

function verified(k: TsigKey = key, at = now): { request: VerifiedRequest; mac: Buffer; tsig: TsigRecord } {
  const { signed, mac, tsig } = signedQuery(k, at);
  const v = verifyRequest(signed, tsig, [k], at);
  if (v.kind !== "verified") throw new Error(v.kind);
  return { request: v.request, mac, tsig };
}

/** `msg` with a TSIG record whose MAC is `mac` (not computed with any secret) and error `error`. */
function withTsig(msg: Buffer, k: TsigKey, mac: Uint8Array, at = now, error = 0): { wire: Buffer; tsig: TsigRecord } {
  const name = (labels: readonly string[]) =>
    Buffer.concat([
      ...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])),
      Buffer.from([0]),
    ]);
  const fields = Buffer.alloc(10);
  fields.writeUIntBE(at, 0, 6);
  fields.writeUInt16BE(300, 6);
  fields.writeUInt16BE(mac.length, 8);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(msg.readUInt16BE(0), 0);
  tail.writeUInt16BE(error, 2);
  const rdata = Buffer.concat([name(k.algorithm.split(".")), fields, mac, tail]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(Type.TSIG, 0);
  head.writeUInt16BE(255, 2);
  head.writeUInt16BE(rdata.length, 8);
  const wire = Buffer.concat([msg, name(k.name), head, rdata]);
  wire.writeUInt16BE(wire.readUInt16BE(10) + 1, 10);
  return { wire, tsig: decodeMessage(wire).tsig! };
}

const keyFor = (algorithm: TsigAlgorithm, secret: Uint8Array): TsigKey => ({
  name: ["k", "example"],
  algorithm,
  secret: Buffer.from(secret),
});

describe("TSIG", () => {
  it.each(ALGORITHMS)("signs and verifies with %s", (algorithm) => {
    const k = { ...key, algorithm };
    const { signed, tsig } = signedQuery(k);
    expect(verifyRequest(signed, tsig, [k], now)).toMatchObject({ kind: "verified" });
  });

  it("BADKEY for an unknown key, BADSIG for a wrong secret or a changed byte, BADTIME outside the fudge", () => {
    const { signed, tsig } = signedQuery(key);
    expect(verifyRequest(signed, tsig, [{ ...key, name: ["other"] }], now)).toMatchObject({
      kind: "refused",
      error: TsigError.BADKEY,
    });
    expect(verifyRequest(signed, tsig, [{ ...key, algorithm: "hmac-sha512" }], now)).toMatchObject({
      kind: "refused",
      error: TsigError.BADKEY,
    });
    expect(verifyRequest(signed, tsig, [{ ...key, secret: Buffer.alloc(32, 8) }], now)).toMatchObject({
      kind: "refused",
      error: TsigError.BADSIG,
    });
    const tampered = Buffer.from(signed);
    tampered[14]! ^= 1; // a byte of the question
    expect(verifyRequest(tampered, tsig, [key], now)).toMatchObject({ kind: "refused", error: TsigError.BADSIG });
    expect(verifyRequest(signed, tsig, [key], now + 301)).toMatchObject({ kind: "badtime" });
    expect(verifyRequest(signed, tsig, [key], now + 300)).toMatchObject({ kind: "verified" });
  });

  it("honours a fudge of at most 300 s: 65535 asked, 2 hours off is BADTIME", () => {
    const { signed, tsig } = signedQuery(key, now - 7200, 65535);
    expect(verifyRequest(signed, tsig, [key], now)).toMatchObject({
      kind: "badtime",
      reason: expect.stringMatching(/fudge 300 \(asked 65535/),
    });
    const edge = signedQuery(key, now - MAX_FUDGE, 65535);
    expect(verifyRequest(edge.signed, edge.tsig, [key], now)).toMatchObject({ kind: "verified" });
    expect(verifyRequest(edge.signed, edge.tsig, [key], now + 1)).toMatchObject({ kind: "badtime" });
    const small = signedQuery(key, now - 20, 10); // a smaller fudge is the client's choice
    expect(verifyRequest(small.signed, small.tsig, [key], now)).toMatchObject({ kind: "badtime" });
  });

  it("a request with a TSIG error set is FORMERR, even when its MAC (over that error) is right", () => {
    const msg = encodeQuery(42, ["alpha", "local"], Type.A);
    for (const error of [TsigError.BADSIG, TsigError.BADTIME, TsigError.BADTRUNC, 1]) {
      // the MAC is computed with the error in the TSIG variables, as the old oracle's were
      const { wire, tsig } = withTsig(msg, key, Buffer.alloc(32), now, error);
      expect(verifyRequest(wire, tsig, [key], now)).toMatchObject({
        kind: "malformed",
        reason: expect.stringMatching(/error/),
      });
    }
  });

  it("a signed reply verifies against the request MAC; BADTIME replies carry the server time and are signed", () => {
    const { request, mac } = verified();
    const reply = Buffer.from(encodeQuery(42, ["alpha", "local"], Type.A));
    reply[2]! |= 0x80;
    const signedReply = signReply(reply, request, now);
    const d = decodeMessage(signedReply);
    expect(verifyReply(signedReply, d.tsig!, key, mac)).toBe(true);
    expect(verifyReply(signedReply, d.tsig!, key, Buffer.alloc(32))).toBe(false);
    const lateWire = signReply(reply, request, now + 1000, TsigError.BADTIME);
    const late = decodeMessage(lateWire);
    expect(late.tsig!.error).toBe(TsigError.BADTIME);
    expect(late.tsig!.other.readUIntBE(0, 6)).toBe(now + 1000);
    expect(verifyReply(lateWire, late.tsig!, key, mac)).toBe(true);
  });

  it("BADKEY and BADSIG replies carry no MAC", () => {
    const { tsig } = signedQuery(key);
    const reply = Buffer.from(encodeQuery(42, ["alpha", "local"], Type.A));
    for (const error of [TsigError.BADKEY, TsigError.BADSIG] as const) {
      const d = decodeMessage(unsignedErrorReply(reply, tsig, error));
      expect([d.tsig!.error, d.tsig!.mac.length]).toEqual([error, 0]);
    }
  });

  it("a VerifiedRequest cannot be made or faked outside tsig.ts", () => {
    const { tsig } = signedQuery(key);
    const Ctor = VerifiedRequest as unknown as new (token: symbol, k: TsigKey, t: TsigRecord) => VerifiedRequest;
    expect(() => new Ctor(Symbol("made by verifyRequest"), key, tsig)).toThrow(/only from verifyRequest/);
    const fake = { key, timeSigned: now, mac: tsig.mac } as unknown as VerifiedRequest;
    expect(() => signReply(Buffer.alloc(12), fake, now)).toThrow(/not a VerifiedRequest/);
  });

  it("a message has one identity however its MAC is truncated (so a replay cannot hide by cutting it)", () => {
    const ids = [16, 20, 32].map((size) => {
      const { signed, tsig } = signedQuery(key, now, 300, size);
      const v = verifyRequest(signed, tsig, [key], now);
      if (v.kind !== "verified") throw new Error(v.kind);
      return v.request.identity.toString("hex");
    });
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toHaveLength(32); // 16 bytes: the shortest MAC hmac-sha256 allows
  });

  it("MAC sizes allowed per algorithm (RFC 8945 §5.2.2.1)", () => {
    expect(Object.fromEntries(ALGORITHMS.map((a) => [a, macSizeRange(a)]))).toEqual({
      "hmac-sha256": { min: 16, max: 32 },
      "hmac-sha512": { min: 32, max: 64 },
      "hmac-sha384": { min: 24, max: 48 },
      "hmac-sha224": { min: 14, max: 28 },
      "hmac-sha1": { min: 10, max: 20 },
      "hmac-md5.sig-alg.reg.int": { min: 10, max: 16 },
    });
  });
});

// -- properties: what a request not signed with the secret can get -----------

const zone = parseName("svc.example.");

const depsFor = (k: TsigKey) => handlerDeps({ nowMs: now * 1000, zone, keys: [k], allowUnsigned: [] });

/** A query or an UPDATE an attacker might send, before its TSIG record. */
const attackerMessage = fc.oneof(
  fc
    .record({
      id: fc.integer({ min: 0, max: 65535 }),
      label: fc.uint8Array({ minLength: 1, maxLength: 63 }),
      type: fc.integer({ min: 1, max: 65535 }),
    })
    .map(({ id, label, type }) => {
      const q = encodeQuery(id, [Buffer.from(label).toString("latin1"), "svc", "example"], type);
      return q;
    }),
  fc.integer({ min: 0, max: 65535 }).map((id) =>
    encodeUpdate({
      id,
      zone,
      updates: registrationUpdate({ instance: "evil", type: "_x._tcp", host: "evil", port: 1 }, zone),
    }),
  ),
);

describe("TSIG properties (every algorithm, every MAC size 0..hash+1)", () => {
  it.each(ALGORITHMS)(
    "%s: a MAC not made with the secret never verifies, and its reply carries no MAC",
    async (algorithm) => {
      const secret = Buffer.alloc(MAC_BYTES[algorithm], 0x5a);
      const k = keyFor(algorithm, secret);
      const deps = await depsFor(k);
      for (let size = 0; size <= MAC_BYTES[algorithm] + 1; size++) {
        await fc.assert(
          fc.asyncProperty(
            attackerMessage,
            fc.uint8Array({ minLength: size, maxLength: size }),
            fc.constantFrom(0, 0, 16, 18, 22),
            async (msg, mac, error) => {
              const { wire, tsig } = withTsig(msg, k, mac, now, error);
              // the attacker has no secret: a MAC that happens to be right is not this property's case, except
              // at sizes the RFC forbids, where even the right MAC's prefix (size 0: the empty MAC) must get nothing
              const { min, max } = macSizeRange(algorithm);
              const right = signRequest(msg, k, now).mac.subarray(0, size);
              fc.pre(error !== 0 || size < min || size > max || !right.equals(Buffer.from(mac)));
              const v = verifyRequest(wire, tsig, [k], now);
              expect(v.kind === "verified" || v.kind === "badtime").toBe(false);
              const reply = await handleDnsMessage(wire, "udp", "198.51.100.7:5353", deps);
              if (!reply) return;
              const d = decodeMessage(reply);
              expect(d.tsig?.mac.length ?? 0).toBe(0);
              if (size < min || size > max || error !== 0)
                expect([d.rcodeName, d.tsig]).toEqual(["FORMERR", undefined]);
              else expect([d.rcodeName, d.tsig?.error]).toEqual(["NOTAUTH", TsigError.BADSIG]);
            },
          ),
          { numRuns: 4 },
        );
        if (size >= macSizeRange(algorithm).min) continue;
        // the right MAC cut shorter than allowed (what the oracle used to sign over) gets FORMERR and no MAC either
        const msg = encodeUpdate({
          id: 9,
          zone,
          updates: registrationUpdate({ instance: "evil", type: "_x._tcp", host: "evil", port: 1 }, zone),
        });
        const { signed } = signRequest(msg, k, now, 300, size);
        const d = decodeMessage((await handleDnsMessage(signed, "udp", "198.51.100.7:5353", deps))!);
        expect([size, d.rcodeName, d.tsig]).toEqual([size, "FORMERR", undefined]);
      }
      expect(deps.registry.instanceCount({ service: "_x", proto: "_tcp" })).toBe(0);
    },
  );

  it.each(ALGORITHMS)(
    "%s: a request signed with the secret verifies at every allowed truncation, and only there",
    (algorithm) => {
      const { min, max } = macSizeRange(algorithm);
      fc.assert(
        fc.property(
          attackerMessage,
          fc.uint8Array({ minLength: MAC_BYTES[algorithm], maxLength: MAC_BYTES[algorithm] }),
          (msg, secret) => {
            const k = keyFor(algorithm, secret);
            for (let size = 1; size <= max; size++) {
              const { signed, mac } = signRequest(msg, k, now, 300, size);
              const t = decodeMessage(signed).tsig!;
              expect(t.mac.length).toBe(size);
              const v = verifyRequest(signed, t, [k], now);
              expect(v.kind).toBe(size >= min ? "verified" : "malformed");
              if (v.kind !== "verified") continue;
              // the reply is signed over the truncated request MAC as received (§5.2.2.1 case 4)
              const reply = signReply(Buffer.from(msg), v.request, now);
              expect(verifyReply(reply, decodeMessage(reply).tsig!, k, mac)).toBe(true);
            }
          },
        ),
        { numRuns: 10 },
      );
    },
  );
});

describe("key files", () => {
  it("reads BIND's format (several keys, comments), Knot's line, and what keygen writes", () => {
    const text = `# keys\nkey "a.example" {\n  algorithm hmac-sha512;\n  secret "${Buffer.alloc(64, 1).toString("base64")}";\n};\n// second\nkey b { algorithm hmac-md5; secret "AAAAAAAAAAAAAAAAAAAAAA=="; };\n`;
    const keys = parseKeyFile(text, "k.conf");
    expect(keys.map((k) => [k.name.join("."), k.algorithm])).toEqual([
      ["a.example", "hmac-sha512"],
      ["b", "hmac-md5.sig-alg.reg.int"],
    ]);
    expect(parseKeyFile("hmac-sha256:knot-key:AAAA\n", "k")[0]!.name).toEqual(["knot-key"]);
    const g = generateKey("new-key");
    expect(g.secret.length).toBe(32);
    expect(parseKeyFile(formatKeyFile(g), "g")).toEqual([g]);
    expect(parseKeySpec("name:AAAA").algorithm).toBe("hmac-sha256");
  });

  it.each([
    ['key "x" { secret "AAAA"; };', /key "x": no algorithm/],
    ['key "x" { algorithm hmac-sha999; secret "AAAA"; };', /algorithm "hmac-sha999" is not one of/],
    ['key "x" { algorithm hmac-sha256; };', /no secret/],
    ['key "x" { algorithm hmac-sha256; secret "not base64!"; };', /not valid base64/],
    ["nothing here", /no key "name"/],
  ])("says what is wrong in %j", (text, msg) => {
    expect(() => parseKeyFile(text, "bad.key")).toThrow(msg);
    expect(() => parseKeyFile(text, "bad.key")).toThrow(/^bad\.key: /);
  });
});

describe("UPDATE messages", () => {
  it("round-trip the delete forms with class NONE/ANY and empty RDATA, and the lease option", () => {
    const wire = encodeUpdate({
      id: 5,
      zone: parseName("svc.example."),
      prerequisites: [{ kind: "name-not-in-use", name: parseName("x.svc.example.") }],
      updates: [
        { op: "delete-name", name: parseName("a.svc.example.") },
        { op: "delete-rrset", name: parseName("a.svc.example."), type: Type.A },
        { op: "delete-rr", name: parseName("a.svc.example."), data: { type: Type.A, address: "192.0.2.1" } },
      ],
      lease: { lease: 3600, keyLease: 86400 },
    });
    const d = decodeUpdate(wire);
    if (d.kind !== "update") throw new Error(d.reason);
    expect(d.update.prerequisites.map((r) => [r.class, r.type, r.rdataLength])).toEqual([[254, 255, 0]]);
    expect(d.update.updates.map((r) => [r.class, r.type, r.rdataLength])).toEqual([
      [255, 255, 0],
      [255, 1, 0],
      [254, 1, 4],
    ]);
    expect(d.update.lease).toEqual({ lease: 3600, keyLease: 86400 });
  });

  it("FORMERR for two zones or a cut record", () => {
    const wire = encodeUpdate({
      id: 5,
      zone: parseName("svc.example."),
      updates: [{ op: "delete-name", name: parseName("a.svc.example.") }],
    });
    const two = Buffer.from(wire);
    two.writeUInt16BE(2, 4);
    expect(decodeUpdate(two)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeUpdate(wire.subarray(0, wire.length - 3))).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
  });
});
