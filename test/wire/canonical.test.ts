import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { parseName } from "../../src/names.js";
import { canonicalRdata, compareRecordSets } from "../../src/wire/canonical.js";
import { Class, Type } from "../../src/wire/constants.js";
import type { DecodedData } from "../../src/wire/decode.js";
import type { RData } from "../../src/wire/message.js";

const srv = (port: number, target = "host.local."): RData => ({
  type: Type.SRV,
  srv: { priority: 0, weight: 0, port, target: parseName(target) },
});

/** RDATA as dns-packet writes it (uncompressed), for a second opinion. */
function packetRdata(answer: dnsPacket.Answer): Buffer {
  const whole = dnsPacket.answer.encode({ ...answer, name: "." } as dnsPacket.Answer);
  return whole.subarray(1 + 10); // root owner name, type, class, TTL, RDLENGTH
}

describe("canonical RDATA (RFC 6762 §8.2)", () => {
  it("is the uncompressed wire RDATA, byte for byte as dns-packet writes it", () => {
    expect(canonicalRdata(srv(8080, "Printer.local."))).toEqual(
      packetRdata({ type: "SRV", name: ".", data: { priority: 0, weight: 0, port: 8080, target: "Printer.local" } }),
    );
    expect(canonicalRdata({ type: Type.PTR, target: parseName("a b._ipp._tcp.local.") })).toEqual(
      packetRdata({ type: "PTR", name: ".", data: "a b._ipp._tcp.local" }),
    );
    expect(canonicalRdata({ type: Type.TXT, strings: [Buffer.from("k=v"), Buffer.from("x")] } as DecodedData)).toEqual(
      packetRdata({ type: "TXT", name: ".", data: ["k=v", "x"] }),
    );
    expect(canonicalRdata({ type: Type.AAAA, address: "2001:db8::1" })).toEqual(
      packetRdata({ type: "AAAA", name: ".", data: "2001:db8::1" }),
    );
    // decoded SRV (flat fields) and built SRV (nested) give the same bytes
    expect(
      canonicalRdata({ type: Type.SRV, priority: 0, weight: 0, port: 8080, target: parseName("Printer.local.") }),
    ).toEqual(canonicalRdata(srv(8080, "Printer.local.")));
  });

  it("orders by bytes: port 1000 beats 999 (a text comparison would say the opposite)", () => {
    expect(compareRecordSets([{ data: srv(1000) }], [{ data: srv(999) }])).toBeGreaterThan(0);
    expect(compareRecordSets([{ data: srv(999) }], [{ data: srv(1000) }])).toBeLessThan(0);
  });

  it("ignores the cache-flush bit, sorts each set first, and lets the set with more records win a tie", () => {
    const txt: RData = { type: Type.TXT, strings: [Buffer.from("a=1")] };
    const mine = [{ data: txt }, { class: Class.IN, data: srv(80) }];
    const theirs = [{ class: Class.IN | 0x8000, data: srv(80) }, { data: txt }];
    expect(compareRecordSets(mine, theirs)).toBe(0);
    // equal as far as the shorter set goes: the longer one wins
    expect(compareRecordSets(mine, [...theirs, { data: srv(81) }])).toBeLessThan(0);
    // position by position after sorting: their A record (type 1) sorts before our TXT (type 16), so we win
    expect(
      compareRecordSets(mine, [...theirs, { data: { type: Type.A, address: "192.0.2.1" } as RData }]),
    ).toBeGreaterThan(0);
  });
});
