import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  envName,
  explainOrigin,
  layerSettings,
  settingsFromEnv,
  settingsFromFile,
  type SettingSpec,
} from "../src/config-layers.js";

const specs: SettingSpec[] = [
  { name: "dns", key: "dns", kind: "list" },
  { name: "key-file", key: "keyFile", kind: "list" },
  { name: "services", key: "services", kind: "value" },
  { name: "max-udp-size", key: "maxUdpSize", kind: "value" },
  { name: "mdns", key: "mdns", kind: "switch" },
];

describe("config layers", () => {
  it("names a flag's variable RINGDNS_ and the flag in capitals", () => {
    expect(envName("max-udp-size")).toBe("RINGDNS_MAX_UDP_SIZE");
  });

  it("reads lists comma-separated and switches as true/false from the environment, ignoring other variables", () => {
    const { settings, origins } = settingsFromEnv(
      { RINGDNS_DNS: "127.0.0.1:53, [::1]:53", RINGDNS_MDNS: "off", RINGDNS_MAX_UDP_SIZE: "4096", PATH: "/bin" },
      specs,
    );
    expect(settings).toEqual({ dns: ["127.0.0.1:53", "[::1]:53"], mdns: false, maxUdpSize: "4096" });
    expect(origins.get("dns")).toBe("RINGDNS_DNS");
    expect(() => settingsFromEnv({ RINGDNS_DSN: "x" }, specs)).toThrow(/^RINGDNS_DSN: not a setting/);
  });

  it("reads a file's paths relative to the file, a single value as a one-item list, numbers and booleans as typed", () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-layers-"));
    const file = join(dir, "r.yaml");
    writeFileSync(file, "services: s.yaml\nkey-file: /etc/k.key\ndns: 127.0.0.1:53\nmax-udp-size: 4096\nmdns: false\n");
    expect(settingsFromFile(file, specs).settings).toEqual({
      services: join(dir, "s.yaml"),
      keyFile: ["/etc/k.key"],
      dns: ["127.0.0.1:53"],
      maxUdpSize: "4096",
      mdns: false,
    });
    writeFileSync(file, "");
    expect(settingsFromFile(file, specs).settings).toEqual({});
    writeFileSync(file, "- dns\n");
    expect(() => settingsFromFile(file, specs)).toThrow(/must be a mapping of settings/);
  });

  it("layers: command line over environment over file over default", () => {
    const cli = { dns: ["cli"], maxUdpSize: "1232", mdns: true };
    const given = (k: string) => k === "dns";
    expect(
      layerSettings(cli, given, { dns: ["file"], maxUdpSize: "2048", mdns: false }, { maxUdpSize: "4096" }),
    ).toEqual({ dns: ["cli"], maxUdpSize: "4096", mdns: false });
  });

  it("an error names the variable or file the bad value came from", () => {
    const origins = new Map([
      ["maxUdpSize", "RINGDNS_MAX_UDP_SIZE"],
      ["services", "--config /etc/r.yaml"],
    ]);
    expect(explainOrigin("--max-udp-size: too big", specs, origins)).toBe("RINGDNS_MAX_UDP_SIZE: too big");
    expect(explainOrigin("--services: no such file", specs, origins)).toBe(
      "--config /etc/r.yaml: services: no such file",
    );
    expect(explainOrigin("--dns: bad", specs, origins)).toBe("--dns: bad");
  });
});
