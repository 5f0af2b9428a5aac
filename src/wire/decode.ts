// Reading whole messages (replies, for the client and tests). Names stay
// label lists, so an instance label with a dot survives; RDATA without names
// is read by dns-packet's per-type decoders.
import dnsPacket from "dns-packet";
import type { Labels } from "../names.js";
import { rcodeName, Type, typeName } from "./constants.js";
import type { EdnsOption } from "./message.js";
import { decodeName, WireError } from "./name.js";
import { decodeKeyRdata, type KeyData } from "./sig0.js";
import { parseTsig, type TsigRecord } from "./tsig.js";

export type DecodedData =
  | { type: typeof Type.PTR; target: Labels }
  | { type: typeof Type.SRV; priority: number; weight: number; port: number; target: Labels }
  | { type: typeof Type.A | typeof Type.AAAA; address: string }
  | { type: typeof Type.TXT; strings: Buffer[] }
  | { type: typeof Type.SOA; mname: Labels; rname: Labels; serial: number; minimum: number }
  | { type: typeof Type.KEY; key: KeyData }
  | { type: number; raw: Buffer };

export interface DecodedRecord {
  name: Labels;
  type: number;
  class: number;
  ttl: number;
  data: DecodedData;
}

export interface DecodedMessage {
  id: number;
  flags: { qr: boolean; aa: boolean; tc: boolean; rd: boolean; ra: boolean };
  opcode: number;
  /** Header rcode plus the OPT record's extended bits. */
  rcode: number;
  rcodeName: string;
  questions: { name: Labels; type: number; class: number }[];
  answers: DecodedRecord[];
  authorities: DecodedRecord[];
  /** Without the OPT and TSIG pseudo-records, which are below. */
  additionals: DecodedRecord[];
  edns?: { udpSize: number; version: number; options: EdnsOption[] };
  tsig?: TsigRecord;
}

/** Decode a whole message; anything malformed is a WireError (reads past the end included). */
export function decodeMessage(buf: Buffer): DecodedMessage {
  try {
    return decodeWholeMessage(buf);
  } catch (e) {
    if (e instanceof RangeError) throw new WireError(`a record runs past the end of the message (${e.message})`);
    throw e;
  }
}

function decodeWholeMessage(buf: Buffer): DecodedMessage {
  if (buf.length < 12) throw new WireError("message shorter than a header");
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let off = 12;
  const questions: DecodedMessage["questions"] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const n = decodeName(buf, off);
    if (n.end + 4 > buf.length) throw new WireError("question runs past the end of the message");
    questions.push({ name: n.labels, type: buf.readUInt16BE(n.end), class: buf.readUInt16BE(n.end + 2) });
    off = n.end + 4;
  }
  const sections: DecodedRecord[][] = [[], [], []];
  let edns: DecodedMessage["edns"];
  let tsig: TsigRecord | undefined;
  let rcode = flags & 0xf;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const start = off;
      const rec = readRecord(buf, off);
      off = rec.end;
      if (rec.type === Type.OPT) {
        edns = {
          udpSize: rec.class,
          version: (rec.ttl >>> 16) & 0xff,
          options: readOptions(buf, rec.rdataAt, rec.end),
        };
        rcode |= (rec.ttl >>> 24) << 4;
      } else if (rec.type === Type.TSIG && s === 2) {
        tsig = parseTsig(buf, rec.record.name, start, rec.rdataAt, rec.rdataLength);
      } else {
        sections[s]!.push(rec.record);
      }
    }
  }
  return {
    id: buf.readUInt16BE(0),
    flags: {
      qr: !!(flags & 0x8000),
      aa: !!(flags & 0x0400),
      tc: !!(flags & 0x0200),
      rd: !!(flags & 0x0100),
      ra: !!(flags & 0x0080),
    },
    opcode: (flags >> 11) & 0xf,
    rcode,
    rcodeName: rcodeName(rcode),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    ...(edns ? { edns } : {}),
    ...(tsig ? { tsig } : {}),
  };
}

/** EDNS options in an OPT record's RDATA. */
export function readOptions(buf: Buffer, at: number, end: number): EdnsOption[] {
  const options: EdnsOption[] = [];
  for (let p = at; p < end; ) {
    if (p + 4 > end) throw new WireError("truncated EDNS option");
    const code = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (p + 4 + len > end) throw new WireError("EDNS option runs past its record");
    options.push({ code, data: buf.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return options;
}

/** One resource record at `off`: its fields, typed RDATA, where its RDATA lies and where it ends. */
export function readRecord(
  buf: Buffer,
  off: number,
): {
  record: DecodedRecord;
  type: number;
  class: number;
  ttl: number;
  rdataAt: number;
  rdataLength: number;
  end: number;
} {
  const n = decodeName(buf, off);
  if (n.end + 10 > buf.length) throw new WireError("record header runs past the end of the message");
  const type = buf.readUInt16BE(n.end);
  const klass = buf.readUInt16BE(n.end + 2);
  const ttl = buf.readUInt32BE(n.end + 4);
  const rdataLength = buf.readUInt16BE(n.end + 8);
  const rdataAt = n.end + 10;
  const end = rdataAt + rdataLength;
  if (end > buf.length) throw new WireError("RDATA runs past the end of the message");
  const data =
    type === Type.OPT
      ? { type, raw: Buffer.from(buf.subarray(rdataAt, end)) }
      : decodeRData(buf, type, rdataAt, rdataLength);
  return {
    record: { name: n.labels, type, class: klass, ttl, data },
    type,
    class: klass,
    ttl,
    rdataAt,
    rdataLength,
    end,
  };
}

// dns-packet exports its per-type RDATA codecs, but its type definitions omit them
const rdataCodec = (dnsPacket as unknown as { record(type: string): { decode(buf: Buffer, offset: number): unknown } })
  .record;

/** Typed RDATA; empty RDATA (UPDATE's delete forms) and unknown types stay raw. */
function decodeRData(buf: Buffer, type: number, at: number, len: number): DecodedData {
  if (len === 0) return { type, raw: Buffer.alloc(0) };
  const need = type === Type.A ? 4 : type === Type.AAAA ? 16 : type === Type.SRV ? 7 : 0;
  if ((type === Type.A || type === Type.AAAA) && len !== need)
    throw new WireError(`${typeName(type)} RDATA of ${len} bytes`);
  if (len < need) throw new WireError(`${typeName(type)} RDATA of ${len} bytes`);
  const checkEnd = (end: number) => {
    if (end !== at + len) throw new WireError(`${typeName(type)} RDATA does not fill its length`);
  };
  switch (type) {
    case Type.PTR: {
      const n = decodeName(buf, at);
      checkEnd(n.end);
      return { type, target: n.labels };
    }
    case Type.SRV: {
      const n = decodeName(buf, at + 6);
      checkEnd(n.end);
      return {
        type,
        priority: buf.readUInt16BE(at),
        weight: buf.readUInt16BE(at + 2),
        port: buf.readUInt16BE(at + 4),
        target: n.labels,
      };
    }
    case Type.SOA: {
      const m = decodeName(buf, at);
      const r = decodeName(buf, m.end);
      checkEnd(r.end + 20); // serial, refresh, retry, expire, minimum
      return {
        type,
        mname: m.labels,
        rname: r.labels,
        serial: buf.readUInt32BE(r.end),
        minimum: buf.readUInt32BE(r.end + 16),
      };
    }
    case Type.A:
      return { type, address: `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}` };
    case Type.TXT: {
      const strings: Buffer[] = [];
      for (let p = at; p < at + len; p += 1 + buf[p]!) {
        // each string's length must stay inside the RDATA
        if (p + 1 + buf[p]! > at + len) throw new WireError("TXT string runs past its RDATA");
        strings.push(Buffer.from(buf.subarray(p + 1, p + 1 + buf[p]!)));
      }
      return { type, strings };
    }
    case Type.AAAA:
      // dns-packet's RDATA decoders start at the RDLENGTH field
      return { type, address: rdataCodec("AAAA").decode(buf, at - 2) as string };
    case Type.KEY:
      return { type, key: decodeKeyRdata(buf, at, len) };
    default:
      return { type, raw: Buffer.from(buf.subarray(at, at + len)) };
  }
}
