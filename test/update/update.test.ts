// RFC 2136 processing against a registry, message in -> rcode and changes out.
import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { registrationUpdate, deregistrationUpdate } from "../../src/client/registration.js";
import { parseName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { processUpdate } from "../../src/update/update.js";
import { rcodeName, Type } from "../../src/wire/constants.js";
import { decodeUpdate, encodeUpdate, type Prerequisite, type UpdateOp } from "../../src/wire/update.js";

const zone = parseName("svc.example.");
const n = (s: string) => parseName(s);
const cache = { service: "_cache", proto: "_tcp" } as const;
let clock: ManualClock;
let registry: Registry;

beforeEach(async () => {
  clock = new ManualClock(1_800_000_000_000);
  registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
});

async function update(
  updates: UpdateOp[],
  opts: { prerequisites?: Prerequisite[]; zone?: string; lease?: number } = {},
) {
  const wire = encodeUpdate({
    id: 1,
    zone: opts.zone ? n(opts.zone) : zone,
    updates,
    ...(opts.prerequisites ? { prerequisites: opts.prerequisites } : {}),
  });
  const d = decodeUpdate(wire);
  if (d.kind !== "update") throw new Error(d.reason);
  const out = processUpdate(
    d.update,
    registry,
    { domains: [["local"], zone], ...(opts.lease ? { leaseSeconds: opts.lease } : {}) },
    clock.now(),
  );
  if (out.rcode === 0) await registry.apply(out.ops);
  return { rcode: rcodeName(out.rcode), reason: out.reason ?? "" };
}

const alpha = {
  instance: "Alpha",
  type: "_cache._tcp",
  host: "alpha",
  addresses: ["192.0.2.1", "2001:db8::1"],
  port: 11211,
  weight: 2,
  subtypes: ["_eu"],
  txt: { v: "1" },
};

describe("registering and deregistering", () => {
  it("PTR + SRV + TXT + A/AAAA registers an instance, visible on the ring", async () => {
    expect(await update(registrationUpdate(alpha, zone))).toMatchObject({ rcode: "NOERROR" });
    const i = registry.instance(cache, "alpha")!;
    expect(i).toMatchObject({
      name: "Alpha",
      port: 11211,
      weight: 2,
      host: ["alpha"],
      subtypes: ["_eu"],
      source: "update",
    });
    expect(Buffer.from(i.txt[0]!).toString()).toBe("v=1");
    expect(registry.host("alpha")?.addresses).toEqual(["192.0.2.1", "2001:db8::1"]);
    expect(registry.ownerOf(cache, "any-key", "svc.example.")?.name).toBe("Alpha");
    expect(registry.ownerOf(cache, "any-key", "local.")).toBeUndefined(); // registered in svc.example. only
  });

  it("the same update again changes nothing but the lease (renewal)", async () => {
    await update(registrationUpdate(alpha, zone), { lease: 60 });
    clock.advance(30_000);
    expect((await update(registrationUpdate(alpha, zone), { lease: 60 })).rcode).toBe("NOERROR");
    expect(registry.instance(cache, "alpha")!.expiresAt).toBe(clock.now() + 60_000);
  });

  it("deleting SRV and PTR deregisters, subtypes included", async () => {
    await update(registrationUpdate(alpha, zone));
    expect((await update(deregistrationUpdate("_cache._tcp", "alpha", zone))).rcode).toBe("NOERROR");
    expect(registry.instance(cache, "alpha")).toBeUndefined();
    expect(registry.instancesWithSubtype(cache, "_eu")).toEqual([]);
  });

  it.each([
    [
      "SRV without PTR",
      [
        {
          op: "add",
          name: n("x._cache._tcp.svc.example."),
          ttl: 60,
          data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 1, target: n("x.svc.example.") } },
        },
      ],
      /no PTR/,
    ],
    [
      "PTR without SRV",
      [
        {
          op: "add",
          name: n("_cache._tcp.svc.example."),
          ttl: 60,
          data: { type: Type.PTR, target: n("x._cache._tcp.svc.example.") },
        },
      ],
      /no SRV/,
    ],
    [
      "PTR to another type",
      [
        {
          op: "add",
          name: n("_cache._tcp.svc.example."),
          ttl: 60,
          data: { type: Type.PTR, target: n("x._web._tcp.svc.example.") },
        },
      ],
      /must point to an instance of _cache/,
    ],
    [
      "a record ringdns does not store",
      [{ op: "add", name: n("x.svc.example."), ttl: 60, data: { type: Type.TXT, strings: [] } }],
      /not a DNS-SD record/,
    ],
  ] as [string, UpdateOp[], RegExp][])("refuses %s and changes nothing", async (_, ops, why) => {
    const r = await update(ops);
    expect(r.rcode).toBe("REFUSED");
    expect(r.reason).toMatch(why);
    expect(registry.serviceTypes()).toEqual([]);
    expect(registry.allHosts()).toEqual([]);
  });

  it("two SRV records for one instance are refused; replacing the SRV works", async () => {
    await update(registrationUpdate(alpha, zone));
    const second: UpdateOp = {
      op: "add",
      name: n("alpha._cache._tcp.svc.example."),
      ttl: 60,
      data: { type: Type.SRV, srv: { priority: 0, weight: 1, port: 2, target: n("alpha.svc.example.") } },
    };
    expect((await update([second])).reason).toMatch(/2 SRV records/);
    expect(
      (await update([{ op: "delete-rrset", name: n("alpha._cache._tcp.svc.example."), type: Type.SRV }, second])).rcode,
    ).toBe("NOERROR");
    expect(registry.instance(cache, "alpha")!.port).toBe(2);
  });

  it("an update to static registrations is refused", async () => {
    registry.loadStatic(
      [
        {
          name: "s",
          type: cache,
          subtypes: [],
          host: ["s"],
          port: 1,
          priority: 0,
          weight: 1,
          txt: [],
          source: "static",
        },
      ],
      [],
    );
    expect((await update(deregistrationUpdate("_cache._tcp", "s", zone))).reason).toMatch(/static registration/);
  });
});

describe("zone and prerequisites (RFC 2136 §3.1, §3.2)", () => {
  beforeEach(async () => {
    await update(registrationUpdate(alpha, zone));
  });
  const inst = n("alpha._cache._tcp.svc.example.");

  it.each([
    [{ kind: "name-in-use", name: n("nobody._cache._tcp.svc.example.") }, "NXDOMAIN"],
    [{ kind: "name-not-in-use", name: inst }, "YXDOMAIN"],
    [{ kind: "rrset-exists", name: inst, type: Type.A }, "NXRRSET"],
    [{ kind: "rrset-not-exists", name: inst, type: Type.SRV }, "YXRRSET"],
  ] as [Prerequisite, string][])("%j fails with %s", async (p, rcode) => {
    const r = await update(deregistrationUpdate("_cache._tcp", "alpha", zone), { prerequisites: [p] });
    expect(r.rcode).toBe(rcode);
    expect(registry.instance(cache, "alpha")).toBeDefined(); // all or nothing
  });

  it("passing prerequisites let the update through", async () => {
    const r = await update(deregistrationUpdate("_cache._tcp", "alpha", zone), {
      prerequisites: [
        { kind: "name-in-use", name: inst },
        { kind: "rrset-exists", name: inst, type: Type.TXT },
        { kind: "rrset-not-exists", name: inst, type: Type.A },
        { kind: "name-not-in-use", name: n("free._cache._tcp.svc.example.") },
      ],
    });
    expect(r.rcode).toBe("NOERROR");
  });

  it("NOTAUTH for a zone not served, NOTZONE for a name outside the zone", async () => {
    expect((await update(registrationUpdate(alpha, zone), { zone: "example.org." })).rcode).toBe("NOTAUTH");
    expect((await update(registrationUpdate(alpha, n("local.")))).rcode).toBe("NOTZONE");
  });
});
