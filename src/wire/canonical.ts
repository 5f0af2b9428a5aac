// Records in canonical form for the comparisons mDNS makes on them: RFC 6762
// §8.2 settles simultaneous probes by comparing class (without the
// cache-flush bit), then type, then the raw uncompressed RDATA byte by byte.
// Both sides must order the same way, so this works on bytes, not on decoded
// values (a port of 1000 sorts after 999 here, as it does in avahi).
import { Class, Type } from "./constants.js";
import type { DecodedData } from "./decode.js";
import { encodeRdata, type RData } from "./message.js";

const CACHE_FLUSH = 0x8000;

export interface ComparableRecord {
  class?: number;
  data: RData | DecodedData;
}

/** The RDATA as it goes on the wire with no name compression. */
export function canonicalRdata(d: RData | DecodedData): Buffer {
  if ("raw" in d) return d.raw;
  // a decoded SRV has its fields flat; the encoder takes them nested
  if (d.type === Type.SRV && !("srv" in d)) {
    const { priority, weight, port, target } = d as Extract<DecodedData, { type: typeof Type.SRV }>;
    return encodeRdata({ type: Type.SRV, srv: { priority, weight, port, target } });
  }
  // a decoded SOA lacks fields the encoder needs; mDNS never probes with one, so a stable order will do
  if (d.type === Type.SOA && !("soa" in d)) return Buffer.from(JSON.stringify(d));
  return encodeRdata(d as RData);
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
