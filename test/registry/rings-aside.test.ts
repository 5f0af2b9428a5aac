// Big rings are built aside (a worker thread in the daemon; here a build the
// test lets land when it chooses): until the first lands, `_hash` names get
// SERVFAIL with EDE 14 and nothing is cached; while a rebuild is under way the
// ring as it was answers, never with an instance that has left.
import { beforeEach, describe, expect, it } from "vitest";
import { answerQuery, type AnswerOptions } from "../../src/answer/answer.js";
import { ManualClock } from "../../src/clock.js";
import { parseName } from "../../src/names.js";
import { Registry, RING_POINTS_BUILT_INLINE } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { Ring, type RingWorkAside, type RingOptions } from "../../src/ring/ring.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Class, Rcode, Type } from "../../src/wire/constants.js";
import type { Query } from "../../src/wire/query.js";

const type = { service: "_big", proto: "_tcp" as const };
const inst = (name: string): Instance => ({
  name,
  type,
  subtypes: [],
  host: [name],
  port: 1,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update",
});
// enough instances that their ring goes aside
const COUNT = Math.ceil(RING_POINTS_BUILT_INLINE / 16) + 10;
const options: AnswerOptions = { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 };
const hashQuery = (key: string): Query => ({
  id: 7,
  opcode: 0,
  rd: false,
  cd: false,
  question: { name: parseName(`${key}._hash._big._tcp.local.`), type: Type.SRV, class: Class.IN },
  edns: { udpSize: 1232, version: 0, dnssecOk: false, options: [] },
});

/** Builds when the test says so, in order; counts what it was asked. */
class HeldAside implements RingWorkAside {
  readonly held: { ids: readonly string[]; weights: readonly number[]; options: RingOptions; land: () => void }[] = [];
  shareJobs = 0;
  build(ids: readonly string[], weights: readonly number[], options: RingOptions): Promise<Ring> {
    return new Promise((resolve) =>
      this.held.push({
        ids,
        weights,
        options,
        land: () =>
          resolve(
            Ring.build(
              ids.map((id, k) => ({ id, weight: weights[k]! })),
              options,
            ),
          ),
      }),
    );
  }
  async shares(ring: Ring) {
    this.shareJobs++;
    return ring.shareSummary();
  }
  landAll(): Promise<void> {
    for (const h of this.held.splice(0)) h.land();
    return new Promise((r) => setImmediate(r));
  }
}

let aside: HeldAside;
let registry: Registry;

beforeEach(async () => {
  aside = new HeldAside();
  registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore(), ring: { aside } });
  await registry.open();
  await registry.apply(
    Array.from({ length: COUNT }, (_, i) => ({ op: "put-instance" as const, instance: inst(`i${i}`) })),
  );
});

describe("rings built aside", () => {
  it("until the first build lands, a _hash name is SERVFAIL with EDE 14 (Not Ready), not cached; then the owner the ring gives", async () => {
    registry.warm(["local."]);
    expect(aside.held).toHaveLength(1);
    expect(registry.ringState(type)).toBe("building");
    expect(registry.ringsBuilding()).toBe(1);
    const early = answerQuery(hashQuery("k1"), registry, options, 0);
    expect(early.rcode).toBe(Rcode.SERVFAIL);
    expect(early.uncacheable).toBe(true);
    expect(early.edns!.options.map((o) => [o.code, o.data.readUInt16BE(0)])).toEqual([[15, 14]]);
    expect(early.edns!.options[0]!.data.subarray(2).toString()).toMatch(/ring of _big\._tcp is being built/);
    // a plain name of the same type is answered meanwhile
    expect(
      answerQuery(
        { ...hashQuery("k1"), question: { name: parseName("i3._big._tcp.local."), type: Type.SRV, class: Class.IN } },
        registry,
        options,
        0,
      ).rcode,
    ).toBe(Rcode.NOERROR);
    await aside.landAll();
    expect(registry.ringState(type)).toBe("ready");
    expect(registry.ringsBuilding()).toBe(0);
    const ready = answerQuery(hashQuery("k1"), registry, options, 0);
    expect(ready.rcode).toBe(Rcode.NOERROR);
    expect(ready.uncacheable).toBeUndefined();
    const want = Ring.build(Array.from({ length: COUNT }, (_, i) => ({ id: `i${i}`, weight: 1 }))).ownerOf("k1");
    expect(registry.ownerOf(type, "k1")?.name).toBe(want);
  });

  it("what changes while a build is under way is merged in after it lands: the same owners as a ring built at once", async () => {
    registry.warm(["local."]);
    await registry.apply([
      { op: "put-instance", instance: inst("late") },
      { op: "remove-instance", type, name: "i0" },
    ]);
    await aside.landAll();
    const live = [...Array.from({ length: COUNT }, (_, i) => `i${i}`).filter((n) => n !== "i0"), "late"];
    const built = Ring.build(live.map((id) => ({ id, weight: 1 })));
    for (let k = 0; k < 300; k++) expect(registry.ownerOf(type, `key-${k}`)?.name).toBe(built.ownerOf(`key-${k}`));
    expect(aside.held).toHaveLength(0); // two changes were merged inline, not rebuilt
  });

  it("a rebuild aside answers from the ring as it was (not kept in a cache), never with an instance that has left", async () => {
    registry.warm(["local."]);
    await aside.landAll();
    const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`);
    const victims = new Set(keys.slice(0, 50).map((k) => registry.ownerOf(type, k)!.name));
    // many leave and as many join at once: more points than are merged inline, so the ring is rebuilt aside
    const joiners = Array.from({ length: COUNT }, (_, i) => inst(`j${i}`));
    await registry.apply([
      ...[...victims].map((name) => ({ op: "remove-instance" as const, type, name })),
      ...joiners.map((instance) => ({ op: "put-instance" as const, instance })),
    ]);
    registry.ownerOf(type, "x"); // the read that starts the rebuild
    expect(aside.held).toHaveLength(1);
    expect(registry.ringState(type)).toBe("catching-up");
    for (const k of keys) expect(victims.has(registry.ownerOf(type, k)!.name)).toBe(false);
    expect(answerQuery(hashQuery("key-1"), registry, options, 0).uncacheable).toBe(true);
    await aside.landAll();
    expect(registry.ringState(type)).toBe("ready");
    const live = registry.instances(type).map((i) => ({ id: i.name, weight: 1 }));
    const built = Ring.build(live);
    for (const k of keys) expect(registry.ownerOf(type, k)?.name).toBe(built.ownerOf(k));
  });

  it("a big ring's shares are computed aside once per ring, and left out until then", async () => {
    registry.warm(["local."]);
    await aside.landAll();
    expect(registry.ringWithShares(type)).toBeUndefined();
    const [a, b] = await Promise.all([registry.shares(type), registry.shares(type)]);
    expect(aside.shareJobs).toBe(1);
    expect(a.summary).toBe(b.summary);
    expect(registry.ringWithShares(type)?.shareOf("i1")).toBeGreaterThan(0);
    expect(a.summary.highest).toBeLessThan(1.1);
  });
});

describe("shares computed aside under churn", () => {
  it("one computation at a time: asks that come meanwhile share one for the ring as it is when their turn comes", async () => {
    const held: { ring: Ring; land: () => void }[] = [];
    const slow: RingWorkAside = {
      build: (ids, weights, o) =>
        Promise.resolve(
          Ring.build(
            ids.map((id, k) => ({ id, weight: weights[k]! })),
            o,
          ),
        ),
      shares: (ring) => new Promise((resolve) => held.push({ ring, land: () => resolve(ring.shareSummary()) })),
    };
    const reg = new Registry({ clock: new ManualClock(0), store: new MemoryStore(), ring: { aside: slow } });
    await reg.open();
    await reg.apply(
      Array.from({ length: COUNT }, (_, i) => ({ op: "put-instance" as const, instance: inst(`i${i}`) })),
    );
    reg.warm(["local."]);
    await new Promise((r) => setImmediate(r));
    const first = reg.shares(type);
    await new Promise((r) => setImmediate(r));
    const asked: Promise<{ ring: Ring }>[] = [];
    for (let k = 0; k < 5; k++) {
      await reg.apply([{ op: "put-instance", instance: inst(`late${k}`) }]);
      asked.push(reg.shares(type));
    }
    await new Promise((r) => setImmediate(r));
    expect(held).toHaveLength(1); // the worker is given one ring at a time, not six
    held[0]!.land();
    expect((await first).ring).toBe(held[0]!.ring);
    await new Promise((r) => setImmediate(r));
    expect(held).toHaveLength(2);
    expect(held[1]!.ring.has("late4")).toBe(true); // the ring as it is now, not each one on the way
    held[1]!.land();
    for (const r of await Promise.all(asked)) expect(r.ring).toBe(held[1]!.ring);
  });
});

describe("a heavy instance leaving", () => {
  it("is merged aside like its join was: removing a million points is no work for the query path", async () => {
    const heavy = new HeldAside();
    const reg = new Registry({ clock: new ManualClock(0), store: new MemoryStore(), ring: { aside: heavy } });
    await reg.open();
    await reg.apply([
      { op: "put-instance", instance: { ...inst("heavy"), weight: 2000 } },
      { op: "put-instance", instance: inst("light") },
    ]);
    reg.warm(["local."]);
    await heavy.landAll();
    await reg.apply([{ op: "remove-instance", type, name: "heavy" }]);
    expect(reg.ringState(type)).toBe("ready");
    reg.ownerOf(type, "k"); // the read that would merge 32,000 points away
    expect(heavy.held).toHaveLength(1);
    expect(reg.ringState(type)).toBe("catching-up");
    // the old ring's owner has left: the next live one on it, if a short walk finds it past the
    // heavy one's 32,000 points; else Not Ready (the walk is bounded: no query pays for the heavy leaver)
    const answers = new Map<string, number>();
    for (let k = 0; k < 200; k++) {
      const owner = reg.ownerOf(type, `k${k}`)?.name;
      const reply = answerQuery(hashQuery(`k${k}`), reg, options, 0);
      const what =
        owner === "light" && reply.rcode === Rcode.NOERROR && reply.uncacheable
          ? "light"
          : owner === undefined && reply.rcode === Rcode.SERVFAIL && reply.uncacheable
            ? "not ready"
            : `wrong: ${owner} ${reply.rcode}`;
      answers.set(what, (answers.get(what) ?? 0) + 1);
    }
    expect([...answers.keys()].sort()).toEqual(["light", "not ready"]);
    await heavy.landAll();
    expect(reg.ownerOf(type, "k")?.name).toBe("light");
    expect(reg.ring(type).pointCount).toBe(16);
  });
});
