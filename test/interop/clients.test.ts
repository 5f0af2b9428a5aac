// kdig (Knot), nslookup and Node's dns.Resolver ask for every name in the
// DESIGN table, the way each is used in the wild.
import { execFileSync } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon(["--services", "examples/services.yaml", "--domain", "svc.example."], { ipv6: true });
});
afterAll(() => d.stop());

describe.skipIf(missingTool("kdig"))("kdig", () => {
  const short = (...args: string[]) =>
    dig("kdig", "127.0.0.1", d.port, args)
      .answer.map((r) => r.rdata)
      .sort();

  it("answers every name in the DESIGN table", () => {
    expect(short("_services._dns-sd._udp.svc.example", "PTR")).toEqual([
      "_cache._tcp.svc.example.",
      "_http._tcp.svc.example.",
      "_ipp._tcp.svc.example.",
    ]);
    expect(short("_cache._tcp.svc.example", "PTR")).toHaveLength(3);
    expect(short("_us._sub._cache._tcp.svc.example", "PTR")).toEqual(["gamma._cache._tcp.svc.example."]);
    expect(short("gamma._cache._tcp.svc.example", "SRV")).toEqual(["0 2 11211 gamma.svc.example."]);
    expect(short("gamma._cache._tcp.svc.example", "TXT")).toEqual(['"version=1.5"']);
    expect(short("beta.svc.example", "A")).toEqual(["192.0.2.11"]);
    expect(short("beta.svc.example", "AAAA")).toEqual(["2001:db8::11"]);
    expect(short("k1._hash._cache._tcp.svc.example", "SRV")).toHaveLength(1);
    expect(short("k1._hash._cache._tcp.svc.example", "A")).toHaveLength(1);
  });

  it("over TCP and IPv6 too", () => {
    expect(short("+tcp", "api-1.local", "A")).toEqual(["192.0.2.21"]);
    const v6 = dig("kdig", "::1", d.port6!, ["_http._tcp.local", "PTR"]);
    expect(v6.answer.map((r) => r.rdata)).toEqual(["api-1._http._tcp.local."]);
  });

  it("reports NXDOMAIN with the SOA", () => {
    const r = dig("kdig", "127.0.0.1", d.port, ["nothing.svc.example", "A"]);
    expect(r.status).toBe("NXDOMAIN");
    expect(r.authority.map((a) => a.type)).toEqual(["SOA"]);
  });
});

describe.skipIf(missingTool("nslookup"))("nslookup", () => {
  const ns = (...args: string[]) =>
    execFileSync("nslookup", [`-port=${d.port}`, ...args, "127.0.0.1"], { encoding: "utf8" });

  it("looks up every name in the DESIGN table", () => {
    expect(ns("-type=PTR", "_services._dns-sd._udp.svc.example")).toMatch(/name = _ipp\._tcp\.svc\.example\./);
    expect(ns("-type=PTR", "_us._sub._cache._tcp.svc.example")).toMatch(/name = gamma\._cache\._tcp\.svc\.example\./);
    expect(ns("-type=AAAA", "alpha.svc.example")).toMatch(/Address: 2001:db8::10/);
    expect(ns("-type=A", "user42._hash._cache._tcp.svc.example")).toMatch(
      /Address: 192\.0\.2\.1[01]|Address: 198\.51\.100\.12/,
    );
    expect(ns("-type=A", "alpha.svc.example")).toMatch(/Address: 192\.0\.2\.10/);
    expect(ns("-type=SRV", "alpha._cache._tcp.svc.example")).toMatch(/service = 0 1 11211 alpha\.svc\.example\./);
    expect(ns("-type=TXT", "alpha._cache._tcp.svc.example")).toMatch(/text = "version=1\.4" "role=primary"/);
    expect(ns("-type=PTR", "_cache._tcp.svc.example")).toMatch(/name = beta\._cache\._tcp\.svc\.example\./);
    expect(ns("-type=SRV", "user42._hash._cache._tcp.svc.example").match(/service = /g)).toHaveLength(1);
  });

  it("says so when a name does not exist", () => {
    let out = "";
    try {
      ns("-type=A", "nobody.svc.example");
    } catch (e) {
      out = String((e as { stdout: string }).stdout);
    }
    expect(out).toMatch(/NXDOMAIN/);
  });
});

describe("Node's dns.Resolver", () => {
  const resolver = () => {
    const r = new Resolver({ timeout: 3000, tries: 1 });
    r.setServers([`127.0.0.1:${d.port}`]);
    return r;
  };

  it("resolves every name in the DESIGN table", async () => {
    const r = resolver();
    expect((await r.resolvePtr("_services._dns-sd._udp.local")).sort()).toEqual([
      "_cache._tcp.local",
      "_http._tcp.local",
      "_ipp._tcp.local",
    ]);
    expect((await r.resolvePtr("_cache._tcp.local")).sort()).toEqual([
      "alpha._cache._tcp.local",
      "beta._cache._tcp.local",
      "gamma._cache._tcp.local",
    ]);
    expect(await r.resolvePtr("_eu._sub._cache._tcp.local")).toHaveLength(2);
    expect(await r.resolveSrv("alpha._cache._tcp.local")).toEqual([
      expect.objectContaining({ name: "alpha.local", port: 11211, priority: 0, weight: 1 }),
    ]); // newer Node adds type: "SRV"
    expect(await r.resolveTxt("alpha._cache._tcp.local")).toEqual([["version=1.4", "role=primary"]]);
    expect(await r.resolve4("alpha.local")).toEqual(["192.0.2.10"]);
    expect(await r.resolve6("alpha.local")).toEqual(["2001:db8::10"]);
    const owner = await r.resolveSrv("user42._hash._cache._tcp.local");
    expect(owner).toHaveLength(1);
    expect(await r.resolve4("user42._hash._cache._tcp.local")).toEqual(await r.resolve4(owner[0]!.name));
    expect(await r.resolveTxt("user42._hash._cache._tcp.local")).toEqual(
      await r.resolveTxt(`${owner[0]!.name.split(".")[0]}._cache._tcp.local`),
    );
  });

  it("gets ENOTFOUND for a missing name and ENODATA for a missing type", async () => {
    await expect(resolver().resolve4("nobody.local")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver().resolve6("gamma.local")).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("gets REFUSED outside the served domains", async () => {
    await expect(resolver().resolve4("www.example.com")).rejects.toMatchObject({ code: "EREFUSED" });
  });
});
