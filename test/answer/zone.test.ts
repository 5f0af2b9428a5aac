// What a transfer sends of a zone (answer/zone.ts), and IXFR's journal
// (answer/journal.ts), as zone-file lines.
import { beforeEach, describe, expect, it } from "vitest";
import { ZoneJournal, ZoneJournals } from "../../src/answer/journal.js";
import { recordDiff, zoneRecords, zoneSnapshot } from "../../src/answer/zone.js";
import { ManualClock } from "../../src/clock.js";
import { formatName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Type, typeName } from "../../src/wire/constants.js";
import type { ResourceRecord } from "../../src/wire/message.js";
import { host, inst, options, zone } from "./fixtures.js";

function line(r: ResourceRecord): string {
  const d = r.data;
  const rdata =
    d.type === Type.PTR || d.type === Type.NS
      ? formatName(d.target)
      : d.type === Type.SRV
        ? `${d.srv.priority} ${d.srv.weight} ${d.srv.port} ${formatName(d.srv.target)}`
        : d.type === Type.TXT
          ? d.strings.map((s) => JSON.stringify(Buffer.from(s).toString())).join(" ")
          : d.type === Type.A || d.type === Type.AAAA
            ? d.address
            : d.type === Type.SOA
              ? `serial ${d.soa.serial}`
              : "?";
  return `${formatName(r.name)} ${typeName(d.type)} ${rdata}`;
}

let registry: Registry;
beforeEach(async () => {
  registry = new Registry({ clock: new ManualClock(1_800_000_000_000), store: new MemoryStore() });
  await registry.open();
});

describe("zone records (AXFR)", () => {
  it("lists the apex NS, _services PTRs, each instance's PTR, subtype PTR, SRV, TXT and each host's addresses, no _hash", async () => {
    await registry.register(inst("web-1", { subtypes: ["_eu"] }), [host("web-1", "192.0.2.1")]);
    const snap = zoneSnapshot(registry, options, zone, { learned: false });
    expect([...zoneRecords(snap, 30)].map(line)).toEqual([
      "svc.example. NS ns.svc.example.",
      "_services._dns-sd._udp.svc.example. PTR _kv._tcp.svc.example.",
      "_kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.",
      "_eu._sub._kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.",
      "web-1._kv._tcp.svc.example. SRV 0 1 80 web-1.svc.example.",
      'web-1._kv._tcp.svc.example. TXT "a=1"',
      "web-1.svc.example. A 192.0.2.1",
    ]);
    expect(snap.serial).toBe(registry.serial());
  });

  it("is the zone as it was when the snapshot was taken, whatever changes while it is sent", async () => {
    await registry.register(inst("web-1"));
    const snap = zoneSnapshot(registry, options, zone, { learned: false });
    await registry.register(inst("web-2"));
    await registry.deregister(inst("web-1").type, "web-1", "svc.example.");
    const names = [...zoneRecords(snap, 30)].map(line);
    expect(names).toContain("_kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.");
    expect(names.join("\n")).not.toMatch(/web-2/);
  });

  it("leaves out what mDNS learned unless asked to transfer it", async () => {
    // mDNS-learned records are served in local. only
    const learned = inst("lan", { source: "mdns", domain: undefined });
    await registry.register(learned, [host("lan", "192.0.2.9", { source: "mdns", domain: undefined })]);
    const local = (learnedToo: boolean) =>
      [...zoneRecords(zoneSnapshot(registry, { ...options }, ["local"], { learned: learnedToo }), 30)].map(line);
    expect(local(false)).toEqual([]);
    expect(local(true)).toContain("lan._kv._tcp.local. SRV 0 1 80 lan.local.");
  });
});

describe("record diff", () => {
  it("gives what only one side has, TTL and name case aside", () => {
    const a = (name: string, address: string, ttl = 30): ResourceRecord => ({
      name: [name, "x"],
      ttl,
      data: { type: Type.A, address },
    });
    const d = recordDiff([a("h", "192.0.2.1"), a("h", "192.0.2.2")], [a("H", "192.0.2.2", 5), a("h", "192.0.2.3")]);
    expect(d.removed.map(line)).toEqual(["h.x. A 192.0.2.1"]);
    expect(d.added.map(line)).toEqual(["h.x. A 192.0.2.3"]);
  });
});

describe("ZoneJournal", () => {
  const step = (from: number, to: number, n = 1) => ({
    from,
    to,
    removed: [],
    added: Array.from({ length: n }, (_, i) => ({
      name: [`h${i}`],
      ttl: 1,
      data: { type: Type.A, address: "192.0.2.1" } as const,
    })),
  });
  const serials = (steps: { from: number; to: number }[] | undefined) => steps?.map((s) => [s.from, s.to]);

  it("gives the steps since a serial it holds, none when up to date or ahead, undefined past its oldest", () => {
    const j = new ZoneJournal({ maxSteps: 3, maxRecords: 100 });
    expect(j.since(1)).toBeUndefined();
    for (let s = 1; s <= 5; s++) j.add(step(s, s + 1));
    expect(j.size).toBe(3);
    expect(serials(j.since(4))).toEqual([
      [4, 5],
      [5, 6],
    ]);
    expect(j.since(3)).toHaveLength(3);
    expect(j.since(6)).toEqual([]);
    expect(j.since(7)).toEqual([]); // newer than ours (RFC 1995 §2: our SOA alone)
    expect(j.since(2)).toBeUndefined(); // fell out: a full transfer
  });

  it("keeps changes that leave the zone as it was as serials of its state, not steps", () => {
    const j = new ZoneJournal({ maxSteps: 2, maxRecords: 100 });
    j.add(step(1, 2));
    for (let s = 2; s < 1000; s++) j.add(step(s, s + 1, 0)); // renewals, changes in other zones
    j.add(step(1000, 1001));
    expect(j.size).toBe(2);
    // a secondary at any serial of the quiet run gets the one change after it, chained from its serial
    expect(serials(j.since(500))).toEqual([[500, 1001]]);
    expect(serials(j.since(1))).toEqual([
      [1, 1000],
      [1000, 1001],
    ]);
    j.add(step(1001, 1002, 0));
    // at the newest state by an older serial: one step that changes nothing
    expect(j.since(1001)).toEqual([{ from: 1001, to: 1002, removed: [], added: [] }]);
  });

  it("folds the changes of one commit (one serial) into one net step", () => {
    const a = (name: string): ResourceRecord => ({
      name: [name],
      ttl: 1,
      data: { type: Type.A, address: "192.0.2.1" },
    });
    const j = new ZoneJournal({ maxSteps: 10, maxRecords: 100 });
    j.add({ from: 1, to: 2, removed: [], added: [a("x"), a("y")] });
    j.add({ from: 2, to: 2, removed: [a("x")], added: [a("z")] }); // x added and removed within the commit: gone
    expect(j.since(1)!.map((s) => [s.removed.map(line), s.added.map(line)])).toEqual([
      [[], ["y. A 192.0.2.1", "z. A 192.0.2.1"]],
    ]);
    // a serial that named a quiet state before: the commit's first change made it a step of its own
    j.add({ from: 2, to: 3, removed: [], added: [] });
    j.add({ from: 3, to: 3, removed: [a("y")], added: [] });
    expect(serials(j.since(2))).toEqual([[2, 3]]);
    expect(j.since(2)![0]!.removed.map(line)).toEqual(["y. A 192.0.2.1"]);
  });

  it("bounds the records it keeps, and starts again at a gap", () => {
    const j = new ZoneJournal({ maxSteps: 100, maxRecords: 10 });
    j.add(step(1, 2, 6));
    j.add(step(2, 3, 6));
    expect(j.since(1)).toBeUndefined();
    expect(j.since(2)).toHaveLength(1);
    j.add(step(9, 10));
    expect(j.since(2)).toBeUndefined();
    expect(serials(j.since(9))).toEqual([[9, 10]]);
  });
});

describe("ZoneJournals (from the registry's changes)", () => {
  it("records each change as a step of the one serial, in every zone", async () => {
    const journals = new ZoneJournals(
      registry,
      options.domains,
      30,
      { learned: false },
      { maxSteps: 10, maxRecords: 1000 },
    );
    const start = registry.serial();
    await registry.register(inst("web-1"), [host("web-1", "192.0.2.1")]);
    const steps = journals.journal(zone)!.since(start)!;
    expect(steps.map((s) => [s.added.map(line), s.removed.map(line)])).toEqual([
      [["web-1.svc.example. A 192.0.2.1"], []],
      [
        [
          "_kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.",
          "web-1._kv._tcp.svc.example. SRV 0 1 80 web-1.svc.example.",
          'web-1._kv._tcp.svc.example. TXT "a=1"',
          "_services._dns-sd._udp.svc.example. PTR _kv._tcp.svc.example.",
        ],
        [],
      ],
    ]);
    expect(steps.at(-1)!.to).toBe(registry.serial());
    // local. saw the same serials, with nothing in them: one step that changes nothing
    expect(journals.journal(["local"])!.since(start)).toEqual([
      { from: start, to: registry.serial(), removed: [], added: [] },
    ]);

    const before = registry.serial();
    await registry.register(inst("web-1", { port: 81 }));
    await registry.register(inst("web-2"));
    await registry.deregister(inst("web-1").type, "web-1", "svc.example.");
    const later = journals.journal(zone)!.since(before)!;
    expect(later.map((s) => [s.removed.map(line), s.added.map(line)])).toEqual([
      [
        ["web-1._kv._tcp.svc.example. SRV 0 1 80 web-1.svc.example."],
        ["web-1._kv._tcp.svc.example. SRV 0 1 81 web-1.svc.example."],
      ],
      [
        [],
        [
          "_kv._tcp.svc.example. PTR web-2._kv._tcp.svc.example.",
          "web-2._kv._tcp.svc.example. SRV 0 1 80 web-2.svc.example.",
          'web-2._kv._tcp.svc.example. TXT "a=1"',
        ],
      ],
      // the type stays listed under _services: web-2 is still there
      [
        [
          "_kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.",
          "web-1._kv._tcp.svc.example. SRV 0 1 81 web-1.svc.example.",
          'web-1._kv._tcp.svc.example. TXT "a=1"',
        ],
        [],
      ],
    ]);
    journals.close();
  });
});
