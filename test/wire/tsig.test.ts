import { describe, expect, it } from "vitest";
import { parseName } from "../../src/names.js";
import { formatKeyFile, generateKey, parseKeyFile, parseKeySpec } from "../../src/update/keys.js";
import { Rcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { decodeQuery } from "../../src/wire/query.js";
import { signReply, signRequest, TsigError, verifyReply, verifyRequest, type TsigKey } from "../../src/wire/tsig.js";
import { decodeUpdate, encodeUpdate } from "../../src/wire/update.js";

const key: TsigKey = { name: ["ringdns-key"], algorithm: "hmac-sha256", secret: Buffer.alloc(32, 7) };
const now = 1_800_000_000;

function signedQuery(k: TsigKey, at = now) {
  const { signed, mac } = signRequest(encodeQuery(42, ["alpha", "local"], Type.A), k, at);
  const d = decodeQuery(signed);
  if (d.kind !== "query" || !d.query.tsig) throw new Error("no TSIG decoded");
  return { signed, mac, tsig: d.query.tsig };
}

describe("TSIG", () => {
  it.each(["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5.sig-alg.reg.int"] as const)("signs and verifies with %s", (algorithm) => {
    const k = { ...key, algorithm };
    const { signed, tsig } = signedQuery(k);
    expect(verifyRequest(signed, tsig, [k], now)).toMatchObject({ ok: true });
  });

  it("BADKEY for an unknown key, BADSIG for a wrong secret or a changed byte, BADTIME outside the fudge", () => {
    const { signed, tsig } = signedQuery(key);
    expect(verifyRequest(signed, tsig, [{ ...key, name: ["other"] }], now)).toMatchObject({ ok: false, error: TsigError.BADKEY });
    expect(verifyRequest(signed, tsig, [{ ...key, secret: Buffer.alloc(32, 8) }], now)).toMatchObject({ ok: false, error: TsigError.BADSIG });
    const tampered = Buffer.from(signed);
    tampered[14]! ^= 1; // a byte of the question
    expect(verifyRequest(tampered, tsig, [key], now)).toMatchObject({ ok: false, error: TsigError.BADSIG });
    expect(verifyRequest(signed, tsig, [key], now + 301)).toMatchObject({ ok: false, error: TsigError.BADTIME });
    expect(verifyRequest(signed, tsig, [key], now + 300)).toMatchObject({ ok: true });
  });

  it("a signed reply verifies against the request MAC; BADTIME replies carry the server time", () => {
    const { mac, tsig } = signedQuery(key);
    const reply = Buffer.from(encodeQuery(42, ["alpha", "local"], Type.A));
    reply[2]! |= 0x80;
    const signedReply = signReply(reply, tsig, key, TsigError.NOERROR, now);
    const d = decodeMessage(signedReply);
    expect(verifyReply(signedReply, d.tsig!, key, mac)).toBe(true);
    expect(verifyReply(signedReply, d.tsig!, key, Buffer.alloc(32))).toBe(false);
    const late = decodeMessage(signReply(reply, tsig, key, TsigError.BADTIME, now + 1000));
    expect(late.tsig!.error).toBe(TsigError.BADTIME);
    expect(late.tsig!.other.readUIntBE(0, 6)).toBe(now + 1000);
    const badkey = decodeMessage(signReply(reply, tsig, undefined, TsigError.BADKEY, now));
    expect(badkey.tsig!.mac.length).toBe(0);
  });
});

describe("key files", () => {
  it("reads BIND's format (several keys, comments), Knot's line, and what keygen writes", () => {
    const text = `# keys\nkey "a.example" {\n  algorithm hmac-sha512;\n  secret "${Buffer.alloc(64, 1).toString("base64")}";\n};\n// second\nkey b { algorithm hmac-md5; secret "AAAAAAAAAAAAAAAAAAAAAA=="; };\n`;
    const keys = parseKeyFile(text, "k.conf");
    expect(keys.map((k) => [k.name.join("."), k.algorithm])).toEqual([["a.example", "hmac-sha512"], ["b", "hmac-md5.sig-alg.reg.int"]]);
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
    expect(d.update.updates.map((r) => [r.class, r.type, r.rdataLength])).toEqual([[255, 255, 0], [255, 1, 0], [254, 1, 4]]);
    expect(d.update.lease).toEqual({ lease: 3600, keyLease: 86400 });
  });

  it("FORMERR for two zones or a cut record", () => {
    const wire = encodeUpdate({ id: 5, zone: parseName("svc.example."), updates: [{ op: "delete-name", name: parseName("a.svc.example.") }] });
    const two = Buffer.from(wire);
    two.writeUInt16BE(2, 4);
    expect(decodeUpdate(two)).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
    expect(decodeUpdate(wire.subarray(0, wire.length - 3))).toMatchObject({ kind: "error", rcode: Rcode.FORMERR });
  });
});
