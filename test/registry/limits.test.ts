// The registry's limits as every writer meets them: UPDATE/HTTP all or
// nothing (overLimit), the mDNS learner what fits (admit), the services file
// as a whole (staticOverLimit); ring weights bounded per ring and together,
// with defaults that keep their memory whatever --ring-points is.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { ManualClock } from "../../src/clock.js";
import {
  admit,
  overLimit,
  ringWeightLimits,
  staticOverLimit,
  type RegistrationLimits,
} from "../../src/registry/limits.js";
import { Registry, type RegistryOp } from "../../src/registry/registry.js";
import type { Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";

const web = { service: "_web", proto: "_tcp" as const };
const ipp = { service: "_ipp", proto: "_tcp" as const };
const inst = (name: string, weight: number, type = web, domain = "a.example."): Instance => ({
  name,
  type,
  subtypes: [],
  host: [name],
  port: 80,
  priority: 0,
  weight,
  txt: [],
  source: "update",
  domain,
});
const put = (i: Instance): RegistryOp => ({ op: "put-instance", instance: i });
const limits: RegistrationLimits = {
  maxRegistrations: 100,
  maxPerKey: 100,
  maxInstancesPerType: 3,
  maxRingWeight: 100,
  maxTotalRingWeight: 150,
  maxTxtBytes: 100,
};

async function registryWith(...instances: Instance[]): Promise<Registry> {
  const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
  await registry.open();
  for (const i of instances) await registry.register(i);
  return registry;
}

describe("ring weight limits", () => {
  it("refuses an update that would take every ring together past --max-total-ring-weight, though each ring is within its own", async () => {
    const registry = await registryWith(inst("a", 90), inst("b", 50, ipp));
    expect(registry.totalRingWeight()).toBe(140);
    expect(overLimit([put(inst("c", 10, ipp))], registry, limits)).toBeUndefined();
    const over = overLimit([put(inst("c", 11, ipp))], registry, limits);
    expect(over?.[0]).toBe("total-ring-weight");
    expect(over?.[1]).toMatch(/would weigh 151 together .*at most 150 \(--max-total-ring-weight\)/);
    // what a change frees counts: a lighter a.example. ring makes room
    expect(overLimit([put(inst("a", 80)), put(inst("c", 11, ipp))], registry, limits)).toBeUndefined();
  });

  it("keeps the same memory by default whatever --ring-points is", () => {
    expect(ringWeightLimits(16)).toEqual({ maxRingWeight: 1_048_576, maxTotalRingWeight: 4_194_304 });
    expect(ringWeightLimits(1024)).toEqual({ maxRingWeight: 16_384, maxTotalRingWeight: 65_536 });
    expect(resolveConfig({ ringPoints: 1024 }).limits).toMatchObject({
      maxRingWeight: 16_384,
      maxTotalRingWeight: 65_536,
    });
    expect(resolveConfig({ ringPoints: 1024, maxRingWeight: 50_000 }).limits.maxRingWeight).toBe(50_000); // given: taken as given
    expect(() => resolveConfig({ maxTotalRingWeight: "lots" })).toThrow(/--max-total-ring-weight/);
  });
});

describe("what the LAN announced does not use up authenticated writers' room", () => {
  it("learned instances fill a ring and the total; an UPDATE still fits, and the learner gets no more", async () => {
    const learned = (name: string, weight: number, type = web): Instance => ({
      ...inst(name, weight, type),
      source: "mdns",
      domain: undefined,
    });
    // the ring of _web._tcp in local. at its 100, all rings at their 150: all of it from the LAN
    const registry = await registryWith(learned("l1", 60), learned("l2", 40), learned("l3", 50, ipp));
    expect([registry.ringWeight(web), registry.totalRingWeight()]).toEqual([100, 150]);
    expect(registry.learned(web)).toEqual({ instances: 2, hosts: 0, weight: 100 });
    expect(registry.learned()).toMatchObject({ instances: 3, weight: 150 });
    // an authenticated writer: the same ring and the total, as if the LAN's were not there
    expect(overLimit([put({ ...inst("mine", 90), domain: "local." })], registry, limits)).toBeUndefined();
    expect(overLimit([put({ ...inst("mine", 101), domain: "local." })], registry, limits)?.[0]).toBe("ring-weight");
    // the learner: everything counted, so nothing more fits
    expect(admit([put(learned("l4", 1))], registry, limits).refused.map((r) => r.limit)).toEqual(["ring-weight"]);
    expect(
      admit([put(learned("l4", 1, { service: "_new", proto: "_tcp" }))], registry, limits).refused.map((r) => r.limit),
    ).toEqual(["total-ring-weight"]);
    // an UPDATE taking over a learned name removes the learned record as it puts its own: within the limits
    expect(
      overLimit(
        [{ op: "remove-instance", type: web, name: "l2" }, put({ ...inst("l2", 5), domain: "local." })],
        registry,
        limits,
      ),
    ).toBeUndefined();
    // and a learned record gone leaves the counts as they were before it
    await registry.deregister(web, "l1");
    expect(registry.learned()).toMatchObject({ instances: 2, weight: 90 });
  });
});

describe("admit (writers that take what fits)", () => {
  it("takes the ops one at a time, removals first, and names what it left out", async () => {
    const registry = await registryWith(inst("a", 1), inst("b", 1), inst("c", 1));
    const ops: RegistryOp[] = [
      put(inst("d", 1)),
      put(inst("e", 1)),
      { op: "remove-instance", type: web, name: "a", domain: "a.example." },
      put(inst("heavy", 200, ipp)),
    ];
    const { admitted, refused } = admit(ops, registry, limits);
    // a's removal frees one place of three: d fits, e does not; heavy is over its ring's weight
    expect(admitted).toEqual([ops[0], ops[2]]);
    expect(refused.map((r) => [r.op, r.limit])).toEqual([
      [ops[1], "instances-per-type"],
      [ops[3], "ring-weight"],
    ]);
    expect(refused[1]!.reason).toMatch(/ring of _ipp\._tcp in a\.example\. would weigh 200/);
  });

  it("counts a re-announcement by what it adds, so a renewal always fits", async () => {
    const registry = await registryWith(inst("a", 100));
    expect(admit([put(inst("a", 100))], registry, limits).refused).toEqual([]);
    expect(admit([put(inst("a", 101))], registry, limits).refused.map((r) => r.limit)).toEqual(["ring-weight"]);
  });
});

describe("staticOverLimit (the services file)", () => {
  const file = (...weights: number[]) =>
    weights.map((w, k) => ({ ...inst(`s${k}`, w), source: "static" as const, domain: undefined }) as Instance);

  it("names the first limit the file alone goes over", () => {
    expect(staticOverLimit(file(1, 1, 1), [], 1, limits)).toBeUndefined();
    expect(staticOverLimit(file(1, 1, 1, 1), [], 1, limits)).toMatch(
      /_web\._tcp has 4 instances; at most 3 \(--max-instances-per-type\)/,
    );
    expect(staticOverLimit(file(60, 60), [], 1, limits)).toMatch(/would weigh 120 .*at most 100 \(--max-ring-weight\)/);
  });

  it("counts its rings once per served domain", () => {
    expect(staticOverLimit(file(50, 50), [], 1, limits)).toBeUndefined();
    expect(staticOverLimit(file(50, 50), [], 2, limits)).toMatch(/would weigh 200 together .*at most 150/);
  });
});
