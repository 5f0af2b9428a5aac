import { describe, expect, it } from "vitest";
import { replyLookup } from "../../src/frontends/udp.js";

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
