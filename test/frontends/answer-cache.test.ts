import { describe, expect, it } from "vitest";
import { AnswerCache } from "../../src/frontends/answer-cache.js";

const q = { name: ["Alpha", "local"], type: 1, class: 1 };

describe("AnswerCache", () => {
  it("returns a copy with the request's ID, RD and CD patched in", () => {
    const c = new AnswerCache();
    const wire = Buffer.from([0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const key = AnswerCache.key(q, 512, undefined);
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
    c.set(key, Buffer.alloc(12), 7, 1000);
    expect(c.get(key, 8, 1001, 1, false, false)).toBeUndefined();
    c.set(key, Buffer.alloc(12), 7, 1000);
    expect(c.get(key, 7, 2000, 1, false, false)).toBeUndefined();
    expect(AnswerCache.key({ ...q, name: ["alpha", "local"] }, 512, undefined)).not.toBe(key);
    expect(AnswerCache.key(q, 1232, undefined)).not.toBe(key);
    expect(AnswerCache.key(q, 512, 0)).not.toBe(AnswerCache.key(q, 512, 1));
  });
});
