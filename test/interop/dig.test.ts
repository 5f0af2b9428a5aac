// dig (BIND 9) against the real daemon: every name in the DESIGN table, the
// DNS behaviours around them, over UDP and TCP, IPv4 and IPv6.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

describe.skipIf(missingTool("dig"))("dig", () => {
  let d: RunningDaemon;
  const q = (...args: string[]) => dig("dig", "127.0.0.1", d.port, args);
  const short = (...args: string[]) =>
    q(...args)
      .answer.map((r) => r.rdata)
      .sort();

  beforeAll(async () => {
    d = await startDaemon(["--services", "examples/services.yaml", "--domain", "svc.example."], { ipv6: true });
  });
  afterAll(() => d.stop());

  it("enumerates service types", () => {
    expect(short("_services._dns-sd._udp.local", "PTR")).toEqual([
      "_cache._tcp.local.",
      "_http._tcp.local.",
      "_ipp._tcp.local.",
    ]);
  });

  it("browses a type, with SRV, TXT and addresses in the additional section", () => {
    const r = q("_cache._tcp.svc.example", "PTR");
    expect(r.status).toBe("NOERROR");
    expect(r.flags).toContain("aa");
    expect(r.flags).not.toContain("ra");
    expect(r.answer.map((a) => a.rdata).sort()).toEqual([
      "alpha._cache._tcp.svc.example.",
      "beta._cache._tcp.svc.example.",
      "gamma._cache._tcp.svc.example.",
    ]);
    const extra = r.additional.map((a) => `${a.name} ${a.type} ${a.rdata}`);
    expect(extra).toContain("alpha._cache._tcp.svc.example. SRV 0 1 11211 alpha.svc.example.");
    expect(extra).toContain('alpha._cache._tcp.svc.example. TXT "version=1.4" "role=primary"');
    expect(extra).toContain("alpha.svc.example. AAAA 2001:db8::10");
    expect(extra).toContain("gamma.svc.example. A 198.51.100.12");
  });

  it("browses a subtype", () => {
    expect(short("_eu._sub._cache._tcp.local", "PTR")).toEqual(["alpha._cache._tcp.local.", "beta._cache._tcp.local."]);
  });

  it("resolves SRV and TXT of an instance whose name has spaces", () => {
    expect(short("Front\\032Door\\032Printer._ipp._tcp.local", "SRV")).toEqual(["0 1 631 printer.local."]);
    expect(short("Front\\032Door\\032Printer._ipp._tcp.local", "TXT")).toEqual([
      '"txtvers=1" "ty=Example LaserJet" "rp=ipp/print" "Color"',
    ]);
  });

  it("answers A and AAAA of hosts", () => {
    expect(short("alpha.local", "A")).toEqual(["192.0.2.10"]);
    expect(short("alpha.svc.example", "AAAA")).toEqual(["2001:db8::10"]);
  });

  it("answers _hash SRV with exactly one record, and A/AAAA/TXT of the same owner", () => {
    const srv = q("user42._hash._cache._tcp.local", "SRV");
    expect(srv.answer).toHaveLength(1);
    const host = srv.answer[0]!.rdata.split(" ")[3]!; // e.g. beta.local.
    const inst = host.split(".")[0]!;
    expect(srv.additional.map((a) => `${a.name} ${a.type}`)).toContain(`${inst}._cache._tcp.local. SRV`);
    expect(short("user42._hash._cache._tcp.local", "A")).toEqual(short(host, "A"));
    expect(short("user42._hash._cache._tcp.local", "TXT")).toEqual(short(`${inst}._cache._tcp.local`, "TXT"));
    // multi-label keys and case do not matter beyond lower-casing
    expect(short("User42.EU._hash._cache._tcp.local", "SRV")).toEqual(
      short("user42.eu._hash._cache._tcp.local", "SRV"),
    );
  });

  it("keeps the client's case in the answer", () => {
    const r = q("_CACHE._tcp.LOCAL", "PTR");
    expect(r.answer[0]!.name).toBe("_CACHE._tcp.LOCAL.");
  });

  it("NXDOMAIN and NODATA carry the zone's SOA (RFC 2308)", () => {
    const nx = q("nobody._cache._tcp.local", "SRV");
    expect(nx.status).toBe("NXDOMAIN");
    expect(nx.flags).toContain("aa");
    expect(nx.authority.map((a) => a.type)).toEqual(["SOA"]);
    expect(nx.authority[0]!.name).toBe("local.");
    const nodata = q("gamma.local", "AAAA");
    expect(nodata.status).toBe("NOERROR");
    expect(nodata.answer).toEqual([]);
    expect(nodata.authority.map((a) => `${a.name} ${a.type}`)).toEqual(["local. SOA"]);
  });

  it("refuses names outside its domains", () => {
    const r = q("www.example.com", "A");
    expect(r.status).toBe("REFUSED");
    expect(r.flags).not.toContain("aa");
  });

  it("tells about itself in the CHAOS class, as DNS servers do (status.ringdns, version.bind)", () => {
    const status = q("status.ringdns", "TXT", "-c", "CH").answer.map((a) => a.rdata);
    expect(status[0]).toMatch(
      /"version=\d+\.\d+\.\d+" "store=lmdb" "healthy=yes" "location=.*registry\.mdb" "types=3" "instances=5"/,
    );
    expect(q("version.bind", "TXT", "-c", "CH").answer.map((a) => a.rdata)).toEqual([
      expect.stringMatching(/^"version=/),
    ]);
    expect(q("other.bind", "TXT", "-c", "CH").status).toBe("REFUSED");
  });

  it("answers ANY minimally (RFC 8482)", () => {
    expect(q("alpha._cache._tcp.local", "ANY").answer.map((a) => a.type)).toEqual(["SRV"]);
  });

  it("speaks EDNS: echoes OPT, and BADVERS for version 1", () => {
    expect(q("alpha.local", "A").raw).toMatch(/EDNS: version: 0, flags:; udp: 1232/);
    expect(q("+edns=1", "+noednsnegotiation", "alpha.local", "A").status).toBe("BADVERS");
    expect(q("+noedns", "alpha.local", "A").raw).not.toMatch(/OPT PSEUDOSECTION/);
  });

  it("answers over TCP and over IPv6", () => {
    expect(short("+tcp", "alpha.local", "A")).toEqual(["192.0.2.10"]);
    const v6 = dig("dig", "::1", d.port6!, ["_cache._tcp.local", "PTR"]);
    expect(v6.answer).toHaveLength(3);
    const v6tcp = dig("dig", "::1", d.port6!, ["+tcp", "gamma.local", "A"]);
    expect(v6tcp.answer.map((a) => a.rdata)).toEqual(["198.51.100.12"]);
  });

  it("answers several queries on one TCP connection (RFC 7766)", () => {
    // dig +keepopen sends every query of the command line over one connection
    const r = spawnDig(["+tcp", "+keepopen", "alpha.local", "A", "beta.local", "A", "gamma.local", "A"]);
    expect(r.match(/status: NOERROR/g)).toHaveLength(3);
  });

  function spawnDig(args: string[]): string {
    return execFileSync("dig", ["@127.0.0.1", "-p", String(d.port), ...args], { encoding: "utf8" });
  }
});
