// Malformed input gets FORMERR (or silence when it is not a query at all),
// never a reply larger than the request, and the daemon keeps answering.
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rcode, Type } from "../../src/wire/constants.js";
import { encodeQuery } from "../../src/wire/message.js";
import { dig } from "../lab/dig.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon(["--services", "examples/services.yaml"]);
});
afterAll(() => d.stop());

/** Send one datagram; resolve with the reply, or null after `waitMs` of silence. */
function udp(msg: Buffer, waitMs = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, waitMs);
    s.on("message", (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, d.port, "127.0.0.1");
  });
}

const query = encodeQuery(0x1234, ["alpha", "local"], Type.A);
const withCounts = (qd: number) => {
  const m = Buffer.from(query);
  m.writeUInt16BE(qd, 4);
  return m;
};

const malformed: [string, Buffer][] = [
  ["truncated question", query.subarray(0, query.length - 2)],
  ["two questions announced, one sent", withCounts(2)],
  ["no question", withCounts(0)],
  ["pointer loop in the question", Buffer.concat([query.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])])],
  ["label longer than the message", Buffer.concat([query.subarray(0, 12), Buffer.from([60, 0x61, 0x61])])],
  ["garbage after the question", Buffer.concat([query, Buffer.from("trailing junk")])],
  [
    "an additional record cut short",
    Buffer.concat([
      Buffer.from(query.subarray(0, 10)),
      Buffer.from([0, 1]),
      query.subarray(12),
      Buffer.from([0, 0, 41]),
    ]),
  ],
];

describe.skipIf(missingTool("dig"))("broken packets", () => {
  it.each(malformed)("UDP: %s -> FORMERR, no bigger than the request", async (_, msg) => {
    const reply = await udp(msg);
    expect(reply).not.toBeNull();
    expect(reply!.readUInt16BE(0)).toBe(0x1234);
    expect(reply![3]! & 0xf).toBe(Rcode.FORMERR);
    expect(reply!.length).toBeLessThanOrEqual(Math.max(msg.length, 12));
  });

  it("UDP: runts and responses get no reply at all", async () => {
    expect(await udp(Buffer.from([1, 2, 3]))).toBeNull();
    const response = Buffer.from(query);
    response[2]! |= 0x80;
    expect(await udp(response)).toBeNull();
  });

  it("UDP: an unknown opcode gets NOTIMP", async () => {
    const m = Buffer.from(query);
    m[2] = (m[2]! & 0x87) | (3 << 3);
    const reply = await udp(m);
    expect(reply![3]! & 0xf).toBe(Rcode.NOTIMP);
  });

  it("TCP: FORMERR for a bad message, then the next query on the same connection is answered", async () => {
    const bad = withCounts(2);
    const frames = Buffer.concat([Buffer.from([0, bad.length]), bad, Buffer.from([0, query.length]), query]);
    const replies = await new Promise<Buffer[]>((resolve, reject) => {
      const s = connect(d.port, "127.0.0.1", () => s.write(frames));
      let got = Buffer.alloc(0);
      const out: Buffer[] = [];
      s.on("data", (c) => {
        got = Buffer.concat([got, c]);
        while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          out.push(got.subarray(2, 2 + got.readUInt16BE(0)));
          got = got.subarray(2 + got.readUInt16BE(0));
        }
        if (out.length === 2) {
          s.end();
          resolve(out);
        }
      });
      s.on("error", reject);
    });
    expect(replies[0]![3]! & 0xf).toBe(Rcode.FORMERR);
    expect(replies[1]![3]! & 0xf).toBe(Rcode.NOERROR);
    expect(replies[1]!.readUInt16BE(6)).toBe(1); // one A record
  });

  it("TCP: a connection that sends half a message and hangs up does no harm", async () => {
    await new Promise<void>((resolve) => {
      const s = connect(d.port, "127.0.0.1", () => {
        s.write(Buffer.from([0, 200, 1, 2, 3]));
        s.destroy();
        resolve();
      });
    });
    expect(dig("dig", "127.0.0.1", d.port, ["+tcp", "alpha.local", "A"]).answer).toHaveLength(1);
  });

  it("2000 random and mutated datagrams later, the daemon is alive and answers", async () => {
    const sock = createSocket("udp4");
    let replies = 0;
    sock.on("message", () => replies++);
    for (let i = 0; i < 2000; i++) {
      let m: Buffer;
      if (i % 2 === 0) m = randomBytes(1 + (i % 300));
      else {
        m = Buffer.from(query);
        for (let k = 0; k < 3; k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      }
      sock.send(m, d.port, "127.0.0.1");
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    expect(d.proc.exitCode).toBeNull();
    expect(dig("dig", "127.0.0.1", d.port, ["alpha.local", "A"]).answer.map((a) => a.rdata)).toEqual(["192.0.2.10"]);
    expect(replies).toBeGreaterThan(0);
    expect(d.logs.filter((l) => l.includes('"level":50'))).toEqual([]); // no internal errors logged
  });
});
