// Records in canonical form for the comparisons mDNS makes on them: RFC 6762
// §8.2 settles simultaneous probes by comparing class (without the
// cache-flush bit), then type, then the raw uncompressed RDATA byte by byte.
// Both sides must order the same way, so this works on bytes, not on decoded
// values (a port of 1000 sorts after 999 here, as it does in avahi).
import { Class, Type } from "./constants.js";
import type { DecodedData } from "./decode.js";
import { ipv6Bytes, type RData } from "./message.js";
import type { Labels } from "../names.js";

const CACHE_FLUSH = 0x8000;

export interface ComparableRecord {
  class?: number;
  data: RData | DecodedData;
}

function nameBytes(name: Labels): Buffer[] {
  const out = name.map((label) => {
    const b = Buffer.from(label, "utf8");
    return Buffer.concat([Buffer.of(b.length), b]);
  });
  out.push(Buffer.of(0));
  return out;
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

/** The RDATA as it goes on the wire with no name compression. */
export function canonicalRdata(d: RData | DecodedData): Buffer {
  if ("raw" in d) return d.raw;
  switch (d.type) {
    case Type.A:
      return Buffer.from((d as { address: string }).address.split(".").map(Number));
    case Type.AAAA:
      return Buffer.from(ipv6Bytes((d as { address: string }).address));
    case Type.PTR:
      return Buffer.concat(nameBytes((d as { target: Labels }).target));
    case Type.SRV: {
      const s = "srv" in d ? d.srv : (d as Extract<DecodedData, { type: typeof Type.SRV }>);
      return Buffer.concat([u16(s.priority, s.weight, s.port), ...nameBytes(s.target)]);
    }
    case Type.TXT: {
      const strings = (d as { strings: Uint8Array[] }).strings;
      return Buffer.concat((strings.length === 0 ? [new Uint8Array(0)] : strings).map((s) => Buffer.concat([Buffer.of(s.length), s])));
    }
    default:
      // types mDNS does not probe with (SOA, HINFO): a stable order is all that is needed
      return Buffer.from(JSON.stringify(d));
  }
}

/** §8.2 order of two records: class without the cache-flush bit, type, then RDATA bytes. */
export function compareRecords(a: ComparableRecord, b: ComparableRecord): number {
  const ca = (a.class ?? Class.IN) & ~CACHE_FLUSH;
  const cb = (b.class ?? Class.IN) & ~CACHE_FLUSH;
  if (ca !== cb) return ca - cb;
  if (a.data.type !== b.data.type) return a.data.type - b.data.type;
  return Buffer.compare(canonicalRdata(a.data), canonicalRdata(b.data));
}

/**
 * §8.2 comparison of two probes' records for one name: each set sorted, then
 * compared pair by pair; the first difference decides, and a set that runs
 * out first loses. Negative: `a` loses the tie-break.
 */
export function compareRecordSets(a: readonly ComparableRecord[], b: readonly ComparableRecord[]): number {
  const sa = [...a].sort(compareRecords);
  const sb = [...b].sort(compareRecords);
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const c = compareRecords(sa[i]!, sb[i]!);
    if (c !== 0) return c;
  }
  return sa.length - sb.length;
}
