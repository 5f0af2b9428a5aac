// Domain names on the wire (RFC 1035 §3.1, §4.1.4): decoding with pointer
// safety, encoding with compression. Labels are raw strings (UTF-8).
import type { Labels } from "../names.js";

export class WireError extends Error {}

const MAX_NAME = 255;
const MAX_POINTER_TARGET = 0x3fff;

/** Decode the name at `offset`; returns the labels and where the name ends in the message. */
export function decodeName(
  buf: Buffer,
  offset: number,
): { labels: string[]; end: number; wireLength: number; raw?: Buffer } {
  const labels: string[] = [];
  let lossy = false; // a label that is not valid UTF-8 does not survive the round trip
  let pos = offset;
  let end = -1;
  let total = 1;
  let lowest = offset; // pointers must go strictly backwards: no loops
  for (;;) {
    if (pos >= buf.length) throw new WireError("name runs past the end of the message");
    const len = buf[pos]!;
    if (len === 0) {
      pos += 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError("name pointer runs past the end of the message");
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= lowest) throw new WireError("name pointer does not point backwards");
      if (end < 0) end = pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new WireError(`unsupported label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new WireError("label runs past the end of the message");
    total += len + 1;
    if (total > MAX_NAME) throw new WireError("name longer than 255 bytes");
    const label = buf.toString("utf8", pos + 1, pos + 1 + len);
    if (
      label.includes("\uFFFD") &&
      Buffer.compare(Buffer.from(label, "utf8"), buf.subarray(pos + 1, pos + 1 + len)) !== 0
    )
      lossy = true;
    labels.push(label);
    pos += 1 + len;
  }
  if (end < 0) end = pos;
  return lossy ? { labels, end, wireLength: total, raw: rawName(buf, offset) } : { labels, end, wireLength: total };
}

/** The name at `offset` (already checked by decodeName) as uncompressed wire bytes: kept only for the rare lossy label. */
function rawName(buf: Buffer, offset: number): Buffer {
  const parts: Buffer[] = [];
  for (let pos = offset; buf[pos] !== 0; ) {
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
    else {
      parts.push(buf.subarray(pos, pos + 1 + len));
      pos += 1 + len;
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/**
 * Writes names with compression. Suffixes are matched exactly (case-sensitive),
 * so a pointer never changes the spelling a client sees.
 */
export class NameCompressor {
  private readonly table = new Map<string, number>();
  private journal: string[] = [];

  /** Write `name` at `offset` in `buf`; returns the new offset. `compress` = may point to earlier names. */
  write(buf: Buffer, offset: number, name: Labels, compress = true): number {
    for (let i = 0; i < name.length; i++) {
      const key = suffixKey(name, i);
      const target = compress ? this.table.get(key) : undefined;
      if (target !== undefined) {
        buf.writeUInt16BE(0xc000 | target, offset);
        return offset + 2;
      }
      if (offset <= MAX_POINTER_TARGET && !this.table.has(key)) {
        this.table.set(key, offset);
        this.journal.push(key);
      }
      const len = buf.write(name[i]!, offset + 1, "utf8");
      if (len > 63) throw new WireError(`label longer than 63 bytes: ${name[i]}`);
      buf[offset] = len;
      offset += 1 + len;
    }
    buf[offset] = 0;
    return offset + 1;
  }

  /** A mark to roll back to when a record does not fit. */
  mark(): number {
    return this.journal.length;
  }

  rollback(mark: number): void {
    for (const key of this.journal.splice(mark)) this.table.delete(key);
  }
}

function suffixKey(name: Labels, from: number): string {
  let k = "";
  for (let i = from; i < name.length; i++) k += `${name[i]!.length}:${name[i]}`;
  return k;
}
