// An encoded message read or changed without decoding or encoding it again:
// the header fields the hot path needs (is it an UPDATE request, the reply's
// rcode, TC), a cached reply given a new request's ID and flags, an EDNS
// option added to a reply after it was cached (the cookie differs per
// client). Byte offsets live here, in src/wire, with the encoder that wrote them.
import { Opcode } from "./constants.js";

/** A request (QR=0) with opcode UPDATE: the header says so, nothing else is read. */
export function isUpdateRequest(msg: Uint8Array): boolean {
  return msg.length >= 12 && (msg[2]! & 0x80) === 0 && ((msg[2]! >> 3) & 0xf) === Opcode.UPDATE;
}

/** The message ID (0 for fewer than two bytes). */
export function messageId(msg: Uint8Array): number {
  return msg.length >= 2 ? (msg[0]! << 8) | msg[1]! : 0;
}

/** A reply's rcode (the header's four bits; extended rcodes in OPT are not read), or undefined for less than a header. */
export function replyRcode(wire: Uint8Array): number | undefined {
  return wire.length >= 12 ? wire[3]! & 0x0f : undefined;
}

/** Does the header say TC (truncated)? */
export function isTruncated(wire: Uint8Array): boolean {
  return wire.length > 2 && (wire[2]! & 0x02) !== 0;
}

/** A copy of the reply `wire` for a request with `id`, RD and CD (RFC 1035 §4.1.1, RFC 4035 §3.2.2: copied from the request). */
export function withRequestHeader(wire: Buffer, id: number, rd: boolean, cd: boolean): Buffer {
  const out = Buffer.allocUnsafe(wire.length);
  wire.copy(out);
  out.writeUInt16BE(id, 0);
  out[2] = (out[2]! & ~0x01) | (rd ? 0x01 : 0);
  out[3] = (out[3]! & ~0x10) | (cd ? 0x10 : 0);
  return out;
}

/**
 * `wire` with one more EDNS option. Our encoder writes OPT last and, for
 * answers, with no options: then the option is appended and OPT's RDLENGTH
 * grows. Anything else (no OPT, or a TSIG after it) is returned unchanged.
 */
export function appendEdnsOption(wire: Buffer, code: number, data: Buffer): Buffer {
  const at = wire.length - 11;
  if (at < 12 || wire[at] !== 0 || wire.readUInt16BE(at + 1) !== 41 || wire.readUInt16BE(at + 9) !== 0) return wire;
  const out = Buffer.allocUnsafe(wire.length + 4 + data.length);
  wire.copy(out);
  out.writeUInt16BE(4 + data.length, at + 9);
  out.writeUInt16BE(code, wire.length);
  out.writeUInt16BE(data.length, wire.length + 2);
  data.copy(out, wire.length + 4);
  return out;
}
