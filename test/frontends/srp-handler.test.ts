import { describe, expect, it } from "vitest";
import { handlerDeps } from "../lab/handler.js";
import type { ManualClock } from "../../src/clock.js";
import { handleDnsMessage, type DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { parseName, type Labels } from "../../src/names.js";
import type { Registry } from "../../src/registry/registry.js";
import { hostKey, instanceKey } from "../../src/registry/scopes.js";
import { DEFAULT_LIMITS } from "../../src/registry/limits.js";
import { sourceMatcher } from "../../src/update/policy.js";
import { srpUpdate } from "../../src/update/registration-ops.js";
import { generateSig0Key } from "../../src/update/sig0-keys.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { encodeKeyRdata, keyTag, signSig0, type Sig0Signer } from "../../src/wire/sig0.js";
import { instanceView } from "../../src/frontends/http/views.js";
import { encodeUpdate, UPDATE_LEASE_OPTION } from "../../src/wire/update.js";

const ZONE = parseName("default.service.arpa");
const DOMAIN = "default.service.arpa.";
const T0 = 1_800_000_000_000;
const PEER = "192.0.2.10:5353";

// Real SRP updates captured from two other implementations (see docs/srp.md): Apple mDNSResponder's
// srp-client (signature valid 1789125072..1789125672, key tag set) and OpenThread's (no clock: 0/0, key tag 0)
const APPLE =
  "f704280000010000000700020764656661756c74077365727669636504617270610000060001097370696b6574657374c00c00ff00ff000000000000c0260001000100000e100004ac110003c0260019000100000e1000440201030d92dafbafc4b54cd32d0e325d0b89b8edb415cc84a74acece9374f12a4c4ade2f6bd189dc5230a6e91e38827e8a6937c63111bfef5ff44883ae1bd7162baf80ad055f69707073045f746370c00c000c000100000e1000100d5370696b65496e7374616e6365c09cc0b300ff00ff000000000000c0b30021000100000e1000080000000022b8c026c0b30010000100000e1000020130000029058200008000000c000200080000006400093a8000001800ff00000000005400000d00000000006aa3e4286aa3e1d08b87c026a17cbcff761a5ee8f9c47b367ffc6874b3cb0c5405bd670aa047bb108e007a5b4cac816479b61238124a2b551e7a3351b11b607d973edb980910c0d77d208790";
const OPENTHREAD =
  "b6bf280000010000000700020764656661756c74077365727669636504617270610000060001055f69707073045f746370c00c000c000100001c20000d0a6d792d73657276696365c026c03d00ff00ff000000000000c03d0021000100001c200010000000003039076d792d686f7374c00cc03d0010000100001c20000100c06800ff00ff000000000000c068001c000100001c20001020010000000000000000000000000001c0680019000100001c2000440201030d0a83eb639a9055831b24b95e0e9f3a75abef87435e4d0102d5ee6e0cf75c22b07b49ef4afc8c002d525ff6e6c2f821168f9f104fb0901d0460d841c193e9a64400002904f800008000000c0002000800001c200012750000001800ff00000000005400000d000000000000000000000000000000c0684718756d19593986e8b8dcaee2f42083a2b672ace558294668fe15dcc48d8c989505a119e731bb1bf7ca6d59a74ff18d4ab88b45bd9dd5818ea88ea7b0afad85";

async function setup(nowMs = T0, srpFrom = ["192.0.2.0/24", "127.0.0.0/8"]) {
  const deps = await handlerDeps({ nowMs, zone: ZONE, keys: [], allowUnsigned: ["none"] });
  const update = {
    ...deps.update!,
    srp: { from: sourceMatcher(srpFrom, "--srp-from"), lease: { min: 30, max: 86_400, keyMax: 7 * 86_400 } },
  };
  const full: DnsHandlerDeps = { ...deps, update };
  return { deps: full, registry: deps.registry as Registry, clock: deps.clock as ManualClock };
}

async function send(deps: DnsHandlerDeps, msg: Buffer, peer = PEER) {
  const reply = await handleDnsMessage(msg, "udp", peer, deps);
  return { raw: reply!, msg: decodeMessage(reply!) };
}

function leaseIn(m: ReturnType<typeof decodeMessage>): number[] {
  const o = m.edns?.options.find((x) => x.code === UPDATE_LEASE_OPTION);
  if (!o) return [];
  const b = Buffer.from(o.data);
  return b.length === 8 ? [b.readUInt32BE(0), b.readUInt32BE(4)] : [b.readUInt32BE(0)];
}

function signed(
  signer: Sig0Signer,
  services: Parameters<typeof srpUpdate>[1],
  opts: {
    lease?: number;
    keyLease?: number;
    addresses?: string[];
    removed?: Parameters<typeof srpUpdate>[3];
    id?: number;
    at?: number;
    host?: string;
  } = {},
) {
  const host = opts.host ?? signer.name[0]!;
  const msg = encodeUpdate({
    id: opts.id ?? 1,
    zone: ZONE,
    updates: srpUpdate(
      { host, key: signer.key, addresses: opts.addresses ?? ["192.0.2.7"] },
      services,
      ZONE,
      opts.removed,
    ),
    lease: {
      lease: opts.lease ?? 3600,
      ...(opts.keyLease !== undefined ? { keyLease: opts.keyLease } : { keyLease: 86_400 }),
    },
  });
  return signSig0(msg, signer, opts.at ?? Math.floor(T0 / 1000));
}

const printer = {
  instance: "Office Printer",
  type: "_ipp._tcp",
  subtypes: ["_color", "_duplex"],
  port: 631,
  txt: { rp: "ipp/print" },
};
const scanner = { instance: "Office Scanner", type: "_uscan._tcp", port: 8080, txt: ["vers=2.0"] };

async function ask(deps: DnsHandlerDeps, name: Labels, type: number) {
  return (await send(deps, encodeQuery(9, name, type))).msg;
}

describe("SRP registrar (RFC 9665)", () => {
  it("an update without the Update Lease option (nsupdate sends none) gets the default leases and a reply without one", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const update = encodeUpdate({
      id: 5,
      zone: ZONE,
      updates: srpUpdate({ host: "printer", key: a.key, addresses: ["192.0.2.7"] }, [printer], ZONE),
    });
    const r = await send(deps, signSig0(update, a, Math.floor(T0 / 1000)));
    expect(r.msg.rcodeName).toBe("NOERROR");
    expect(leaseIn(r.msg)).toEqual([]);
    expect(registry.hostRecord(hostKey("printer", DOMAIN))?.expiresAt).toBe(T0 + 7200_000);
  });

  it("registers what OpenThread's client sent (no clock, key tag 0): reply is a header and the granted leases", async () => {
    const { deps, registry } = await setup();
    const { raw, msg } = await send(deps, Buffer.from(OPENTHREAD, "hex"));
    expect(msg.rcodeName).toBe("NOERROR");
    expect(msg.questions).toEqual([]);
    expect([msg.answers.length, msg.authorities.length, msg.additionals.length]).toEqual([0, 0, 0]);
    expect(raw.readUInt16BE(0)).toBe(0xb6bf);
    expect(leaseIn(msg)).toEqual([7200, 7 * 86_400]); // KEY-LEASE 14 days asked, 7 granted
    const i = registry.instanceRecord(instanceKey({ service: "_ipps", proto: "_tcp" }, "my-service", DOMAIN));
    expect(i).toMatchObject({ port: 12345, host: ["my-host"], source: "srp", owner: { kind: "srp" } });
    expect(registry.hostRecord(hostKey("my-host", DOMAIN))?.addresses).toEqual(["2001::1"]);
    const ptr = await ask(deps, parseName("_ipps._tcp.default.service.arpa"), Type.PTR);
    expect(ptr.answers.map((a) => (a.data as { target: Labels }).target.join("."))).toEqual([
      "my-service._ipps._tcp.default.service.arpa",
    ]);
  });

  it("registers what Apple's client sent, inside its signature's validity window only", async () => {
    const inside = await setup(1789125300_000);
    expect((await send(inside.deps, Buffer.from(APPLE, "hex"))).msg.rcodeName).toBe("NOERROR");
    expect(inside.registry.hostRecord(hostKey("spiketest", DOMAIN))?.addresses).toEqual(["172.17.0.3"]);
    const later = await setup(1789125672_000 + 400_000);
    const r = await send(later.deps, Buffer.from(APPLE, "hex"));
    expect(r.msg.rcodeName).toBe("REFUSED");
    expect(later.registry.hostRecord(hostKey("spiketest", DOMAIN))).toBeUndefined();
  });

  it("a changed byte, or a sender outside --srp-from, is REFUSED and nothing is stored", async () => {
    const { deps, registry } = await setup();
    const bad = Buffer.from(OPENTHREAD, "hex");
    bad[40]! ^= 1; // inside the update section: decodes, but the signature no longer holds
    const r = await send(deps, bad);
    expect(r.msg.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
    const far = await send(deps, Buffer.from(OPENTHREAD, "hex"), "203.0.113.9:5353");
    expect(far.msg.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
  });

  it("first come, first served: another key gets YXDOMAIN and changes nothing; the owner renews and replaces subtypes", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const b = generateSig0Key("printer.default.service.arpa", 15);
    expect((await send(deps, signed(a, [printer, scanner]))).msg.rcodeName).toBe("NOERROR");
    const sub = await ask(deps, parseName("_color._sub._ipp._tcp.default.service.arpa"), Type.PTR);
    expect(sub.answers).toHaveLength(1);
    const taken = await send(deps, signed(b, [printer], { addresses: ["198.51.100.9"], id: 2 }));
    expect(taken.msg.rcodeName).toBe("YXDOMAIN");
    expect(registry.hostRecord(hostKey("printer", DOMAIN))?.addresses).toEqual(["192.0.2.7"]);
    // an instance name alone is claimed too: another key's host may not take it
    const other = generateSig0Key("other.default.service.arpa", 13);
    expect((await send(deps, signed(other, [scanner], { id: 3 }))).msg.rcodeName).toBe("YXDOMAIN");
    // the owner's renewal: subtypes as sent now, the other service kept
    const renewed = await send(deps, signed(a, [{ ...printer, subtypes: ["_mono"] }], { id: 4 }));
    expect(renewed.msg.rcodeName).toBe("NOERROR");
    const i = registry.instanceRecord(instanceKey({ service: "_ipp", proto: "_tcp" }, "Office Printer", DOMAIN));
    expect(i?.subtypes).toEqual(["_mono"]);
    expect((await ask(deps, parseName("_color._sub._ipp._tcp.default.service.arpa"), Type.PTR)).answers).toHaveLength(
      0,
    );
    expect(
      registry.instanceRecord(instanceKey({ service: "_uscan", proto: "_tcp" }, "Office Scanner", DOMAIN)),
    ).toBeDefined();
  });

  it("LEASE 0 removes the host and all its services; the name stays the key's until KEY-LEASE ends", async () => {
    const { deps, registry, clock } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const b = generateSig0Key("printer.default.service.arpa", 13);
    await send(deps, signed(a, [printer, scanner], { keyLease: 3600 }));
    const gone = await send(deps, signed(a, [], { lease: 0, keyLease: 3600, addresses: [], id: 2 }));
    expect(gone.msg.rcodeName).toBe("NOERROR");
    expect(leaseIn(gone.msg)).toEqual([0, 3600]);
    expect(registry.instanceTotal()).toBe(0);
    expect(registry.hostTotal()).toBe(0);
    expect((await ask(deps, parseName("_ipp._tcp.default.service.arpa"), Type.PTR)).answers).toHaveLength(0);
    expect((await send(deps, signed(b, [printer], { id: 3 }))).msg.rcodeName).toBe("YXDOMAIN");
    clock.advance(3601_000);
    await registry.expireDue();
    const at = Math.floor(clock.now() / 1000);
    expect((await send(deps, signed(b, [printer], { id: 4, at }))).msg.rcodeName).toBe("NOERROR");
  });

  it("a lease that runs out takes the host and its services together; the claim still holds", async () => {
    const { deps, registry, clock } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    await send(deps, signed(a, [printer, scanner], { lease: 600, keyLease: 86_400 }));
    clock.advance(601_000);
    await registry.expireDue();
    expect([registry.instanceTotal(), registry.hostTotal()]).toEqual([0, 0]);
    expect(registry.claimTotal()).toBe(3);
    const b = generateSig0Key("printer.default.service.arpa", 13);
    const at = Math.floor(clock.now() / 1000);
    expect((await send(deps, signed(b, [printer], { at }))).msg.rcodeName).toBe("YXDOMAIN");
  });

  it("the same signed update again: the first reply for a retransmission, REFUSED as a replay from elsewhere", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const msg = signed(a, [printer]);
    const first = await send(deps, msg);
    const again = await send(deps, msg);
    expect(again.raw).toEqual(first.raw);
    // the owner removes the host; a captured copy of the registration must not bring it back
    await send(deps, signed(a, [], { lease: 0, addresses: [], id: 2 }));
    const replay = await send(deps, msg, "192.0.2.99:5353");
    expect(replay.msg.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
  });

  it("what is not an SRP update is REFUSED with the reason (KEY-LEASE below LEASE, a signer that is not the host)", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    const short = signed(a, [printer], { lease: 3600, keyLease: 60 });
    const r = await send(deps, short);
    expect(r.msg.rcodeName).toBe("REFUSED");
    const ede = r.msg.edns?.options.find((o) => o.code === 15);
    expect(Buffer.from(ede!.data.subarray(2)).toString()).toContain("KEY-LEASE 60 is shorter than LEASE 3600");
    const signedByOther = signed({ ...a, name: parseName("someone.default.service.arpa") }, [printer], {
      host: "printer",
    });
    expect((await send(deps, signedByOther)).msg.rcodeName).toBe("REFUSED");
    expect(registry.hostTotal()).toBe(0);
  });
});

describe("SRP zones", () => {
  it("local. is refused as an SRP zone (the LAN's own names live there); the reason says where to register", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.local", 13);
    const local = parseName("local");
    const msg = encodeUpdate({
      id: 3,
      zone: local,
      updates: srpUpdate({ host: "printer", key: a.key, addresses: ["192.0.2.7"] }, [printer], local),
      lease: { lease: 3600, keyLease: 86_400 },
    });
    const r = await send(deps, signSig0(msg, a, Math.floor(T0 / 1000)));
    expect(r.msg.rcodeName).toBe("REFUSED");
    const ede = r.msg.edns?.options.find((o) => o.code === 15);
    expect(Buffer.from(ede!.data.subarray(2)).toString()).toContain("register in default.service.arpa.");
    expect(registry.hostTotal()).toBe(0);
  });
});

describe("SRP registrations in views and status", () => {
  it("the HTTP API's view names the key by its tag and says how long it holds the name", async () => {
    const { deps, registry } = await setup();
    const a = generateSig0Key("printer.default.service.arpa", 13);
    await send(deps, signed(a, [printer], { lease: 600, keyLease: 86_400 }));
    const i = registry.instanceRecord(instanceKey({ service: "_ipp", proto: "_tcp" }, "Office Printer", DOMAIN))!;
    const view = instanceView(i, undefined, { now: T0 + 10_000, claim: (r) => registry.claim(r) });
    expect(view).toMatchObject({
      source: "srp",
      leaseRemainingSeconds: 590,
      srp: { keyTag: keyTag(encodeKeyRdata(a.key)), keyLeaseRemainingSeconds: 86_390 },
    });
  });
});

describe("SRP claims are bounded", () => {
  it("names held after their registrations ended count: at most twice --max-registrations, then REFUSED", async () => {
    const { deps, registry } = await setup();
    const limited: DnsHandlerDeps = {
      ...deps,
      update: { ...deps.update!, limits: { ...DEFAULT_LIMITS, maxRegistrations: 2 } },
    };
    const keys = ["one", "two", "three"].map((h) => generateSig0Key(`${h}.default.service.arpa`, 13));
    const svc = (h: string) => ({ instance: h, type: "_kv._tcp", port: 7000, txt: [] });
    expect((await send(limited, signed(keys[0]!, [svc("one")]))).msg.rcodeName).toBe("NOERROR");
    expect((await send(limited, signed(keys[0]!, [], { lease: 0, addresses: [], id: 2 }))).msg.rcodeName).toBe(
      "NOERROR",
    );
    expect(registry.claimTotal()).toBe(2);
    expect((await send(limited, signed(keys[1]!, [svc("two")], { id: 3 }))).msg.rcodeName).toBe("NOERROR");
    const third = await send(limited, signed(keys[2]!, [svc("three")], { id: 4 }));
    expect(third.msg.rcodeName).toBe("REFUSED");
    expect(registry.claimTotal()).toBe(4);
  });
});
