import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { AnswerCache } from "../../src/frontends/answer-cache.js";
import { handleDnsMessage } from "../../src/frontends/dns-handler.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";

const q = { name: ["Alpha", "local"], type: 1, class: 1 };

describe("AnswerCache", () => {
  it("returns a copy with the request's ID, RD and CD patched in", () => {
    const c = new AnswerCache();
    const wire = Buffer.from([0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const key = AnswerCache.key(q, 512, undefined);
    c.set(key, wire, 7, 900);
    c.set(key, wire, 7, 1000);
    const hit = c.get(key, 7, 1500, 0xbeef, true, true)!;
    expect(hit.readUInt16BE(0)).toBe(0xbeef);
    expect(hit[2]! & 0x01).toBe(1);
    expect(hit[3]! & 0x10).toBe(0x10);
    expect(wire.readUInt16BE(0)).toBe(0x1234); // the cached bytes are untouched
  });

  it("misses after a registry change, after a second, and for another spelling, size or EDNS version", () => {
    const c = new AnswerCache();
    const key = AnswerCache.key(q, 512, undefined);
    c.set(key, Buffer.alloc(12), 7, 999);
    c.set(key, Buffer.alloc(12), 7, 1000);
    expect(c.get(key, 7, 1001, 1, false, false)).toBeDefined();
    expect(c.get(key, 8, 1001, 1, false, false)).toBeUndefined();
    c.set(key, Buffer.alloc(12), 7, 1000);
    expect(c.get(key, 7, 2000, 1, false, false)).toBeUndefined();
    expect(AnswerCache.key({ ...q, name: ["alpha", "local"] }, 512, undefined)).not.toBe(key);
    expect(AnswerCache.key(q, 1232, undefined)).not.toBe(key);
    expect(AnswerCache.key(q, 512, 0)).not.toBe(AnswerCache.key(q, 512, 1));
  });

  it("keeps a reply only from its question's second ask within a second; a cut browse at once", () => {
    const c = new AnswerCache();
    const key = AnswerCache.key(q, 512, undefined);
    const other = AnswerCache.key({ ...q, name: ["beta", "local"] }, 512, undefined);
    c.set(key, Buffer.alloc(12), 7, 1000);
    expect(c.get(key, 7, 1001, 1, false, false)).toBeUndefined(); // asked once: not kept
    c.set(other, Buffer.alloc(12), 7, 1100); // another question between does not count for this one
    c.set(key, Buffer.alloc(12), 7, 2001); // asked again, but more than a second later
    expect(c.get(key, 7, 2002, 1, false, false)).toBeUndefined();
    c.set(key, Buffer.alloc(12), 7, 2500); // and again within the second
    expect(c.get(key, 7, 2501, 1, false, false)).toBeDefined();
    const browse = AnswerCache.key({ name: ["_big", "_tcp", "local"], type: 12, class: 1 }, 512, undefined);
    c.set(browse, Buffer.alloc(12), 7, 3000, { key: "_big._tcp", version: 1, timeless: true });
    expect(c.get(browse, 9, 9000, 1, false, false, () => 1)).toBeDefined();
  });
});

describe("AnswerCache keys", () => {
  it("differ for any two different names: labels may hold \\0, dots and any UTF-8", () => {
    const label = fc.string({
      unit: fc.constantFrom("a", "B", "\u0000", ".", ":", "1", "é", "\u{1F600}"),
      maxLength: 6,
    });
    const name = fc.array(label, { maxLength: 5 });
    fc.assert(
      fc.property(name, name, (a, b) => {
        fc.pre(a.length !== b.length || a.some((l, i) => l !== b[i]));
        expect(AnswerCache.key({ name: a, type: 33, class: 1 }, 512, 0)).not.toBe(
          AnswerCache.key({ name: b, type: 33, class: 1 }, 512, 0),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("a name whose label holds a zero byte is not served another name's cached reply (or the other way round)", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    registry.loadStatic(
      [
        {
          name: "alpha",
          type: { service: "_cache", proto: "_tcp" },
          subtypes: [],
          host: ["alpha"],
          port: 11211,
          priority: 0,
          weight: 1,
          txt: [],
          source: "static",
        },
      ],
      [],
    );
    const deps = {
      registry,
      clock,
      log: pino({ level: "silent" }),
      maxUdpPayload: 1232,
      cache: new AnswerCache(),
      answer: { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    };
    const ask = (id: number, name: string[]) =>
      decodeMessage(handleDnsMessage(encodeQuery(id, name, Type.SRV), "udp", "127.0.0.1:1", deps) as Buffer);
    const zeroByte = ["alpha\u0000_cache", "_tcp", "local"]; // one label: alpha\000_cache._tcp.local.
    const real = ["alpha", "_cache", "_tcp", "local"];
    for (const order of [
      [zeroByte, real],
      [real, zeroByte],
    ]) {
      deps.cache = new AnswerCache();
      for (const name of [...order, ...order, ...order]) {
        // the third round is answered from the cache (a reply is kept from its second ask)
        const reply = ask(1, name);
        expect(reply.questions[0]!.name).toEqual(name);
        expect(reply.rcodeName).toBe(name === real ? "NOERROR" : "NXDOMAIN");
        expect(reply.answers.length).toBe(name === real ? 1 : 0);
      }
    }
  });
});
