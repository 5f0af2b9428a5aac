// A browse too large for one message is cached per type: a change to another
// type (which moves the registry serial) does not drop it, a change to its own
// type does. Counted by how often the handler stores a reply it has built (a miss).
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { AnswerCache } from "../../src/frontends/answer-cache.js";
import { handleDnsMessage, type DnsHandlerDeps, type Transport } from "../../src/frontends/dns-handler.js";
import { Registry } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Type } from "../../src/wire/constants.js";
import { encodeQuery } from "../../src/wire/message.js";

const BIG = { service: "_big", proto: "_tcp" } as const;
const N = 3000;

function instance(name: string, type: Instance["type"], expiresAt?: number): Instance {
  return {
    name,
    type,
    subtypes: [],
    host: [name],
    port: 1,
    priority: 0,
    weight: 1,
    txt: [],
    source: expiresAt === undefined ? "static" : "update",
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

async function setup(leasedUntil?: number) {
  const clock = new ManualClock(1_700_000_000_000);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const until = leasedUntil === undefined ? undefined : clock.now() + leasedUntil;
  if (until === undefined)
    registry.loadStatic(
      Array.from({ length: N }, (_, i) => instance(`node-${i}`, BIG)),
      [],
    );
  else for (let i = 0; i < N; i++) await registry.register(instance(`node-${i}`, BIG, until));
  const cache = new AnswerCache();
  const deps: DnsHandlerDeps = {
    registry,
    answer: { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    clock,
    log: pino({ level: "silent" }),
    maxUdpPayload: 1232,
    cache,
  };
  const built = vi.spyOn(cache, "set");
  const browse = (transport: Transport, id = 1) =>
    handleDnsMessage(
      encodeQuery(id, ["_big", "_tcp", "local"], Type.PTR, { udpSize: 1232 }),
      transport,
      "127.0.0.1:1",
      deps,
    ) as Buffer;
  return { clock, registry, built, browse };
}

describe("a browse too large for one message, cached per type", () => {
  it("survives changes to other types (and time: no leases), is dropped by a change to its own type", async () => {
    const { clock, registry, built, browse } = await setup();
    for (const transport of ["tcp", "udp"] as const) {
      const first = browse(transport);
      expect(first[2]! & 0x02).toBe(0x02); // TC
      expect(built).toHaveBeenCalledTimes(transport === "tcp" ? 1 : 2);
      await registry.register(
        instance(`other-${transport}`, { service: "_other", proto: "_udp" }, clock.now() + 60_000),
      );
      clock.advance(5000);
      const again = browse(transport, 2);
      expect(built).toHaveBeenCalledTimes(transport === "tcp" ? 1 : 2); // from the cache
      expect(again.subarray(2)).toEqual(first.subarray(2));
      expect(again.readUInt16BE(0)).toBe(2);
    }
    await registry.register(instance("node-new", BIG, clock.now() + 60_000));
    browse("tcp", 3);
    expect(built).toHaveBeenCalledTimes(3);
  });

  it("with leases, for a second at most: the TTLs count down", async () => {
    const { clock, registry, built, browse } = await setup(20_000);
    const ttlOfFirst = (wire: Buffer) =>
      wire.readUInt32BE(wire.indexOf(Buffer.from([0x00, 0x0c, 0x00, 0x01]), 12 + 20) + 4); // first PTR after the question
    expect(ttlOfFirst(browse("tcp"))).toBe(20);
    await registry.register(instance("other", { service: "_other", proto: "_udp" }, clock.now() + 60_000));
    clock.advance(500);
    expect(ttlOfFirst(browse("tcp"))).toBe(20);
    expect(built).toHaveBeenCalledTimes(1);
    clock.advance(1500);
    expect(ttlOfFirst(browse("tcp"))).toBe(18);
    expect(built).toHaveBeenCalledTimes(2);
  });
});
