// Who may transfer a zone and what each request gets (frontends/xfr.ts).
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { ZoneJournals } from "../../src/answer/journal.js";
import { ManualClock } from "../../src/clock.js";
import { isTransferRequest, startTransfer, type TransferDeps } from "../../src/frontends/xfr.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Class, Rcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { signRequest, type TsigKey } from "../../src/wire/tsig.js";

const zone = ["svc", "example"];
const key: TsigKey = { name: ["xfr-key"], algorithm: "hmac-sha256", secret: Buffer.alloc(32, 1) };
const other: TsigKey = { name: ["update-key"], algorithm: "hmac-sha256", secret: Buffer.alloc(32, 2) };
const clock = new ManualClock(1_800_000_000_000);
let registry: Registry;
let deps: TransferDeps;

beforeEach(async () => {
  registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const answer = { domains: [["local"], zone], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 };
  deps = {
    registry,
    answer,
    clock,
    log: pino({ level: "silent" }),
    keys: () => [key, other],
    allowFrom: (a) => a === "192.0.2.1",
    transferKeys: new Set(["xfr-key."]),
    maxTransfers: 1,
    transfer: { learned: false },
    journals: new ZoneJournals(registry, answer.domains, 30, { learned: false }, { maxSteps: 10, maxRecords: 100 }),
    active: { count: 0 },
  };
});

/** Every message a request gets, drained as the TCP connection would. */
function run(msg: Buffer, peer = "198.51.100.7:5353") {
  const s = startTransfer(msg, peer, deps);
  if (s.kind === "reply") return s.reply ? [decodeMessage(s.reply)] : [];
  const out = [];
  for (let r = s.messages.next(); !r.done; r = s.messages.next()) out.push(decodeMessage(r.value));
  s.done({ messages: out.length, bytes: 0 }, false);
  return out;
}
const axfr = () => encodeQuery(1, zone, Type.AXFR);

/** An IXFR request from `serial` (the authority SOA added by hand). */
function ixfr(serial: number): Buffer {
  const q = encodeQuery(2, zone, Type.IXFR);
  const rdata = Buffer.concat([Buffer.from([0xc0, 12, 0xc0, 12]), Buffer.alloc(20)]);
  rdata.writeUInt32BE(serial, 4);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(Type.SOA, 2);
  rr.writeUInt16BE(Class.IN, 4);
  rr.writeUInt16BE(rdata.length, 10);
  const m = Buffer.concat([q, rr, rdata]);
  m.writeUInt16BE(1, 8);
  return m;
}
const inst = (name: string) => ({
  name,
  type: { service: "_kv", proto: "_tcp" as const },
  subtypes: [],
  host: [name],
  port: 80,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update" as const,
  domain: "svc.example.",
});

describe("zone transfer access", () => {
  it("recognises AXFR and IXFR requests from the header and question", () => {
    expect(isTransferRequest(axfr())).toBe(true);
    expect(isTransferRequest(ixfr(1))).toBe(true);
    expect(isTransferRequest(encodeQuery(1, zone, Type.SOA))).toBe(false);
  });

  it("REFUSED unsigned from a source not allowed, and signed with a key that is not a --transfer-key", () => {
    expect(run(axfr()).map((m) => m.rcode)).toEqual([Rcode.REFUSED]);
    const signed = signRequest(axfr(), other, 1_800_000_000).signed;
    const [m] = run(signed);
    expect(m!.rcode).toBe(Rcode.REFUSED);
    expect(m!.tsig).toBeDefined(); // the refusal of a verified request is signed
  });

  it("allowed from --allow-transfer, or signed with the transfer key from anywhere", () => {
    expect(run(axfr(), "192.0.2.1:4000")[0]!.rcode).toBe(Rcode.NOERROR);
    const signed = run(signRequest(axfr(), key, 1_800_000_000).signed);
    expect(signed[0]!.rcode).toBe(Rcode.NOERROR);
    expect(signed.every((m) => m.tsig !== undefined)).toBe(true);
  });

  it("REFUSED for a name that is not a served zone, and beyond --max-transfers", () => {
    expect(run(encodeQuery(1, ["other", "example"], Type.AXFR), "192.0.2.1:1")[0]!.rcode).toBe(Rcode.REFUSED);
    const first = startTransfer(axfr(), "192.0.2.1:1", deps);
    expect(first.kind).toBe("stream");
    expect(run(axfr(), "192.0.2.1:2")[0]!.rcode).toBe(Rcode.REFUSED);
    if (first.kind === "stream") first.done({ messages: 0, bytes: 0 }, true);
    expect(run(axfr(), "192.0.2.1:2")[0]!.rcode).toBe(Rcode.NOERROR);
  });
});

describe("IXFR", () => {
  const types = (ms: ReturnType<typeof run>) => ms.flatMap((m) => m.answers).map((a) => a.type);

  it("one SOA when the client is up to date; the steps since its serial; the whole zone when the journal does not reach", async () => {
    const start = registry.serial();
    expect(types(run(ixfr(start), "192.0.2.1:1"))).toEqual([Type.SOA]);
    await registry.register(inst("web-1"));
    const steps = run(ixfr(start), "192.0.2.1:1").flatMap((m) => m.answers);
    // SOA(new), SOA(old), [nothing removed], SOA(new), PTR SRV TXT and the _services PTR added, SOA(new)
    expect(steps.map((a) => a.type)).toEqual([
      Type.SOA,
      Type.SOA,
      Type.SOA,
      Type.PTR,
      Type.SRV,
      Type.TXT,
      Type.PTR,
      Type.SOA,
    ]);
    const serials = steps.filter((a) => a.data.type === Type.SOA).map((a) => ("serial" in a.data ? a.data.serial : 0));
    expect(serials).toEqual([registry.serial(), start, registry.serial(), registry.serial()]);
    // a serial the journal never held: AXFR-style (SOA, the zone, SOA)
    const full = types(run(ixfr(start - 100), "192.0.2.1:1"));
    expect(full[0]).toBe(Type.SOA);
    expect(full.at(-1)).toBe(Type.SOA);
    expect(full.filter((t) => t === Type.SOA).length).toBe(2);
  });
});

describe("transfer settings", () => {
  it("are off by default; bad values stop the daemon with one line naming the flag", () => {
    const t = resolveConfig({}).transfer;
    expect(t).toMatchObject({ allowFrom: [], keys: [], maxConcurrent: 4, learned: false, notify: [] });
    expect(resolveConfig({ notify: ["192.0.2.53:53"], transferKey: ["Xfr-Key"] }).transfer).toMatchObject({
      notify: [{ host: "192.0.2.53", port: 53 }],
      keys: ["xfr-key."],
    });
    expect(() => resolveConfig({ notify: ["192.0.2.53"] })).toThrow(/^--notify: .*ADDRESS:PORT/);
    expect(() => resolveConfig({ allowTransfer: ["192.0.2.0/33"] })).toThrow(/^--allow-transfer:/);
    expect(() => resolveConfig({ maxTransfers: "0" })).toThrow(/^--max-transfers:/);
  });
});
