// DNS Stateful Operations (RFC 8490): the message (opcode 6, zero counts,
// then TLVs) and the TLVs of the session itself (Keepalive, Retry Delay,
// Padding). Pure: bytes in, values out, and back.
import { WireError } from "./name.js";

export const DSO_OPCODE = 6;
/** RFC 8490 §10.2: the DSO-TYPE of a request is not implemented. */
export const DSOTYPENI = 11;

export const DsoType = {
  KEEPALIVE: 0x0001,
  RETRY_DELAY: 0x0002,
  ENCRYPTION_PADDING: 0x0003,
  // DNS Push (RFC 8765)
  SUBSCRIBE: 0x0040,
  PUSH: 0x0041,
  UNSUBSCRIBE: 0x0042,
  RECONFIRM: 0x0043,
} as const;

/** RFC 8765 §6.3.1: the TTL of a PUSH record that removes that one record. */
export const REMOVE_RECORD_TTL = 0xffffffff;
/** RFC 8765 §6.3.1: the TTL of a PUSH record that removes its whole RRset (name, type, class). */
export const REMOVE_RRSET_TTL = 0xfffffffe;

export interface DsoTlv {
  type: number;
  data: Buffer;
}

export interface DsoMessage {
  /** 0: a unidirectional message (no response). */
  id: number;
  response: boolean;
  rcode: number;
  /** The primary TLV first (absent in some responses), then any additional TLVs. */
  tlvs: DsoTlv[];
}

/** Read a DSO message (the caller has seen opcode 6); a WireError names what is malformed (FORMERR). */
export function decodeDso(buf: Buffer): DsoMessage {
  if (buf.length < 12) throw new WireError("shorter than a DNS header");
  for (const at of [4, 6, 8, 10])
    if (buf.readUInt16BE(at) !== 0) throw new WireError("a DSO message has no questions or records (RFC 8490 §5.4)");
  const flags = buf.readUInt16BE(2);
  const tlvs: DsoTlv[] = [];
  for (let p = 12; p < buf.length; ) {
    if (p + 4 > buf.length) throw new WireError("a TLV header runs past the end of the message");
    const type = buf.readUInt16BE(p);
    const length = buf.readUInt16BE(p + 2);
    if (p + 4 + length > buf.length) throw new WireError(`TLV ${type} runs past the end of the message`);
    tlvs.push({ type, data: Buffer.from(buf.subarray(p + 4, p + 4 + length)) });
    p += 4 + length;
  }
  return { id: buf.readUInt16BE(0), response: (flags & 0x8000) !== 0, rcode: flags & 0xf, tlvs };
}

export function encodeDso(m: DsoMessage): Buffer {
  const size = 12 + m.tlvs.reduce((n, t) => n + 4 + t.data.length, 0);
  if (size > 65535) throw new WireError(`DSO message of ${size} bytes`);
  const out = Buffer.alloc(size);
  out.writeUInt16BE(m.id, 0);
  out.writeUInt16BE((m.response ? 0x8000 : 0) | (DSO_OPCODE << 11) | (m.rcode & 0xf), 2);
  let p = 12;
  for (const t of m.tlvs) {
    out.writeUInt16BE(t.type, p);
    out.writeUInt16BE(t.data.length, p + 2);
    t.data.copy(out, p + 4);
    p += 4 + t.data.length;
  }
  return out;
}

/** Keepalive (RFC 8490 §7.1): how long an idle session may stay open, and how often a busy one must show life, ms. */
export interface Keepalive {
  inactivityMs: number;
  keepaliveMs: number;
}

export function keepaliveTlv(k: Keepalive): DsoTlv {
  const data = Buffer.alloc(8);
  data.writeUInt32BE(k.inactivityMs >>> 0, 0);
  data.writeUInt32BE(k.keepaliveMs >>> 0, 4);
  return { type: DsoType.KEEPALIVE, data };
}

export function parseKeepalive(t: DsoTlv): Keepalive {
  if (t.data.length !== 8) throw new WireError(`Keepalive TLV of ${t.data.length} bytes (must be 8)`);
  return { inactivityMs: t.data.readUInt32BE(0), keepaliveMs: t.data.readUInt32BE(4) };
}

/** Retry Delay (RFC 8490 §7.2): close, and do not come back for this long, ms. */
export function retryDelayTlv(ms: number): DsoTlv {
  const data = Buffer.alloc(4);
  data.writeUInt32BE(ms >>> 0, 0);
  return { type: DsoType.RETRY_DELAY, data };
}

export function parseRetryDelay(t: DsoTlv): number {
  if (t.data.length !== 4) throw new WireError(`Retry Delay TLV of ${t.data.length} bytes (must be 4)`);
  return t.data.readUInt32BE(0);
}
