import { describe, expect, it, vi } from "vitest";
import { encodePushes, parseSubscribe } from "../../src/frontends/dns-push.js";
import { REMOVE_RECORD_TTL } from "../../src/wire/dso.js";
import { Type } from "../../src/wire/constants.js";
import { readRecord } from "../../src/wire/decode.js";
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
    // small records share a message however many there are
    const many = encodePushes(
      Array.from({ length: 450 }, (_, i) => ptr(i)),
      [],
    );
    expect(many).toHaveLength(1);
  });

  it("PUSH: split by encoded bytes, never past 65,535; many large TXT records go out in several, and each record whole", () => {
    // 40 instances with 16 KiB of TXT each (more than --max-txt-bytes allows, as a peer or a later limit may give)
    const txt = (i: number): ResourceRecord => ({
      name: [`kv-${i}`, "_kv", "_tcp", "local"],
      ttl: 30,
      data: { type: Type.TXT, strings: Array.from({ length: 64 }, (_, j) => Buffer.alloc(255, 97 + ((i + j) % 26))) },
    });
    const added = Array.from({ length: 40 }, (_, i) => txt(i));
    const removed = Array.from({ length: 10 }, (_, i) => txt(100 + i));
    const messages = encodePushes(added, removed);
    expect(messages.length).toBeGreaterThan(1);
    const owners: string[] = [];
    const ttls: number[] = [];
    for (const m of messages) {
      expect(m.length).toBeLessThanOrEqual(65535);
      const data = decodeDso(m).tlvs[0]!.data;
      for (let p = 0; p < data.length; ) {
        const r = readRecord(data, p);
        expect(r.rdataLength).toBe(64 * 256);
        owners.push(r.record.name[0]!);
        ttls.push(r.ttl);
        p = r.end;
      }
    }
    // every record once, in order: removals first
    expect(owners).toEqual([...removed, ...added].map((r) => r.name[0]));
    expect(ttls.slice(0, 10).every((t) => t === REMOVE_RECORD_TTL)).toBe(true);
    // a record that fills a message nearly alone still goes out, in one of its own (65,489 bytes: 255 strings, a long name)
    const long = ["x".repeat(60), "y".repeat(60), "z".repeat(60), "_kv", "_tcp", "local"];
    const big: ResourceRecord = {
      name: long,
      ttl: 30,
      data: { type: Type.TXT, strings: Array.from({ length: 255 }, () => Buffer.alloc(255, 98)) },
    };
    // one that no message can hold (as no query could carry it) is left out, and the rest still go
    const huge: ResourceRecord = { ...big, name: ["w".repeat(50), ...long] };
    const small = (i: number): ResourceRecord => ({
      name: ["_kv", "_tcp", "local"],
      ttl: 30,
      data: { type: Type.PTR, target: [`kv-${i}`, "_kv", "_tcp", "local"] },
    });
    const alone = encodePushes([small(1), big, huge, small(2)], []);
    expect(alone.map((m) => readRecord(decodeDso(m).tlvs[0]!.data, 0).type)).toEqual([Type.PTR, Type.TXT, Type.PTR]);
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

  it("one source address holds at most its share across its sessions: REFUSED beyond, counted with its own reason", async () => {
    const { PushSession, PushBudget } = await import("../../src/frontends/dns-push.js");
    const { Registry } = await import("../../src/registry/registry.js");
    const { MemoryStore } = await import("../../src/store/memory.js");
    const { ManualClock } = await import("../../src/clock.js");
    const clock = new ManualClock(0);
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const refused: string[] = [];
    const deps = {
      registry,
      clock,
      budget: new PushBudget(100, 1000),
      maxPerSource: 2,
      refused: (why: string) => refused.push(why),
      answer: { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    };
    const q = (i: number) => ({ name: [`s${i}`, "_kv", "_tcp", "local"], type: Type.SRV, class: 1 });
    const a1 = new PushSession({ ...deps, source: "192.0.2.1" }, () => {});
    const a2 = new PushSession({ ...deps, source: "192.0.2.1" }, () => {});
    const b = new PushSession({ ...deps, source: "192.0.2.2" }, () => {});
    expect([a1.subscribe(1, q(1)), a2.subscribe(1, q(2)), a2.subscribe(2, q(3))]).toEqual([0, 0, 5]);
    expect(refused).toEqual(["push-subscriptions-per-source"]);
    // another address is not held back by the first
    expect([b.subscribe(1, q(1)), b.subscribe(2, q(2))]).toEqual([0, 0]);
    // what a session gives back, its address may take again
    a1.close();
    expect(a2.subscribe(2, q(3))).toBe(0);
    a2.unsubscribeById(1);
    expect(deps.budget.perSource.get("192.0.2.1")).toBe(1);
    a2.close();
    b.close();
    expect(deps.budget.perSource.size).toBe(0);
    expect(deps.budget.subscriptions).toBe(0);
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
