// The ring's hash function, specified in docs/hash.md so clients in any
// language compute the same owners. Positions are unsigned 64-bit integers,
// kept as two 32-bit halves because JS numbers cannot hold 64 bits exactly.
import { hash } from "node:crypto";

export interface Position {
  hi: number; // upper 32 bits
  lo: number; // lower 32 bits
}

const utf8 = new TextEncoder();

export function sha256(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer");
}

/** Position of a key: the first 8 bytes of SHA-256(key), big-endian. */
export function keyPosition(key: Uint8Array | string): Position {
  const d = sha256(typeof key === "string" ? utf8.encode(key) : key);
  return { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) };
}

/** Identity bytes of an instance on the ring: its instance label, ASCII lower-cased, UTF-8. */
export function identityBytes(identity: string): Uint8Array {
  return utf8.encode(identity);
}

/**
 * The `count` virtual points of an instance. Block b = SHA-256(identity ‖ 0x00 ‖ uint32be(b))
 * yields points 4b..4b+3 as its four big-endian 64-bit words.
 */
export function instancePoints(identity: string, count: number): { hi: Uint32Array; lo: Uint32Array } {
  const id = identityBytes(identity);
  const input = Buffer.alloc(id.length + 5);
  input.set(id, 0);
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let b = 0; b * 4 < count; b++) {
    input.writeUInt32BE(b, id.length + 1);
    const d = sha256(input);
    for (let k = 0; k < 4 && b * 4 + k < count; k++) {
      hi[b * 4 + k] = d.readUInt32BE(k * 8);
      lo[b * 4 + k] = d.readUInt32BE(k * 8 + 4);
    }
  }
  return { hi, lo };
}

export function positionHex(p: Position): string {
  return p.hi.toString(16).padStart(8, "0") + p.lo.toString(16).padStart(8, "0");
}
