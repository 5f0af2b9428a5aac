// RFC 6762 §10 cache rules, on an injected clock.
import { describe, expect, it } from "vitest";
import { CACHE_FLUSH, MdnsCache } from "../../../src/frontends/mdns/cache.js";
import { parseName } from "../../../src/names.js";
import { Class, Type } from "../../../src/wire/constants.js";
import type { DecodedRecord } from "../../../src/wire/decode.js";

const host = parseName("lamp.local.");
const a = (address: string, ttl: number, flush = true): DecodedRecord => ({
  name: host,
  type: Type.A,
  class: Class.IN | (flush ? CACHE_FLUSH : 0),
  ttl,
  data: { type: Type.A, address },
});
const addresses = (c: MdnsCache, now: number) =>
  c
    .get(host, Type.A, now)
    .map((r) => (r.data as { address: string }).address)
    .sort();

describe("MdnsCache", () => {
  it("keeps a record for its TTL", () => {
    const c = new MdnsCache();
    c.add([a("192.0.2.1", 120)], 0);
    expect(addresses(c, 119_999)).toEqual(["192.0.2.1"]);
    expect(addresses(c, 120_000)).toEqual([]);
    expect(c.expire(120_000).size).toBe(1);
    expect(c.size()).toBe(0);
  });

  it("a goodbye (TTL 0) ends a record one second later (§10.1)", () => {
    const c = new MdnsCache();
    c.add([a("192.0.2.1", 120)], 0);
    c.add([a("192.0.2.1", 0)], 10_000);
    expect(addresses(c, 10_999)).toEqual(["192.0.2.1"]);
    expect(addresses(c, 11_000)).toEqual([]);
  });

  it("cache-flush replaces the RRset, sparing records from the last second (§10.2)", () => {
    const c = new MdnsCache();
    c.add([a("192.0.2.1", 120)], 0);
    c.add([a("192.0.2.2", 120)], 5_000); // 5 s later with the flush bit: .1 goes a second later
    expect(addresses(c, 5_500)).toEqual(["192.0.2.1", "192.0.2.2"]);
    expect(addresses(c, 6_000)).toEqual(["192.0.2.2"]);
    // two records of one RRset sent in one burst both stay
    c.add([a("192.0.2.3", 120)], 5_200);
    expect(addresses(c, 7_000)).toEqual(["192.0.2.2", "192.0.2.3"]);
  });

  it("shared records (no flush bit) accumulate", () => {
    const c = new MdnsCache();
    c.add([a("192.0.2.1", 120, false)], 0);
    c.add([a("192.0.2.2", 120, false)], 5_000);
    expect(addresses(c, 10_000)).toEqual(["192.0.2.1", "192.0.2.2"]);
  });

  it("asks for refreshes at 80, 85, 90 and 95 % of the TTL, each once (§5.2)", () => {
    const c = new MdnsCache();
    c.add([a("192.0.2.1", 100)], 0);
    expect(c.refreshDue(79_999)).toHaveLength(0);
    expect(c.refreshDue(80_000)).toHaveLength(1);
    expect(c.refreshDue(80_001)).toHaveLength(0);
    expect(c.nextEvent()).toBe(85_000);
    expect(c.refreshDue(99_000)).toHaveLength(1); // one point per call, in order
    expect(c.refreshDue(99_000)).toHaveLength(1);
    expect(c.refreshDue(99_000)).toHaveLength(1);
    expect(c.refreshDue(99_000)).toHaveLength(0);
    // a fresh answer starts the points over
    c.add([a("192.0.2.1", 100)], 99_500);
    expect(c.nextEvent()).toBe(99_500 + 80_000);
  });

  it("reports which names changed, and nothing for a repeat", () => {
    const c = new MdnsCache();
    expect(c.add([a("192.0.2.1", 120)], 0).size).toBe(1);
    expect(c.add([a("192.0.2.1", 120)], 1_000).size).toBe(0);
  });

  it("takes no new records beyond --mdns-max-per-peer from one peer or --mdns-max-records in all, and says so once", () => {
    const told: string[] = [];
    const c = new MdnsCache({ maxRecords: 5, maxPerPeer: 3 }, (what, peer) => told.push(`${what} ${peer}`));
    const rec = (i: number): DecodedRecord => ({
      name: parseName(`h${i}.local.`),
      type: Type.A,
      class: Class.IN,
      ttl: 120,
      data: { type: Type.A, address: `192.0.2.${i}` },
    });
    c.add([1, 2, 3, 4].map(rec), 0, "198.51.100.1");
    expect(c.size()).toBe(3);
    expect(c.get(parseName("h4.local."), Type.A, 0)).toEqual([]);
    c.add([rec(1)], 1000, "198.51.100.1"); // a refresh of a record it has is still taken
    expect(c.get(parseName("h1.local."), Type.A, 1000)[0]!.receivedAt).toBe(1000);
    c.add([5, 6, 7].map(rec), 0, "198.51.100.2");
    expect(c.size()).toBe(5);
    expect(c.refused).toEqual({ full: 1, perPeer: 1 });
    expect(told).toEqual(["per-peer 198.51.100.1", "full 198.51.100.2"]);
    c.expire(200_000); // all gone: room again, and a peer's share back
    c.add([rec(8)], 200_000, "198.51.100.1");
    expect(c.size()).toBe(1);
  });

  // issue 14 finding 9: 200,000 goodbyes grew the daemon by 84 MiB while the cache said 0 records
  it("200,000 goodbyes for records it does not hold, and 200,000 records it refuses, leave its maps empty", () => {
    const c = new MdnsCache({ maxRecords: 10, maxPerPeer: 10 });
    const rec = (i: number, ttl: number): DecodedRecord => ({
      name: parseName(`h${i}.local.`),
      type: Type.A,
      class: Class.IN | CACHE_FLUSH,
      ttl,
      data: { type: Type.A, address: `192.0.2.${i % 250}` },
    });
    let changed = 0;
    for (let i = 0; i < 200_000; i += 1000)
      changed += c.add(
        Array.from({ length: 1000 }, (_, j) => rec(i + j, 0)),
        0,
        `198.51.100.${i % 200}`,
      ).size;
    expect(c.size()).toBe(0);
    expect(c.internalSizes()).toEqual({ names: 0, rrsets: 0, peers: 0, reported: 0 });
    expect(changed).toBe(0); // nothing to mirror either
    // full: ten records taken from one peer, then 200,000 new ones refused (from many peers) make nothing
    c.add(
      Array.from({ length: 10 }, (_, j) => rec(j, 120)),
      0,
      "198.51.100.1",
    );
    const before = c.internalSizes();
    expect(before).toEqual({ names: 10, rrsets: 10, peers: 1, reported: 0 });
    for (let i = 10; i < 200_010; i += 1000)
      c.add(
        Array.from({ length: 1000 }, (_, j) => rec(i + j, 120)),
        0,
        `198.51.100.${2 + (i % 200)}`,
      );
    expect(c.refused.full).toBe(200_000);
    expect(c.internalSizes()).toEqual({ ...before, reported: 1 });
  });

  it("takes no new records past its byte budget (large TXT records), and has room again once they expire", () => {
    const c = new MdnsCache({ maxRecords: 1000, maxPerPeer: 1000, maxBytes: 5000 });
    const txt = (i: number): DecodedRecord => ({
      name: parseName(`t${i}.local.`),
      type: Type.TXT,
      class: Class.IN,
      ttl: 120,
      data: { type: Type.TXT, strings: [Buffer.alloc(999, i)] },
    });
    c.add(
      Array.from({ length: 10 }, (_, i) => txt(i)),
      0,
      "198.51.100.1",
    );
    expect(c.size()).toBe(5); // 1,000 bytes each
    expect(c.refused.full).toBe(5);
    expect(c.internalSizes().names).toBe(5);
    c.expire(200_000);
    c.add([txt(20)], 200_000, "198.51.100.1");
    expect(c.size()).toBe(1);
  });
});
