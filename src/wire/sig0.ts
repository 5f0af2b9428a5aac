// SIG(0) (RFC 2931) and the KEY record (RFC 2535 §3.1, kept for SIG(0) by
// RFC 3755 §3): a transaction signature made with a public key the signer
// made itself, as SRP clients (RFC 9665 §6.6) sign their UPDATEs. Pure: the
// time comes in as an argument; the cryptography is node:crypto's.
import { createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from "node:crypto";
import type { Labels } from "../names.js";
import { Class, Type } from "./constants.js";
import { decodeName, WireError } from "./name.js";

/** DNSSEC algorithm numbers accepted for SIG(0) (RFC 9665 §6.6 requires 13). */
export const KeyAlgorithm = { ECDSAP256SHA256: 13, ED25519: 15 } as const;
export type KeyAlgorithmNumber = (typeof KeyAlgorithm)[keyof typeof KeyAlgorithm];

const PUBLIC_KEY_BYTES: Record<KeyAlgorithmNumber, number> = { 13: 64, 15: 32 };
const SIGNATURE_BYTES: Record<KeyAlgorithmNumber, number> = { 13: 64, 15: 64 };

export function isKeyAlgorithm(n: number): n is KeyAlgorithmNumber {
  return n === KeyAlgorithm.ECDSAP256SHA256 || n === KeyAlgorithm.ED25519;
}

export function keyAlgorithmName(n: number): string {
  return n === 13 ? "ECDSAP256SHA256" : n === 15 ? "ED25519" : `algorithm ${n}`;
}

/** KEY RDATA (RFC 2535 §3.1). */
export interface KeyData {
  flags: number;
  /** 3 (DNSSEC) for every key SIG(0) uses. */
  protocol: number;
  algorithm: number;
  publicKey: Buffer;
}

export function decodeKeyRdata(buf: Buffer, at: number, len: number): KeyData {
  if (len < 4) throw new WireError(`KEY RDATA of ${len} bytes`);
  return {
    flags: buf.readUInt16BE(at),
    protocol: buf[at + 2]!,
    algorithm: buf[at + 3]!,
    publicKey: Buffer.from(buf.subarray(at + 4, at + len)),
  };
}

export function encodeKeyRdata(k: KeyData): Buffer {
  const b = Buffer.alloc(4 + k.publicKey.length);
  b.writeUInt16BE(k.flags, 0);
  b[2] = k.protocol;
  b[3] = k.algorithm;
  k.publicKey.copy(b, 4);
  return b;
}

/** The key tag (RFC 4034 Appendix B) of a KEY RDATA: the SIG names its key by it. */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** Same key: same algorithm and public key (flags and protocol do not make another key). */
export function sameKey(a: KeyData, b: KeyData): boolean {
  return a.algorithm === b.algorithm && a.publicKey.equals(b.publicKey);
}

const keyIds = new WeakMap<KeyData, string>();

/** A key as one string (algorithm and public key), for claims and logs; worked out once per KeyData (an SRP update asks three times). */
export function keyId(k: KeyData): string {
  let id = keyIds.get(k);
  if (id === undefined) keyIds.set(k, (id = `${k.algorithm}:${k.publicKey.toString("base64")}`));
  return id;
}

/** The SIG(0) record at the end of a message (RFC 2931 §3). */
export interface Sig0Record {
  algorithm: number;
  /** Seconds, serial arithmetic on 32 bits (RFC 4034 §3.1.5). */
  expiration: number;
  inception: number;
  keyTag: number;
  signer: Labels;
  signature: Buffer;
  /** The SIG RDATA before the signature, the signer name written out uncompressed as sent: what was signed first. */
  signedRdata: Buffer;
  /** Offset of the SIG record in the message: everything before it was signed. */
  start: number;
}

/**
 * Read a SIG(0) record whose RDATA is at `rdataAt`. Its fixed fields must be
 * those of a transaction signature (owner the root, class ANY, TTL 0, type
 * covered 0): anything else is not SIG(0) and is not checked as one.
 */
export function parseSig0(buf: Buffer, start: number, rdataAt: number, rdataLength: number): Sig0Record {
  if (buf[start] !== 0) throw new WireError("SIG(0) owner name must be the root");
  if (buf.readUInt16BE(rdataAt - 8) !== Class.ANY || buf.readUInt32BE(rdataAt - 6) !== 0)
    throw new WireError("SIG(0) record must have class ANY and TTL 0");
  const end = rdataAt + rdataLength;
  if (rdataLength < 18 + 1) throw new WireError("SIG record too short");
  if (buf.readUInt16BE(rdataAt) !== 0) throw new WireError("SIG(0) must cover type 0");
  const signer = decodeName(buf, rdataAt + 18);
  if (signer.end > end) throw new WireError("SIG signer name runs past its record");
  const uncompressed = signer.raw ?? writeName(signer.labels);
  return {
    algorithm: buf[rdataAt + 2]!,
    expiration: buf.readUInt32BE(rdataAt + 8),
    inception: buf.readUInt32BE(rdataAt + 12),
    keyTag: buf.readUInt16BE(rdataAt + 16),
    signer: signer.labels,
    signature: Buffer.from(buf.subarray(signer.end, end)),
    signedRdata: Buffer.concat([buf.subarray(rdataAt, rdataAt + 18), uncompressed]),
    start,
  };
}

function writeName(labels: Labels): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, "utf8");
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** RFC 2931 §3.1: the SIG RDATA without the signature, then the message without the SIG and with ARCOUNT one less. */
export function sig0SignedData(msg: Buffer, sig: Sig0Record): Buffer {
  const body = Buffer.from(msg.subarray(0, sig.start));
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  return Buffer.concat([sig.signedRdata, body]);
}

/** How far a signature's inception and expiration may be off our clock, seconds (clients' clocks drift). */
export const SIG0_CLOCK_SKEW = 300;

/**
 * Is the signature's validity window open now? Inception = expiration = 0
 * means the signer has no clock (RFC 9665 §6.6 leaves devices without one a
 * way to sign): accepted, the signature alone proving the key.
 */
export function sig0TimeProblem(sig: Pick<Sig0Record, "inception" | "expiration">, nowSec: number): string | undefined {
  if (sig.inception === 0 && sig.expiration === 0) return undefined;
  const now = nowSec >>> 0;
  // serial arithmetic: the difference as a signed 32-bit number
  if (((now - sig.inception) | 0) < -SIG0_CLOCK_SKEW) return "signature inception is in the future";
  if (((sig.expiration - now) | 0) < -SIG0_CLOCK_SKEW) return "signature has expired";
  return undefined;
}

/** Keys imported once and kept: those seen again (a renewal), by keyId. */
const publicKeys = new Map<string, KeyObject>();
/** Keys seen once, by keyId: a first registration's key is verified as JWK, with no KeyObject made for it (~15 µs). */
const seenKeys = new Set<string>();
const MAX_CACHED_KEYS = 4096;

/**
 * The key to verify with: the KeyObject kept for a key seen before, else the
 * KEY as a JWK (node:crypto imports it for the one check, the same checks of
 * the point); undefined when its algorithm or size is not one we verify.
 */
function verificationKey(k: KeyData): { key: KeyObject } | { key: JsonWebKey; format: "jwk" } | undefined {
  if (!isKeyAlgorithm(k.algorithm) || k.publicKey.length !== PUBLIC_KEY_BYTES[k.algorithm]) return undefined;
  const id = keyId(k);
  const kept = publicKeys.get(id);
  if (kept) return { key: kept };
  const b64 = (b: Buffer) => b.toString("base64url");
  const jwk: JsonWebKey =
    k.algorithm === KeyAlgorithm.ECDSAP256SHA256
      ? { kty: "EC", crv: "P-256", x: b64(k.publicKey.subarray(0, 32)), y: b64(k.publicKey.subarray(32)) }
      : { kty: "OKP", crv: "Ed25519", x: b64(k.publicKey) };
  if (!seenKeys.has(id)) {
    if (seenKeys.size >= MAX_CACHED_KEYS) seenKeys.delete(seenKeys.values().next().value!);
    seenKeys.add(id);
    return { key: jwk, format: "jwk" };
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    return undefined; // not a point on the curve
  }
  seenKeys.delete(id);
  if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value!);
  publicKeys.set(id, key);
  return { key };
}

export type Sig0Check = { ok: true } | { ok: false; reason: string };

/**
 * Check a SIG(0) over `msg` against `key`. Cheap checks first (algorithm,
 * time, sizes), the signature last: a message that fails a cheap check costs
 * no cryptography. The key tag is not checked: it only helps find a key, the
 * key here is given, and OpenThread's SRP client sends 0.
 */
export function verifySig0(msg: Buffer, sig: Sig0Record, key: KeyData, nowSec: number): Sig0Check {
  if (!isKeyAlgorithm(sig.algorithm))
    return { ok: false, reason: `SIG(0) ${keyAlgorithmName(sig.algorithm)} is not supported (use 13 or 15)` };
  if (sig.algorithm !== key.algorithm) return { ok: false, reason: "SIG(0) algorithm differs from the KEY's" };
  const late = sig0TimeProblem(sig, nowSec);
  if (late) return { ok: false, reason: late };
  if (sig.signature.length !== SIGNATURE_BYTES[sig.algorithm])
    return { ok: false, reason: `SIG(0) signature of ${sig.signature.length} bytes` };
  const invalidKey = { ok: false, reason: "KEY is not a valid public key for its algorithm" } as const;
  const pub = verificationKey(key);
  if (!pub) return invalidKey;
  const data = sig0SignedData(msg, sig);
  let good: boolean;
  try {
    good =
      sig.algorithm === KeyAlgorithm.ECDSAP256SHA256
        ? verify("sha256", data, { ...pub, dsaEncoding: "ieee-p1363" }, sig.signature)
        : verify(null, data, pub, sig.signature);
  } catch {
    return invalidKey; // a JWK that is not a point on the curve: its import, inside verify, threw
  }
  return good ? { ok: true } : { ok: false, reason: "SIG(0) signature does not verify" };
}

/** The order of P-256: an ECDSA signature (r, s) verifies as (r, n - s) too. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_ORDER = Buffer.from((P256_ORDER / 2n).toString(16).padStart(64, "0"), "hex");

/**
 * One form of a signature, whichever of its valid forms was sent: an ECDSA
 * (r, s) with s above n/2 as (r, n - s). A replay guard that knows signatures
 * by their bytes would take the other form for a new one. (Ed25519 has one
 * form: node:crypto refuses an S not below the group order.)
 */
export function canonicalSignature(sig: Pick<Sig0Record, "algorithm" | "signature">): Buffer {
  if (sig.algorithm !== KeyAlgorithm.ECDSAP256SHA256 || sig.signature.length !== 64) return sig.signature;
  // s ≤ n/2, the common case, told by its bytes (big-endian, fixed width) without a BigInt
  if (Buffer.compare(sig.signature.subarray(32), P256_HALF_ORDER) <= 0) return sig.signature;
  const s = BigInt(`0x${sig.signature.subarray(32).toString("hex")}`);
  const low = Buffer.from((P256_ORDER - s).toString(16).padStart(64, "0"), "hex");
  return Buffer.concat([sig.signature.subarray(0, 32), low]);
}

/** A private key to sign with, and the KEY that goes with it. */
export interface Sig0Signer {
  key: KeyData;
  privateKey: KeyObject;
  /** The signer name written in the SIG (the host name, for SRP). */
  name: Labels;
}

/**
 * Sign `msg` (a complete message with its ARCOUNT as it stands): the SIG(0)
 * record is appended and ARCOUNT raised. `nowSec` undefined signs as a
 * device without a clock (inception = expiration = 0).
 */
export function signSig0(msg: Buffer, signer: Sig0Signer, nowSec?: number, validitySec = 300): Buffer {
  const name = writeName(signer.name);
  const rdata = Buffer.alloc(18);
  rdata.writeUInt16BE(0, 0); // type covered
  rdata[2] = signer.key.algorithm;
  rdata[3] = 0; // labels
  rdata.writeUInt32BE(0, 4); // original TTL
  rdata.writeUInt32BE(nowSec === undefined ? 0 : (nowSec + validitySec) >>> 0, 8);
  rdata.writeUInt32BE(nowSec === undefined ? 0 : (nowSec - validitySec) >>> 0, 12);
  rdata.writeUInt16BE(keyTag(encodeKeyRdata(signer.key)), 16);
  const signedRdata = Buffer.concat([rdata, name]);
  const data = Buffer.concat([signedRdata, msg]);
  const signature =
    signer.key.algorithm === KeyAlgorithm.ECDSAP256SHA256
      ? sign("sha256", data, { key: signer.privateKey, dsaEncoding: "ieee-p1363" })
      : sign(null, data, signer.privateKey);
  const header = Buffer.alloc(1 + 10);
  header[0] = 0; // owner: the root
  header.writeUInt16BE(Type.SIG, 1);
  header.writeUInt16BE(Class.ANY, 3);
  header.writeUInt32BE(0, 5);
  header.writeUInt16BE(signedRdata.length + signature.length, 9);
  const out = Buffer.concat([msg, header, signedRdata, signature]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}
