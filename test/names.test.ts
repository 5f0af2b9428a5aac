import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  base32hexDecode,
  base32hexEncode,
  formatName,
  hashKeyFromLabels,
  hashKeyLabels,
  hashName,
  instanceName,
  nameProblem,
  parseName,
  parseQueryName,
  parseServiceType,
  servicesEnumName,
  subtypeName,
  typeName,
} from "../src/names.js";

const domains = [["local"], ["svc", "example"]];
const cache = { service: "_cache", proto: "_tcp" } as const;
const text = (b: Uint8Array | string) => (typeof b === "string" ? b : Buffer.from(b).toString("utf8"));

describe("presentation names", () => {
  it("parses and formats escapes", () => {
    expect(parseName("My\\.Printer._ipp._tcp.local.")).toEqual(["My.Printer", "_ipp", "_tcp", "local"]);
    expect(parseName("a\\032b.local")).toEqual(["a b", "local"]);
    expect(formatName(["My.Printer", "_ipp", "_tcp", "local"])).toBe("My\\.Printer._ipp._tcp.local.");
    expect(formatName([])).toBe(".");
    expect(() => parseName("a..b")).toThrow(/empty label/);
  });

  it("round-trips any labels", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 5 }), (labels) => {
        expect(parseName(formatName(labels))).toEqual(labels);
      }),
    );
  });

  it("enforces the exact limits: 63-byte labels, 255-byte names", () => {
    expect(nameProblem(["a".repeat(63), "local"])).toBeNull();
    expect(nameProblem(["a".repeat(64), "local"])).toMatch(/64 bytes/);
    const name253 = Array(4).fill("a".repeat(62)).concat(["b"]); // 4*63 + 2 + 1 = 255
    expect(nameProblem(name253)).toBeNull();
    expect(nameProblem([...name253.slice(0, 4), "bb"])).toMatch(/256 bytes/);
  });
});

describe("service types", () => {
  it("parses case-insensitively, stores lower case", () => {
    expect(parseServiceType("_Cache._TCP")).toEqual(cache);
    expect(parseServiceType("_ipp._tcp.")).toEqual({ service: "_ipp", proto: "_tcp" });
  });
  it("rejects what is not a service type, saying why", () => {
    expect(() => parseServiceType("cache._tcp")).toThrow(/not a service name/);
    expect(() => parseServiceType("_cache._sctp")).toThrow(/_tcp or _udp/);
    expect(() => parseServiceType("_a-very-long-service-name._tcp")).toThrow(/1-15/);
  });
});

describe("building every name in the DESIGN table", () => {
  it("formats them", () => {
    const d = ["svc", "example"];
    expect(formatName(servicesEnumName(d))).toBe("_services._dns-sd._udp.svc.example.");
    expect(formatName(typeName(cache, d))).toBe("_cache._tcp.svc.example.");
    expect(formatName(subtypeName(cache, "_eu", d))).toBe("_eu._sub._cache._tcp.svc.example.");
    expect(formatName(instanceName(cache, "Alpha One", d))).toBe("Alpha One._cache._tcp.svc.example.");
    expect(formatName(hashName(cache, "user42.eu", d))).toBe("user42.eu._hash._cache._tcp.svc.example.");
    expect(formatName(hashName(cache, Uint8Array.of(0, 255), d))).toBe("b32-03vg._hash._cache._tcp.svc.example.");
    expect(formatName(hashName(cache, "UPPER", d))).toMatch(/^b32-/); // case would be lost in plain labels
  });
});

describe("parsing query names", () => {
  const p = (s: string) => parseQueryName(parseName(s), domains);

  it("classifies each kind, keeping the client's spelling", () => {
    expect(p("svc.example.")).toMatchObject({ kind: "apex", domain: ["svc", "example"] });
    expect(p("_services._dns-sd._udp.local.")).toMatchObject({ kind: "services" });
    expect(p("_Cache._TCP.Local.")).toMatchObject({
      kind: "type",
      type: cache,
      domain: ["Local"],
      typeLabels: ["_Cache", "_TCP"],
    });
    expect(p("_EU._sub._cache._tcp.local.")).toMatchObject({ kind: "subtype", subtype: "_eu" });
    expect(p("Alpha One._cache._tcp.local.")).toMatchObject({ kind: "instance", instance: "Alpha One", type: cache });
    expect(p("alpha.svc.example.")).toMatchObject({ kind: "host", host: "alpha", domain: ["svc", "example"] });
    expect(p("_tcp.local.")).toMatchObject({ kind: "intermediate" });
    expect(p("_hash._cache._tcp.local.")).toMatchObject({ kind: "intermediate" });
    expect(p("a.b.c.local.")).toMatchObject({ kind: "unknown" });
    expect(p("example.com.")).toBeNull();
    expect(p("example.")).toBeNull();
  });

  it("takes multi-label hash keys, lower-cased", () => {
    const r = p("User42.EU._hash._cache._tcp.local.");
    expect(r).toMatchObject({ kind: "hash", type: cache });
    expect(text((r as { key: Uint8Array }).key)).toBe("user42.eu");
  });

  it("decodes b32- keys to their exact bytes", () => {
    const r = p(`b32-${base32hexEncode(Buffer.from("Case Key"))}._hash._cache._tcp.local.`);
    expect(text((r as { key: Uint8Array }).key)).toBe("Case Key");
    expect(p("b32-!!._hash._cache._tcp.local.")).toMatchObject({ kind: "badhash" });
  });

  it("the longest served domain wins", () => {
    const r = parseQueryName(parseName("_cache._tcp.svc.example."), [["example"], ["svc", "example"]]);
    expect(r).toMatchObject({ kind: "type", domain: ["svc", "example"] });
  });
});

describe("hash keys", () => {
  it("base32hex round-trips any bytes and rejects non-canonical text", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        expect(base32hexDecode(base32hexEncode(b))).toEqual(b);
      }),
    );
    expect(base32hexDecode("0")).toBeNull(); // 5 bits cannot be a byte
    expect(base32hexDecode("01")).toBeNull(); // trailing bits set
    expect(base32hexDecode("w0")).toBeNull(); // outside the alphabet
  });

  it("any key survives name building and parsing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 35 }), (key) => {
        const parsed = parseQueryName(hashName(cache, key, ["local"]), domains);
        expect(parsed).toMatchObject({ kind: "hash" });
        const expected = hashKeyFromLabels(hashKeyLabels(key));
        expect((parsed as { key: Uint8Array }).key).toEqual(expected);
      }),
    );
  });
});
