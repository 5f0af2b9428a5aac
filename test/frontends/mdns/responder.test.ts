// The responder's timing rules with a fake transport and fake timers:
// probing, announcing, the once-a-second multicast limit, probe tie-breaks.
import type { RemoteInfo } from "node:dgram";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MdnsResponder } from "../../../src/frontends/mdns/responder.js";
import type { MdnsTransport } from "../../../src/frontends/mdns/transport.js";
import { parseName } from "../../../src/names.js";
import { Registry } from "../../../src/registry/registry.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { Class, Type } from "../../../src/wire/constants.js";
import { decodeMessage, type DecodedMessage } from "../../../src/wire/decode.js";
import { encodeMdnsQuery } from "../../../src/wire/mdns.js";

const clock = { now: () => Date.now() };
let sent: { msg: DecodedMessage; to?: { address: string; port: number } }[];
let registry: Registry;
let responder: MdnsResponder;
const transport: MdnsTransport = {
  iface: "test0",
  family: 4,
  address: "203.0.113.10",
  send: (buf, to) => sent.push({ msg: decodeMessage(buf), ...(to ? { to } : {}) }),
  isOnLink: () => true,
  onMessage: () => {},
  close: async () => {},
};
const peer: RemoteInfo = { address: "203.0.113.11", port: 5353, family: "IPv4", size: 0 };
const instance = {
  name: "lamp",
  type: { service: "_web", proto: "_tcp" as const },
  subtypes: [],
  host: ["lamp"],
  port: 80,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update" as const,
};

beforeEach(async () => {
  vi.useFakeTimers();
  sent = [];
  registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  responder = new MdnsResponder({ registry, clock, log: pino({ level: "silent" }), transports: [transport] });
  responder.start();
});
afterEach(() => vi.useRealTimers());

const probes = () => sent.filter((s) => !s.msg.flags.qr);
const announcements = () => sent.filter((s) => s.msg.flags.qr);

describe("MdnsResponder", () => {
  it("puts on the LAN only what is answered under local.: an UPDATE made in another served domain is that domain's", async () => {
    await registry.register({ ...instance, name: "elsewhere", domain: "svc.example." });
    await registry.register({ ...instance, name: "here", domain: "local." });
    await registry.register({ ...instance, name: "everywhere", source: "static" });
    await vi.advanceTimersByTimeAsync(2000);
    const named = new Set(
      sent
        .flatMap((s) => [...s.msg.authorities, ...s.msg.answers])
        .filter((r) => r.type === Type.SRV)
        .map((r) => r.name[0]),
    );
    expect([...named].sort()).toEqual(["everywhere", "here"]);
    sent = [];
    await registry.deregister(instance.type, "elsewhere", "svc.example.");
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toEqual([]); // no goodbye for a name the LAN never heard
  });

  it("probes three times 250 ms apart, then announces twice a second apart (RFC 6762 §8)", async () => {
    await registry.register(instance);
    expect(probes()).toHaveLength(1);
    expect(probes()[0]!.msg.questions[0]!.class & 0x8000).toBe(0x8000); // probes ask for unicast replies
    expect(
      probes()[0]!
        .msg.authorities.map((r) => r.type)
        .sort((a, b) => a - b),
    ).toEqual([Type.TXT, Type.SRV]);
    await vi.advanceTimersByTimeAsync(500);
    expect(probes()).toHaveLength(3);
    expect(announcements()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(250);
    expect(announcements()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(announcements()).toHaveLength(2);
  });

  it("multicasts a record at most once a second", async () => {
    await registry.register(instance);
    await vi.advanceTimersByTimeAsync(2000); // probed and announced
    sent = [];
    const query = decodeMessage(encodeMdnsQuery([{ name: parseName("lamp._web._tcp.local."), type: Type.SRV }])[0]!);
    responder.onQuery(query, peer, transport);
    expect(announcements()).toHaveLength(0); // the announcement went out under a second ago
    await vi.advanceTimersByTimeAsync(1100);
    responder.onQuery(query, peer, transport);
    expect(announcements()).toHaveLength(1);
    responder.onQuery(query, peer, transport);
    expect(announcements()).toHaveLength(1);
  });

  it("loses a simultaneous probe tie-break to a lexicographically later proposal and probes again after a second (§8.2)", async () => {
    await registry.register(instance);
    expect(probes()).toHaveLength(1);
    // another host probes for the same name, proposing a later port
    const theirs = encodeMdnsQuery(
      [{ name: parseName("lamp._web._tcp.local."), type: Type.ANY, qu: true }],
      [],
      [
        {
          name: parseName("lamp._web._tcp.local."),
          ttl: 120,
          class: Class.IN,
          data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 9999, target: parseName("other.local.") } },
        },
      ],
    )[0]!;
    responder.onQuery(decodeMessage(theirs), peer, transport);
    await vi.advanceTimersByTimeAsync(900);
    expect(probes()).toHaveLength(1); // deferring
    await vi.advanceTimersByTimeAsync(200);
    expect(probes()).toHaveLength(2); // probing again
  });

  it("wins the tie-break when its records are later byte for byte: port 80 over port 9, as avahi orders them (§8.2)", async () => {
    await registry.register(instance);
    expect(probes()).toHaveLength(1);
    const name = parseName("lamp._web._tcp.local.");
    const theirs = encodeMdnsQuery(
      [{ name, type: Type.ANY, qu: true }],
      [],
      [
        {
          name,
          ttl: 120,
          class: Class.IN,
          data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 9, target: parseName("lamp.local.") } },
        },
        { name, ttl: 120, class: Class.IN, data: { type: Type.TXT, strings: [] } },
      ],
    )[0]!;
    responder.onQuery(decodeMessage(theirs), peer, transport);
    await vi.advanceTimersByTimeAsync(600);
    expect(probes()).toHaveLength(3); // not deferred: probing on, 250 ms apart
  });

  it("renames on a conflicting answer for a name it holds (§9)", async () => {
    await registry.register(instance);
    await vi.advanceTimersByTimeAsync(2000);
    const theirs = decodeMessage(
      Buffer.from(
        // a response from someone else claiming lamp._web._tcp.local with another SRV
        (await import("../../../src/wire/mdns.js")).encodeMdnsResponse({
          answers: [
            {
              name: parseName("lamp._web._tcp.local."),
              ttl: 120,
              class: Class.IN | 0x8000,
              data: { type: Type.SRV, srv: { priority: 0, weight: 0, port: 1, target: parseName("x.local.") } },
            },
          ],
        }),
      ),
    );
    sent = [];
    responder.onResponse(theirs);
    expect(probes()[0]!.msg.questions[0]!.name).toEqual(["lamp (2)", "_web", "_tcp", "local"]);
    expect(responder.isOurs(instance.type, "lamp (2)")).toBe(true);
  });

  it("answers a query of 1,000 questions and 1,000 known answers against 200 instances in well under two seconds (indexed per packet)", async () => {
    for (let i = 0; i < 200; i++) await registry.register({ ...instance, name: `i${i}`, host: [`h${i}`] });
    await vi.advanceTimersByTimeAsync(2000); // probed and announced
    sent = [];
    const web = parseName("_web._tcp.local.");
    const questions = Array.from({ length: 1000 }, (_, i) => ({
      name: i % 2 ? web : parseName(`i${i % 200}._web._tcp.local.`),
      type: i % 2 ? Type.PTR : Type.ANY,
      qu: true,
    }));
    const known = Array.from(
      { length: 1000 },
      (_, i) =>
        ({ name: web, ttl: 4500, data: { type: Type.PTR, target: parseName(`other${i}._web._tcp.local.`) } }) as const,
    );
    const packets = encodeMdnsQuery(questions, known);
    vi.useRealTimers(); // a real clock for the measurement
    const started = performance.now();
    for (const p of packets) responder.onQuery(decodeMessage(p), peer, transport);
    const ms = performance.now() - started;
    expect(sent.length).toBeGreaterThan(0);
    // before: every question walked every record, and every PTR answer every instance (O(questions x answers x instances)); here about 100 ms
    console.log(
      `1,000 questions in ${packets.length} packets answered in ${ms.toFixed(0)} ms (${sent.length} replies)`,
    );
    expect(ms).toBeLessThan(2000);
  });
});

describe("MdnsResponder at scale", () => {
  it("a host's change looks only at the instances on that host, not at every one advertised (SRP makes hosts cheap)", async () => {
    const ops = Array.from({ length: 200 }, (_, i) => [
      { op: "put-host" as const, host: { name: `h${i}`, addresses: ["192.0.2.9"], source: "update" as const } },
      { op: "put-instance" as const, instance: { ...instance, name: `i${i}`, host: [`h${i}`] } },
    ]).flat();
    await registry.apply(ops);
    await vi.advanceTimersByTimeAsync(2000);
    const lookups = vi.spyOn(registry, "instance");
    sent = [];
    await registry.apply([{ op: "put-host", host: { name: "h7", addresses: ["192.0.2.10"], source: "update" } }]);
    expect(lookups.mock.calls.length).toBeLessThanOrEqual(2);
    // the instance on it is announced again with the new address
    const addresses = sent.flatMap((s) => s.msg.answers).filter((r) => r.type === Type.A);
    expect(addresses.map((r) => (r.data as { address: string }).address)).toContain("192.0.2.10");
    lookups.mockRestore();
  });
});
