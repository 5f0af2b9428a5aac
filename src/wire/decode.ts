// Reading whole messages (replies, for the client and tests). Names stay
// label lists, so an instance label with a dot survives; RDATA without names
// is read by dns-packet's per-type decoders.
import dnsPacket from "dns-packet";
import type { Labels } from "../names.js";
import { rcodeName, Type, typeName } from "./constants.js";
import { decodeName, WireError } from "./name.js";

export type DecodedData =
  | { type: typeof Type.PTR; target: Labels }
  | { type: typeof Type.SRV; priority: number; weight: number; port: number; target: Labels }
  | { type: typeof Type.A | typeof Type.AAAA; address: string }
  | { type: typeof Type.TXT; strings: Buffer[] }
  | { type: typeof Type.SOA; mname: Labels; rname: Labels; serial: number; minimum: number }
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
  /** Without the OPT pseudo-record. */
  additionals: DecodedRecord[];
  edns?: { udpSize: number; version: number };
}

export function decodeMessage(buf: Buffer): DecodedMessage {
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
  let rcode = flags & 0xf;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = decodeName(buf, off);
      if (n.end + 10 > buf.length) throw new WireError("record header runs past the end of the message");
      const type = buf.readUInt16BE(n.end);
      const klass = buf.readUInt16BE(n.end + 2);
      const ttl = buf.readUInt32BE(n.end + 4);
      const rdlen = buf.readUInt16BE(n.end + 8);
      const rdata = n.end + 10;
      if (rdata + rdlen > buf.length) throw new WireError("RDATA runs past the end of the message");
      off = rdata + rdlen;
      if (type === Type.OPT) {
        edns = { udpSize: klass, version: (ttl >>> 16) & 0xff };
        rcode |= (ttl >>> 24) << 4;
        continue;
      }
      sections[s]!.push({ name: n.labels, type, class: klass, ttl, data: decodeRData(buf, type, rdata, rdlen) });
    }
  }
  return {
    id: buf.readUInt16BE(0),
    flags: { qr: !!(flags & 0x8000), aa: !!(flags & 0x0400), tc: !!(flags & 0x0200), rd: !!(flags & 0x0100), ra: !!(flags & 0x0080) },
    opcode: (flags >> 11) & 0xf,
    rcode,
    rcodeName: rcodeName(rcode),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    ...(edns ? { edns } : {}),
  };
}

// dns-packet exports its per-type RDATA codecs, but its type definitions omit them
const rdataCodec = (dnsPacket as unknown as { record(type: string): { decode(buf: Buffer, offset: number): unknown } }).record;

function decodeRData(buf: Buffer, type: number, at: number, len: number): DecodedData {
  switch (type) {
    case Type.PTR:
      return { type, target: decodeName(buf, at).labels };
    case Type.SRV:
      return { type, priority: buf.readUInt16BE(at), weight: buf.readUInt16BE(at + 2), port: buf.readUInt16BE(at + 4), target: decodeName(buf, at + 6).labels };
    case Type.SOA: {
      const m = decodeName(buf, at);
      const r = decodeName(buf, m.end);
      return { type, mname: m.labels, rname: r.labels, serial: buf.readUInt32BE(r.end), minimum: buf.readUInt32BE(r.end + 16) };
    }
    case Type.A:
    case Type.AAAA:
    case Type.TXT: {
      // dns-packet's RDATA decoders start at the RDLENGTH field
      const decoded = rdataCodec(typeName(type)).decode(buf, at - 2) as string | Buffer[];
      return type === Type.TXT ? { type, strings: decoded as Buffer[] } : { type, address: decoded as string };
    }
    default:
      return { type, raw: Buffer.from(buf.subarray(at, at + len)) };
  }
}
