// TSIG as an attacker meets it (issue 14, findings 1 and 4), against one real
// daemon that takes only signed updates (--allow-update none):
//  (a) the MAC oracle: a signed query with a too-short MAC used to get a
//      *signed* BADTRUNC reply whose MAC covers the request MAC the attacker
//      chose; with the bytes lined up, that reply MAC is a valid MAC for an
//      UPDATE the attacker wrote, knowing only the key's name and algorithm;
//  (b) a request carrying a TSIG error code; (c) a fudge of 65535 s with a
//      clock 2 hours off; (d) a captured registration replayed after its
//      deregistration; (e) nsupdate and kdig with the right key (control).
// The packets are built here byte by byte: no tool sends them.
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeUpdate, type UpdateOp } from "../../src/wire/update.js";
import { Type } from "../../src/wire/constants.js";
import { dig } from "../lab/dig.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";
import { writeKeyFile } from "../lab/keys.js";

const { key, file: keyFile, secret } = writeKeyFile("forge-key", "hmac-sha512");
const zone = "svc.example.";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon(["--domain", zone, "--key-file", keyFile, "--allow-update", "none"]);
});
afterAll(() => d.stop());

// ---- raw DNS bytes ----

function wireName(name: string): Buffer {
  const labels = name
    .replace(/\.$/, "")
    .split(".")
    .filter((l) => l !== "");
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

interface TsigFields {
  time: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** The key name as written (the MAC covers it lower-cased). */
  keyName?: string;
}

/** `msg` with a TSIG record for `key` appended (ARCOUNT counts it). */
function appendTsig(msg: Buffer, f: TsigFields): Buffer {
  const rdata = Buffer.concat([
    wireName("hmac-sha512"),
    u48(f.time),
    u16(f.fudge),
    u16(f.mac.length),
    f.mac,
    u16(f.originalId),
    u16(f.error),
    u16(f.other.length),
    f.other,
  ]);
  const out = Buffer.concat([
    msg,
    wireName(f.keyName ?? "forge-key"),
    u16(Type.TSIG),
    u16(255),
    Buffer.alloc(4),
    u16(rdata.length),
    rdata,
  ]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** Sign `msg` with the key (RFC 8945 §4.3), with whatever fields a test wants wrong. */
function sign(msg: Buffer, opts: { time?: number; fudge?: number; error?: number; macLength?: number } = {}): Buffer {
  const time = opts.time ?? Math.floor(Date.now() / 1000);
  const fudge = opts.fudge ?? 300;
  const error = opts.error ?? 0;
  const vars = Buffer.concat([
    wireName("forge-key"),
    u16(255),
    Buffer.alloc(4),
    wireName("hmac-sha512"),
    u48(time),
    u16(fudge),
    u16(error),
    u16(0),
  ]);
  const mac = createHmac("sha512", key.secret)
    .update(msg)
    .update(vars)
    .digest()
    .subarray(0, opts.macLength ?? 64);
  return appendTsig(msg, { time, fudge, mac, originalId: msg.readUInt16BE(0), error, other: Buffer.alloc(0) });
}

function udp(msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      reject(new Error("no reply within 2 s"));
    }, 2000);
    s.on("message", (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, d.port, "127.0.0.1");
  });
}

const ptrs = (type: string) => dig("dig", "127.0.0.1", d.port, [`${type}.${zone}`, "PTR"]).answer.map((a) => a.rdata);

/** The records that register `instance` of `_<service>._tcp` (each case its own type, so they do not see each other). */
function registration(service: string, instance: string, port: number): UpdateOp[] {
  const iname = [instance, `_${service}`, "_tcp", "svc", "example"];
  return [
    { op: "add", name: [`_${service}`, "_tcp", "svc", "example"], ttl: 60, data: { type: Type.PTR, target: iname } },
    {
      op: "add",
      name: iname,
      ttl: 60,
      data: { type: Type.SRV, srv: { priority: 0, weight: 1, port, target: [instance, "svc", "example"] } },
    },
  ];
}
const update = (id: number, ops: UpdateOp[]) => encodeUpdate({ id, zone: ["svc", "example"], updates: ops });

// ---- (a) the forgery ----

/**
 * The MAC the oracle used to compute is HMAC(key, len(requestMac) | requestMac | reply | replyVariables).
 * A request is verified as HMAC(key, message | variables). So the forged UPDATE is
 * u16(31) | F | reply: its ID is the MAC length, F (the 31-byte "MAC" we send)
 * holds the rest of its header, the zone and the start of a record, and the
 * reply (header + the question we chose, echoed byte for byte) holds the rest.
 * The reply's TSIG variables (error BADTRUNC) become the forged request's.
 *
 * Layout of the forged message M (offsets in M):
 *   0      ID = 31 (the MAC length)
 *   2..12  F: flags UPDATE, ZO 1, PR 1, UP 3, AD 1
 *   12..29 F: zone svc.example. SOA IN
 *   29     F: a 16-byte label that swallows F's last 3 bytes, the reply header and the
 *          question's first length byte, then (inside the question) a pointer to the
 *          zone: a prerequisite "no A at <junk>.svc.example." (always true)
 *   46..   the question's labels hold TXT, PTR and SRV records that register
 *          evil._http._tcp.svc.example.; the second label's length byte sits inside
 *          the TXT string; the name's terminating zero is the high byte of the RDLENGTH
 *          of a junk additional record whose 3 RDATA bytes are QTYPE and QCLASS.
 */
const MAC_LEN = 31; // hmac-sha512 allows 32..64

function forgedQuestionBytes(): Buffer {
  const s: number[] = [];
  const push = (...b: number[]) => s.push(...b);
  push(0xc0, 12, 0, 1, 0, 254, 0, 0, 0, 0, 0, 0); // end of the prerequisite: pointer to the zone, A, NONE, TTL 0, RDLENGTH 0
  const evilAt = 46 + s.length; // M offset of "evil" label
  push(4, ...Buffer.from("evil"), 5, ...Buffer.from("_http"), 4, ...Buffer.from("_tcp"), 0xc0, 12); // evil._http._tcp.svc.example.
  push(0, 16, 0, 1, 0, 0, 0, 60, 0, 31, 30); // TXT IN 60, RDLENGTH 31, one 30-byte string
  const stringAt = s.length;
  for (let i = 0; i < 30; i++) push(0x78);
  s[63] = 55; // the question's second length byte, inside the TXT string
  if (stringAt > 63 || stringAt + 30 <= 63) throw new Error("layout: label boundary outside the TXT string");
  push(0xc0, evilAt + 5, 0, 12, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, evilAt); // _http._tcp PTR evil._http._tcp
  push(0xc0, evilAt, 0, 33, 0, 1, 0, 0, 0, 60, 0, 13, 0, 0, 0, 1, 0x1f, 0x90, 4, ...Buffer.from("evil"), 0xc0, 12); // SRV 0 1 8080 evil.svc.example.
  push(0, 0xff, 0x00, 0, 1, 0, 0, 0, 0); // additional: root, TYPE65280, IN, TTL 0, RDLENGTH high byte...
  if (s.length !== 63 + 1 + 55) throw new Error(`layout: terminator at ${s.length}`);
  push(0, 3, 0x61, 0x62, 0x63); // ...which is the name's terminating zero; RDLENGTH 3 = QTYPE 0x0361, QCLASS 0x6263
  return Buffer.from(s);
}

function macField(): Buffer {
  const f = Buffer.alloc(MAC_LEN, 0x78);
  f.writeUInt16BE(0x2800, 0); // UPDATE
  f.writeUInt16BE(1, 2); // ZOCOUNT
  f.writeUInt16BE(1, 4); // PRCOUNT
  f.writeUInt16BE(3, 6); // UPCOUNT
  f.writeUInt16BE(1, 8); // ADCOUNT
  wireName(zone).copy(f, 10);
  f.writeUInt16BE(Type.SOA, 23);
  f.writeUInt16BE(1, 25);
  f[27] = 16; // the junk label's length
  return f;
}

async function attempt(): Promise<{
  oracle: { rcode: string; mac: number };
  forged: { rcode: string; tsigError?: number };
}> {
  const s = forgedQuestionBytes();
  const question = Buffer.concat([Buffer.from([63]), s.subarray(0, 63), Buffer.from([55]), s.subarray(64)]);
  if (!question.subarray(64).equals(s.subarray(63)) || question[0] !== 63) throw new Error("question layout");
  const header = Buffer.from([0x78, 0x78, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const F = macField();
  const oracleQuery = appendTsig(Buffer.concat([header, question]), {
    time: Math.floor(Date.now() / 1000),
    fudge: 300,
    mac: F,
    originalId: 0x7878,
    error: 0,
    other: Buffer.alloc(0),
  });
  const replyWire = await udp(oracleQuery);
  const reply = decodeMessage(replyWire);
  const t = reply.tsig;
  // the reply as the old code signed it (header, NOTAUTH, the question echoed; no TSIG record yet):
  // the attacker knows every byte of it in advance
  const signedPart = Buffer.concat([Buffer.from([0x78, 0x78, 0x80, 0x09, 0, 1, 0, 0, 0, 0, 0, 0]), question]);
  if (t && t.mac.length > 0) {
    const asSent = Buffer.from(replyWire.subarray(0, t.start));
    asSent.writeUInt16BE(asSent.readUInt16BE(10) - 1, 10);
    if (!asSent.equals(signedPart)) throw new Error("the signed reply is not the one predicted");
  }
  const m = Buffer.concat([u16(MAC_LEN), F, signedPart]);
  // what a forger sends even without a MAC to reuse: it must fail as any bad signature does
  const forged = appendTsig(
    m,
    t && t.mac.length > 0
      ? { time: t.timeSigned, fudge: t.fudge, mac: t.mac, originalId: MAC_LEN, error: t.error, other: t.other }
      : {
          time: Math.floor(Date.now() / 1000),
          fudge: 300,
          mac: Buffer.alloc(64),
          originalId: MAC_LEN,
          error: 0,
          other: Buffer.alloc(0),
        },
  );
  const res = decodeMessage(await udp(forged));
  return {
    oracle: { rcode: reply.rcodeName, mac: t?.mac.length ?? 0 },
    forged: { rcode: res.rcodeName, ...(res.tsig ? { tsigError: res.tsig.error } : {}) },
  };
}

describe.skipIf(missingTool("dig"))("TSIG attacks on a daemon that takes only signed updates", () => {
  it("(a) a short MAC gets FORMERR without a MAC, so the forged UPDATE fails (NOTAUTH) and nothing is registered", async () => {
    const r = await attempt();
    expect({ ...r, registered: ptrs("_http._tcp") }).toEqual({
      oracle: { rcode: "FORMERR", mac: 0 },
      forged: { rcode: "NOTAUTH", tsigError: 16 },
      registered: [],
    });
    await d.waitForLog(/"key":"forge-key\.".*MAC of 31 bytes/);
  });

  it("(b) a request whose TSIG error field is not 0 is FORMERR and changes nothing", async () => {
    const res = decodeMessage(await udp(sign(update(101, registration("eb", "errfield", 1001)), { error: 16 })));
    expect({ rcode: res.rcodeName, tsig: res.tsig?.mac.length ?? 0, registered: ptrs("_eb._tcp") }).toEqual({
      rcode: "FORMERR",
      tsig: 0,
      registered: [],
    });
  });

  it("(c) a fudge of 65535 s does not stretch the window: 2 hours off is BADTIME", async () => {
    const res = decodeMessage(
      await udp(
        sign(update(102, registration("ec", "late", 1002)), {
          fudge: 65535,
          time: Math.floor(Date.now() / 1000) - 7200,
        }),
      ),
    );
    expect({ rcode: res.rcodeName, tsigError: res.tsig?.error, registered: ptrs("_ec._tcp") }).toEqual({
      rcode: "NOTAUTH",
      tsigError: 18,
      registered: [],
    });
  });

  it("(d) a captured registration replayed after its deregistration is BADTIME and the instance stays gone", async () => {
    const captured = sign(update(103, registration("kv", "replayed", 1003)));
    expect(decodeMessage(await udp(captured)).rcodeName).toBe("NOERROR");
    expect(ptrs("_kv._tcp")).toEqual(["replayed._kv._tcp.svc.example."]);
    const iname = ["replayed", "_kv", "_tcp", "svc", "example"];
    const deregister = sign(
      update(104, [
        { op: "delete-name", name: iname },
        { op: "delete-rr", name: ["_kv", "_tcp", "svc", "example"], data: { type: Type.PTR, target: iname } },
      ]),
    );
    expect(decodeMessage(await udp(deregister)).rcodeName).toBe("NOERROR");
    expect(ptrs("_kv._tcp")).toEqual([]);
    const replay = decodeMessage(await udp(captured));
    expect({ rcode: replay.rcodeName, tsigError: replay.tsig?.error, registered: ptrs("_kv._tcp") }).toEqual({
      rcode: "NOTAUTH",
      tsigError: 18,
      registered: [],
    });
    // the same message with its MAC cut to 32 bytes (a truncation RFC 8945 allows) and another ID is the same message
    const t = decodeMessage(captured).tsig!;
    const body = Buffer.from(captured.subarray(0, t.start));
    body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
    body.writeUInt16BE(4242, 0);
    const truncated = appendTsig(body, {
      time: t.timeSigned,
      fudge: t.fudge,
      mac: t.mac.subarray(0, 32),
      originalId: t.originalId,
      error: 0,
      other: t.other,
    });
    expect(decodeMessage(await udp(truncated)).tsig?.error).toBe(18);
    // and so is the same message with the key's name in capitals
    const shouted = appendTsig(body, {
      time: t.timeSigned,
      fudge: t.fudge,
      mac: t.mac,
      originalId: t.originalId,
      error: 0,
      other: t.other,
      keyName: "FORGE-KEY",
    });
    expect(decodeMessage(await udp(shouted)).tsig?.error).toBe(18);
    expect(ptrs("_kv._tcp")).toEqual([]);
    await d.waitForLog(/replay/);
    expect(d.logs.join("\n")).not.toContain(secret);
  });

  it("(f) the very same signed update sent again from the same socket (a retransmission after a lost reply) gets the first reply again, applied once", async () => {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    const ask = (msg: Buffer) =>
      new Promise<Buffer>((resolve) => {
        s.once("message", resolve);
        s.send(msg, d.port, "127.0.0.1");
      });
    try {
      const msg = sign(update(105, registration("rt", "resent", 1005)));
      const first = await ask(msg);
      const again = await ask(msg);
      expect(decodeMessage(first).rcodeName).toBe("NOERROR");
      expect(again.equals(first)).toBe(true);
      expect(ptrs("_rt._tcp")).toEqual(["resent._rt._tcp.svc.example."]);
      await d.waitForLog(/update retransmitted: the first copy's reply sent again/);
      expect(d.logs.filter((l) => l.includes('"update applied"') && l.includes("resent"))).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it.skipIf(missingTool("nsupdate", "kdig"))(
    "(e) nsupdate (several updates in one session) and kdig with the right key still work",
    () => {
      const script = (inst: string, port: number) =>
        `update add _ok._tcp.${zone} 60 PTR ${inst}._ok._tcp.${zone}\nupdate add ${inst}._ok._tcp.${zone} 60 SRV 0 1 ${port} ${inst}.${zone}\nsend\n`;
      const r = spawnSync("nsupdate", ["-k", keyFile], {
        input: `server 127.0.0.1 ${d.port}\nzone ${zone}\n${script("good-1", 2001)}${script("good-2", 2002)}${script("good-3", 2003)}`,
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(ptrs("_ok._tcp").sort()).toEqual([
        "good-1._ok._tcp.svc.example.",
        "good-2._ok._tcp.svc.example.",
        "good-3._ok._tcp.svc.example.",
      ]);
      const k = dig("kdig", "127.0.0.1", d.port, ["-y", `hmac-sha512:forge-key:${secret}`, `_ok._tcp.${zone}`, "PTR"]);
      expect(k.status).toBe("NOERROR");
      expect(k.answer).toHaveLength(3);
      expect(k.raw).not.toMatch(/TSIG.*(fail|bad)/i);
    },
  );
});
