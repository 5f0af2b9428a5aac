import { createSocket } from "node:dgram";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { replyLookup, serveUdp } from "../../src/frontends/udp.js";
import { internalErrorCount } from "../../src/guard.js";
import { parseName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";

describe("replyLookup (where a UDP reply goes)", () => {
  it("gives an IP literal back at once, with its family: no turn of the event loop before the reply is sent", () => {
    const seen: [string, number][] = [];
    for (const ip of ["192.0.2.7", "2001:db8::7", "::ffff:192.0.2.7"])
      replyLookup(ip, {}, (err, address, family) => {
        expect(err).toBeNull();
        seen.push([address, family]);
      });
    // synchronous: every callback has run before this line
    expect(seen).toEqual([
      ["192.0.2.7", 4],
      ["2001:db8::7", 6],
      ["::ffff:192.0.2.7", 6],
    ]);
  });

  it("leaves a name to dns.lookup, as dgram would", async () => {
    let returned = false;
    const got = new Promise<[NodeJS.ErrnoException | null, string, boolean]>((resolve) =>
      replyLookup("localhost", { family: 4 }, (err, address) => resolve([err, address, returned])),
    );
    returned = true;
    const [err, address, calledAfterReturn] = await got;
    expect(calledAfterReturn).toBe(true); // asynchronous, as dns.lookup answers
    expect(err).toBeNull();
    expect(address).toBe("127.0.0.1");
  });
});

describe("serveUdp", () => {
  it("drops a query from source port 0 (forged) unanswered, where it was an internal error logged per packet", async () => {
    const registry = new Registry({ clock: new ManualClock(1_700_000_000_000), store: new MemoryStore() });
    await registry.open();
    const deps: DnsHandlerDeps = {
      registry,
      clock: new ManualClock(1_700_000_000_000),
      log: pino({ level: "silent" }),
      maxUdpPayload: 1232,
      answer: { domains: [["local"]], ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    };
    const server = createSocket("udp4");
    const client = createSocket("udp4");
    await Promise.all([server, client].map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()))));
    serveUdp(server, deps);
    const replies: Buffer[] = [];
    client.on("message", (m) => replies.push(m));
    const errorsBefore = internalErrorCount();
    const query = encodeQuery(7, parseName("local."), Type.SOA);
    // what the kernel hands over for a spoofed datagram (userland cannot send from port 0)
    server.emit("message", query, { address: "127.0.0.1", family: "IPv4", port: 0, size: query.length });
    // the same query from a real port is answered: the listener is live
    server.emit("message", query, {
      address: "127.0.0.1",
      family: "IPv4",
      port: client.address().port,
      size: query.length,
    });
    for (let i = 0; i < 100 && replies.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(internalErrorCount()).toBe(errorsBefore);
    expect(replies.map((m) => decodeMessage(m).id)).toEqual([7]);
    server.close();
    client.close();
  });
});
