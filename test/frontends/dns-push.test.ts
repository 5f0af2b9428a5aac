import { describe, expect, it } from "vitest";
import { encodePushes, parseSubscribe, REMOVE_RECORD_TTL } from "../../src/frontends/dns-push.js";
import { Type } from "../../src/wire/constants.js";
import { decodeDso, DsoType } from "../../src/wire/dso.js";
import type { ResourceRecord } from "../../src/wire/message.js";

const name = (s: string) =>
  Buffer.concat([
    ...s.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);

describe("DNS Push messages (RFC 8765)", () => {
  it("SUBSCRIBE: a name written out, a type and a class; a compressed name or stray bytes are malformed", () => {
    const q = Buffer.concat([name("_kv._tcp.local"), Buffer.from([0, 12, 0, 1])]);
    expect(parseSubscribe({ type: DsoType.SUBSCRIBE, data: q })).toEqual({
      name: ["_kv", "_tcp", "local"],
      type: Type.PTR,
      class: 1,
    });
    expect(() => parseSubscribe({ type: DsoType.SUBSCRIBE, data: Buffer.concat([q, Buffer.from([0])]) })).toThrow();
    // "_kv" then a pointer back to offset 0: compression, never allowed in a TLV
    const compressed = Buffer.concat([Buffer.from([3]), Buffer.from("_kv"), Buffer.from([0xc0, 0x00, 0, 12, 0, 1])]);
    expect(() => parseSubscribe({ type: DsoType.SUBSCRIBE, data: compressed })).toThrow();
  });

  it("PUSH: removals first with TTL 0xFFFFFFFF, names written out, large changes split over several messages", () => {
    const ptr = (i: number): ResourceRecord => ({
      name: ["_kv", "_tcp", "local"],
      ttl: 30,
      data: { type: Type.PTR, target: [`kv-${i}`, "_kv", "_tcp", "local"] },
    });
    const [one] = encodePushes([ptr(2)], [ptr(1)]);
    const m = decodeDso(one!);
    expect(m).toMatchObject({ id: 0, response: false });
    const data = m.tlvs[0]!.data;
    expect(m.tlvs[0]!.type).toBe(DsoType.PUSH);
    // no byte of the TLV is a compression pointer's first byte at a label position: every name is whole
    expect(data.includes(Buffer.from([0xc0]))).toBe(false);
    const owner = name("_kv._tcp.local");
    expect(data.readUInt32BE(owner.length + 4)).toBe(REMOVE_RECORD_TTL);
    const many = encodePushes(
      Array.from({ length: 450 }, (_, i) => ptr(i)),
      [],
    );
    expect(many).toHaveLength(3);
  });
});
