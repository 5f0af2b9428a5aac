import { describe, expect, it, vi } from "vitest";
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

describe("DNS Push sessions", () => {
  it("subscriptions are bounded in all (REFUSED past the budget), and a closed session gives its share back", async () => {
    const { PushSession, PushBudget } = await import("../../src/frontends/dns-push.js");
    const { Registry } = await import("../../src/registry/registry.js");
    const { MemoryStore } = await import("../../src/store/memory.js");
    const { ManualClock } = await import("../../src/clock.js");
    const clock = new ManualClock(0);
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const budget = new PushBudget(3, 1000);
    const deps = {
      registry,
      clock,
      budget,
      answer: { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    };
    const a = new PushSession(deps, () => {});
    const b = new PushSession(deps, () => {});
    const q = (i: number) => ({ name: [`s${i}`, "_kv", "_tcp", "local"], type: Type.SRV, class: 1 });
    expect([a.subscribe(1, q(1)), a.subscribe(2, q(2)), b.subscribe(1, q(3))]).toEqual([0, 0, 0]);
    expect(b.subscribe(2, q(4))).toBe(5); // REFUSED
    expect(a.subscribe(3, { name: ["elsewhere", "example"], type: Type.A, class: 1 })).toBe(5);
    a.close();
    expect(budget.subscriptions).toBe(1);
    expect(b.subscribe(2, q(4))).toBe(0);
    expect(
      new PushSession({ ...deps, budget: new PushBudget() }, () => {}).subscribe(1, {
        name: ["x", "example"],
        type: 1,
        class: 1,
      }),
    ).toBe(9); // NOTAUTH
    // the same question twice in a session is refused (it would double every change's work); a closed session takes none
    expect(b.subscribe(3, q(4))).toBe(5);
    b.close();
    expect(b.subscribe(4, q(5))).toBe(5);
  });
});

describe("DNS Push fan-out", () => {
  it("sessions following the same name share one answer per change, and each is pushed the change", async () => {
    vi.useFakeTimers();
    try {
      const { PushSession, PushBudget } = await import("../../src/frontends/dns-push.js");
      const { PushFanout } = await import("../../src/frontends/push-fanout.js");
      const { Registry } = await import("../../src/registry/registry.js");
      const { MemoryStore } = await import("../../src/store/memory.js");
      const { ManualClock } = await import("../../src/clock.js");
      const clock = new ManualClock(1_700_000_000_000);
      const registry = new Registry({ clock, store: new MemoryStore() });
      await registry.open();
      const kv = (name: string) => ({
        name,
        type: { service: "_kv", proto: "_tcp" },
        subtypes: [],
        host: [name],
        port: 6379,
        priority: 0,
        weight: 1,
        txt: [],
        source: "static" as const,
      });
      registry.loadStatic([kv("kv-1")], []);
      const answer = { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 };
      const fanout = new PushFanout(registry, answer, clock);
      const deps = { registry, clock, answer, fanout, budget: new PushBudget() };
      /** Each session's send calls, each the messages written together. */
      const calls: Buffer[][][] = [[], [], []];
      const sessions = calls.map((into) => new PushSession(deps, (m) => into.push([...m])));
      const browse = { name: ["_kv", "_tcp", "local"], type: Type.PTR, class: 1 };
      const srv = (instance: string) => ({ name: [instance, "_kv", "_tcp", "local"], type: Type.SRV, class: 1 });
      sessions.forEach((s, i) => {
        expect(s.subscribe(i + 1, browse)).toBe(0);
        s.pushCurrent(i + 1);
      });
      // the first session also follows kv-1 (which the change leaves as it is) and kv-2 (which it brings)
      for (const [id, q] of [
        [10, srv("kv-1")],
        [11, srv("kv-2")],
      ] as const) {
        expect(sessions[0]!.subscribe(id, q)).toBe(0);
        sessions[0]!.pushCurrent(id);
      }
      // a session following something else is not asked about this type at all
      sessions[2]!.unsubscribeById(3);
      expect(sessions[2]!.subscribe(4, { name: ["other", "local"], type: Type.A, class: 1 })).toBe(0);
      sessions[2]!.pushCurrent(4);
      expect(fanout.answersComputed).toBe(4); // the browse once for all three sessions, kv-1, kv-2, the host
      const before = calls.map((c) => c.length);

      registry.loadStatic([kv("kv-1"), kv("kv-2")], []);
      await vi.runAllTimersAsync();
      expect(fanout.answersComputed).toBe(7); // the browse again (once), kv-1 and kv-2: the _kv questions
      const pushed = calls.map((c, i) => c.slice(before[i]));
      expect(pushed[2]).toEqual([]);
      // one write for the first session: the browse's PUSH and kv-2's, none for kv-1
      expect(pushed[0]).toHaveLength(1);
      expect(pushed[0]![0]).toHaveLength(2);
      expect(pushed[1]).toEqual([[pushed[0]![0]![0]]]); // the very bytes the first session got for the browse
      const records = pushed[0]![0]!.map((m) => decodeDso(m).tlvs[0]!);
      expect(records.map((t) => t.type)).toEqual([DsoType.PUSH, DsoType.PUSH]);
      expect(records.every((t) => t.data.includes(Buffer.from("kv-2")))).toBe(true);
      expect(records.some((t) => t.data.includes(Buffer.from("kv-1")))).toBe(false);

      // the last session gone, the registry is no longer listened to
      for (const s of sessions) s.close();
      registry.loadStatic([kv("kv-1")], []);
      await vi.runAllTimersAsync();
      expect(fanout.answersComputed).toBe(7);
    } finally {
      vi.useRealTimers();
    }
  });
});
