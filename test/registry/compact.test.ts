// Registrations as kept: the same values, with what they share held once.
import { describe, expect, it } from "vitest";
import { compactHost, compactInstance } from "../../src/registry/compact.js";
import type { Host, Instance } from "../../src/registry/types.js";

const inst = (name: string, txt: string[]): Instance => ({
  name,
  type: { service: "_web", proto: "_tcp" },
  subtypes: [],
  host: [name],
  port: 80,
  priority: 0,
  weight: 1,
  txt: txt.map((t) => new TextEncoder().encode(t)),
  source: "update",
  owner: { kind: "key", name: "k1." },
  domain: "a.example.",
});

describe("compactInstance", () => {
  it("keeps every value, and shares the type, owner and empty lists", () => {
    const a = inst("a", ["x=1", "path=/"]);
    const b = inst("b", []);
    const ca = compactInstance(a);
    const cb = compactInstance(b);
    expect(ca).toStrictEqual({ ...a, subtypes: [], txt: a.txt.map((t) => new Uint8Array(t)) });
    expect(cb).toStrictEqual(b);
    expect(ca.type).toBe(cb.type);
    expect(ca.owner).toBe(cb.owner);
    expect(cb.txt).toBe(compactInstance(inst("c", [])).txt);
    expect(ca.subtypes).toBe(cb.subtypes);
  });

  it("puts small TXT strings in a shared slab, a big one in its own buffer, and leaves a kept instance as it is", () => {
    const big = `v=${"x".repeat(2000)}`;
    const c = compactInstance(inst("a", ["x=1", "y=2", big]));
    expect(c.txt[0]!.buffer).toBe(c.txt[1]!.buffer);
    expect(c.txt[0]!.buffer.byteLength).toBeGreaterThan(3);
    expect(c.txt[2]!.buffer.byteLength).toBe(big.length);
    expect(new TextDecoder().decode(c.txt[2])).toBe(big);
    expect(compactInstance(c)).toBe(c);
  });
});

describe("compactHost", () => {
  it("keeps every value and shares the owner", () => {
    const h = (name: string): Host => ({
      name,
      addresses: ["192.0.2.1"],
      source: "update",
      owner: { kind: "unsigned" },
    });
    const a = compactHost(h("a"));
    const b = compactHost(h("b"));
    expect(a).toStrictEqual(h("a"));
    expect(a.owner).toBe(b.owner);
    expect(compactHost(a)).toBe(a);
  });
});
