import { describe, expect, it } from "vitest";
import { parseServicesFile, loadServicesFile } from "../../src/registry/services-file.js";

const parse = (yaml: string) => parseServicesFile(yaml, "svc.yaml");
const entry = (extra: string) =>
  `services:\n  - instance: alpha\n    type: _cache._tcp\n    host: alpha\n    addresses: [192.0.2.10]\n    port: 11211\n${extra}`;

describe("services file", () => {
  it("loads the example file", () => {
    const s = loadServicesFile("examples/services.yaml");
    expect(s.instances.map((i) => i.name)).toContain("Front Door Printer");
    const gamma = s.instances.find((i) => i.name === "gamma")!;
    expect(gamma).toMatchObject({
      type: { service: "_cache", proto: "_tcp" },
      weight: 2,
      port: 11211,
      subtypes: ["_us"],
      host: ["gamma"],
    });
    expect(s.hosts.find((h) => h.name === "alpha")!.addresses).toEqual(["192.0.2.10", "2001:db8::10"]);
  });

  it("loads the JSON example", () => {
    const s = loadServicesFile("examples/services.json");
    expect(s.instances.map((i) => `${i.name}:${i.weight}`)).toEqual(["web-1:1", "web-2:3"]);
    expect(s.instances[0]!.subtypes).toEqual(["_api"]);
  });

  it("reads JSON too, with TXT as a list or a mapping", () => {
    const s = parse(
      JSON.stringify({
        services: [
          { instance: "x", type: "_a._udp", host: "h", addresses: ["198.51.100.1"], port: 1, txt: ["k=v", "flag"] },
        ],
      }),
    );
    expect(s.instances[0]!.txt.map((t) => Buffer.from(t).toString())).toEqual(["k=v", "flag"]);
    const m = parse(entry("    txt: {version: 1.4, debug: true}\n"));
    expect(m.instances[0]!.txt.map((t) => Buffer.from(t).toString())).toEqual(["version=1.4", "debug"]);
  });

  it.each([
    [
      entry("    port: x\n").replace("    port: 11211\n", ""),
      /services\[0\] \(alpha\): port: must be an integer 0-65535, got "x"/,
    ],
    [entry("    colour: red\n"), /services\[0\] \(alpha\): colour: unknown field/],
    [entry("").replace("_cache._tcp", "cache"), /services\[0\] \(alpha\): type: "cache" is not a service type/],
    [entry("").replace("192.0.2.10", "192.0.2.300"), /addresses: "192.0.2.300" is not an IPv4 or IPv6 address/],
    [entry("").replace("    port: 11211\n", ""), /port: required/],
    [entry("    weight: 70000\n"), /weight: must be an integer 0-65535/],
    [entry("").replace("host: alpha", "host: bad_host"), /host: "bad_host" is not a host label/],
    [entry("").replace("    addresses: [192.0.2.10]\n", ""), /host "alpha" has no addresses/],
    [
      `${entry("")}  - instance: ALPHA\n    type: _cache._tcp\n    port: 1\n`,
      /services\[1\] \(ALPHA\): instance: "ALPHA" of _cache._tcp is already defined in services\[0\]/,
    ],
    [
      `${entry("")}  - instance: b\n    type: _x._tcp\n    host: alpha\n    addresses: [192.0.2.99]\n    port: 1\n`,
      /services\[1\] \(b\): addresses: host "alpha" already has other addresses in services\[0\]/,
    ],
    ["services: {a: 1}\n", /services: must be a list/],
    ["hello: [\n", /not valid YAML or JSON/],
    ["- a\n", /expected a top-level "services:" list/],
  ])("names the file, entry and field of a problem (%#)", (yaml, message) => {
    expect(() => parse(yaml)).toThrow(message);
    expect(() => parse(yaml)).toThrow(/^svc\.yaml: /);
  });

  it("allows an absolute SRV target without addresses, and a host given once for many instances", () => {
    const s = parse(
      entry("") +
        "  - instance: ext\n    type: _cache._tcp\n    host: db.example.com.\n    port: 5432\n  - instance: alpha2\n    type: _cache._tcp\n    host: alpha\n    port: 2\n",
    );
    expect(s.instances.map((i) => i.host)).toEqual([["alpha"], ["db", "example", "com"], ["alpha"]]);
    expect(s.hosts).toHaveLength(1);
  });

  it("reports a missing file by name", () => {
    expect(() => loadServicesFile("/nonexistent/services.yaml")).toThrow(/\/nonexistent\/services.yaml: cannot read/);
  });
});
