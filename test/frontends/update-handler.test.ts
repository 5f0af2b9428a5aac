// The UPDATE path end to end in one process: a store that fails gets
// SERVFAIL and nothing changes; an Extended DNS Error explains refusals.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { exchange } from "../../src/client/dns-client.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { resolveConfig } from "../../src/config.js";
import { startDaemon, type Daemon } from "../../src/daemon.js";
import { parseName } from "../../src/names.js";
import { MemoryStore } from "../../src/store/memory.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeUpdate } from "../../src/wire/update.js";
import { Type } from "../../src/wire/constants.js";

const zone = parseName("svc.example.");
const store = new MemoryStore();
let failing = false;
let slowMs = 0;
const commit = store.commit.bind(store);
store.commit = async (ops) => {
  if (failing) throw new Error("disk full");
  if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
  return commit(ops);
};

let daemon: Daemon;
let server: { host: string; port: number };
beforeAll(async () => {
  daemon = await startDaemon(resolveConfig({ dns: ["127.0.0.1:0"], domain: ["svc.example."] }), {
    log: pino({ level: "silent" }),
    store,
  });
  server = { host: "127.0.0.1", port: daemon.listening[0]!.port };
});
afterAll(() => daemon.close());

describe("UPDATE handling", () => {
  it("SERVFAIL when the store cannot write, and nothing is served", async () => {
    failing = true;
    try {
      const r = await sendUpdate(
        server,
        zone,
        registrationUpdate({ instance: "x", type: "_a._tcp", host: "x", port: 1 }, zone),
      );
      expect(r.rcode).toBe("SERVFAIL");
      expect(daemon.registry.instances({ service: "_a", proto: "_tcp" })).toEqual([]);
    } finally {
      failing = false;
    }
  });

  it("a refusal carries its reason as an Extended DNS Error (RFC 8914) for EDNS clients", async () => {
    const msg = encodeUpdate({
      id: 3,
      zone,
      updates: [
        {
          op: "add",
          name: parseName("lone._a._tcp.svc.example."),
          ttl: 60,
          data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 1, target: parseName("lone.svc.example.") } },
        },
      ],
      lease: { lease: 60 }, // carries an OPT record
    });
    const reply = decodeMessage(await exchange(server, msg));
    expect(reply.rcodeName).toBe("REFUSED");
    const ede = reply.edns!.options.find((o) => o.code === 15)!;
    expect(Buffer.from(ede.data).subarray(2).toString()).toMatch(/has an SRV record but no PTR/);
  });

  it("value-dependent prerequisites compare whole RRsets (RFC 2136 §3.2.3)", async () => {
    await sendUpdate(
      server,
      zone,
      registrationUpdate({ instance: "v", type: "_a._tcp", host: "v", addresses: ["192.0.2.1"], port: 1 }, zone),
    );
    const prereqWire = (address: string) =>
      encodeUpdate({
        id: 4,
        zone,
        prerequisites: [{ kind: "rrset-equals", name: parseName("v.svc.example."), data: { type: Type.A, address } }],
        updates: [
          { op: "add", name: parseName("v.svc.example."), ttl: 60, data: { type: Type.A, address: "192.0.2.3" } },
        ],
      });
    expect(decodeMessage(await exchange(server, prereqWire("192.0.2.9"))).rcodeName).toBe("NXRRSET");
    expect(daemon.registry.host("v")!.addresses).toEqual(["192.0.2.1"]);
    expect(decodeMessage(await exchange(server, prereqWire("192.0.2.1"))).rcodeName).toBe("NOERROR");
    expect(daemon.registry.host("v")!.addresses).toEqual(["192.0.2.1", "192.0.2.3"]);
  });

  it("serializes updates (RFC 2136 §3.7): of five racing claims on one free name, one wins and four see it taken", async () => {
    slowMs = 20; // each commit takes a while, so the five overlap
    try {
      const name = parseName("claimed._a._tcp.svc.example.");
      const claim = (port: number) =>
        exchange(
          server,
          encodeUpdate({
            id: port,
            zone,
            prerequisites: [{ kind: "name-not-in-use", name }],
            updates: registrationUpdate({ instance: "claimed", type: "_a._tcp", host: "claimed", port }, zone).filter(
              (o) => o.op !== "delete-name",
            ),
          }),
        ).then((r) => decodeMessage(r).rcodeName);
      const ports = [1001, 1002, 1003, 1004, 1005];
      const rcodes = await Promise.all(ports.map(claim));
      expect([...rcodes].sort()).toEqual(["NOERROR", "YXDOMAIN", "YXDOMAIN", "YXDOMAIN", "YXDOMAIN"]);
      expect(daemon.registry.instance({ service: "_a", proto: "_tcp" }, "claimed")?.port).toBe(
        ports[rcodes.indexOf("NOERROR")],
      );
    } finally {
      slowMs = 0;
    }
  });
});

describe("the same UPDATE bytes again from the same socket", () => {
  it("unsigned: a new update every time (register, deregister, the same register again is served)", async () => {
    const { handleUpdate } = await import("../../src/frontends/update-handler.js");
    const { Registry } = await import("../../src/registry/registry.js");
    const { ManualClock } = await import("../../src/clock.js");
    const { makePolicy } = await import("../../src/update/policy.js");
    const { deregistrationUpdate } = await import("../../src/client/registration.js");
    const clock = new ManualClock(1_800_000_000_000);
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const deps = {
      registry,
      clock,
      log: pino({ level: "silent" }),
      domains: [zone],
      keys: [],
      policy: makePolicy(["127.0.0.0/8"], new Map()),
      lease: { min: 30, max: 3600 },
    };
    const peer = "127.0.0.1:5300"; // one socket, and a client that always uses ID 7
    const register = encodeUpdate({
      id: 7,
      zone,
      updates: registrationUpdate({ instance: "again", type: "_a._tcp", host: "again", port: 1 }, zone),
    });
    const deregister = encodeUpdate({ id: 7, zone, updates: deregistrationUpdate("_a._tcp", "again", zone) });
    for (const [msg, present] of [
      [register, true],
      [deregister, false],
      [register, true],
    ] as const) {
      expect(decodeMessage(await handleUpdate(msg, peer, deps)).rcodeName).toBe("NOERROR");
      expect(registry.instance({ service: "_a", proto: "_tcp" }, "again", "svc.example.") !== undefined).toBe(present);
    }
  });
});
