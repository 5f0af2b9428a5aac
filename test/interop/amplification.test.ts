// A spoofed-source flood, simulated on loopback: one socket plays the victim
// whose address the attacker forges, and asks, as fast as it can, for the
// largest answer there is (a 100-instance browse with EDNS 4096). With
// response-rate limiting what reaches the victim stays within the bound
// docs/security.md gives (it tends to half the flood as the flood grows);
// without it, about 65 times the flood. Meanwhile a legitimate client over TCP is
// answered every time.
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryServer } from "../../src/client/dns-client.js";
import { parseName } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import { encodeQuery } from "../../src/wire/message.js";
import { startDaemon, writeServicesFile, type RunningDaemon } from "../lab/daemon.js";

const FLOOD = 6000;
const services = writeServicesFile(100, "_big._tcp"); // a browse of 100 instances: about 3 KB, the largest answer that fits 4096

/** Send FLOOD browse queries from one socket in ~1.5 s; return bytes out and in at that socket. */
async function flood(
  port: number,
): Promise<{ sent: number; received: number; replies: number; truncated: number; seconds: number }> {
  const started = Date.now();
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const tally = { sent: 0, received: 0, replies: 0, truncated: 0 };
  s.on("message", (m) => {
    tally.received += m.length;
    tally.replies++;
    if (m[2]! & 0x02) tally.truncated++;
  });
  const q = encodeQuery(7, parseName("_big._tcp.local."), Type.PTR, { udpSize: 4096 });
  for (let i = 0; i < FLOOD; i += 100) {
    for (let j = 0; j < 100; j++) s.send(q, port, "127.0.0.1");
    tally.sent += 100 * q.length;
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 500));
  s.close();
  return { ...tally, seconds: (Date.now() - started) / 1000 };
}

/** A legitimate client: TCP queries during the flood, every one answered. */
async function legitimateOverTcp(port: number, until: () => boolean): Promise<{ asked: number; answered: number }> {
  const t = { asked: 0, answered: 0 };
  while (!until()) {
    t.asked++;
    const r = await queryServer({ host: "127.0.0.1", port }, parseName("node-7._big._tcp.local."), Type.SRV, {
      tcp: true,
      timeoutMs: 3000,
    }).catch(() => undefined);
    if (r?.answers.length === 1) t.answered++;
    await new Promise((res) => setTimeout(res, 20));
  }
  return t;
}

describe("amplification", () => {
  let limited: RunningDaemon;
  let open: RunningDaemon;
  beforeAll(async () => {
    // loopback is exempt by default; here it plays a victim on the internet
    limited = await startDaemon([
      "--services",
      services,
      "--max-udp-size",
      "4096",
      "--rrl-rate",
      "100",
      "--rrl-exempt",
      "none",
      "--http",
      "127.0.0.1:0",
    ]);
    open = await startDaemon(["--services", services, "--max-udp-size", "4096", "--rrl-rate", "0"]);
  });
  afterAll(async () => {
    await limited?.stop();
    await open?.stop();
  });

  it("with RRL (100/s, slip 2) the victim gets no more than the documented bound, and TCP clients are still served", async () => {
    let done = false;
    const legit = legitimateOverTcp(limited.port, () => done);
    const f = await flood(limited.port);
    done = true;
    const l = await legit;
    const ratio = f.received / f.sent;
    // docs/security.md: at most rate x (seconds + 1) full replies, plus one truncated reply (no larger than its query) per `slip` limited ones
    const bound = 100 * (f.seconds + 1) * 4096 + f.sent / 2;
    console.log(
      `RRL on: ${f.sent} bytes sent in the victim's name over ${f.seconds.toFixed(1)} s, ${f.received} bytes to the victim (${f.replies} replies, ${f.truncated} truncated): ratio ${ratio.toFixed(2)}, bound ${(bound / f.sent).toFixed(2)}; TCP client ${l.answered}/${l.asked} answered`,
    );
    expect(f.received).toBeLessThanOrEqual(bound);
    expect(f.replies - f.truncated).toBeLessThanOrEqual(100 * (f.seconds + 1)); // full replies: the rate, and one burst
    expect(f.truncated).toBeGreaterThan(0); // slipped replies tell a real client to use TCP
    expect(l.asked).toBeGreaterThan(10);
    expect(l.answered).toBe(l.asked);
    const metrics = await (await fetch(`http://127.0.0.1:${limited.httpPort}/metrics`)).text();
    expect(Number(/^ringdns_rrl_limited_total\{action="dropped"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(1000);
    await limited.waitForLog(/response rate limit: replies to this source prefix are being limited/);
  });

  it("without RRL the same flood is amplified many times over (what the limit prevents)", async () => {
    const f = await flood(open.port);
    const ratio = f.received / f.sent;
    console.log(`RRL off: ratio ${ratio.toFixed(1)}`);
    expect(ratio).toBeGreaterThan(20);
  });
});
