// DNS Cookies (RFC 7873) with dig and with raw queries: the client cookie is
// echoed with a server cookie, a malformed one gets FORMERR, and a client that
// returns our server cookie has proved its address, so response-rate limiting
// lets it through where an unproven source is cut off.
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COOKIE_OPTION } from "../../src/frontends/cookies.js";
import { appendEdnsOption as appendOption } from "../../src/wire/patch.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { Type } from "../../src/wire/constants.js";
import { encodeQuery } from "../../src/wire/message.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { eventually } from "../lab/wait.js";
import { missingTool } from "../lab/tools.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon([
    "--services",
    "examples/services.yaml",
    "--rrl-rate",
    "2",
    "--rrl-slip",
    "0",
    "--rrl-exempt",
    "none",
  ]);
});
afterAll(() => d?.stop());

/** Send `queries` from one socket; the replies, once every query has one or none has come for 300 ms (some are rate-limited away). */
async function exchange(queries: Buffer[]): Promise<Buffer[]> {
  const s = createSocket("udp4");
  const got: Buffer[] = [];
  let lastAt = Date.now();
  s.on("message", (m) => {
    got.push(m);
    lastAt = Date.now();
  });
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  for (const q of queries) s.send(q, d.port, "127.0.0.1");
  await eventually("replies", () => got.length >= queries.length || Date.now() - lastAt >= 300, 5000, 10);
  s.close();
  return got;
}
const withCookie = (cookie: Buffer) =>
  appendOption(
    encodeQuery(Math.floor(Math.random() * 65535), ["alpha", "_cache", "_tcp", "local"], Type.SRV, { udpSize: 1232 }),
    COOKIE_OPTION,
    cookie,
  );
const cookieOf = (reply: Buffer) => decodeMessage(reply).edns?.options.find((o) => o.code === COOKIE_OPTION)?.data;

describe.skipIf(missingTool("dig"))("DNS cookies", () => {
  it("dig's cookie comes back with a server cookie, and dig calls it good", () => {
    const out = spawnSync("dig", ["@127.0.0.1", "-p", String(d.port), "alpha._cache._tcp.local", "SRV"], {
      encoding: "utf8",
    }).stdout;
    expect(out).toMatch(/^; COOKIE: [0-9a-f]{16}[0-9a-f]{32} \(good\)$/m);
  });

  it("a cookie of a length RFC 7873 does not allow gets FORMERR", async () => {
    const [reply] = await exchange([withCookie(randomBytes(5))]);
    expect(decodeMessage(reply!).rcodeName).toBe("FORMERR");
  });

  it("a client that returns our server cookie passes the rate limit; one that does not is cut off", async () => {
    const client = randomBytes(8);
    await new Promise((r) => setTimeout(r, 1100)); // the earlier tests used this second's replies
    const [first] = await exchange([withCookie(client)]);
    const full = Buffer.from(cookieOf(first!)!);
    expect(full.subarray(0, 8).equals(client)).toBe(true);
    expect(full.length).toBe(24);
    await new Promise((r) => setTimeout(r, 1100)); // the bucket refills
    const unproven = await exchange(Array.from({ length: 20 }, () => withCookie(randomBytes(8))));
    expect(unproven.length).toBeLessThanOrEqual(4); // 2 a second, a burst of 2
    const proven = await exchange(Array.from({ length: 20 }, () => withCookie(full)));
    expect(proven).toHaveLength(20);
    expect(proven.every((r) => decodeMessage(r).answers.length === 1)).toBe(true);
    // a server cookie for another client cookie proves nothing
    const forged = Buffer.concat([randomBytes(8), full.subarray(8)]);
    expect((await exchange(Array.from({ length: 20 }, () => withCookie(forged)))).length).toBeLessThanOrEqual(4);
  });
});
