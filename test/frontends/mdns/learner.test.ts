// The learner mirrors what it hears, and only that: in a cluster, entries
// another daemon learned on its own LAN are not this daemon's to remove.
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { CACHE_FLUSH } from "../../../src/frontends/mdns/cache.js";
import {
  MAX_FOLLOWED_TYPES,
  MAX_FOLLOWED_TYPES_PER_PEER,
  CLIENT_QUESTIONS_PER_SECOND,
  MAX_ASKED_BROWSES,
  MAX_SUBSCRIBED_BROWSES,
  MAX_SUBSCRIBED_BROWSES_PER_SOURCE,
  MdnsLearner,
  PRUNE_AFTER,
} from "../../../src/frontends/mdns/learner.js";
import { ManualClock } from "../../../src/clock.js";
import { MDNS_PACKET_BUDGET } from "../../../src/wire/mdns.js";
import { parseName } from "../../../src/names.js";
import { Registry } from "../../../src/registry/registry.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { Class, Type } from "../../../src/wire/constants.js";
import { decodeMessage, type DecodedMessage, type DecodedRecord } from "../../../src/wire/decode.js";

const rr = (name: string, type: number, data: DecodedRecord["data"], ttl = 120): DecodedRecord => ({
  name: parseName(name),
  type,
  class: Class.IN | (type === Type.PTR ? 0 : CACHE_FLUSH),
  ttl,
  data,
});
const response = (records: DecodedRecord[]): DecodedMessage => ({
  id: 0,
  flags: { qr: true, aa: true, tc: false, rd: false, ra: false },
  opcode: 0,
  rcode: 0,
  rcodeName: "NOERROR",
  questions: [],
  answers: records,
  authorities: [],
  additionals: [],
});
const from = { address: "203.0.113.11", port: 5353, family: "IPv4" as const, size: 0 };
const web = { service: "_web", proto: "_tcp" as const };
/** A learner on `registry`, hearing no announcement of its own, logging nothing. */
const learnerOn = (registry: Registry, clock: { now(): number }) =>
  new MdnsLearner({ registry, clock, log: pino({ level: "silent" }), transports: [], isOurs: () => false });
/** The transport a response was heard on: the learner only reads its name and address. */
const t = {
  iface: "test0",
  family: 4 as const,
  address: "203.0.113.10",
  send: () => {},
  onMessage: () => {},
  close: async () => {},
};

/** A learner on a fresh registry and a manual clock, its packets kept in `sent`. */
async function learnerOnManualClock() {
  const clock = new ManualClock(1_000_000);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const sent: Buffer[] = [];
  const heard = { ...t, send: (b: Buffer) => void sent.push(b) };
  const learner = new MdnsLearner({
    registry,
    clock,
    log: pino({ level: "silent" }),
    transports: [heard],
    isOurs: () => false,
  });
  return { learner, registry, sent, t: heard, clock };
}

describe("MdnsLearner", () => {
  it("mirrors a complete instance it hears, and leaves other daemons' learned entries alone", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    // learned by another daemon of the cluster, arrived through the shared store
    await registry.register({
      name: "far",
      type: web,
      subtypes: [],
      host: ["far"],
      port: 1,
      priority: 0,
      weight: 1,
      txt: [],
      source: "mdns",
      expiresAt: now + 100_000,
    });
    const learner = learnerOn(registry, clock);
    const lamp = [
      rr("_web._tcp.local.", Type.PTR, { type: Type.PTR, target: parseName("lamp._web._tcp.local.") }),
      rr("lamp._web._tcp.local.", Type.SRV, {
        type: Type.SRV,
        priority: 0,
        weight: 0,
        port: 80,
        target: parseName("lamp.local."),
      }),
      rr("lamp.local.", Type.A, { type: Type.A, address: "192.0.2.8" }),
    ];
    learner.onResponse(response(lamp), from, t);
    for (let i = 0; i < 50 && !registry.instance(web, "lamp"); i++) await new Promise((r) => setTimeout(r, 10));
    expect(registry.instance(web, "lamp")).toMatchObject({ source: "mdns", port: 80 });
    expect(registry.host("lamp")?.addresses).toEqual(["192.0.2.8"]);
    expect(registry.instance(web, "far")).toBeDefined();
    // another change heard here makes the learner mirror again: "far" is still not its to remove
    learner.onResponse(response([rr("lamp.local.", Type.A, { type: Type.A, address: "192.0.2.9" })]), from, t);
    now += 2000;
    for (let i = 0; i < 50 && registry.host("lamp")?.addresses.length !== 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(registry.host("lamp")?.addresses.sort()).toEqual(["192.0.2.8", "192.0.2.9"]);
    expect(registry.instance(web, "far")).toBeDefined();
    await learner.close();
  });

  it("learns nothing past the registry's limits: a LAN device announcing weight 65535 is kept out of the ring, counted once, logged once", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const hits: string[] = [];
    const warnings: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
    const limits = {
      maxRegistrations: 100,
      maxPerKey: 100,
      maxInstancesPerType: 2,
      maxRingWeight: 1000,
      maxTxtBytes: 4000,
      hit: (l: string) => hits.push(l),
    };
    const learner = new MdnsLearner({ registry, clock, log, transports: [], isOurs: () => false, limits });
    const announce = (label: string, weight: number) => [
      rr("_web._tcp.local.", Type.PTR, { type: Type.PTR, target: parseName(`${label}._web._tcp.local.`) }),
      rr(`${label}._web._tcp.local.`, Type.SRV, {
        type: Type.SRV,
        priority: 0,
        weight,
        port: 80,
        target: parseName(`${label}.local.`),
      }),
    ];
    learner.onResponse(response([...announce("heavy", 65535), ...announce("lamp", 0)]), from, t);
    for (let i = 0; i < 50 && !registry.instance(web, "lamp"); i++) await new Promise((r) => setTimeout(r, 10));
    expect(registry.instance(web, "lamp")).toBeDefined();
    expect(registry.instance(web, "heavy")).toBeUndefined();
    expect(registry.ringWeight(web)).toBe(1);
    // heard again, and a third instance over --max-instances-per-type 2 is kept out too
    now += 2000;
    learner.onResponse(
      response([...announce("heavy", 65535), ...announce("desk", 1), ...announce("door", 1)]),
      from,
      t,
    );
    for (let i = 0; i < 50 && registry.instanceCount(web) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(registry.instanceCount(web)).toBe(2);
    expect(registry.instance(web, "heavy")).toBeUndefined();
    expect(hits).toEqual(["ring-weight", "instances-per-type"]); // each kept-out announcement counted once, not at every mirror
    expect(warnings.filter((w) => w.startsWith("mDNS: announcements not learned"))).toHaveLength(1); // at most once a minute
    await learner.close();
  });

  it("learns a LAN device into local. though an UPDATE registered the same name in another served domain (no clash there)", async () => {
    const clock = { now: () => 1_000_000 };
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    await registry.register({
      name: "lamp",
      type: web,
      subtypes: [],
      host: ["lamp"],
      port: 9,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update",
      domain: "svc.example.",
    });
    const learner = learnerOn(registry, clock);
    learner.onResponse(
      response([
        rr("_web._tcp.local.", Type.PTR, { type: Type.PTR, target: parseName("lamp._web._tcp.local.") }),
        rr("lamp._web._tcp.local.", Type.SRV, {
          type: Type.SRV,
          priority: 0,
          weight: 0,
          port: 80,
          target: parseName("lamp.local."),
        }),
        rr("lamp.local.", Type.A, { type: Type.A, address: "192.0.2.8" }),
      ]),
      from,
      t,
    );
    for (let i = 0; i < 50 && !registry.instance(web, "lamp", "local."); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(registry.instance(web, "lamp", "local.")).toMatchObject({ source: "mdns", port: 80 });
    expect(registry.host("lamp", "local.")?.addresses).toEqual(["192.0.2.8"]);
    expect(registry.instance(web, "lamp", "svc.example.")).toMatchObject({ source: "update", port: 9 });
    await learner.close();
  });

  it("keeps the subtypes an instance is announced under, and drops one on its goodbye", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const learner = learnerOn(registry, clock);
    const ptrTo = (name: string, target: string, ttl = 120) =>
      rr(name, Type.PTR, { type: Type.PTR, target: parseName(target) }, ttl);
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    learner.onResponse(
      response([
        ptrTo("_web._tcp.local.", "lamp._web._tcp.local."),
        ptrTo("_color._sub._web._tcp.local.", "lamp._web._tcp.local."),
        ptrTo("_Duplex._sub._web._tcp.local.", "lamp._web._tcp.local."),
        ptrTo("_other._sub._ipp._tcp.local.", "lamp._web._tcp.local."), // another type's subtype cannot point here
        rr("lamp._web._tcp.local.", Type.SRV, {
          type: Type.SRV,
          priority: 0,
          weight: 0,
          port: 80,
          target: parseName("lamp.local."),
        }),
      ]),
      from,
      t,
    );
    await until(() => registry.instance(web, "lamp") !== undefined);
    expect(registry.instance(web, "lamp")?.subtypes).toEqual(["_color", "_duplex"]);
    expect(registry.instancesWithSubtype(web, "_color").map((i) => i.name)).toEqual(["lamp"]);
    // goodbye for one subtype (RFC 6762 §10.1: TTL 0, gone one second later)
    learner.onResponse(response([ptrTo("_color._sub._web._tcp.local.", "lamp._web._tcp.local.", 0)]), from, t);
    now += 1500;
    learner.onResponse(response([rr("lamp.local.", Type.A, { type: Type.A, address: "192.0.2.8" })]), from, t); // something new, so it mirrors again
    await until(() => registry.instance(web, "lamp")?.subtypes.length === 1);
    expect(registry.instance(web, "lamp")?.subtypes).toEqual(["_duplex"]);
    await learner.close();
  });

  it("asks the LAN for a type or subtype a unicast client asked about, once, and for nothing else", async () => {
    const registry = new Registry({ clock: { now: () => Date.now() }, store: new MemoryStore() });
    await registry.open();
    const sent: DecodedMessage[] = [];
    const asking = { ...t, send: (b: Buffer) => void sent.push(decodeMessage(b)) };
    const learner = new MdnsLearner({
      registry,
      clock: { now: () => Date.now() },
      log: pino({ level: "silent" }),
      transports: [asking],
      isOurs: () => false,
    });
    const asked = () => sent.flatMap((m) => m.questions.map((q) => q.name.join(".")));
    learner.askLan(parseName("_mono._sub._ipp._tcp.local."));
    learner.askLan(parseName("_mono._sub._ipp._tcp.local.")); // already browsing
    learner.askLan(parseName("printer._ipp._tcp.local.")); // an instance: resolved by browsing its type, not asked for
    learner.askLan(parseName("host.local."));
    for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(asked()).toEqual(["_mono._sub._ipp._tcp.local"]);
    await learner.close();
  });

  it("a flood of responses coalesces into one registry update waiting, not one queued per packet", async () => {
    const registry = new Registry({ clock: { now: () => Date.now() }, store: new MemoryStore() });
    await registry.open();
    const learner = learnerOn(registry, { now: () => Date.now() });
    const transact = vi.spyOn(registry, "transact");
    for (let i = 0; i < 1000; i++)
      learner.onResponse(
        response([rr(`h${i}.local.`, Type.A, { type: Type.A, address: `192.0.2.${i % 250}` })]),
        from,
        t,
      );
    await (learner as unknown as { sync: Promise<void> }).sync; // what was queued has run
    expect(transact.mock.calls.length).toBeLessThanOrEqual(2);
    await learner.close();
  });

  describe("discovery proxy (RFC 8766): asking the LAN for what unicast clients and DNS Push subscribers want", () => {
    async function setup() {
      const { learner, registry, clock, sent, t: heard } = await learnerOnManualClock();
      const asked = () =>
        sent.splice(0).flatMap((b) => decodeMessage(b).questions.map((q) => `${q.name.join(".")} ${q.type}`));
      const tick = () => (learner as unknown as { tickNow(): void }).tickNow();
      const settled = () => (learner as unknown as { sync: Promise<void> }).sync;
      return { learner, registry, clock, asked, tick, settled, t: heard };
    }
    const lampRecords = (ttl = 120) => [
      rr(
        "lamp._web._tcp.local.",
        Type.SRV,
        {
          type: Type.SRV,
          priority: 0,
          weight: 0,
          port: 80,
          target: parseName("lamp.local."),
        },
        ttl,
      ),
      rr("lamp._web._tcp.local.", Type.TXT, { type: Type.TXT, strings: [Buffer.from("v=1")] }, ttl),
      rr("lamp.local.", Type.A, { type: Type.A, address: "192.0.2.80" }, ttl),
    ];

    it("starts a question the LAN is not asked yet (worth holding a query for), and only then", async () => {
      const { learner, asked, clock, tick } = await setup();
      expect(learner.askNow(parseName("lamp._web._tcp.local."), Type.SRV)).toBe(true);
      expect(asked()).toEqual([`lamp._web._tcp.local ${Type.SRV}`, `lamp._web._tcp.local ${Type.TXT}`]);
      tick(); // the new browse of the type asks at once
      expect(asked()).toEqual([`_web._tcp.local ${Type.PTR}`]);
      // the type is browsed now: all its instances are known, nothing to wait for
      expect(learner.askNow(parseName("lamp._web._tcp.local."), Type.TXT)).toBe(false);
      expect(learner.askNow(parseName("other._web._tcp.local."), Type.SRV)).toBe(false);
      expect(learner.askNow(parseName("_web._tcp.local."), Type.PTR)).toBe(false);
      expect(asked()).toEqual([]);
      // a host: asked, then asked again at most once a second, and waited for only the first time
      expect(learner.askNow(parseName("lamp.local."), Type.A)).toBe(true);
      expect(asked()).toEqual([`lamp.local ${Type.A}`, `lamp.local ${Type.AAAA}`]);
      expect(learner.askNow(parseName("lamp.local."), Type.AAAA)).toBe(false);
      expect(asked()).toEqual([]);
      clock.advance(1000);
      expect(learner.askNow(parseName("lamp.local."), Type.A)).toBe(false);
      expect(asked()).toHaveLength(2);
      // nothing mDNS could answer: not asked
      expect(learner.askNow(parseName("k._hash._web._tcp.local."), Type.SRV)).toBe(false);
      expect(learner.askNow(parseName("lamp._web._tcp.local."), Type.A)).toBe(false);
      expect(learner.askNow(parseName("_services._dns-sd._udp.local."), Type.PTR)).toBe(false);
      expect(asked()).toEqual([]);
      await learner.close();
    });

    it("mirrors an instance heard only under a subtype (python-zeroconf answers for the subtype alone) and a host a client asked for by name", async () => {
      const { learner, registry, settled, t } = await setup();
      expect(learner.askNow(parseName("_bulb._sub._web._tcp.local."), Type.PTR)).toBe(true);
      expect(learner.askNow(parseName("hub.local."), Type.AAAA)).toBe(true);
      learner.onResponse(
        response([
          rr("_bulb._sub._web._tcp.local.", Type.PTR, { type: Type.PTR, target: parseName("lamp._web._tcp.local.") }),
          ...lampRecords(),
          rr("hub.local.", Type.AAAA, { type: Type.AAAA, address: "2001:db8::7" }),
        ]),
        from,
        t,
      );
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toMatchObject({ port: 80, subtypes: ["_bulb"], source: "mdns" });
      expect(registry.host("hub", "local.")?.addresses).toEqual(["2001:db8::7"]);
      await learner.close();
    });

    it("a subtype announced before anyone browsed it is mirrored as soon as it is browsed (the browse's known answers keep its responder quiet)", async () => {
      const { learner, registry, settled, t } = await setup();
      const sub = rr("_bulb._sub._web._tcp.local.", Type.PTR, {
        type: Type.PTR,
        target: parseName("lamp._web._tcp.local."),
      });
      learner.onResponse(response([sub, ...lampRecords()]), from, t);
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toBeUndefined(); // nobody browses _web or _bulb
      expect(learner.askNow(parseName("_bulb._sub._web._tcp.local."), Type.PTR)).toBe(true);
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toMatchObject({ subtypes: ["_bulb"] });
      await learner.close();
    });

    it("browses a name while DNS Push subscriptions follow it, and stops a minute after the last one ends", async () => {
      const { learner, asked, tick, clock } = await setup();
      const name = parseName("_web._tcp.local.");
      const first = learner.follow(name, Type.PTR, "192.0.2.7")!;
      const second = learner.follow(name, Type.PTR, "192.0.2.8")!;
      expect(learner.browsing().subscribed).toBe(1);
      tick();
      expect(asked()).toEqual([`_web._tcp.local ${Type.PTR}`]);
      first();
      first(); // a release twice counts once
      second();
      // a client subscribing again soon (a SUBSCRIBE/UNSUBSCRIBE loop) starts nothing new
      learner.follow(name, Type.PTR, "192.0.2.7")!();
      tick();
      expect(asked()).toEqual([]);
      expect(learner.browsing().subscribed).toBe(1);
      clock.advance(60_000);
      tick();
      expect(learner.browsing().subscribed).toBe(0);
      // one a unicast client asked for stays when its subscribers leave
      const third = learner.follow(name, Type.PTR, "192.0.2.7")!;
      learner.askLan(name);
      third();
      clock.advance(60_000);
      tick();
      expect(learner.browsing()).toMatchObject({ asked: 1, subscribed: 0 });
      await learner.close();
    });

    it(`follows at most ${MAX_SUBSCRIBED_BROWSES} names for subscriptions, ${MAX_SUBSCRIBED_BROWSES_PER_SOURCE} first asked for by one client; beyond, no browse (counted)`, async () => {
      const { learner, clock } = await setup();
      const follow = (i: number, source: string) => learner.follow(parseName(`_t${i}._tcp.local.`), Type.PTR, source);
      for (let i = 0; i < MAX_SUBSCRIBED_BROWSES; i++) {
        if (i % CLIENT_QUESTIONS_PER_SECOND === 0) clock.advance(1000); // within the rate of new questions
        expect(follow(i, `192.0.2.${Math.floor(i / MAX_SUBSCRIBED_BROWSES_PER_SOURCE)}`)).toBeDefined();
      }
      clock.advance(1000);
      expect(follow(MAX_SUBSCRIBED_BROWSES, "192.0.2.99")).toBeUndefined();
      expect(follow(0, "192.0.2.99")).toBeDefined(); // one already browsed is followed
      expect(learner.browsesRefused.subscribed).toBe(1);
      await learner.close();
    });

    it(`puts at most ${CLIENT_QUESTIONS_PER_SECOND} new questions a second on the LAN for clients, however many ask (unicast misses, subscriptions, hosts)`, async () => {
      const { learner, asked, tick, clock } = await setup();
      let held = 0;
      for (let i = 0; i < 100; i++) if (learner.askNow(parseName(`_x${i}._tcp.local.`), Type.PTR)) held++;
      for (let i = 0; i < 100; i++)
        if (learner.follow(parseName(`_y${i}._tcp.local.`), Type.PTR, `192.0.2.${i}`)) held++;
      for (let i = 0; i < 100; i++) if (learner.askNow(parseName(`h${i}.local.`), Type.A)) held++;
      tick();
      expect(held).toBe(CLIENT_QUESTIONS_PER_SECOND);
      expect(new Set(asked().map((q) => q.split(" ")[0])).size).toBe(CLIENT_QUESTIONS_PER_SECOND);
      expect(learner.browsesRefused.rate).toBe(300 - CLIENT_QUESTIONS_PER_SECOND);
      clock.advance(1000);
      expect(learner.askNow(parseName("_later._tcp.local."), Type.PTR)).toBe(true);
      await learner.close();
    });

    it("a host asked for by name gives its place to another once nobody asked for it for a minute (junk names cannot hold them all)", async () => {
      const { learner, clock } = await setup();
      for (let i = 0; i < MAX_ASKED_BROWSES; i++) {
        if (i % CLIENT_QUESTIONS_PER_SECOND === 0) clock.advance(1000);
        expect(learner.askNow(parseName(`junk${i}.local.`), Type.A)).toBe(true);
      }
      clock.advance(1000);
      expect(learner.askNow(parseName("printer.local."), Type.A)).toBe(false); // all asked lately
      clock.advance(60_000);
      expect(learner.askNow(parseName("printer.local."), Type.A)).toBe(true);
      await learner.close();
    });

    it("RECONFIRM: a doubted record is asked for twice and goes, with its instance, unless the LAN sends it again within 10 s", async () => {
      const { learner, registry, clock, asked, tick, settled, t } = await setup();
      learner.askLan(parseName("_web._tcp.local."));
      const ptr = rr(
        "_web._tcp.local.",
        Type.PTR,
        { type: Type.PTR, target: parseName("lamp._web._tcp.local.") },
        4500,
      );
      learner.onResponse(response([ptr, ...lampRecords(4500)]), from, t);
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toBeDefined();
      asked();
      // as the client was answered: the target spelled otherwise
      const doubted = { type: Type.SRV, priority: 0, weight: 0, port: 80, target: parseName("LAMP.local.") } as const;
      expect(learner.reconfirm(parseName("lamp._web._tcp.local."), Type.SRV, doubted)).toBe(true);
      expect(learner.reconfirm(parseName("lamp._web._tcp.local."), Type.SRV, doubted)).toBe(false); // under way
      expect(learner.reconfirm(parseName("lamp._web._tcp.local."), Type.SRV, { ...doubted, port: 81 })).toBe(false); // not held
      expect(asked()).toEqual([`lamp._web._tcp.local ${Type.SRV}`]);
      clock.advance(10_000);
      tick();
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toBeUndefined();

      // heard again in time: it stays
      learner.onResponse(response([ptr, ...lampRecords(4500)]), from, t);
      await settled();
      expect(learner.reconfirm(parseName("lamp._web._tcp.local."), Type.SRV, doubted)).toBe(true);
      clock.advance(5_000);
      learner.onResponse(response(lampRecords(4500)), from, t);
      clock.advance(6_000);
      tick();
      await settled();
      expect(registry.instance(web, "lamp", "local.")).toBeDefined();
      await learner.close();
    });
  });

  describe("bounds on what it browses (issue 14 finding 2)", () => {
    const ENUM = "_services._dns-sd._udp.local.";
    const typeFlood = (prefix: string, n: number, ttl = 4500) =>
      response(
        Array.from({ length: n }, (_, i) =>
          rr(ENUM, Type.PTR, { type: Type.PTR, target: parseName(`_${prefix}${i}._tcp.local.`) }, ttl),
        ),
      );
    const peerAt = (address: string) => ({ ...from, address });
    const setup = learnerOnManualClock;
    const tick = (l: MdnsLearner) => (l as unknown as { tickNow(): void }).tickNow();

    it(`follows at most ${MAX_FOLLOWED_TYPES_PER_PEER} types named by one address and ${MAX_FOLLOWED_TYPES} in all; the rest are counted, and its queries stay within the packet budget`, async () => {
      const { learner, sent, t } = await setup();
      learner.onResponse(typeFlood("t", 390), peerAt("203.0.113.66"), t);
      expect(learner.browsing().followed).toBe(MAX_FOLLOWED_TYPES_PER_PEER);
      expect(learner.browsesRefused.followed).toBe(390 - MAX_FOLLOWED_TYPES_PER_PEER);
      for (let p = 0; p < 6; p++) learner.onResponse(typeFlood(`p${p}x`, 100), peerAt(`203.0.113.${70 + p}`), t);
      expect(learner.browsing().followed).toBe(MAX_FOLLOWED_TYPES);
      tick(learner);
      const questions = sent.flatMap((b) => decodeMessage(b).questions);
      expect(questions.length).toBe(MAX_FOLLOWED_TYPES);
      for (const b of sent) expect(b.length).toBeLessThanOrEqual(MDNS_PACKET_BUDGET);
      await learner.close();
    });

    it("stops browsing a followed type once nothing has named it for a while, but keeps one a client asked for", async () => {
      const { learner, t, clock } = await setup();
      learner.onResponse(typeFlood("gone", 3, 10), peerAt("203.0.113.66"), t);
      learner.askLan(parseName("_gone1._tcp.local."));
      expect(learner.browsing()).toEqual({ fixed: 0, asked: 1, followed: 2, subscribed: 0 });
      clock.advance(11_000); // the records have expired
      tick(learner);
      expect(learner.browsing().followed).toBe(2); // not yet: only a while later
      clock.advance(PRUNE_AFTER);
      tick(learner);
      expect(learner.browsing()).toEqual({ fixed: 0, asked: 1, followed: 0, subscribed: 0 });
      // heard of again: followed again, the freed places taken
      learner.onResponse(typeFlood("gone", 3, 10), peerAt("203.0.113.66"), t);
      expect(learner.browsing()).toEqual({ fixed: 0, asked: 1, followed: 2, subscribed: 0 });
      await learner.close();
    });

    it("keeps browsing a followed type while its instances are cached", async () => {
      const { learner, t, clock } = await setup();
      learner.onResponse(
        response([
          rr("_web._tcp.local.", Type.PTR, { type: Type.PTR, target: parseName("lamp._web._tcp.local.") }, 4500),
        ]),
        from,
        t,
      );
      clock.advance(PRUNE_AFTER + 1000);
      tick(learner);
      expect(learner.browsing().followed).toBe(1);
      await learner.close();
    });
  });
});
