// mDNS message pieces (RFC 6762) on top of the general codec: queries with
// several questions, the QU bit and known answers; responses without questions.
// Queries and multicast responses are split over as many packets as they need
// (never one fixed buffer that a long list can overflow).
import { labelsEqual, type Labels } from "../names.js";
import { Class, Type } from "./constants.js";
import { encodeRecord, encodeResponse, type ResourceRecord, type Response } from "./message.js";
import { NameCompressor, WireError } from "./name.js";

/** The top bit of a question's class asks for a unicast reply (§5.4); of a record's class, flushes caches (§10.2). */
export const UNICAST_RESPONSE = 0x8000;

const HEADER = 12;
/**
 * §17: an mDNS packet may be up to 9000 bytes with its IP and UDP headers, but
 * one that fits the Ethernet MTU is not fragmented. As mDNSResponder does:
 * 1500 - 40 (IPv6) - 8 (UDP) = 1452 bytes of DNS message, and a single record
 * too large for that goes alone in a packet of up to 9000 - 48 = 8952 bytes.
 */
export const MDNS_PACKET_BUDGET = 1452;
export const MDNS_PACKET_MAX = 8952;

/** Header flags of a response: QR and AA (§18.2, §18.4). */
const RESPONSE_FLAGS = 0x8400;
/** §7.2: in a query, TC says more known answers follow in the next packet. */
const TC = 0x0200;

export interface MdnsQuestion {
  name: Labels;
  type: number;
  /** Ask for a unicast reply. */
  qu?: boolean;
}

// Encoding is synchronous, so one scratch buffer serves every packet; each is copied out.
// Room for a lone record as large as RDATA may be, written after a full packet's budget.
const scratch = Buffer.allocUnsafe(MDNS_PACKET_MAX + 65535 + 4096);

/** Bytes a name takes uncompressed, or Infinity when it cannot be written (a label over 63 bytes, the name over 255). */
export function nameWireLength(name: Labels): number {
  let n = 1;
  for (const l of name) {
    const len = Buffer.byteLength(l, "utf8");
    if (len === 0 || len > 63) return Infinity;
    n += len + 1;
  }
  return n > 255 ? Infinity : n;
}

/** One packet being filled in `scratch`; sections are written in order. */
class PacketWriter {
  private comp = new NameCompressor();
  private off = HEADER;
  private counts = [0, 0, 0, 0];
  readonly packets: Buffer[] = [];

  constructor(private readonly flags: number) {}

  /** Nothing written yet: the next item may use the whole 8952 bytes. */
  get empty(): boolean {
    return this.off === HEADER;
  }

  get questions(): number {
    return this.counts[0]!;
  }

  private limit(): number {
    return this.empty ? MDNS_PACKET_MAX : MDNS_PACKET_BUDGET;
  }

  /** Write a question; false (nothing written) when it does not fit. */
  question(q: MdnsQuestion): boolean {
    if (this.counts[1]! + this.counts[2]! + this.counts[3]! > 0)
      throw new Error("mDNS packet: a question after records");
    const mark = this.comp.mark();
    const end = this.comp.write(scratch, this.off, q.name) + 4;
    if (end > this.limit()) {
      this.comp.rollback(mark);
      return false;
    }
    scratch.writeUInt16BE(q.type, end - 4);
    scratch.writeUInt16BE(Class.IN | (q.qu ? UNICAST_RESPONSE : 0), end - 2);
    this.off = end;
    this.counts[0]!++;
    return true;
  }

  /** Write a record in section 1 (answer), 2 (authority) or 3 (additional): "full" when it does not fit here, "bad" when it cannot be encoded or fits in no packet. */
  record(section: 1 | 2 | 3, rr: ResourceRecord): "ok" | "full" | "bad" {
    for (let s = section + 1; s <= 3; s++)
      if (this.counts[s]! > 0) throw new Error("mDNS packet: sections out of order");
    const mark = this.comp.mark();
    let end: number;
    try {
      end = encodeRecord(scratch, this.off, rr, this.comp);
    } catch (err) {
      this.comp.rollback(mark);
      if (err instanceof WireError || err instanceof RangeError) return "bad";
      throw err;
    }
    if (end > this.limit()) {
      this.comp.rollback(mark);
      return this.empty ? "bad" : "full";
    }
    this.off = end;
    this.counts[section]!++;
    return "ok";
  }

  /** Close the packet (with `extraFlags`) and start the next one. */
  finish(extraFlags = 0): void {
    scratch.writeUInt16BE(0, 0); // §18.1: ID 0 in multicast messages
    scratch.writeUInt16BE(this.flags | extraFlags, 2);
    for (let i = 0; i < 4; i++) scratch.writeUInt16BE(this.counts[i]!, 4 + 2 * i);
    this.packets.push(Buffer.from(scratch.subarray(0, this.off)));
    this.comp = new NameCompressor();
    this.off = HEADER;
    this.counts = [0, 0, 0, 0];
  }
}

const answers = (q: MdnsQuestion, rr: ResourceRecord) =>
  (q.type === Type.ANY || q.type === rr.data.type) && labelsEqual(q.name, rr.name);

/**
 * A query as packets of at most MDNS_PACKET_BUDGET bytes (a lone oversized
 * record: MDNS_PACKET_MAX). Questions fill a packet, then the known answers
 * for them follow; when those do not fit, the packet has TC set and they go on
 * in the next, which holds only known answers (§7.2). Questions left over start
 * a new packet. Authority records (a probe's proposal, §8.1) go with the last
 * questions; as many as fit. Names that cannot be written (a label over 63
 * bytes, a name over 255) and records that cannot be encoded are left out:
 * a question less only delays an answer, a known answer less only costs one.
 */
export function encodeMdnsQuery(
  questions: readonly MdnsQuestion[],
  knownAnswers: readonly ResourceRecord[] = [],
  authorities: readonly ResourceRecord[] = [],
): Buffer[] {
  const writable = questions.filter((q) => nameWireLength(q.name) !== Infinity);
  const w = new PacketWriter(0);
  const placed = new Set<ResourceRecord>();
  let next = 0;
  do {
    const group: MdnsQuestion[] = [];
    while (next < writable.length && w.question(writable[next]!)) group.push(writable[next++]!);
    if (group.length === 0 && next < writable.length) next++; // cannot happen (a question is at most 259 bytes); never loop on it
    const last = next >= writable.length;
    const known = knownAnswers.filter((rr) => !placed.has(rr) && (last || group.some((q) => answers(q, rr))));
    for (const rr of known) {
      placed.add(rr);
      if (w.record(1, rr) !== "full") continue; // written, or cannot be sent at all
      w.finish(TC); // §7.2: more known answers follow
      w.record(1, rr);
    }
    if (last) for (const rr of authorities) w.record(2, rr);
    if (!w.empty) w.finish();
  } while (next < writable.length);
  return w.packets;
}

/**
 * A multicast (or QU unicast) response as packets of at most
 * MDNS_PACKET_BUDGET bytes (a lone oversized record: MDNS_PACKET_MAX): the
 * answers over as many packets as they need; additional records after the
 * answers of the last one, as many as fit (§6: they are a courtesy, a querier
 * asks for what it misses). Records that cannot be encoded are left out.
 */
export function encodeMdnsResponses(records: {
  answers: readonly ResourceRecord[];
  additionals?: readonly ResourceRecord[];
}): Buffer[] {
  const w = new PacketWriter(RESPONSE_FLAGS);
  for (const rr of records.answers) {
    if (w.record(1, rr) !== "full") continue;
    w.finish();
    w.record(1, rr);
  }
  for (const rr of records.additionals ?? []) w.record(3, rr);
  if (!w.empty) w.finish();
  return w.packets;
}

/** A legacy unicast reply (§6.7): the querier's ID and question, one packet, AA. */
export function encodeMdnsResponse(
  records: { answers: ResourceRecord[]; additionals?: ResourceRecord[] },
  legacy?: Pick<Response, "id" | "question">,
): Buffer {
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
    MDNS_PACKET_MAX,
  );
}
