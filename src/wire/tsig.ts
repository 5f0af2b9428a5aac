// TSIG (RFC 8945): reading the TSIG record, computing and checking MACs over
// the raw message bytes, and signing replies. Pure: time comes in as an argument.
import { createHmac, timingSafeEqual } from "node:crypto";
import { labelsEqual, lowerAscii, type Labels } from "../names.js";
import { Class, Type } from "./constants.js";
import { decodeName, WireError } from "./name.js";

/** TSIG error codes (RFC 8945 §5.2; they travel in the TSIG record, the header says NOTAUTH). */
export const TsigError = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export const TSIG_ALGORITHMS = {
  "hmac-sha256": "sha256",
  "hmac-sha512": "sha512",
  "hmac-sha384": "sha384",
  "hmac-sha224": "sha224",
  "hmac-sha1": "sha1",
  "hmac-md5.sig-alg.reg.int": "md5",
} as const;

export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  /** Key name, lower-case labels. */
  name: Labels;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export interface TsigRecord {
  keyName: Labels;
  algorithm: Labels;
  timeSigned: number; // seconds since the epoch
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Offset of the TSIG record in the message: everything before it is what was signed. */
  start: number;
}

/** Name of an algorithm as it appears on the wire ("hmac-md5" is written in full). */
export function algorithmLabels(a: TsigAlgorithm): Labels {
  return a.split(".");
}

export function algorithmFromLabels(labels: Labels): TsigAlgorithm | undefined {
  const name = lowerAscii(labels.join("."));
  return name in TSIG_ALGORITHMS ? (name as TsigAlgorithm) : undefined;
}

/** Parse the TSIG record's RDATA (RFC 8945 §4.2). */
export function parseTsig(buf: Buffer, keyName: Labels, start: number, rdataAt: number, rdataLength: number): TsigRecord {
  // CLASS ANY and TTL 0 or it is not a TSIG (§4.2); neither is in the MAC as sent, so a changed one must not pass
  if (buf.readUInt16BE(rdataAt - 8) !== Class.ANY || buf.readUInt32BE(rdataAt - 6) !== 0) throw new WireError("TSIG record must have class ANY and TTL 0");
  const end = rdataAt + rdataLength;
  const alg = decodeName(buf, rdataAt);
  let p = alg.end;
  if (p + 10 > end) throw new WireError("TSIG record too short");
  const timeSigned = buf.readUInt16BE(p) * 2 ** 32 + buf.readUInt32BE(p + 2);
  const fudge = buf.readUInt16BE(p + 6);
  const macSize = buf.readUInt16BE(p + 8);
  p += 10;
  if (p + macSize + 6 > end) throw new WireError("TSIG MAC runs past its record");
  const mac = Buffer.from(buf.subarray(p, p + macSize));
  p += macSize;
  const originalId = buf.readUInt16BE(p);
  const error = buf.readUInt16BE(p + 2);
  const otherLen = buf.readUInt16BE(p + 4);
  p += 6;
  if (p + otherLen !== end) throw new WireError("TSIG other data does not fill its record");
  return { keyName, algorithm: alg.labels, timeSigned, fudge, mac, originalId, error, other: Buffer.from(buf.subarray(p, end)), start };
}

function canonicalName(labels: Labels): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(lowerAscii(l), "utf8");
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n % 2 ** 32, 2);
  return b;
}

/** The TSIG variables that follow the message in the MAC input (RFC 8945 §4.3.3). */
function tsigVariables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(Class.ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(fudge, 0);
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  return Buffer.concat([canonicalName(key.name), fixed, canonicalName(algorithmLabels(key.algorithm)), u48(timeSigned), tail, other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The message as signed: bytes before the TSIG record, ARCOUNT one less, the original ID. */
function unsignedMessage(buf: Buffer, tsig: TsigRecord): Buffer {
  const m = Buffer.from(buf.subarray(0, tsig.start));
  m.writeUInt16BE(tsig.originalId, 0);
  m.writeUInt16BE(m.readUInt16BE(10) - 1, 10);
  return m;
}

export type TsigVerdict =
  | { ok: true; key: TsigKey }
  | { ok: false; error: number; key?: TsigKey; reason: string };

/**
 * Check a signed request (RFC 8945 §5.2): key known and algorithm matching
 * (else BADKEY), MAC right (else BADSIG), time within fudge (else BADTIME).
 */
export function verifyRequest(buf: Buffer, tsig: TsigRecord, keys: readonly TsigKey[], nowSeconds: number): TsigVerdict {
  const key = keys.find((k) => labelsEqual(k.name, tsig.keyName));
  const alg = algorithmFromLabels(tsig.algorithm);
  if (!key || alg !== key.algorithm) return { ok: false, error: TsigError.BADKEY, reason: key ? `key uses ${key.algorithm}, request ${tsig.algorithm.join(".")}` : "unknown key" };
  const expected = hmac(key, [unsignedMessage(buf, tsig), tsigVariables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)]);
  // RFC 8945 §5.2.2.1: truncated MACs down to half the hash (and at least 10 bytes) are allowed
  const minLen = Math.max(10, expected.length / 2);
  if (tsig.mac.length < minLen || tsig.mac.length > expected.length) return { ok: false, error: tsig.mac.length < minLen ? TsigError.BADTRUNC : TsigError.BADSIG, key, reason: `MAC of ${tsig.mac.length} bytes` };
  if (!timingSafeEqual(expected.subarray(0, tsig.mac.length), tsig.mac)) return { ok: false, error: TsigError.BADSIG, key, reason: "MAC does not match" };
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TsigError.BADTIME, key, reason: `signed at ${tsig.timeSigned}, now ${nowSeconds}, fudge ${tsig.fudge}` };
  return { ok: true, key };
}

/** Bytes a signed reply's TSIG record takes, so the reply can be fitted around it. */
export function tsigLength(request: TsigRecord, key: TsigKey | undefined): number {
  const macLen = key ? createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret).digest().length : 0;
  return canonicalName(key?.name ?? request.keyName).length + 10 + canonicalName(key ? algorithmLabels(key.algorithm) : request.algorithm).length + 16 + macLen + 6 + 6;
}

/** Encode a TSIG record and append it to `msg`, counting it in ARCOUNT. */
function appendTsig(msg: Buffer, keyName: Labels, algorithm: Labels, timeSigned: number, fudge: number, mac: Buffer, error: number, other: Buffer): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt16BE(Type.TSIG, 0);
  head.writeUInt16BE(Class.ANY, 2);
  head.writeUInt32BE(0, 4); // TTL
  const fields = Buffer.alloc(10);
  u48(timeSigned).copy(fields, 0);
  fields.writeUInt16BE(fudge, 6);
  fields.writeUInt16BE(mac.length, 8);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(msg.readUInt16BE(0), 0); // original ID
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  const rdata = Buffer.concat([canonicalName(algorithm), fields, mac, tail, other]);
  head.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([msg, canonicalName(keyName), head, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Append a TSIG record to an encoded reply. With `key`, the reply is signed
 * over the request MAC (RFC 8945 §5.3); for BADKEY and BADSIG the record
 * carries only the error. BADTIME replies carry the server time as other data.
 */
export function signReply(reply: Buffer, request: TsigRecord, key: TsigKey | undefined, error: number, nowSeconds: number): Buffer {
  const other = error === TsigError.BADTIME ? u48(nowSeconds) : Buffer.alloc(0);
  const timeSigned = error === TsigError.BADTIME ? request.timeSigned : nowSeconds;
  const signs = key !== undefined && error !== TsigError.BADKEY && error !== TsigError.BADSIG;
  let mac: Buffer = Buffer.alloc(0);
  if (signs) {
    const macLen = Buffer.alloc(2);
    macLen.writeUInt16BE(request.mac.length, 0);
    mac = hmac(key, [macLen, request.mac, reply, tsigVariables(key, timeSigned, request.fudge, error, other)]);
  }
  return appendTsig(reply, key?.name ?? request.keyName, key ? algorithmLabels(key.algorithm) : request.algorithm, timeSigned, request.fudge, mac, error, other);
}

/** Sign a request as a client (RFC 8945 §4.3.1); returns the message and its MAC, for checking the reply. */
export function signRequest(msg: Buffer, key: TsigKey, nowSeconds: number, fudge = 300): { signed: Buffer; mac: Buffer } {
  const mac = hmac(key, [msg, tsigVariables(key, nowSeconds, fudge, 0, Buffer.alloc(0))]);
  return { signed: appendTsig(msg, key.name, algorithmLabels(key.algorithm), nowSeconds, fudge, mac, 0, Buffer.alloc(0)), mac };
}

/** Check a signed reply to a request whose MAC was `requestMac` (client side). */
export function verifyReply(buf: Buffer, tsig: TsigRecord, key: TsigKey, requestMac: Buffer): boolean {
  const macLen = Buffer.alloc(2);
  macLen.writeUInt16BE(requestMac.length, 0);
  const expected = hmac(key, [macLen, requestMac, unsignedMessage(buf, tsig), tsigVariables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)]);
  return tsig.mac.length === expected.length && timingSafeEqual(expected, tsig.mac);
}
