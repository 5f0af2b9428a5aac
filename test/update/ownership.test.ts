// Who may change what (issue 14, finding 3): the RFC 2136 core with an actor.
// Two TSIG keys in two zones, an unsigned sender, an admin key, the services
// file and mDNS; every refusal changes nothing. Table style: one row per rule.
import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { deregistrationUpdate, registrationUpdate } from "../../src/client/registration.js";
import { parseName, type Labels } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { processUpdate, type Actor } from "../../src/update/update.js";
import { rcodeName, Type } from "../../src/wire/constants.js";
import { decodeUpdate, encodeUpdate, type Prerequisite, type UpdateOp } from "../../src/wire/update.js";

const A = parseName("a.example.");
const B = parseName("b.example.");
const LOCAL = parseName("local.");
const n = (s: string) => parseName(s);
const kv = { service: "_kv", proto: "_tcp" } as const;

const keyA: Actor = { owner: { kind: "key", name: "key-a." }, zones: [A] };
const keyB: Actor = { owner: { kind: "key", name: "key-b." }, zones: [A, B] };
const keyC: Actor = { owner: { kind: "key", name: "key-c." } }; // no --key-zone
const unsigned: Actor = { owner: { kind: "unsigned" } };
const admin: Actor = { owner: { kind: "key", name: "admin." }, admin: true };

let clock: ManualClock;
let store: MemoryStore;
let registry: Registry;

beforeEach(async () => {
  clock = new ManualClock(1_800_000_000_000);
  store = new MemoryStore();
  registry = new Registry({ clock, store });
  await registry.open();
});

async function send(actor: Actor, zone: Labels, updates: UpdateOp[], prerequisites?: Prerequisite[]) {
  const d = decodeUpdate(encodeUpdate({ id: 1, zone, updates, ...(prerequisites ? { prerequisites } : {}) }));
  if (d.kind !== "update") throw new Error(d.reason);
  const out = processUpdate(d.update, registry, { domains: [LOCAL, A, B], actor }, clock.now());
  if (out.rcode === 0) await registry.apply(out.ops);
  return { rcode: rcodeName(out.rcode), reason: out.reason ?? "" };
}

const web = (zone: Labels, port = 80, address = "192.0.2.1") =>
  registrationUpdate({ instance: "web", type: "_kv._tcp", host: "web", addresses: [address], port }, zone);
const inst = (zone: string) => registry.instance(kv, "web", zone);
const snapshot = async () => JSON.stringify([...(await store.load())].sort(([a], [b]) => a.localeCompare(b)));

// what an attacker sends against web._kv._tcp.<zone> and its host web.<zone>
const attacks: [string, (zone: Labels) => UpdateOp[]][] = [
  ["overwrite (register the same name)", (z) => web(z, 6666, "203.0.113.66")],
  ["delete the instance", (z) => deregistrationUpdate("_kv._tcp", "web", z)],
  [
    "repoint its SRV",
    (z) => [
      { op: "delete-rrset", name: [`web`, "_kv", "_tcp", ...z], type: Type.SRV },
      {
        op: "add",
        name: ["web", "_kv", "_tcp", ...z],
        ttl: 60,
        data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 80, target: ["evil", ...z] } },
      },
    ],
  ],
  [
    "change its TXT",
    (z) => [
      { op: "delete-rrset", name: ["web", "_kv", "_tcp", ...z], type: Type.TXT },
      {
        op: "add",
        name: ["web", "_kv", "_tcp", ...z],
        ttl: 60,
        data: { type: Type.TXT, strings: [Buffer.from("evil=1")] },
      },
    ],
  ],
  [
    "list it under a subtype",
    (z) => [
      {
        op: "add",
        name: ["_eu", "_sub", "_kv", "_tcp", ...z],
        ttl: 60,
        data: { type: Type.PTR, target: ["web", "_kv", "_tcp", ...z] },
      },
    ],
  ],
  ["delete the type's whole PTR RRset", (z) => [{ op: "delete-rrset", name: ["_kv", "_tcp", ...z], type: Type.PTR }]],
  [
    "repoint its host's address",
    (z) => [
      { op: "delete-rrset", name: ["web", ...z], type: Type.A },
      { op: "add", name: ["web", ...z], ttl: 60, data: { type: Type.A, address: "203.0.113.66" } },
    ],
  ],
  [
    "add an address to its host",
    (z) => [{ op: "add", name: ["web", ...z], ttl: 60, data: { type: Type.A, address: "203.0.113.67" } }],
  ],
  ["delete its host", (z) => [{ op: "delete-name", name: ["web", ...z] }]],
];

describe("a key's registrations are its own", () => {
  it.each(attacks)(
    "in the same zone, another key cannot %s: REFUSED, says whose by kind only, nothing changes",
    async (_, attack) => {
      expect((await send(keyB, A, web(A))).rcode).toBe("NOERROR");
      const before = await snapshot();
      for (const attacker of [keyA, keyC]) {
        const r = await send(attacker, A, attack(A));
        expect(r.rcode).toBe("REFUSED");
        expect(r.reason).toMatch(/registered by another TSIG key; only its owner \(or an --admin-key\) may change it/);
        expect(r.reason).not.toMatch(/key-b/);
      }
      expect(await snapshot()).toBe(before);
      expect(inst("a.example.")).toMatchObject({ port: 80, owner: { kind: "key", name: "key-b." } });
      expect(registry.host("web", "a.example.")?.addresses).toEqual(["192.0.2.1"]);
    },
  );

  it.each(attacks)("an unsigned update (loopback) cannot %s of a key's registration", async (_, attack) => {
    await send(keyB, A, web(A));
    const before = await snapshot();
    const r = await send(unsigned, A, attack(A));
    expect(r.rcode).toBe("REFUSED");
    expect(await snapshot()).toBe(before);
  });

  it.each(attacks)("a key cannot %s of an unsigned registration either", async (_, attack) => {
    await send(unsigned, A, web(A));
    expect((await send(keyC, A, attack(A))).reason).toMatch(/registered by unsigned updates/);
  });

  it.each(attacks)(
    "across zones: key A (--key-zone a.example.) cannot %s in b.example., even with the zone section saying a.example.",
    async (_, attack) => {
      await send(keyB, B, web(B));
      const before = await snapshot();
      expect((await send(keyA, B, attack(B))).rcode).toBe("REFUSED"); // zone section b.example.
      const r = await send(keyA, A, attack(B)); // zone section a.example., names in b.example.
      expect(r.rcode).not.toBe("NOERROR");
      expect(await snapshot()).toBe(before);
      expect(inst("b.example.")).toMatchObject({ port: 80, owner: { kind: "key", name: "key-b." } });
    },
  );

  it.each(attacks)("an --admin-key may %s (no ownership refusal)", async (_, attack) => {
    await send(keyB, A, web(A));
    const r = await send(admin, A, attack(A));
    expect(r.reason).not.toMatch(/registered by/);
    // deleting the PTR RRset alone would leave the instance half-made: refused for that, as for its owner
    expect(r.rcode).toBe(r.reason.includes("no PTR") ? "REFUSED" : "NOERROR");
  });

  it("an admin's edit leaves the registration with its owner, who can still change it", async () => {
    await send(keyB, A, web(A));
    expect((await send(admin, A, web(A, 8080))).rcode).toBe("NOERROR");
    expect(inst("a.example.")).toMatchObject({ port: 8080, owner: { kind: "key", name: "key-b." }, key: "key-b." });
    expect((await send(keyB, A, deregistrationUpdate("_kv._tcp", "web", A))).rcode).toBe("NOERROR");
  });

  it("the owner renews, changes and deletes its own registration", async () => {
    await send(keyC, A, web(A));
    expect((await send(keyC, A, web(A))).rcode).toBe("NOERROR");
    expect((await send(keyC, A, web(A, 81, "192.0.2.9"))).rcode).toBe("NOERROR");
    expect(registry.host("web", "a.example.")?.addresses).toEqual(["192.0.2.9"]);
    expect((await send(keyC, A, deregistrationUpdate("_kv._tcp", "web", A))).rcode).toBe("NOERROR");
    expect(inst("a.example.")).toBeUndefined();
  });

  it("a prerequisite on another key's name does not let anything through (the names are checked, not only the zone)", async () => {
    await send(keyB, B, web(B));
    const r = await send(keyA, A, [], [{ kind: "name-in-use", name: n("web._kv._tcp.b.example.") }]);
    expect(r.rcode).toBe("REFUSED");
    expect(r.reason).toMatch(/outside its zones/);
  });
});

describe("racing updates (one group commit)", () => {
  const racing = (actor: Actor, zone: Labels, ops: UpdateOp[]) => {
    const d = decodeUpdate(encodeUpdate({ id: 1, zone, updates: ops }));
    if (d.kind !== "update") throw new Error(d.reason);
    const u = d.update;
    return registry.transact((view) => {
      const out = processUpdate(u, view, { domains: [LOCAL, A, B], actor }, clock.now());
      return { ops: out.rcode === 0 ? out.ops : [], result: rcodeName(out.rcode) };
    });
  };
  it("two keys claiming the same free name in one zone: the first owns it, the second is REFUSED; in two zones both win", async () => {
    expect(
      await Promise.all([racing(keyB, A, web(A, 1)), racing(keyC, A, web(A, 2)), racing(keyB, B, web(B, 3))]),
    ).toEqual(["NOERROR", "REFUSED", "NOERROR"]);
    expect(inst("a.example.")).toMatchObject({ port: 1, owner: { kind: "key", name: "key-b." } });
    expect(inst("b.example.")).toMatchObject({ port: 3 });
  });
});

describe("--key-zone limits the names, not only the zone section", () => {
  const narrow: Actor = { owner: { kind: "key", name: "narrow." }, zones: [n("_kv._tcp.a.example.")] };
  it.each([
    [
      "its type's PTR and instances",
      "NOERROR",
      registrationUpdate({ instance: "x", type: "_kv._tcp", host: "x", port: 1 }, A),
    ],
    [
      "a host outside (x.a.example.)",
      "REFUSED",
      registrationUpdate({ instance: "x", type: "_kv._tcp", host: "x", addresses: ["192.0.2.3"], port: 1 }, A),
    ],
    ["another type", "REFUSED", registrationUpdate({ instance: "x", type: "_ipp._tcp", host: "x", port: 1 }, A)],
  ] as const)(
    "a key limited to _kv._tcp.a.example. changing %s (zone section a.example.): %s",
    async (_, rcode, ops) => {
      expect((await send(narrow, A, [...ops])).rcode).toBe(rcode);
    },
  );

  it("a zone section that is not (above) one of its zones is refused", async () => {
    expect((await send(keyA, B, [])).rcode).toBe("REFUSED");
  });
});

describe("static and mDNS registrations", () => {
  const staticWeb: Instance = {
    name: "web",
    type: kv,
    subtypes: [],
    host: ["web"],
    port: 80,
    priority: 0,
    weight: 1,
    txt: [],
    source: "static",
  };
  it.each([keyC, unsigned, admin])("the services file's entries cannot be changed by UPDATE (%j)", async (actor) => {
    registry.loadStatic([staticWeb], [{ name: "web", addresses: ["192.0.2.7"], source: "static" }]);
    for (const attack of attacks.map(([, f]) => f)) expect((await send(actor, A, attack(A))).rcode).toBe("REFUSED");
    expect(inst("a.example.")).toStrictEqual(staticWeb);
  });

  it("what mDNS taught (local. only) is no one's to edit, and an UPDATE registration in local. takes the name over", async () => {
    await registry.apply([{ op: "put-instance", instance: { ...staticWeb, port: 9, source: "mdns" } }]);
    expect(inst("local.")).toMatchObject({ source: "mdns" });
    expect(inst("a.example.")).toBeUndefined(); // learned on the LAN: served under local. only
    expect((await send(unsigned, LOCAL, deregistrationUpdate("_kv._tcp", "web", LOCAL))).rcode).toBe("NOERROR");
    expect(inst("local.")).toMatchObject({ source: "mdns" }); // invisible to UPDATE: nothing deleted
    expect((await send(keyC, LOCAL, web(LOCAL))).rcode).toBe("NOERROR");
    expect(inst("local.")).toMatchObject({ source: "update", owner: { kind: "key", name: "key-c." } });
    expect(registry.instances(kv)).toHaveLength(1); // the learned one is gone, not shadowed
  });
});

describe("registrations in different domains are different registrations", () => {
  it("the same type and label in a.example. and b.example.: two owners, two instances, two rings", async () => {
    expect((await send(keyB, B, web(B, 80, "192.0.2.2"))).rcode).toBe("NOERROR");
    expect((await send(keyA, A, web(A, 81, "192.0.2.1"))).rcode).toBe("NOERROR");
    expect(inst("a.example.")).toMatchObject({
      port: 81,
      domain: "a.example.",
      owner: { kind: "key", name: "key-a." },
    });
    expect(inst("b.example.")).toMatchObject({
      port: 80,
      domain: "b.example.",
      owner: { kind: "key", name: "key-b." },
    });
    expect(registry.host("web", "a.example.")?.addresses).toEqual(["192.0.2.1"]);
    expect(registry.host("web", "b.example.")?.addresses).toEqual(["192.0.2.2"]);
    expect(registry.ownerOf(kv, "k", "a.example.")?.port).toBe(81);
    expect(registry.ownerOf(kv, "k", "b.example.")?.port).toBe(80);
    expect(inst("local.")).toBeUndefined();
    // key A deleting "its" web removes its own, not B's
    expect((await send(keyA, A, deregistrationUpdate("_kv._tcp", "web", A))).rcode).toBe("NOERROR");
    expect(inst("a.example.")).toBeUndefined();
    expect(inst("b.example.")).toMatchObject({ port: 80 });
  });

  it("the services file's entries are served under every domain; a domain's own registration never replaces them", async () => {
    registry.loadStatic(
      [{ name: "s", type: kv, subtypes: [], host: ["s"], port: 1, priority: 0, weight: 1, txt: [], source: "static" }],
      [],
    );
    for (const d of ["local.", "a.example.", "b.example."])
      expect(registry.instance(kv, "s", d)?.source).toBe("static");
    expect(
      (await send(admin, A, registrationUpdate({ instance: "s", type: "_kv._tcp", host: "s", port: 2 }, A))).rcode,
    ).toBe("REFUSED");
  });

  it("a registration stored before domains and owners were recorded: served everywhere, its key still owns it; renewing it moves it into its zone", async () => {
    const legacy: Instance = {
      name: "old",
      type: kv,
      subtypes: [],
      host: ["old"],
      port: 5,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update",
      key: "key-c.",
    };
    await store.commit([
      { op: "put", key: "instance/_kv._tcp/old", entry: { kind: "instance", value: legacy } },
      {
        op: "put",
        key: "host/old",
        entry: { kind: "host", value: { name: "old", addresses: ["192.0.2.5"], source: "update" } },
      },
    ]);
    const reopened = new Registry({ clock, store });
    await reopened.open();
    registry = reopened;
    for (const d of ["local.", "a.example.", "b.example."]) expect(registry.instance(kv, "old", d)?.port).toBe(5);
    expect((await send(unsigned, A, deregistrationUpdate("_kv._tcp", "old", A))).rcode).toBe("REFUSED");
    // its host had no owner recorded: claimable, and whoever changes it owns it
    expect(
      (
        await send(
          keyC,
          A,
          registrationUpdate({ instance: "old", type: "_kv._tcp", host: "old", addresses: ["192.0.2.6"], port: 6 }, A),
        )
      ).rcode,
    ).toBe("NOERROR");
    expect(registry.instance(kv, "old", "a.example.")).toMatchObject({ port: 6, domain: "a.example." });
    expect(registry.instance(kv, "old", "b.example.")).toBeUndefined();
    expect(registry.host("old", "a.example.")).toMatchObject({
      addresses: ["192.0.2.6"],
      owner: { kind: "key", name: "key-c." },
    });
    expect([...(await store.load()).keys()].sort()).toEqual([
      "host@a.example./old",
      "instance@a.example./_kv._tcp/old",
    ]); // the old records gave way
  });

  it("a host stored before owners were recorded belongs to the owner of the old instances pointing at it: another key or an unsigned update cannot repoint it", async () => {
    const legacy: Instance = {
      name: "old",
      type: kv,
      subtypes: [],
      host: ["old"],
      port: 5,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update",
      key: "key-c.",
    };
    await store.commit([
      { op: "put", key: "instance/_kv._tcp/old", entry: { kind: "instance", value: legacy } },
      {
        op: "put",
        key: "host/old",
        entry: { kind: "host", value: { name: "old", addresses: ["192.0.2.5"], source: "update" } },
      },
    ]);
    registry = new Registry({ clock, store });
    await registry.open();
    const repoint = (z: Labels): UpdateOp[] => [
      { op: "delete-rrset", name: ["old", ...z], type: Type.A },
      { op: "add", name: ["old", ...z], ttl: 60, data: { type: Type.A, address: "203.0.113.66" } },
    ];
    for (const [actor, zone] of [
      [keyB, A],
      [unsigned, A],
      [unsigned, LOCAL],
    ] as const) {
      expect(await send(actor, zone, repoint(zone))).toMatchObject({
        rcode: "REFUSED",
        reason: expect.stringMatching(/registered by another TSIG key/),
      });
    }
    for (const d of ["local.", "a.example."]) expect(registry.host("old", d)?.addresses).toEqual(["192.0.2.5"]);
    expect((await send(admin, A, repoint(A))).rcode).toBe("NOERROR");
  });
});

describe("leases", () => {
  it("another key's instance that points at my host and expires does not take my host with it", async () => {
    expect(
      (
        await send(keyA, A, [
          { op: "add", name: n("printer.a.example."), ttl: 60, data: { type: Type.A, address: "192.0.2.10" } },
        ])
      ).rcode,
    ).toBe("NOERROR");
    const d = decodeUpdate(
      encodeUpdate({
        id: 2,
        zone: A,
        updates: registrationUpdate({ instance: "x", type: "_kv._tcp", host: "printer", port: 9 }, A),
      }),
    );
    if (d.kind !== "update") throw new Error(d.reason);
    const out = processUpdate(
      d.update,
      registry,
      { domains: [LOCAL, A, B], actor: keyB, leaseSeconds: 60 },
      clock.now(),
    );
    expect(rcodeName(out.rcode)).toBe("NOERROR");
    await registry.apply(out.ops);
    clock.advance(61_000);
    expect(await registry.expireDue()).toBe(1);
    expect(registry.instance(kv, "x", "a.example.")).toBeUndefined();
    expect(registry.host("printer", "a.example.")?.addresses).toEqual(["192.0.2.10"]);
  });

  it("my own leased instance takes the host only it used along when it ends", async () => {
    const d = decodeUpdate(
      encodeUpdate({
        id: 3,
        zone: A,
        updates: registrationUpdate(
          { instance: "y", type: "_kv._tcp", host: "yhost", addresses: ["192.0.2.11"], port: 9 },
          A,
        ),
      }),
    );
    if (d.kind !== "update") throw new Error(d.reason);
    const out = processUpdate(
      d.update,
      registry,
      { domains: [LOCAL, A, B], actor: keyA, leaseSeconds: 60 },
      clock.now(),
    );
    await registry.apply(out.ops);
    clock.advance(61_000);
    await registry.expireDue();
    expect(registry.host("yhost", "a.example.")).toBeUndefined();
  });
});
