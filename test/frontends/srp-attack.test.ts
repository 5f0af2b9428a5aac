import { describe, expect, it } from "vitest";
import { handlerDeps } from "../lab/handler.js";
import { handleDnsMessage, type DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { parseName, type Labels } from "../../src/names.js";
import type { Registry } from "../../src/registry/registry.js";
import type { Host, Instance } from "../../src/registry/types.js";
import { TokenBuckets } from "../../src/frontends/token-buckets.js";
import { DEFAULT_LIMITS } from "../../src/registry/limits.js";
import { sourceMatcher } from "../../src/update/policy.js";
import { srpUpdate } from "../../src/update/registration-ops.js";
import { generateSig0Key } from "../../src/update/sig0-keys.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { signSig0, type Sig0Signer } from "../../src/wire/sig0.js";
import { encodeUpdate } from "../../src/wire/update.js";

const ZONE = parseName("default.service.arpa");
const T0 = 1_800_000_000_000;
const PEER = "192.0.2.10:5353";

async function setup() {
  const deps = await handlerDeps({ nowMs: T0, zone: ZONE, keys: [], allowUnsigned: ["none"] });
  const update = {
    ...deps.update!,
    srp: { from: sourceMatcher(["192.0.2.0/24"], "--srp-from"), lease: { min: 30, max: 86_400, keyMax: 7 * 86_400 } },
  };
  const full: DnsHandlerDeps = { ...deps, update };
  return { deps: full, registry: deps.registry as Registry };
}

async function send(deps: DnsHandlerDeps, msg: Buffer, peer = PEER) {
  const reply = await handleDnsMessage(msg, "udp", peer, deps);
  return decodeMessage(reply!);
}

function signed(signer: Sig0Signer, services: Parameters<typeof srpUpdate>[1], zone: Labels = ZONE) {
  const msg = encodeUpdate({
    id: 1,
    zone,
    updates: srpUpdate({ host: signer.name[0]!, key: signer.key, addresses: ["192.0.2.66"] }, services, zone),
    lease: { lease: 3600, keyLease: 86_400 },
  });
  return signSig0(msg, signer, Math.floor(T0 / 1000));
}

// the services file's registrations have no domain: they are served under every served domain, the SRP zone too
const staticHost: Host = { name: "nas", addresses: ["203.0.113.5"], source: "static" };
const staticFiles: Instance = {
  name: "Files",
  type: { service: "_smb", proto: "_tcp" },
  subtypes: [],
  host: ["nas"],
  port: 445,
  priority: 0,
  weight: 1,
  txt: [],
  source: "static",
};

describe("SRP cannot shadow what is served everywhere (the services file)", () => {
  it("a host name the services file serves in the SRP zone is not an SRP client's to take", async () => {
    const { deps, registry } = await setup();
    registry.loadStatic([staticFiles], [staticHost]);
    const before = await send(deps, encodeQuery(9, parseName("nas.default.service.arpa"), Type.A));
    expect(before.answers.map((a) => (a.data as { address: string }).address)).toEqual(["203.0.113.5"]);
    const mallory = generateSig0Key("nas.default.service.arpa", 13);
    const r = await send(deps, signed(mallory, []));
    expect(r.rcodeName).toBe("YXDOMAIN");
    const after = await send(deps, encodeQuery(9, parseName("nas.default.service.arpa"), Type.A));
    expect(after.answers.map((a) => (a.data as { address: string }).address)).toEqual(["203.0.113.5"]);
  });

  it("an instance name the services file serves in the SRP zone is not an SRP client's to take", async () => {
    const { deps, registry } = await setup();
    registry.loadStatic([staticFiles], [staticHost]);
    const mallory = generateSig0Key("evil.default.service.arpa", 13);
    const r = await send(deps, signed(mallory, [{ instance: "Files", type: "_smb._tcp", port: 4445, txt: [] }]));
    expect(r.rcodeName).toBe("YXDOMAIN");
    const srv = await send(deps, encodeQuery(9, parseName("Files._smb._tcp.default.service.arpa"), Type.SRV));
    expect(srv.answers.map((a) => (a.data as { port: number }).port)).toEqual([445]);
  });
});

describe("SRP signature checks are bounded in all, not only per source", () => {
  it("many sources (the on-link /64, or spoofed UDP sources in --srp-from) share one budget of signature checks", async () => {
    const { deps } = await setup();
    const update = {
      ...deps.update!,
      srp: { ...deps.update!.srp!, verifyRate: new TokenBuckets(2), verifyRateTotal: new TokenBuckets(5) },
    };
    const limited: DnsHandlerDeps = { ...deps, update };
    const rcodes: string[] = [];
    for (let n = 1; n <= 10; n++) {
      const k = generateSig0Key(`h${n}.default.service.arpa`, 15);
      rcodes.push((await send(limited, signed(k, []), `192.0.2.${n}:5353`)).rcodeName);
    }
    expect(rcodes.filter((r) => r === "NOERROR")).toHaveLength(5);
    expect(rcodes.filter((r) => r === "REFUSED")).toHaveLength(5);
  });
});

// the order of P-256: an ECDSA signature (r, s) verifies as (r, n - s) too
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

describe("a captured SRP update cannot be replayed in another form", () => {
  it("the same ECDSA signature with s as n - s (valid too) is a replay, not a new update", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const msg = signed(a, [{ instance: "P", type: "_ipp._tcp", port: 631, txt: [] }]);
    expect((await send(deps, msg)).rcodeName).toBe("NOERROR");
    const gone = encodeUpdate({
      id: 2,
      zone: ZONE,
      updates: srpUpdate({ host: "printer", key: a.key, addresses: [] }, [], ZONE),
      lease: { lease: 0, keyLease: 86_400 },
    });
    expect((await send(deps, signSig0(gone, a, Math.floor(T0 / 1000)))).rcodeName).toBe("NOERROR");
    expect(registry.hostTotal()).toBe(0);
    // the attacker's copy: the signature is the last 64 bytes, r then s
    const copy = Buffer.from(msg);
    const at = copy.length - 32;
    const s = BigInt(`0x${copy.subarray(at).toString("hex")}`);
    Buffer.from((P256_N - s).toString(16).padStart(64, "0"), "hex").copy(copy, at);
    const r = await send(deps, copy, "192.0.2.99:5353");
    expect(r.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
  });
});

describe("a signature is remembered for as long as it is valid", () => {
  it("a captured update signed for an hour cannot be replayed once the ten-minute window has passed", async () => {
    const { deps, registry } = await setup();
    const clock = deps.update!.clock as { advance(ms: number): void; now(): number };
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const body = (id: number, lease: number, addresses: string[]) =>
      encodeUpdate({
        id,
        zone: ZONE,
        updates: srpUpdate({ host: "printer", key: a.key, addresses }, [], ZONE),
        lease: { lease, keyLease: 86_400 },
      });
    const nowSec = () => Math.floor(clock.now() / 1000);
    const captured = signSig0(body(1, 3600, ["192.0.2.7"]), a, nowSec(), 3600);
    expect((await send(deps, captured)).rcodeName).toBe("NOERROR");
    clock.advance(60_000);
    expect((await send(deps, signSig0(body(2, 0, []), a, nowSec()))).rcodeName).toBe("NOERROR");
    expect(registry.hostTotal()).toBe(0);
    clock.advance(11 * 60_000);
    const r = await send(deps, captured, "192.0.2.99:5353");
    expect(r.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
  });
});

describe("names one SRP key holds are bounded", () => {
  it("a key claims at most --max-registrations-per-key names (a LEASE 0 update visits and rewrites every one)", async () => {
    const { deps, registry } = await setup();
    const limited: DnsHandlerDeps = {
      ...deps,
      update: { ...deps.update!, limits: { ...DEFAULT_LIMITS, maxPerKey: 4 } },
    };
    const a = generateSig0Key("many.default.service.arpa", 15);
    const svc = (n: number) => ({ instance: `s${n}`, type: "_kv._tcp", port: 7000, txt: [] });
    expect((await send(limited, signed(a, [svc(1), svc(2), svc(3)]))).rcodeName).toBe("NOERROR");
    const more = await send(limited, signed(a, [svc(4), svc(5)]));
    expect(more.rcodeName).toBe("REFUSED");
    expect(registry.claimTotal()).toBe(4);
  });
});

describe("a host's lease ending takes the services still on it (docs/srp.md)", () => {
  it("another key cannot take a host name whose services, registered for longer, still point at it", async () => {
    const { deps, registry } = await setup();
    const clock = deps.update!.clock as { advance(ms: number): void; now(): number };
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const nowSec = () => Math.floor(clock.now() / 1000);
    const update = (id: number, services: Parameters<typeof srpUpdate>[1], lease: number, keyLease: number) =>
      encodeUpdate({
        id,
        zone: ZONE,
        updates: srpUpdate({ host: "printer", key: a.key, addresses: ["192.0.2.7"] }, services, ZONE),
        lease: { lease, keyLease },
      });
    const ipp = { instance: "P", type: "_ipp._tcp", port: 631, txt: [] };
    expect((await send(deps, signSig0(update(1, [ipp], 86_400, 7 * 86_400), a, nowSec()))).rcodeName).toBe("NOERROR");
    // the host alone, renewed for a minute: the service keeps its day
    clock.advance(1000);
    expect((await send(deps, signSig0(update(2, [], 60, 60), a, nowSec()))).rcodeName).toBe("NOERROR");
    clock.advance(120_000);
    await registry.expireDue();
    const mallory = generateSig0Key("printer.default.service.arpa", 15);
    const taken = encodeUpdate({
      id: 3,
      zone: ZONE,
      updates: srpUpdate({ host: "printer", key: mallory.key, addresses: ["198.51.100.66"] }, [], ZONE),
      lease: { lease: 3600, keyLease: 3600 },
    });
    await send(deps, signSig0(taken, mallory, nowSec()), "192.0.2.99:5353");
    // whatever mallory got, the service registered by the first key must not point at mallory's addresses
    const srv = await send(deps, encodeQuery(9, parseName("P._ipp._tcp.default.service.arpa"), Type.SRV));
    const a4 = await send(deps, encodeQuery(9, parseName("printer.default.service.arpa"), Type.A));
    const served = srv.answers.length > 0 ? a4.answers.map((r) => (r.data as { address: string }).address) : [];
    expect(served).not.toContain("198.51.100.66");
  });
});
