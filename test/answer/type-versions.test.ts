// A type's counter moves on every change of the type and never comes back to a
// value it had, also when the counters start over (more types than are kept).
import { describe, expect, it } from "vitest";
import { TypeVersions, typeKey } from "../../src/answer/type-versions.js";
import type { Registry } from "../../src/registry/registry.js";
import type { Change, Instance } from "../../src/registry/types.js";

describe("TypeVersions", () => {
  it("counts per type, and past 10,000 types starts over without repeating a value a kept reply could carry", () => {
    let emit: (c: Change) => void = () => undefined;
    const feed = { onChange: (fn: (c: Change) => void) => ((emit = fn), () => undefined) } as unknown as Registry;
    const versions = new TypeVersions(feed);
    const change = (service: string) =>
      emit({
        op: "add",
        kind: "instance",
        instance: { name: "i", type: { service, proto: "_tcp" } } as Instance,
      } as Change);
    const key = typeKey({ service: "_watched", proto: "_tcp" });
    const seen = new Set([versions.version(key)]);
    change("_watched");
    expect(seen.has(versions.version(key))).toBe(false);
    seen.add(versions.version(key));
    const other = versions.version(typeKey({ service: "_other", proto: "_tcp" }));
    for (let i = 0; i < 10_001; i++) change(`_t${i}`); // the counters start over once
    expect(seen.has(versions.version(key))).toBe(false); // forgotten, but not back at an old value
    expect(versions.version(typeKey({ service: "_other", proto: "_tcp" }))).not.toBe(other);
    expect((versions as unknown as { versions: Map<string, number> }).versions.size).toBeLessThanOrEqual(10_000); // bounded
  });
});
