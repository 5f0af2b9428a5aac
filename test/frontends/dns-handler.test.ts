// The transport glue's two promises to query workers: a worker hands every
// message it may not answer itself to the primary, and an UPDATE is
// acknowledged only once every process answering queries has seen it.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { ManualClock } from "../../src/clock.js";
import { handleDnsMessage, type DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { parseName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { makePolicy } from "../../src/update/policy.js";
import { Class, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { signRequest } from "../../src/wire/tsig.js";
import { encodeUpdate } from "../../src/wire/update.js";
import { generateKey } from "../../src/update/keys.js";

const zone = parseName("svc.example.");
const log = pino({ level: "silent" });

async function deps(extra: Partial<DnsHandlerDeps> = {}): Promise<DnsHandlerDeps> {
  const clock = new ManualClock(1_700_000_000_000);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const answer = { domains: [["local"], zone], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 };
  return { registry, answer, clock, log, maxUdpPayload: 1232, ...extra };
}
const update = () =>
  encodeUpdate({
    id: 7,
    zone,
    updates: registrationUpdate({ instance: "a", type: "_x._tcp", host: "a", port: 1 }, zone),
  });

describe("handleDnsMessage with a delegate (query workers)", () => {
  it("answers plain IN queries itself and hands UPDATE, signed and CHAOS messages to the primary", async () => {
    const handed: Buffer[] = [];
    const d = await deps({ delegate: async (msg) => (handed.push(msg), null) });
    const plain = handleDnsMessage(encodeQuery(1, zone, Type.SOA), "udp", "127.0.0.1:1", d);
    expect(plain).toBeInstanceOf(Buffer);
    expect(decodeMessage(plain as Buffer).rcodeName).toBe("NOERROR");

    const key = generateKey("k");
    const { signed } = signRequest(encodeQuery(2, zone, Type.SOA), key, 1_700_000_000);
    const status = encodeQuery(3, parseName("status.ringdns."), Type.TXT, undefined, Class.CH);
    for (const msg of [update(), signed, status]) await handleDnsMessage(msg, "udp", "127.0.0.1:1", d);
    expect(handed.map((m) => m.readUInt16BE(0))).toEqual([7, 2, 3]);
  });
});

describe("handleDnsMessage with settled (the primary of query workers)", () => {
  it("holds an UPDATE's acknowledgement until every worker has the change", async () => {
    let release!: () => void;
    const settledCalls: number[] = [];
    const base = await deps();
    const d: DnsHandlerDeps = {
      ...base,
      update: {
        registry: base.registry,
        clock: base.clock,
        log,
        domains: base.answer.domains,
        keys: [],
        policy: makePolicy(["127.0.0.0/8"], new Map()),
        lease: { min: 30, max: 3600 },
      },
      settled: () => {
        settledCalls.push(base.registry.instanceCount({ service: "_x", proto: "_tcp" }));
        return new Promise<void>((r) => (release = r));
      },
    };
    let replied = false;
    const reply = Promise.resolve(handleDnsMessage(update(), "udp", "127.0.0.1:1", d)).then(
      (r) => ((replied = true), r),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(settledCalls).toEqual([1]); // asked once the change was applied...
    expect(replied).toBe(false); // ...and no acknowledgement before the workers have it
    release();
    expect(decodeMessage((await reply)!).rcodeName).toBe("NOERROR");
  });
});

describe("status.ringdns CH TXT", () => {
  it("tells the store's location only to loopback; anyone else gets the health verdict", async () => {
    const { sourceMatcher, DEFAULT_ALLOW_UPDATE } = await import("../../src/update/policy.js");
    const d = await deps({
      statusDetailsTo: sourceMatcher(DEFAULT_ALLOW_UPDATE, "status"),
      status: (detailed) => ["version=1", "healthy=yes", ...(detailed ? ["location=/var/lib/ringdns"] : [])],
    });
    const ask = (peer: string) => {
      const reply = decodeMessage(
        handleDnsMessage(
          encodeQuery(5, parseName("status.ringdns."), Type.TXT, undefined, Class.CH),
          "udp",
          peer,
          d,
        ) as Buffer,
      );
      const txt = reply.answers[0]!.data as { strings: Buffer[] };
      return txt.strings.map(String);
    };
    expect(ask("127.0.0.1:5353")).toEqual(["version=1", "healthy=yes", "location=/var/lib/ringdns"]);
    expect(ask("[::1]:5353")).toContain("location=/var/lib/ringdns");
    expect(ask("192.0.2.7:5353")).toEqual(["version=1", "healthy=yes"]);
    expect(ask("[2001:db8::7]:5353")).toEqual(["version=1", "healthy=yes"]);
  });
});

describe("OPT in replies", () => {
  const withDo = (msg: Buffer) => {
    msg.writeUInt16BE(0x8000, msg.length - 4); // the OPT's flags: DO
    return msg;
  };
  const optOf = (reply: Buffer) => {
    const m = decodeMessage(reply);
    if (!m.edns) return undefined;
    expect(m.edns.options).toEqual([]); // so the OPT's flags are its last 4th and 3rd bytes, and the message's
    return { ...m.edns, do: (reply.readUInt16BE(reply.length - 4) & 0x8000) !== 0 };
  };

  it("copies DO (RFC 3225 §3), into answers and errors alike, and keeps replies with and without it apart in the cache", async () => {
    const { AnswerCache } = await import("../../src/frontends/answer-cache.js");
    const d = await deps({ cache: new AnswerCache() });
    const ask = (msg: Buffer) => optOf(handleDnsMessage(msg, "udp", "127.0.0.1:5353", d) as Buffer);
    // each asked twice, so both replies are kept (the cache keeps a reply from its second ask), then from the cache
    for (const id of [1, 2, 3])
      expect(ask(withDo(encodeQuery(id, zone, Type.SOA, { udpSize: 1232 })))).toMatchObject({
        udpSize: 1232,
        version: 0,
        do: true,
      });
    for (const id of [4, 5, 6])
      expect(ask(encodeQuery(id, zone, Type.SOA, { udpSize: 1232 }))).toMatchObject({ do: false });
    expect(ask(withDo(encodeQuery(7, zone, Type.SOA, { udpSize: 1232 })))).toMatchObject({ do: true });
    const iquery = withDo(encodeQuery(8, zone, Type.SOA, { udpSize: 1232 }));
    iquery[2] = (iquery[2]! & 0x87) | (1 << 3);
    const reply = handleDnsMessage(iquery, "udp", "127.0.0.1:5353", d) as Buffer;
    expect(decodeMessage(reply).rcodeName).toBe("NOTIMP");
    expect(optOf(reply)).toMatchObject({ udpSize: 1232, do: true });
  });

  it("every reply to an EDNS query has an OPT, errors included; none without EDNS (RFC 6891 §6.1.1)", async () => {
    const d = await deps();
    const ask = (msg: Buffer) => decodeMessage(handleDnsMessage(msg, "udp", "127.0.0.1:5353", d) as Buffer);
    const noQuestion = encodeQuery(5, zone, Type.SOA, { udpSize: 1232 });
    const opt = noQuestion.subarray(noQuestion.length - 11);
    const formerr = Buffer.concat([noQuestion.subarray(0, 12), opt]);
    formerr.writeUInt16BE(0, 4);
    expect(ask(formerr)).toMatchObject({ rcodeName: "FORMERR", edns: { udpSize: 1232 } });
    expect(ask(encodeQuery(6, parseName("version.bind."), Type.TXT, { udpSize: 1232 }, Class.CH)).edns).toBeDefined();
    expect(ask(encodeQuery(7, zone, Type.SOA, { udpSize: 1232 })).edns).toBeDefined();
    const plain = encodeQuery(8, zone, Type.SOA);
    plain[2] = (plain[2]! & 0x87) | (2 << 3);
    expect(ask(plain)).toMatchObject({ rcodeName: "NOTIMP" });
    expect(ask(plain).edns).toBeUndefined();
  });
});
