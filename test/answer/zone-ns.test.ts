// --zone-ns: the NS RRset at each served apex (RFC 1034 §4.2.1).
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";

describe("--zone-ns", () => {
  it("is a host label under each zone, or an absolute name; by default this machine's host name", () => {
    expect(resolveConfig({ zoneNs: "NS1" }).zoneNs).toEqual({ host: "ns1" });
    expect(resolveConfig({ zoneNs: "ns1.example.net." }).zoneNs).toEqual({ name: ["ns1", "example", "net"] });
    const own = hostname().split(".")[0]!.toLowerCase();
    expect(resolveConfig({}).zoneNs).toEqual({ host: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(own) ? own : "ns" });
  });

  it("refuses what is neither", () => {
    expect(() => resolveConfig({ zoneNs: "ns1.example" })).toThrow(/--zone-ns/);
    expect(() => resolveConfig({ zoneNs: "_ns" })).toThrow(/--zone-ns/);
    expect(() => resolveConfig({ zoneNs: "." })).toThrow(/--zone-ns/);
  });
});
