// The Range reply walked in place (src/store/etcd-range.ts), against replies built byte by byte.
import { describe, expect, it } from "vitest";
import { RangeReply, encodeRangeRequest } from "../../src/store/etcd-range.js";

const varint = (n: bigint): number[] => {
  const out: number[] = [];
  for (; n >= 0x80n; n >>= 7n) out.push(Number(n & 0x7fn) | 0x80);
  out.push(Number(n));
  return out;
};
const field = (n: number, wire: number) => varint(BigInt((n << 3) | wire));
const int = (n: number, v: bigint) => [...field(n, 0), ...varint(v)];
const bytes = (n: number, b: number[] | string) => {
  const body = typeof b === "string" ? [...Buffer.from(b)] : b;
  return [...field(n, 2), ...varint(BigInt(body.length)), ...body];
};

describe("etcd Range reply", () => {
  it("reads the header revision, more, count and each entry's key, value and mod revision; skips the rest", () => {
    const kv = (key: string, modRevision: bigint, value: string) =>
      bytes(2, [
        ...bytes(1, key),
        ...int(2, 7n), // create_revision
        ...int(3, modRevision),
        ...int(4, 3n), // version
        ...bytes(5, value),
        ...int(6, 0xffff_ffff_ffffn), // lease
        ...field(15, 5),
        1,
        2,
        3,
        4, // a field this reader does not know (fixed32)
      ]);
    const reply = Buffer.from([
      // header: a cluster id past 2^53 (read and dropped), then the revision past 2^32
      ...bytes(1, [...int(1, 0xffff_ffff_ffff_ffffn), ...int(2, 9n), ...int(3, 2n ** 40n + 5n), ...int(4, 2n)]),
      ...kv("/p/host/a", 2n ** 33n, '{"kind":"host"}'),
      ...kv("/p/host/é", 300n, ""),
      ...int(3, 1n),
      ...int(4, 123_456n),
    ]);
    const r = new RangeReply(reply);
    expect(r.revision).toBe(2 ** 40 + 5);
    expect(r.more).toBe(true);
    expect(r.count).toBe(123_456);
    expect(r.length).toBe(2);
    expect([r.key(0), r.key(1, 3)]).toEqual(["/p/host/a", "host/é"]);
    expect(r.modRevision).toEqual([2 ** 33, 300]);
    expect([r.value(0), r.value(1)]).toEqual(['{"kind":"host"}', ""]);
    expect(r.keyBytes(1)).toEqual(Buffer.from("/p/host/é"));
    // a copy: the reply's buffer may be reused or kept no longer
    const copy = r.keyBytes(0);
    reply.fill(0);
    expect(copy).toEqual(Buffer.from("/p/host/a"));
  });

  it("an empty reply (nothing in the range) has no entries and no more", () => {
    const r = new RangeReply(Buffer.from(bytes(1, int(3, 42n))));
    expect([r.revision, r.length, r.more, r.count]).toEqual([42, 0, false, 0]);
  });

  it("encodes a request as etcd's RangeRequest: key, range_end, limit, revision, keys_only", () => {
    expect([
      ...encodeRangeRequest({
        key: Buffer.from("a"),
        rangeEnd: Buffer.from("b"),
        limit: 300,
        revision: 5,
        keysOnly: true,
      }),
    ]).toEqual([...bytes(1, "a"), ...bytes(2, "b"), ...int(3, 300n), ...int(4, 5n), ...int(8, 1n)]);
    expect([...encodeRangeRequest({ key: Buffer.from("a"), rangeEnd: Buffer.from("b") })]).toEqual([
      ...bytes(1, "a"),
      ...bytes(2, "b"),
    ]);
  });
});
