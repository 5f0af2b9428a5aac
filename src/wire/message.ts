// DNS messages as ringdns builds and reads them. Encoding compresses every
// name it may (RFC 1035 §4.1.4: owners, PTR and SOA names; never the SRV
// target, RFC 2782) and fits the message into the size the transport allows.
import { isIPv4, isIPv6 } from "node:net";
import { lowerAscii, type Labels } from "../names.js";
import { Class, Type } from "./constants.js";
import { decodeName, NameCompressor, WireError } from "./name.js";
import { encodeKeyRdata, type KeyData } from "./sig0.js";

export interface Soa {
  mname: Labels;
  rname: Labels;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface Srv {
  priority: number;
  weight: number;
  port: number;
  target: Labels;
}

export type RData =
  | { type: typeof Type.A; address: string }
  | { type: typeof Type.AAAA; address: string }
  | { type: typeof Type.PTR; target: Labels }
  | { type: typeof Type.NS; target: Labels }
  | { type: typeof Type.SRV; srv: Srv }
  | { type: typeof Type.TXT; strings: readonly Uint8Array[] }
  | { type: typeof Type.SOA; soa: Soa }
  | { type: typeof Type.HINFO; cpu: string; os: string }
  | { type: typeof Type.KEY; key: KeyData };

export interface ResourceRecord {
  name: Labels;
  ttl: number;
  class?: number; // default IN
  data: RData;
}

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}

export interface Question {
  name: Labels;
  type: number;
  class: number;
  /** The name's exact bytes, kept only when its labels are not valid UTF-8, so the echo matches. */
  rawName?: Uint8Array;
}

export interface Response {
  id: number;
  opcode: number;
  aa: boolean;
  rd: boolean;
  cd: boolean;
  /** Full rcode; values above 15 need `edns`. */
  rcode: number;
  question?: Question;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
  edns?: Edns;
  /**
   * Answer records left out before encoding because they could not fit
   * anyway (a browse of a large type lists only what the size limit can
   * hold): the reply is sent with TC=1.
   */
  omittedAnswers?: number;
  /**
   * For caching, not sent: once encoded with TC=1 (its answer cut, no other
   * records), the reply depends on this service type's instances alone
   * (answer/type-versions.ts), and on the clock (lease TTLs) unless `timeless`.
   */
  onlyType?: { key: string; timeless: boolean };
  /** For caching, not sent: right now but not to be kept (a `_hash` answer from a ring catching up, a Not Ready). */
  uncacheable?: true;
}

/** RFC 8914 Extended DNS Error codes this server gives. */
export const ExtendedError = { OTHER: 0, NOT_READY: 14, PROHIBITED: 18 } as const;

/** An EDE option (RFC 8914): the code, then UTF-8 text for people reading the reply. */
export function extendedErrorOption(code: number, text: string): EdnsOption {
  const t = Buffer.from(text.slice(0, 400), "utf8");
  const b = Buffer.alloc(2 + t.length);
  b.writeUInt16BE(code, 0);
  t.copy(b, 2);
  return { code: 15, data: b };
}

function sameRRset(a: ResourceRecord, b: ResourceRecord): boolean {
  if (a.data.type !== b.data.type || (a.class ?? Class.IN) !== (b.class ?? Class.IN) || a.name.length !== b.name.length)
    return false;
  return a.name.every((l, i) => lowerAscii(l) === lowerAscii(b.name[i]!));
}

const HEADER = 12;
const SCRATCH = 65535 + 4096;
// Encoding is synchronous, so one scratch buffer serves every message; the result is copied out.
const scratch = Buffer.allocUnsafe(SCRATCH);

export interface EncodeOptions {
  /**
   * When the answer does not fit, keep the answer records that do (TC=1)
   * instead of none. For TCP, where no larger transport is left to retry on.
   */
  keepPartialAnswer?: boolean;
}

/**
 * Encode `msg` into at most `maxSize` bytes. When the answer or authority
 * section does not fit, the reply carries no records and TC=1 (the client
 * retries over TCP), or, with `keepPartialAnswer`, the answer records that fit
 * and TC=1, without authority and additional records. Additional records that
 * do not fit are left out without TC, a whole RRset at a time: RFC 2181 §9
 * allows a partial RRset only where TC is set, and caches would otherwise
 * keep a part as the whole. The OPT record always fits: room for it is kept first.
 * `msg.omittedAnswers` > 0 (records the answer did not even list) sets TC too.
 */
export function encodeResponse(msg: Response, maxSize = 65535, options: EncodeOptions = {}): Buffer {
  const buf = scratch;
  const comp = new NameCompressor();
  const optLen = msg.edns ? 11 + msg.edns.options.reduce((n, o) => n + 4 + o.data.length, 0) : 0;
  const limit = Math.min(maxSize, 65535) - optLen;

  let off = HEADER;
  let qd = 0;
  if (msg.question) {
    if (msg.question.rawName) {
      buf.set(msg.question.rawName, off);
      off += msg.question.rawName.length;
    } else {
      off = comp.write(buf, off, msg.question.name);
    }
    buf.writeUInt16BE(msg.question.type, off);
    buf.writeUInt16BE(msg.question.class, off + 2);
    off += 4;
    qd = 1;
  }
  const afterQuestion = off;
  let afterAnswers = off;
  let tc = false;
  const counts = [0, 0, 0];
  const truncate = () => {
    tc = true;
    counts[1] = 0; // authority records: none, not some
    if (options.keepPartialAnswer) {
      off = afterAnswers; // what fits of the answer stays; nothing after it
      return;
    }
    off = afterQuestion;
    counts[0] = 0;
  };
  // answer and authority: all or TC
  for (let s = 0; s < 2 && !tc; s++) {
    for (const rr of s === 0 ? msg.answers : msg.authorities) {
      const mark = comp.mark();
      const next = encodeRecord(buf, off, rr, comp);
      if (next > limit) {
        comp.rollback(mark);
        truncate();
        break;
      }
      off = next;
      counts[s]!++;
      if (s === 0) afterAnswers = off;
    }
  }
  if (!tc && (msg.omittedAnswers ?? 0) > 0) truncate();
  if (!tc) {
    // additional: whole RRsets (a run of records with one owner, type and class) while they fit
    let setStart = { off, mark: comp.mark(), count: 0 };
    let prev: ResourceRecord | undefined;
    for (const rr of msg.additionals) {
      if (!prev || !sameRRset(prev, rr)) setStart = { off, mark: comp.mark(), count: counts[2]! };
      prev = rr;
      const next = encodeRecord(buf, off, rr, comp);
      if (next > limit) {
        comp.rollback(setStart.mark);
        off = setStart.off;
        counts[2] = setStart.count;
        break;
      }
      off = next;
      counts[2]!++;
    }
  }
  let ar = counts[2]!;
  if (msg.edns) {
    off = encodeOpt(buf, off, msg.edns, msg.rcode);
    ar++;
  }
  const flags =
    0x8000 |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x0400 : 0) |
    (tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.cd ? 0x0010 : 0) |
    (msg.rcode & 0xf);
  buf.writeUInt16BE(msg.id, 0);
  buf.writeUInt16BE(flags, 2);
  buf.writeUInt16BE(qd, 4);
  buf.writeUInt16BE(counts[0]!, 6);
  buf.writeUInt16BE(counts[1]!, 8);
  buf.writeUInt16BE(ar, 10);
  return Buffer.from(buf.subarray(0, off));
}

function encodeOpt(buf: Buffer, off: number, edns: Edns, rcode: number): number {
  buf[off] = 0; // root
  buf.writeUInt16BE(Type.OPT, off + 1);
  buf.writeUInt16BE(edns.udpSize, off + 3);
  buf[off + 5] = (rcode >> 4) & 0xff; // extended rcode, upper 8 bits
  buf[off + 6] = edns.version;
  buf.writeUInt16BE(edns.dnssecOk ? 0x8000 : 0, off + 7);
  let p = off + 11;
  for (const o of edns.options) {
    buf.writeUInt16BE(o.code, p);
    buf.writeUInt16BE(o.data.length, p + 2);
    buf.set(o.data, p + 4);
    p += 4 + o.data.length;
  }
  buf.writeUInt16BE(p - off - 11, off + 9);
  return p;
}

export function encodeRecord(buf: Buffer, off: number, rr: ResourceRecord, comp: NameCompressor): number {
  off = comp.write(buf, off, rr.name);
  buf.writeUInt16BE(rr.data.type, off);
  buf.writeUInt16BE(rr.class ?? Class.IN, off + 2);
  buf.writeUInt32BE(rr.ttl >>> 0, off + 4);
  const rdStart = off + 10;
  const end = encodeRData(buf, rdStart, rr.data, comp);
  const rdLen = end - rdStart;
  if (rdLen > 65535) throw new WireError(`RDATA of ${rdLen} bytes`);
  buf.writeUInt16BE(rdLen, off + 8);
  return end;
}

function encodeRData(buf: Buffer, off: number, d: RData, comp: NameCompressor): number {
  switch (d.type) {
    case Type.A: {
      if (!isIPv4(d.address)) throw new WireError(`not an IPv4 address: ${d.address}`);
      for (const part of d.address.split(".")) buf[off++] = Number(part);
      return off;
    }
    case Type.AAAA: {
      if (!isIPv6(d.address)) throw new WireError(`not an IPv6 address: ${d.address}`);
      buf.set(ipv6Bytes(d.address), off);
      return off + 16;
    }
    case Type.PTR:
    case Type.NS:
      return comp.write(buf, off, d.target);
    case Type.SRV:
      buf.writeUInt16BE(d.srv.priority, off);
      buf.writeUInt16BE(d.srv.weight, off + 2);
      buf.writeUInt16BE(d.srv.port, off + 4);
      // RFC 2782: the target is not compressed; recorded so later names may point at it
      return comp.write(buf, off + 6, d.srv.target, false);
    case Type.TXT: {
      // RFC 6763 §6.1: an empty TXT record is a single zero-length string
      const strings = d.strings.length === 0 ? [new Uint8Array(0)] : d.strings;
      for (const s of strings) {
        if (s.length > 255) throw new WireError(`TXT string of ${s.length} bytes`);
        buf[off] = s.length;
        buf.set(s, off + 1);
        off += 1 + s.length;
        if (off > SCRATCH - 300) throw new WireError("TXT record too large");
      }
      return off;
    }
    case Type.SOA: {
      off = comp.write(buf, off, d.soa.mname);
      off = comp.write(buf, off, d.soa.rname);
      const s = d.soa;
      for (const v of [s.serial, s.refresh, s.retry, s.expire, s.minimum]) {
        buf.writeUInt32BE(v >>> 0, off);
        off += 4;
      }
      return off;
    }
    case Type.KEY: {
      const k = encodeKeyRdata(d.key);
      buf.set(k, off);
      return off + k.length;
    }
    case Type.HINFO:
      for (const s of [d.cpu, d.os]) {
        const n = buf.write(s, off + 1, "utf8");
        buf[off] = n;
        off += 1 + n;
      }
      return off;
  }
}

/** RDATA alone, names uncompressed (the form mDNS compares in probe tie-breaks). */
export function encodeRdata(d: RData): Buffer {
  const end = encodeRData(scratch, 0, d, new NameCompressor()); // a fresh compressor has nothing to point at
  return Buffer.from(scratch.subarray(0, end));
}

/** 16 bytes of an IPv6 address in text form (already validated). */
export function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const out = new Uint8Array(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = v4[1]!.split(".").map(Number);
    const hex = `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
    text = text.slice(0, -v4[1]!.length) + hex;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** A standard query for `name`/`type` (RD=0: ringdns clients talk to authoritative servers). */
export function encodeQuery(
  id: number,
  name: Labels,
  type: number,
  edns?: { udpSize: number },
  klass: number = Class.IN,
): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + 256 + 4 + 11);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(0, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(0, 6);
  buf.writeUInt16BE(0, 8);
  buf.writeUInt16BE(edns ? 1 : 0, 10);
  let off = new NameCompressor().write(buf, HEADER, name, false);
  buf.writeUInt16BE(type, off);
  buf.writeUInt16BE(klass, off + 2);
  off += 4;
  if (edns) off = encodeOpt(buf, off, { udpSize: edns.udpSize, version: 0, dnssecOk: false, options: [] }, 0);
  return Buffer.from(buf.subarray(0, off));
}

/**
 * A reply cut to its header and question with TC=1 (what RRL "slips"): no
 * larger than the query that asked, and it sends a real client to TCP.
 */
export function truncatedReply(reply: Buffer): Buffer {
  let end = 12;
  if (reply.length >= 12 && reply.readUInt16BE(4) === 1) {
    try {
      end = Math.min(reply.length, decodeName(reply, 12).end + 4);
    } catch {
      end = 12;
    }
  }
  const out = Buffer.from(reply.subarray(0, end));
  if (end === 12) out.writeUInt16BE(0, 4);
  out[2] = out[2]! | 0x02; // TC
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
