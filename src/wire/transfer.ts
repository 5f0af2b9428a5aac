// Zone transfer and NOTIFY on the wire: a transfer's records packed into as
// few messages as fit 64 KiB each (RFC 5936 §2.2: many records per message,
// names compressed within each), the serial an IXFR request says it has
// (RFC 1995 §3), and NOTIFY (RFC 1996).
import type { Labels } from "../names.js";
import { Class, Opcode, Type } from "./constants.js";
import { decodeMessage } from "./decode.js";
import { encodeQuery, encodeRecord, type Question, type ResourceRecord } from "./message.js";
import { NameCompressor } from "./name.js";

const HEADER = 12;

/** The reply header every message of a transfer carries: the request's ID and opcode, AA (RFC 5936 §2.2.1). */
export interface TransferHeader {
  id: number;
  question: Question;
}

/**
 * Pack `records` into messages of at most `maxSize` bytes, one message at a
 * time as the caller takes them (a generator: a zone of 100,000 names is never
 * all encoded at once). The first message carries the question (§2.2.1: the
 * others may, and need not). One record too big for any message is an error.
 */
export function* packTransfer(
  header: TransferHeader,
  records: Iterable<ResourceRecord>,
  maxSize: number,
): Generator<Buffer> {
  const buf = Buffer.allocUnsafe(65535 + 4096);
  let first = true;
  let comp = new NameCompressor();
  let off = 0;
  let count = 0;
  const start = () => {
    comp = new NameCompressor();
    off = HEADER;
    count = 0;
    if (first) {
      off = comp.write(buf, off, header.question.name);
      buf.writeUInt16BE(header.question.type, off);
      buf.writeUInt16BE(header.question.class, off + 2);
      off += 4;
    }
  };
  const finish = (): Buffer => {
    buf.writeUInt16BE(header.id, 0);
    buf.writeUInt16BE(0x8000 | 0x0400, 2); // QR, AA, QUERY, NOERROR
    buf.writeUInt16BE(first ? 1 : 0, 4);
    buf.writeUInt16BE(count, 6);
    buf.writeUInt16BE(0, 8);
    buf.writeUInt16BE(0, 10);
    first = false;
    return Buffer.from(buf.subarray(0, off));
  };
  start();
  for (const rr of records) {
    const mark = comp.mark();
    const next = encodeRecord(buf, off, rr, comp);
    if (next <= maxSize) {
      off = next;
      count++;
      continue;
    }
    comp.rollback(mark);
    if (count === 0) throw new RangeError("a record larger than a transfer message");
    yield finish();
    start();
    const again = encodeRecord(buf, off, rr, comp);
    if (again > maxSize) throw new RangeError("a record larger than a transfer message");
    off = again;
    count++;
  }
  if (count > 0 || first) yield finish();
}

/** The serial in an IXFR request's authority SOA (RFC 1995 §3), or undefined when it has none. */
export function ixfrClientSerial(msg: Buffer): number | undefined {
  try {
    const m = decodeMessage(msg);
    const soa = m.authorities.find((r) => r.type === Type.SOA);
    return soa && soa.data.type === Type.SOA && "serial" in soa.data ? soa.data.serial : undefined;
  } catch {
    return undefined;
  }
}

/** A NOTIFY for `zone` (RFC 1996 §3.7: opcode NOTIFY, AA, the zone's SOA as the question). */
export function encodeNotify(id: number, zone: Labels): Buffer {
  const msg = encodeQuery(id, zone, Type.SOA, undefined, Class.IN);
  msg.writeUInt16BE((Opcode.NOTIFY << 11) | 0x0400, 2);
  return msg;
}

/** Is `msg` the answer to NOTIFY `id` (QR, opcode NOTIFY)? Its rcode, when it is. */
export function notifyResponse(msg: Buffer, id: number): number | undefined {
  if (msg.length < HEADER || msg.readUInt16BE(0) !== id) return undefined;
  const flags = msg.readUInt16BE(2);
  if (!(flags & 0x8000) || ((flags >> 11) & 0xf) !== Opcode.NOTIFY) return undefined;
  return flags & 0xf;
}
