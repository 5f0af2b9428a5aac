import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseName } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import {
  canonicalSignature,
  encodeKeyRdata,
  KeyAlgorithm,
  keyTag,
  signSig0,
  verifySig0,
  type KeyData,
  type Sig0Signer,
} from "../../src/wire/sig0.js";
import { decodeUpdate, encodeUpdate } from "../../src/wire/update.js";

const now = 1_800_000_000;

function newSigner(algorithm: 13 | 15, name = "printer.default.service.arpa"): Sig0Signer {
  const pair = algorithm === 13 ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  const jwk = pair.publicKey.export({ format: "jwk" });
  const publicKey =
    algorithm === 13
      ? Buffer.concat([Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")])
      : Buffer.from(jwk.x!, "base64url");
  return {
    key: { flags: 0x0200, protocol: 3, algorithm, publicKey },
    privateKey: pair.privateKey,
    name: parseName(name),
  };
}

function update(key: KeyData): Buffer {
  const host = parseName("printer.default.service.arpa");
  return encodeUpdate({
    id: 7,
    zone: parseName("default.service.arpa"),
    updates: [
      { op: "delete-name", name: host },
      { op: "add", name: host, ttl: 120, data: { type: Type.KEY, key } },
      { op: "add", name: host, ttl: 120, data: { type: Type.A, address: "192.0.2.7" } },
    ],
    lease: { lease: 3600, keyLease: 86400 },
  });
}

function decoded(msg: Buffer) {
  const d = decodeUpdate(msg);
  if (d.kind !== "update" || !d.update.sig0) throw new Error(`no SIG(0) decoded: ${JSON.stringify(d)}`);
  return d.update;
}

describe("SIG(0)", () => {
  it("key tags agree with dnspython's key_id (RFC 4034 Appendix B)", () => {
    // vectors computed with dnspython 2.3 (dns.dnssec.key_id) over the same RDATA
    const p256 = {
      flags: 512,
      protocol: 3,
      algorithm: 13,
      publicKey: Buffer.from(Array.from({ length: 64 }, (_, i) => i)),
    };
    const ed = {
      flags: 513,
      protocol: 3,
      algorithm: 15,
      publicKey: Buffer.from(Array.from({ length: 32 }, (_, i) => 100 + i)),
    };
    expect(keyTag(encodeKeyRdata(p256))).toBe(59664);
    expect(keyTag(encodeKeyRdata(ed))).toBe(15447);
  });

  for (const algorithm of [KeyAlgorithm.ECDSAP256SHA256, KeyAlgorithm.ED25519] as const) {
    it(`a message signed with algorithm ${algorithm} verifies, and any changed byte fails`, () => {
      const signer = newSigner(algorithm);
      const msg = signSig0(update(signer.key), signer, now);
      const u = decoded(msg);
      expect(u.updates.find((r) => r.type === Type.KEY)?.data).toEqual({ type: Type.KEY, key: signer.key });
      expect(verifySig0(msg, u.sig0!, signer.key, now)).toEqual({ ok: true });
      // every byte before the signature is covered (ID, counts, every section, the SIG's own fields)
      for (let i = 0; i < u.sig0!.start + 20; i += 3) {
        const bad = Buffer.from(msg);
        bad[i]! ^= 0x01;
        const d = decodeUpdate(bad);
        if (d.kind !== "update" || !d.update.sig0) continue; // no longer decodes: refused before any check
        const key = d.update.updates.find((r) => r.type === Type.KEY)?.data;
        const k = key && "key" in key ? key.key : signer.key;
        expect(verifySig0(bad, d.update.sig0, k, now).ok, `byte ${i}`).toBe(false);
      }
    });
  }

  it("another key's signature fails; the key tag is not what decides (OpenThread's client sends 0)", () => {
    const a = newSigner(13);
    const b = newSigner(13);
    const msg = signSig0(update(a.key), a, now);
    const u = decoded(msg);
    const r = verifySig0(msg, u.sig0!, b.key, now);
    expect(r.ok).toBe(false);
    expect(verifySig0(msg, { ...u.sig0!, keyTag: 0 }, a.key, now)).toEqual({ ok: true });
  });

  it("the validity window: ±300 s of skew accepted, outside it refused, 0/0 as a device without a clock", () => {
    const s = newSigner(13);
    const signedAt = (t: number | undefined) => {
      const msg = signSig0(update(s.key), s, t, 300);
      return verifySig0(msg, decoded(msg).sig0!, s.key, now);
    };
    expect(signedAt(now - 550)).toEqual({ ok: true }); // expired 250 s ago: within the skew
    expect(signedAt(now + 550)).toEqual({ ok: true });
    expect(signedAt(now - 700)).toEqual({ ok: false, reason: "signature has expired" });
    expect(signedAt(now + 700)).toEqual({ ok: false, reason: "signature inception is in the future" });
    expect(signedAt(undefined)).toEqual({ ok: true });
  });

  it("a signer name that arrives compressed is verified as written out (RFC 2931 signs the name uncompressed)", () => {
    const s = newSigner(13);
    const msg = signSig0(update(s.key), s, now);
    // rewrite the SIG's signer name as a pointer to the host name in the update section (offset of its first copy)
    const host = Buffer.from("\x07printer\x07default\x07service\x04arpa\x00", "latin1");
    const u = decoded(msg);
    const nameAt = u.sig0!.start + 11 + 18;
    expect(msg.subarray(nameAt, nameAt + host.length)).toEqual(host);
    const firstHost = msg.indexOf(host.subarray(0, 8)); // "printer" then a pointer to the zone, in the update section
    const pointer = Buffer.from([0xc0 | (firstHost >> 8), firstHost & 0xff]);
    const compressed = Buffer.concat([msg.subarray(0, nameAt), pointer, msg.subarray(nameAt + host.length)]);
    compressed.writeUInt16BE(compressed.readUInt16BE(u.sig0!.start + 9) - (host.length - 2), u.sig0!.start + 9);
    const c = decoded(compressed);
    expect(c.sig0!.signer).toEqual(parseName("printer.default.service.arpa"));
    expect(verifySig0(compressed, c.sig0!, s.key, now)).toEqual({ ok: true });
  });

  it("a SIG that is not the last record, or not a SIG(0) (class, TTL, type covered), is FORMERR", () => {
    const s = newSigner(13);
    const msg = signSig0(update(s.key), s, now);
    const sigAt = decoded(msg).sig0!.start;
    const classIn = Buffer.from(msg);
    classIn.writeUInt16BE(1, sigAt + 3);
    expect(decodeUpdate(classIn)).toMatchObject({
      kind: "error",
      reason: "SIG(0) record must have class ANY and TTL 0",
    });
    const covered = Buffer.from(msg);
    covered.writeUInt16BE(Type.A, sigAt + 11);
    expect(decodeUpdate(covered)).toMatchObject({ kind: "error", reason: "SIG(0) must cover type 0" });
    // a SIG in the middle: the same SIG twice (ARCOUNT + 1)
    const twice = Buffer.concat([msg, msg.subarray(sigAt)]);
    twice.writeUInt16BE(twice.readUInt16BE(10) + 1, 10);
    expect(decodeUpdate(twice)).toMatchObject({ kind: "error", reason: "SIG(0) is not the last record" });
  });

  it("a KEY that is not a point on the curve is refused, not thrown, however often it comes", () => {
    const s = newSigner(13);
    const msg = signSig0(update(s.key), s, now);
    const bogus: KeyData = { ...s.key, publicKey: Buffer.alloc(64, 0xff) };
    const u = decoded(msg);
    for (let seen = 1; seen <= 3; seen++) {
      const r = verifySig0(msg, { ...u.sig0!, keyTag: keyTag(encodeKeyRdata(bogus)) }, bogus, now);
      expect(r, `seen ${seen} times`).toEqual({ ok: false, reason: "KEY is not a valid public key for its algorithm" });
    }
  });

  for (const algorithm of [KeyAlgorithm.ECDSAP256SHA256, KeyAlgorithm.ED25519] as const) {
    it(`a key (algorithm ${algorithm}) verifies the same when new, seen again and kept: a renewal`, () => {
      const s = newSigner(algorithm);
      const other = newSigner(algorithm);
      const msg = signSig0(update(s.key), s, now);
      const forged = signSig0(update(s.key), other, now); // signed by another key, claiming s's
      for (let seen = 1; seen <= 3; seen++) {
        expect(verifySig0(forged, decoded(forged).sig0!, s.key, now).ok, `forged, ${seen}`).toBe(false);
        expect(verifySig0(msg, decoded(msg).sig0!, s.key, now), `seen ${seen} times`).toEqual({ ok: true });
      }
    });
  }
});

describe("canonicalSignature", () => {
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const sig = (s: bigint) => Buffer.concat([Buffer.alloc(32, 7), Buffer.from(s.toString(16).padStart(64, "0"), "hex")]);
  const canon = (s: bigint) => canonicalSignature({ algorithm: 13, signature: sig(s) });

  it("keeps s up to n/2 and writes a larger s as n - s, so both forms of a signature are one", () => {
    for (const s of [1n, n / 2n - 1n, n / 2n]) expect(canon(s)).toEqual(sig(s));
    for (const s of [n / 2n + 1n, n - 1n]) {
      expect(canon(s)).toEqual(sig(n - s));
      expect(canon(n - s)).toEqual(canon(s));
    }
  });
});
