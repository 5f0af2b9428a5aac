// Reading DNS UPDATE messages (RFC 2136 §2): zone, prerequisite and update
// sections with class NONE/ANY and empty RDATA, which dns-packet cannot read
// reliably; the Update Lease option (RFC 9664); and the TSIG record.
import type { Labels } from "../names.js";
import { Opcode, Rcode, Type } from "./constants.js";
import { readOptions, readRecord, type DecodedRecord } from "./decode.js";
import { encodeRecord, type EdnsOption, type Edns, type RData } from "./message.js";
import { decodeName, NameCompressor, WireError } from "./name.js";
import { Class } from "./constants.js";
import { parseSig0, type Sig0Record } from "./sig0.js";
import { parseTsig, type TsigRecord } from "./tsig.js";

export const UPDATE_LEASE_OPTION = 2;

export interface UpdateRecord extends DecodedRecord {
  /** RDLENGTH as sent: 0 marks the delete and "exists" forms. */
  rdataLength: number;
}

export interface UpdateMessage {
  id: number;
  zone: { name: Labels; type: number; class: number };
  prerequisites: UpdateRecord[];
  updates: UpdateRecord[];
  edns?: Edns;
  /** Requested lease, seconds (RFC 9664), and key lease when given. */
  lease?: { lease: number; keyLease?: number };
  tsig?: TsigRecord;
  /** A SIG(0) transaction signature (RFC 2931), as SRP clients sign (RFC 9665 §6.6). */
  sig0?: Sig0Record;
}

export type DecodedUpdate =
  | { kind: "update"; update: UpdateMessage }
  | { kind: "error"; id: number; rcode: number; reason: string; tsig?: TsigRecord };

/** Decode an UPDATE; the caller has checked the opcode. */
export function decodeUpdate(buf: Buffer): DecodedUpdate {
  if (buf.length < 12)
    return {
      kind: "error",
      id: buf.length >= 2 ? buf.readUInt16BE(0) : 0,
      rcode: Rcode.FORMERR,
      reason: "shorter than a DNS header",
    };
  const id = buf.readUInt16BE(0);
  const zo = buf.readUInt16BE(4);
  const pr = buf.readUInt16BE(6);
  const up = buf.readUInt16BE(8);
  const ad = buf.readUInt16BE(10);
  if (((buf.readUInt16BE(2) >> 11) & 0xf) !== Opcode.UPDATE)
    return { kind: "error", id, rcode: Rcode.FORMERR, reason: "not an UPDATE (opcode 5)" };
  let tsig: TsigRecord | undefined;
  try {
    if (zo !== 1) return { kind: "error", id, rcode: Rcode.FORMERR, reason: `ZOCOUNT is ${zo}, must be 1` };
    const z = decodeName(buf, 12);
    if (z.end + 4 > buf.length) throw new WireError("zone section runs past the end of the message");
    const zone = { name: z.labels, type: buf.readUInt16BE(z.end), class: buf.readUInt16BE(z.end + 2) };
    let off = z.end + 4;
    const read = (n: number): UpdateRecord[] => {
      const out: UpdateRecord[] = [];
      for (let i = 0; i < n; i++) {
        const r = readRecord(buf, off);
        const { name, type, class: klass, ttl, data } = r.record;
        out.push({ name, type, class: klass, ttl, data, rdataLength: r.rdataLength });
        off = r.end;
      }
      return out;
    };
    const prerequisites = read(pr);
    const updates = read(up);
    let edns: Edns | undefined;
    let lease: UpdateMessage["lease"];
    let sig0: Sig0Record | undefined;
    for (let i = 0; i < ad; i++) {
      const start = off;
      const r = readRecord(buf, off);
      off = r.end;
      if (r.type === Type.TSIG) {
        if (i !== ad - 1) throw new WireError("TSIG is not the last record");
        tsig = parseTsig(buf, r.record.name, start, r.rdataAt, r.rdataLength);
      } else if (r.type === Type.SIG) {
        // RFC 2931 §3.1: the SIG(0) is the last record; only what comes before it is signed
        if (i !== ad - 1) throw new WireError("SIG(0) is not the last record");
        sig0 = parseSig0(buf, start, r.rdataAt, r.rdataLength);
      } else if (r.type === Type.OPT) {
        if (edns) throw new WireError("more than one OPT record");
        const options = readOptions(buf, r.rdataAt, r.end);
        edns = { udpSize: r.class, version: (r.ttl >>> 16) & 0xff, dnssecOk: (r.ttl & 0x8000) !== 0, options };
        const ul = options.find((o) => o.code === UPDATE_LEASE_OPTION);
        if (ul) lease = parseLease(ul.data);
      }
    }
    if (off !== buf.length) throw new WireError(`${buf.length - off} bytes after the last record`);
    return {
      kind: "update",
      update: {
        id,
        zone,
        prerequisites,
        updates,
        ...(edns ? { edns } : {}),
        ...(lease ? { lease } : {}),
        ...(tsig ? { tsig } : {}),
        ...(sig0 ? { sig0 } : {}),
      },
    };
  } catch (e) {
    if (e instanceof WireError || e instanceof RangeError)
      return { kind: "error", id, rcode: Rcode.FORMERR, reason: e.message, ...(tsig ? { tsig } : {}) };
    throw e;
  }
}

function parseLease(data: Uint8Array): UpdateMessage["lease"] {
  const b = Buffer.from(data);
  if (b.length === 4) return { lease: b.readUInt32BE(0) };
  if (b.length === 8) return { lease: b.readUInt32BE(0), keyLease: b.readUInt32BE(4) };
  throw new WireError(`Update Lease option of ${b.length} bytes (must be 4 or 8)`);
}

/** The Update Lease option for a reply: the lease granted (RFC 9664 §4). */
export function leaseOption(lease: number, keyLease?: number): EdnsOption {
  const b = Buffer.alloc(keyLease === undefined ? 4 : 8);
  b.writeUInt32BE(lease, 0);
  if (keyLease !== undefined) b.writeUInt32BE(keyLease, 4);
  return { code: UPDATE_LEASE_OPTION, data: b };
}

/** One record of an UPDATE to send: an add (class IN, with data) or a delete form. */
export type UpdateOp =
  | { op: "add"; name: Labels; ttl: number; data: RData }
  | { op: "delete-rr"; name: Labels; data: RData } // class NONE
  | { op: "delete-rrset"; name: Labels; type: number } // class ANY
  | { op: "delete-name"; name: Labels }; // class ANY, type ANY

/** RFC 2136 §2.4: the five prerequisite kinds. "rrset-equals" records with the same name and type form one RRset that must match exactly. */
export type Prerequisite =
  | { kind: "name-in-use" | "name-not-in-use"; name: Labels }
  | { kind: "rrset-exists" | "rrset-not-exists"; name: Labels; type: number }
  | { kind: "rrset-equals"; name: Labels; data: RData };

/** Encode an UPDATE (RFC 2136 §2) with an optional Update Lease option (RFC 9664). */
export function encodeUpdate(msg: {
  id: number;
  zone: Labels;
  prerequisites?: Prerequisite[];
  updates: UpdateOp[];
  lease?: { lease: number; keyLease?: number };
}): Buffer {
  const buf = Buffer.alloc(65535);
  const comp = new NameCompressor();
  let off = comp.write(buf, 12, msg.zone);
  buf.writeUInt16BE(Type.SOA, off);
  buf.writeUInt16BE(Class.IN, off + 2);
  off += 4;
  // a record with no RDATA: the prerequisite and delete forms
  const bare = (name: Labels, type: number, klass: number) => {
    off = comp.write(buf, off, name);
    buf.writeUInt16BE(type, off);
    buf.writeUInt16BE(klass, off + 2);
    buf.writeUInt32BE(0, off + 4);
    buf.writeUInt16BE(0, off + 8);
    off += 10;
  };
  const prereqs = msg.prerequisites ?? [];
  for (const p of prereqs) {
    switch (p.kind) {
      case "name-in-use":
        bare(p.name, Type.ANY, Class.ANY);
        break;
      case "name-not-in-use":
        bare(p.name, Type.ANY, Class.NONE);
        break;
      case "rrset-exists":
        bare(p.name, p.type, Class.ANY);
        break;
      case "rrset-not-exists":
        bare(p.name, p.type, Class.NONE);
        break;
      case "rrset-equals":
        off = encodeRecord(buf, off, { name: p.name, ttl: 0, data: p.data }, comp);
        break;
    }
  }
  for (const u of msg.updates) {
    if (u.op === "add") off = encodeRecord(buf, off, { name: u.name, ttl: u.ttl, data: u.data }, comp);
    else if (u.op === "delete-rr")
      off = encodeRecord(buf, off, { name: u.name, ttl: 0, class: Class.NONE, data: u.data }, comp);
    else if (u.op === "delete-rrset") bare(u.name, u.type, Class.ANY);
    else bare(u.name, Type.ANY, Class.ANY);
  }
  let ar = 0;
  if (msg.lease) {
    const opt = leaseOption(msg.lease.lease, msg.lease.keyLease);
    buf[off] = 0;
    buf.writeUInt16BE(Type.OPT, off + 1);
    buf.writeUInt16BE(1232, off + 3);
    buf.writeUInt32BE(0, off + 5);
    buf.writeUInt16BE(4 + opt.data.length, off + 9);
    buf.writeUInt16BE(opt.code, off + 11);
    buf.writeUInt16BE(opt.data.length, off + 13);
    buf.set(opt.data, off + 15);
    off += 15 + opt.data.length;
    ar = 1;
  }
  buf.writeUInt16BE(msg.id, 0);
  buf.writeUInt16BE(Opcode.UPDATE << 11, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(prereqs.length, 6);
  buf.writeUInt16BE(msg.updates.length, 8);
  buf.writeUInt16BE(ar, 10);
  return Buffer.from(buf.subarray(0, off));
}
