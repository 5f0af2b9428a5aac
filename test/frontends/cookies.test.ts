// Server cookies: ours verify for the client cookie and address they were made
// for, within their age, and nothing else does.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CookieJar, readCookie } from "../../src/frontends/cookies.js";
import { appendEdnsOption as appendOption } from "../../src/wire/patch.js";

describe("CookieJar", () => {
  const jar = new CookieJar();
  const client = randomBytes(8);
  const now = 1_800_000_000;
  const server = jar.serverCookie(client, "192.0.2.1", now);

  it("verifies its own cookie (RFC 9018 layout: version 1, timestamp, 8-byte hash) for that client cookie and address", () => {
    expect(server.length).toBe(16);
    expect(server[0]).toBe(1);
    expect(server.readUInt32BE(4)).toBe(now);
    expect(jar.verify(client, server, "192.0.2.1", now + 10)).toBe(true);
    expect(new CookieJar(jar.secret).verify(client, server, "192.0.2.1", now)).toBe(true); // another process of the daemon
  });

  it("refuses it for another address, another client cookie, another secret, or when too old or from the future", () => {
    expect(jar.verify(client, server, "192.0.2.2", now)).toBe(false);
    expect(jar.verify(randomBytes(8), server, "192.0.2.1", now)).toBe(false);
    expect(new CookieJar().verify(client, server, "192.0.2.1", now)).toBe(false);
    expect(jar.verify(client, server, "192.0.2.1", now + 3601)).toBe(false);
    expect(jar.verify(client, server, "192.0.2.1", now - 301)).toBe(false);
  });

  it("reads the option: client cookie alone, with a server cookie, or malformed by length", () => {
    expect(readCookie([])).toEqual({ kind: "none" });
    expect(readCookie([{ code: 10, data: client }])).toEqual({ kind: "cookie", client });
    expect(readCookie([{ code: 10, data: Buffer.concat([client, server]) }])).toMatchObject({ kind: "cookie", server });
    for (const n of [0, 7, 9, 15, 41]) expect(readCookie([{ code: 10, data: randomBytes(n) }]).kind).toBe("malformed");
  });

  it("appendOption leaves a message alone when its last record is not an option-less OPT", () => {
    const noOpt = Buffer.alloc(12);
    expect(appendOption(noOpt, 10, client)).toBe(noOpt);
  });
});
