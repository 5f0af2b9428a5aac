// The discovery proxy's hold (RFC 8766 §5.5): a unicast query for a `.local`
// name nothing answers waits while the LAN is asked, and is answered as soon
// as the answer is learned, or negatively when the wait is over.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import {
  handleDnsMessage,
  LocalMissHandOff,
  type DnsHandlerDeps,
  type LocalProxy,
} from "../../../src/frontends/dns-handler.js";
import { AnswerCache } from "../../../src/frontends/answer-cache.js";
import { DiscoveryProxy } from "../../../src/frontends/mdns/proxy.js";
import { parseName } from "../../../src/names.js";
import { Registry } from "../../../src/registry/registry.js";
import type { Instance } from "../../../src/registry/types.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { Type } from "../../../src/wire/constants.js";
import { decodeMessage } from "../../../src/wire/decode.js";
import { encodeQuery } from "../../../src/wire/message.js";

const zone = parseName("svc.example.");
const web = { service: "_web", proto: "_tcp" as const };

async function setup(o: { waitMs?: number; maxHeld?: number; askable?: boolean } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const asked: string[] = [];
  const proxy = new DiscoveryProxy({
    registry,
    ask: (name, type) => (asked.push(`${name.join(".")} ${type}`), o.askable ?? true),
    waitMs: o.waitMs ?? 1000,
    ...(o.maxHeld !== undefined ? { maxHeld: o.maxHeld } : {}),
  });
  const localProxy: LocalProxy = {
    hold: (name, type, found) => proxy.hold(name, type, found),
    follow: () => undefined,
    reconfirm: () => {},
  };
  const deps: DnsHandlerDeps = {
    registry,
    clock,
    log: pino({ level: "silent" }),
    maxUdpPayload: 1232,
    cache: new AnswerCache(),
    answer: { domains: [["local"], zone], ttl: 30, negativeTtl: 30, udpPayloadSize: 1232, localTtlCap: 10 },
    localProxy,
  };
  return { registry, clock, proxy, deps, asked };
}

/** What a LAN device announced, as the learner mirrors it. */
const learned = (clock: ManualClock, name = "lamp"): Instance => ({
  name,
  type: web,
  subtypes: [],
  host: [name],
  port: 80,
  priority: 0,
  weight: 0,
  txt: [],
  source: "mdns",
  expiresAt: clock.now() + 4500_000,
});

const ask = (deps: DnsHandlerDeps, name: string, type: number, id = 1) =>
  handleDnsMessage(encodeQuery(id, parseName(name), type), "udp", "127.0.0.1:5000", deps);

describe("discovery proxy hold", () => {
  it("holds a browse nothing answers and answers it as soon as the LAN's answer is learned, with TTLs of at most 10 s", async () => {
    const { registry, clock, proxy, deps, asked } = await setup();
    const reply = ask(deps, "_web._tcp.local.", Type.PTR);
    expect(reply).toBeInstanceOf(Promise);
    expect(asked).toEqual([`_web._tcp.local ${Type.PTR}`]);
    await registry.register(learned(clock));
    const m = decodeMessage((await reply)!);
    expect(m.answers.map((a) => [a.name.join("."), a.ttl])).toEqual([["_web._tcp.local", 10]]);
    expect(proxy.counts).toEqual({ answered: 1, timedOut: 0, refused: 0 });
  });

  it("a change elsewhere (another zone, another name in local.) does not end the hold early", async () => {
    const { registry, clock, proxy, deps } = await setup({ waitMs: 100 });
    const reply = ask(deps, "_web._tcp.local.", Type.PTR);
    await registry.register({ ...learned(clock), type: { service: "_other", proto: "_tcp" } });
    await registry.register({ ...learned(clock, "far"), source: "static", domain: "svc.example." });
    const m = decodeMessage((await reply)!);
    expect(m.answers).toEqual([]);
    expect(m.authorities[0]?.ttl).toBe(10); // the negative answer's TTL capped too
    expect(proxy.counts).toMatchObject({ answered: 0, timedOut: 1 });
  });

  it("the negative answer after a hold is not cached: the next query is held and asks again", async () => {
    const { deps, asked } = await setup({ waitMs: 20 });
    await ask(deps, "lamp.local.", Type.A);
    // asked three times: the cache keeps a reply from its question's second ask
    for (const id of [2, 3]) {
      const again = ask(deps, "lamp.local.", Type.A, id);
      expect(again).toBeInstanceOf(Promise);
      await again;
    }
    expect(asked).toHaveLength(3);
  });

  it("answers at once what it cannot ask the LAN, what is answered already, other zones, and past the bound on held queries", async () => {
    const cannot = await setup({ askable: false });
    expect(ask(cannot.deps, "_web._tcp.local.", Type.PTR)).not.toBeInstanceOf(Promise);
    const { registry, clock, proxy, deps } = await setup({ maxHeld: 1 });
    await registry.register(learned(clock));
    expect(ask(deps, "_web._tcp.local.", Type.PTR)).not.toBeInstanceOf(Promise); // answered
    expect(ask(deps, "_web._tcp.svc.example.", Type.PTR)).not.toBeInstanceOf(Promise); // not local.
    expect(ask(deps, "k._hash._web._tcp.local.", Type.SRV)).not.toBeInstanceOf(Promise); // computed, not on the LAN
    const first = ask(deps, "_a._tcp.local.", Type.PTR);
    expect(first).toBeInstanceOf(Promise);
    expect(ask(deps, "_b._tcp.local.", Type.PTR)).not.toBeInstanceOf(Promise); // one held at most
    expect(proxy.counts.refused).toBe(1);
    proxy.close();
    await first;
  });

  it("a query worker hands a local miss to the primary, which holds it", async () => {
    const { deps } = await setup();
    const handed: Buffer[] = [];
    const worker: DnsHandlerDeps = {
      ...deps,
      localProxy: new LocalMissHandOff(),
      delegate: async (msg) => (handed.push(msg), null),
    };
    await ask(worker, "_web._tcp.local.", Type.PTR);
    expect(handed).toHaveLength(1);
    expect(ask(worker, "_services._dns-sd._udp.local.", Type.PTR)).not.toBeInstanceOf(Promise);
  });

  it("a query worker hands on at most 64 local misses at once; beyond, it answers them itself at once", async () => {
    const { deps } = await setup();
    const waiting: (() => void)[] = [];
    const worker: DnsHandlerDeps = {
      ...deps,
      localProxy: new LocalMissHandOff(),
      delegate: (msg) => new Promise((r) => waiting.push(() => r(msg))),
    };
    const replies = Array.from({ length: 70 }, (_, i) => ask(worker, `_t${i}._tcp.local.`, Type.PTR, i));
    expect(replies.filter((r) => r instanceof Promise)).toHaveLength(64);
    expect(decodeMessage(replies[69] as Buffer).answers).toEqual([]);
    for (const w of waiting.splice(0)) w();
    await Promise.all(replies);
    expect(ask(worker, "_again._tcp.local.", Type.PTR)).toBeInstanceOf(Promise); // room again once answered
  });

  it("shutting down lets every held query go at once", async () => {
    const { proxy, deps } = await setup({ waitMs: 60_000 });
    const held = [1, 2, 3].map((i) => ask(deps, `_t${i}._tcp.local.`, Type.PTR, i));
    proxy.close();
    for (const r of await Promise.all(held)) expect(decodeMessage(r!).answers).toEqual([]);
  });
});
