// Reading requests. Accept policy first, on the header alone (miekg/dns):
// what is not a request is dropped unanswered; what is a request but cannot
// be parsed gets FORMERR carrying no more than a header, never something
// larger than what it answers.
import { Opcode, Rcode, Type } from "./constants.js";
import { readOptions, readRecord } from "./decode.js";
import type { Edns, Question } from "./message.js";
import { decodeName, WireError } from "./name.js";
import { parseTsig, type TsigRecord } from "./tsig.js";

export interface Query {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  edns?: Edns;
  /** A TSIG record, when the query is signed (it must be checked before answering). */
  tsig?: TsigRecord;
}

export type DecodedQuery =
  | { kind: "query"; query: Query }
  /** Not worth a reply: too short to hold a header, or itself a response. */
  | { kind: "drop"; reason: string }
  /** A request we refuse to process: reply with just this header, and an OPT when `edns` (the request's, when it could be read). */
  | { kind: "error"; id: number; opcode: number; rd: boolean; rcode: number; reason: string; edns?: Edns };

export const HEADER_LENGTH = 12;

export function decodeQuery(buf: Buffer): DecodedQuery {
  if (buf.length < HEADER_LENGTH) return { kind: "drop", reason: `${buf.length}-byte message, shorter than a header` };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { kind: "drop", reason: "a response (QR=1), not a query" };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const fail = (rcode: number, reason: string): DecodedQuery => {
    const edns = requestEdns(buf);
    return { kind: "error", id, opcode, rd, rcode, reason, ...(edns ? { edns } : {}) };
  };
  if (opcode !== Opcode.QUERY) return fail(Rcode.NOTIMP, `opcode ${opcode} not implemented`);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd !== 1) return fail(Rcode.FORMERR, `QDCOUNT is ${qd}, must be 1`);
  try {
    const q = decodeName(buf, HEADER_LENGTH);
    if (q.end + 4 > buf.length) throw new WireError("question runs past the end of the message");
    const question: Question = {
      name: q.labels,
      type: buf.readUInt16BE(q.end),
      class: buf.readUInt16BE(q.end + 2),
      ...(q.raw ? { rawName: q.raw } : {}),
    };
    let off = q.end + 4;
    for (let i = 0; i < an + ns; i++) {
      const rec = readRecord(buf, off);
      // RFC 6891 §6.1.1: an OPT belongs in the additional section (knotd: FORMERR too)
      if (rec.type === Type.OPT) throw new WireError(`OPT record in the ${i < an ? "answer" : "authority"} section`);
      off = rec.end;
    }
    let edns: Edns | undefined;
    let tsig: TsigRecord | undefined;
    for (let i = 0; i < ar; i++) {
      const rec = readRecord(buf, off);
      if (rec.type === Type.OPT) {
        if (edns) throw new WireError("more than one OPT record");
        if (rec.record.name.length !== 0) throw new WireError("OPT owner is not the root");
        // RFC 6891 §6.1.2: CLASS is the UDP size, TTL holds extended rcode, version and flags
        edns = {
          udpSize: rec.class,
          version: (rec.ttl >>> 16) & 0xff,
          dnssecOk: (rec.ttl & 0x8000) !== 0,
          options: readOptions(buf, rec.rdataAt, rec.end),
        };
      } else if (rec.type === Type.TSIG) {
        if (i !== ar - 1) throw new WireError("TSIG is not the last record");
        tsig = parseTsig(buf, rec.record.name, off, rec.rdataAt, rec.rdataLength);
      }
      off = rec.end;
    }
    if (off !== buf.length) throw new WireError(`${buf.length - off} bytes after the last record`);
    return {
      kind: "query",
      query: {
        id,
        opcode,
        rd,
        cd: (flags & 0x0010) !== 0,
        question,
        ...(edns ? { edns } : {}),
        ...(tsig ? { tsig } : {}),
      },
    };
  } catch (e) {
    if (e instanceof WireError || e instanceof RangeError) return fail(Rcode.FORMERR, e.message);
    throw e;
  }
}

/**
 * The OPT record of a request that is answered with an error, read as far as
 * the message allows: undefined when it has none, or not exactly one in the
 * additional section (RFC 6891 §6.1.1: then the reply carries none either).
 */
function requestEdns(buf: Buffer): Edns | undefined {
  try {
    const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
    let off = HEADER_LENGTH;
    for (let i = 0; i < counts[0]!; i++) off = decodeName(buf, off).end + 4;
    let edns: Edns | undefined;
    for (let i = 0; i < counts[1]! + counts[2]! + counts[3]!; i++) {
      const rec = readRecord(buf, off);
      if (rec.type === Type.OPT) {
        if (edns || i < counts[1]! + counts[2]! || rec.record.name.length !== 0) return undefined;
        edns = {
          udpSize: rec.class,
          version: (rec.ttl >>> 16) & 0xff,
          dnssecOk: (rec.ttl & 0x8000) !== 0,
          options: [],
        };
      }
      off = rec.end;
    }
    return edns;
  } catch {
    return undefined; // unreadable: a header-only FORMERR
  }
}

/** The first question's type, read without decoding the name (for metrics); undefined when there is none. */
export function questionType(msg: Uint8Array): number | undefined {
  if (msg.length < 12 || ((msg[4]! << 8) | msg[5]!) === 0) return undefined;
  let off = 12;
  while (off < msg.length) {
    const len = msg[off]!;
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      off += 1;
      break;
    }
    off += len + 1;
  }
  off += 1;
  return off + 2 <= msg.length ? (msg[off]! << 8) | msg[off + 1]! : undefined;
}
