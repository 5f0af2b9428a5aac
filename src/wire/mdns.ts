// mDNS message pieces (RFC 6762) on top of the general codec: queries with
// several questions, the QU bit and known answers; responses without questions.
import type { Labels } from "../names.js";
import { Class } from "./constants.js";
import { encodeRecord, encodeResponse, type ResourceRecord, type Response } from "./message.js";
import { NameCompressor } from "./name.js";

/** The top bit of a question's class asks for a unicast reply (§5.4); of a record's class, flushes caches (§10.2). */
export const UNICAST_RESPONSE = 0x8000;

export interface MdnsQuestion {
  name: Labels;
  type: number;
  /** Ask for a unicast reply. */
  qu?: boolean;
}

export function encodeMdnsQuery(questions: readonly MdnsQuestion[], knownAnswers: readonly ResourceRecord[] = [], authorities: readonly ResourceRecord[] = []): Buffer {
  const buf = Buffer.alloc(9000);
  const comp = new NameCompressor();
  let off = 12;
  for (const q of questions) {
    off = comp.write(buf, off, q.name);
    buf.writeUInt16BE(q.type, off);
    buf.writeUInt16BE(Class.IN | (q.qu ? UNICAST_RESPONSE : 0), off + 2);
    off += 4;
  }
  let an = 0;
  for (const rr of knownAnswers) {
    const next = encodeRecord(buf, off, rr, comp);
    if (next > 8900) break; // §7.2: the rest would go in a follow-up packet; fewer known answers only cost some replies
    off = next;
    an++;
  }
  for (const rr of authorities) off = encodeRecord(buf, off, rr, comp);
  buf.writeUInt16BE(0, 0); // §18.1: ID 0 in multicast queries
  buf.writeUInt16BE(0, 2);
  buf.writeUInt16BE(questions.length, 4);
  buf.writeUInt16BE(an, 6);
  buf.writeUInt16BE(authorities.length, 8);
  buf.writeUInt16BE(0, 10);
  return Buffer.from(buf.subarray(0, off));
}

/** An mDNS response: AA, no question unless legacy unicast (§6.7), ID 0 unless legacy. */
export function encodeMdnsResponse(records: { answers: ResourceRecord[]; additionals?: ResourceRecord[] }, legacy?: Pick<Response, "id" | "question">): Buffer {
  return encodeResponse(
    {
      id: legacy?.id ?? 0,
      opcode: 0,
      aa: true,
      rd: false,
      cd: false,
      rcode: 0,
      ...(legacy?.question ? { question: legacy.question } : {}),
      answers: records.answers,
      authorities: [],
      additionals: records.additionals ?? [],
    },
    9000,
  );
}
