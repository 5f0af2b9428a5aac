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
 *
 * The names written are kept as they are, with each label's offset, and a
 * suffix is found by comparing labels: a reply has a handful of names, and a
 * string key per suffix (what a map needs) was a third of what answering a
 * query allocated. Past INDEXED_FROM names (a zone transfer's 64 KB messages)
 * the suffixes also go into a map, so a lookup stays O(labels).
 */
export class NameCompressor {
  /** The names written, in order. */
  private readonly names: Labels[] = [];
  /** Where each name's labels start in `labelAt`. */
  private readonly firstLabel: number[] = [];
  /** Each written label's offset in the message; -1 where a pointer cannot reach. A name ends at its first pointer. */
  private readonly labelAt: number[] = [];
  /** Suffix key → offset, once there are many names; with the name each key came from, to roll back. */
  private index: Map<string, number> | undefined;
  private readonly indexed: { key: string; name: number }[] = [];

  /** Write `name` at `offset` in `buf`; returns the new offset. `compress` = may point to earlier names. */
  write(buf: Buffer, offset: number, name: Labels, compress = true): number {
    const n = this.names.length;
    this.names.push(name);
    this.firstLabel.push(this.labelAt.length);
    for (let i = 0; i < name.length; i++) {
      const target = compress ? this.find(name, i, n) : -1;
      if (target >= 0) {
        buf.writeUInt16BE(0xc000 | target, offset);
        this.indexName(n);
        return offset + 2;
      }
      this.labelAt.push(offset <= MAX_POINTER_TARGET ? offset : -1);
      const len = buf.write(name[i]!, offset + 1, "utf8");
      if (len > 63) throw new WireError(`label longer than 63 bytes: ${name[i]}`);
      buf[offset] = len;
      offset += 1 + len;
    }
    buf[offset] = 0;
    this.indexName(n);
    return offset + 1;
  }

  /** A mark to roll back to when a record does not fit. */
  mark(): number {
    return this.names.length;
  }

  rollback(mark: number): void {
    if (mark >= this.names.length) return;
    this.labelAt.length = this.firstLabel[mark]!;
    this.names.length = mark;
    this.firstLabel.length = mark;
    while (this.indexed.length > 0 && this.indexed[this.indexed.length - 1]!.name >= mark)
      this.index!.delete(this.indexed.pop()!.key);
  }

  /** The offset of the first name written before name `before` that ends with name[from..]; -1: none. */
  private find(name: Labels, from: number, before: number): number {
    if (this.index) return this.index.get(suffixKey(name, from)) ?? -1;
    const want = name.length - from;
    for (let e = 0; e < before; e++) {
      const other = this.names[e]!;
      const j = other.length - want; // where the same-length suffix starts in the other name
      const first = this.firstLabel[e]!;
      const written = (e + 1 < this.firstLabel.length ? this.firstLabel[e + 1]! : this.labelAt.length) - first;
      if (j < 0 || j >= written || this.labelAt[first + j]! < 0) continue;
      // from the end, where two suffixes of one length that differ mostly differ (the zone, the type): a
      // mismatch costs a label or two, and a crafted name (a long tail shared, the front different) at most
      // its length once per earlier name before a shorter suffix matches
      let k = want - 1;
      while (k >= 0 && other[j + k] === name[from + k]) k--;
      if (k < 0) return this.labelAt[first + j]!;
    }
    return -1;
  }

  /** Past INDEXED_FROM names, name `n`'s suffixes (and, the first time, every earlier name's) go into the map. */
  private indexName(n: number): void {
    if (!this.index) {
      if (this.names.length <= INDEXED_FROM) return;
      this.index = new Map();
      for (let e = 0; e < n; e++) this.indexSuffixes(e);
    }
    this.indexSuffixes(n);
  }

  private indexSuffixes(e: number): void {
    const name = this.names[e]!;
    const first = this.firstLabel[e]!;
    const written = (e + 1 < this.firstLabel.length ? this.firstLabel[e + 1]! : this.labelAt.length) - first;
    for (let j = 0; j < written; j++) {
      if (this.labelAt[first + j]! < 0) continue;
      const key = suffixKey(name, j);
      if (this.index!.has(key)) continue; // the first name written with it is the target
      this.index!.set(key, this.labelAt[first + j]!);
      this.indexed.push({ key, name: e });
    }
  }
}

/** Names written before the suffixes also go into a map (see NameCompressor). */
const INDEXED_FROM = 32;

function suffixKey(name: Labels, from: number): string {
  let k = "";
  for (let i = from; i < name.length; i++) k += `${name[i]!.length}:${name[i]}`;
  return k;
}
