// TSIG (RFC 8945): reading the TSIG record, computing and checking MACs over
// the raw message bytes, and signing replies. Pure: time comes in as an argument.
import { createHmac, timingSafeEqual } from "node:crypto";
import { labelsEqual, lowerAscii, type Labels } from "../names.js";
import { Class, Type } from "./constants.js";
import { decodeName, WireError } from "./name.js";

/**
 * TSIG error codes (RFC 8945 §5.2; they travel in the TSIG record, the header
 * says NOTAUTH). BADTRUNC (§5.2.4) is for a local policy stricter than the RFC;
 * ringdns accepts every truncation §5.2.2.1 allows, so it never sends one.
 */
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
export function parseTsig(
  buf: Buffer,
  keyName: Labels,
  start: number,
  rdataAt: number,
  rdataLength: number,
): TsigRecord {
  // CLASS ANY and TTL 0 or it is not a TSIG (§4.2); neither is in the MAC as sent, so a changed one must not pass
  if (buf.readUInt16BE(rdataAt - 8) !== Class.ANY || buf.readUInt32BE(rdataAt - 6) !== 0)
    throw new WireError("TSIG record must have class ANY and TTL 0");
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
  return {
    keyName,
    algorithm: alg.labels,
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    other: Buffer.from(buf.subarray(p, end)),
    start,
  };
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
  return Buffer.concat([
    canonicalName(key.name),
    fixed,
    canonicalName(algorithmLabels(key.algorithm)),
    u48(timeSigned),
    tail,
    other,
  ]);
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

/**
 * The longest fudge the server honours, seconds (RFC 8945 §10 recommends 300).
 * A client may write up to 65535 s; taken as is, one captured message would
 * stay valid for 18 hours.
 */
export const MAX_FUDGE = 300;

/** Bytes of each algorithm's full MAC (the hash output). */
export const MAC_BYTES: Readonly<Record<TsigAlgorithm, number>> = {
  "hmac-sha256": 32,
  "hmac-sha512": 64,
  "hmac-sha384": 48,
  "hmac-sha224": 28,
  "hmac-sha1": 20,
  "hmac-md5.sig-alg.reg.int": 16,
};

/**
 * RFC 8945 §5.2.2.1: a MAC may be truncated to no fewer than the larger of 10
 * octets and half the hash; longer than the hash, or shorter than that, the
 * request is FORMERR ("MUST cause the DNS message to be dropped and RFC 1035
 * error FORMERR to be returned").
 */
export function macSizeRange(algorithm: TsigAlgorithm): { min: number; max: number } {
  const max = MAC_BYTES[algorithm];
  return { min: Math.max(10, Math.ceil(max / 2)), max };
}

const madeHere = Symbol("made by verifyRequest");

/**
 * A request whose MAC was checked against `key`. Only verifyRequest can make
 * one (the constructor wants a symbol this module keeps), and only with one
 * can a MAC be computed over a request MAC (signReply). So a reply is never
 * signed over a MAC an attacker chose: the MAC oracle of issue 14 cannot
 * come back by a new error path.
 */
export class VerifiedRequest {
  readonly #key: TsigKey;
  readonly #tsig: TsigRecord;

  constructor(token: typeof madeHere, key: TsigKey, tsig: TsigRecord) {
    if (token !== madeHere) throw new TypeError("a VerifiedRequest comes only from verifyRequest");
    this.#key = key;
    this.#tsig = tsig;
  }

  get key(): TsigKey {
    return this.#key;
  }
  get timeSigned(): number {
    return this.#tsig.timeSigned;
  }
  /** A copy of the (verified) request MAC as received. */
  get mac(): Buffer {
    return Buffer.from(this.#tsig.mac);
  }

  /**
   * What names this message whatever the sender does to it: the MAC's leading
   * bytes that every allowed truncation keeps (the ID and the MAC's length are
   * not signed; everything else is). For recognising a message sent again.
   */
  get identity(): Buffer {
    return Buffer.from(this.#tsig.mac.subarray(0, macSizeRange(this.#key.algorithm).min));
  }

  /** Throws unless `x` was made by verifyRequest (a cast object has no #tsig). */
  private static check(x: unknown): asserts x is VerifiedRequest {
    if (typeof x !== "object" || x === null || !(#tsig in x)) throw new TypeError("not a VerifiedRequest");
  }

  /** The reply MAC (RFC 8945 §4.3.2): over the request MAC as received (truncated or not), the reply and its TSIG variables. */
  static sign(
    request: VerifiedRequest,
    reply: Buffer,
    timeSigned: number,
    fudge: number,
    error: number,
    other: Buffer,
  ): Buffer {
    VerifiedRequest.check(request);
    const t = request.#tsig;
    return hmac(request.#key, [
      u16(t.mac.length),
      t.mac,
      reply,
      tsigVariables(request.#key, timeSigned, fudge, error, other),
    ]);
  }

  static fudge(request: VerifiedRequest): number {
    VerifiedRequest.check(request);
    return Math.min(request.#tsig.fudge, MAX_FUDGE);
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/**
 * What checking a signed request found, in the order RFC 8945 §5.2 checks:
 * - `malformed`: the TSIG record is not one a client may send (MAC size outside
 *   §5.2.2.1, or an error code set): FORMERR, with no TSIG record and no MAC.
 * - `refused`: unknown key or algorithm (BADKEY, §5.2.1), wrong MAC (BADSIG,
 *   §5.2.2): NOTAUTH with an unsigned TSIG record (§5.3.2 "MUST NOT send back a
 *   signed error message").
 * - `badtime`: the MAC is right but the time is outside the fudge (§5.2.3):
 *   NOTAUTH with a signed BADTIME ("MUST be signed by the same key").
 * - `verified`: go on; replies are signed.
 */
export type TsigVerdict =
  | { kind: "verified"; request: VerifiedRequest }
  | { kind: "badtime"; request: VerifiedRequest; reason: string }
  | { kind: "refused"; error: typeof TsigError.BADKEY | typeof TsigError.BADSIG; reason: string }
  | { kind: "malformed"; reason: string };

/** Check a signed request (RFC 8945 §5.2). Only a request whose MAC verified yields a VerifiedRequest. */
export function verifyRequest(
  buf: Buffer,
  tsig: TsigRecord,
  keys: readonly TsigKey[],
  nowSeconds: number,
): TsigVerdict {
  // Error is the server's verdict on TSIG processing (RFC 8945 §4.2, §5.3); a request has none to
  // give, so one with an error set is not a request's TSIG record: FORMERR, as for a TSIG record that
  // cannot be interpreted (§5.2), and before any MAC is computed. (BIND likewise never takes such a
  // message as signed: DNS_R_TSIGERRORSET.) It matters: the old MAC oracle's MACs carried error 22.
  if (tsig.error !== TsigError.NOERROR)
    return {
      kind: "malformed",
      reason: `request carries TSIG error ${tsig.error}; a client must send 0 (RFC 8945 §5.2)`,
    };
  const key = keys.find((k) => labelsEqual(k.name, tsig.keyName));
  const alg = algorithmFromLabels(tsig.algorithm);
  if (!key || alg !== key.algorithm)
    return {
      kind: "refused",
      error: TsigError.BADKEY,
      reason: key
        ? `key uses ${key.algorithm}, request ${tsig.algorithm.join(".")} (RFC 8945 §5.2.1)`
        : "unknown key (RFC 8945 §5.2.1)",
    };
  const { min, max } = macSizeRange(key.algorithm);
  if (tsig.mac.length < min || tsig.mac.length > max)
    return {
      kind: "malformed",
      reason: `MAC of ${tsig.mac.length} bytes; ${key.algorithm} needs ${min}..${max} (RFC 8945 §5.2.2.1)`,
    };
  const expected = hmac(key, [
    unsignedMessage(buf, tsig),
    tsigVariables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other),
  ]);
  // a truncated MAC is compared with as many leading bytes of ours (§5.2.2.1 case 4)
  if (!timingSafeEqual(expected.subarray(0, tsig.mac.length), tsig.mac))
    return { kind: "refused", error: TsigError.BADSIG, reason: "MAC does not match (RFC 8945 §5.2.2)" };
  const request = new VerifiedRequest(madeHere, key, tsig);
  const fudge = Math.min(tsig.fudge, MAX_FUDGE);
  if (Math.abs(nowSeconds - tsig.timeSigned) > fudge) {
    const capped = tsig.fudge > MAX_FUDGE ? ` (asked ${tsig.fudge}, at most ${MAX_FUDGE} honoured)` : "";
    return {
      kind: "badtime",
      request,
      reason: `signed at ${tsig.timeSigned}, now ${nowSeconds}, fudge ${fudge}${capped} (RFC 8945 §5.2.3)`,
    };
  }
  return { kind: "verified", request };
}

/** Bytes a signed reply's TSIG record takes, so the reply can be fitted around it. */
export function tsigLength(request: VerifiedRequest): number {
  const key = request.key;
  return (
    canonicalName(key.name).length +
    10 +
    canonicalName(algorithmLabels(key.algorithm)).length +
    16 +
    MAC_BYTES[key.algorithm] +
    6 +
    6
  );
}

/** Encode a TSIG record and append it to `msg`, counting it in ARCOUNT. */
function appendTsig(
  msg: Buffer,
  keyName: Labels,
  algorithm: Labels,
  timeSigned: number,
  fudge: number,
  mac: Buffer,
  error: number,
  other: Buffer,
): Buffer {
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
 * Sign an encoded reply to a verified request (RFC 8945 §5.3). With BADTIME
 * (§5.2.3) the record carries the client's time signed and the server's time
 * as other data, so the client can check it although the clocks differ.
 */
export function signReply(
  reply: Buffer,
  request: VerifiedRequest,
  nowSeconds: number,
  error: typeof TsigError.NOERROR | typeof TsigError.BADTIME = TsigError.NOERROR,
): Buffer {
  const other = error === TsigError.BADTIME ? u48(nowSeconds) : Buffer.alloc(0);
  const timeSigned = error === TsigError.BADTIME ? request.timeSigned : nowSeconds;
  const fudge = VerifiedRequest.fudge(request);
  const mac = VerifiedRequest.sign(request, reply, timeSigned, fudge, error, other);
  const key = request.key;
  return appendTsig(reply, key.name, algorithmLabels(key.algorithm), timeSigned, fudge, mac, error, other);
}

/**
 * The TSIG record of a BADKEY or BADSIG reply (RFC 8945 §5.3.2): the error, no
 * MAC. It takes no key, so it cannot sign.
 */
export function unsignedErrorReply(
  reply: Buffer,
  request: TsigRecord,
  error: typeof TsigError.BADKEY | typeof TsigError.BADSIG,
): Buffer {
  return appendTsig(
    reply,
    request.keyName,
    request.algorithm,
    request.timeSigned,
    Math.min(request.fudge, MAX_FUDGE),
    Buffer.alloc(0),
    error,
    Buffer.alloc(0),
  );
}

/** Sign a request as a client (RFC 8945 §4.3.1); returns the message and its MAC, for checking the reply. */
export function signRequest(
  msg: Buffer,
  key: TsigKey,
  nowSeconds: number,
  fudge = 300,
  macLength = MAC_BYTES[key.algorithm],
): { signed: Buffer; mac: Buffer } {
  // a truncated MAC keeps its leading bytes (RFC 8945 §5.2.2.1)
  const mac = hmac(key, [msg, tsigVariables(key, nowSeconds, fudge, 0, Buffer.alloc(0))]).subarray(0, macLength);
  return {
    signed: appendTsig(msg, key.name, algorithmLabels(key.algorithm), nowSeconds, fudge, mac, 0, Buffer.alloc(0)),
    mac,
  };
}

/** Check a signed reply to a request whose MAC was `requestMac` (client side). */
export function verifyReply(buf: Buffer, tsig: TsigRecord, key: TsigKey, requestMac: Buffer): boolean {
  const expected = hmac(key, [
    u16(requestMac.length),
    requestMac,
    unsignedMessage(buf, tsig),
    tsigVariables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other),
  ]);
  return tsig.mac.length === expected.length && timingSafeEqual(expected, tsig.mac);
}

/**
 * Sign the messages of one reply that spans several (a zone transfer, RFC 8945
 * §5.3.1): the first as signReply does; each next one over the MAC before it,
 * the message and the timers alone. Every message is signed (the RFC lets up
 * to 99 go unsigned; signing each costs one HMAC and leaves nothing to check).
 */
export function replyStreamSigner(request: VerifiedRequest, nowSeconds: () => number): (msg: Buffer) => Buffer {
  let prior: Buffer | undefined;
  const key = request.key;
  const fudge = VerifiedRequest.fudge(request);
  return (msg) => {
    const now = nowSeconds();
    let mac: Buffer;
    if (prior === undefined) mac = VerifiedRequest.sign(request, msg, now, fudge, TsigError.NOERROR, Buffer.alloc(0));
    else {
      const timers = Buffer.alloc(8);
      u48(now).copy(timers, 0);
      timers.writeUInt16BE(fudge, 6);
      mac = hmac(key, [u16(prior.length), prior, msg, timers]);
    }
    prior = mac;
    return appendTsig(
      msg,
      key.name,
      algorithmLabels(key.algorithm),
      now,
      fudge,
      mac,
      TsigError.NOERROR,
      Buffer.alloc(0),
    );
  };
}
