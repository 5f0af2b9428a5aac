// addressOf and formatPeer: every way a frontend writes a peer gives the same
// source address, so policies, cookies and rate limits treat IPv4 and IPv6
// alike (the HTTP frontend hands over addresses without a port).
import { describe, expect, it } from "vitest";
import { addressOf, canonicalAddress, formatPeer, sourceOf } from "../../src/frontends/peer.js";
import { sourceMatcher } from "../../src/update/policy.js";

describe("addressOf", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["192.0.2.1:53", "192.0.2.1"],
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["[::1]:53", "::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["[2001:db8::1]:8053", "2001:db8::1"],
    ["2001:db8::53", "2001:db8::53"], // an address whose last group looks like a port is still the address
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["[::ffff:192.0.2.1]:53", "192.0.2.1"],
    ["::FFFF:127.0.0.1", "127.0.0.1"],
    ["fe80::1%eth0", "fe80::1%eth0"],
    ["[fe80::1%eth0]:5353", "fe80::1%eth0"],
  ])("%s -> %s", (peer, address) => {
    expect(addressOf(peer)).toBe(address);
  });

  it("gives back what is not an address as it was (no policy matches it)", () => {
    for (const junk of ["", ":", "[]:53", "localhost:53", "999.1.1.1:53", "[192.0.2.1"])
      expect(addressOf(junk)).toBe(junk);
  });

  it("formatPeer brackets IPv6, and addressOf reads every form back", () => {
    expect(formatPeer("::1", 53)).toBe("[::1]:53");
    expect(formatPeer("192.0.2.1", 53)).toBe("192.0.2.1:53");
    for (const a of ["192.0.2.7", "::1", "2001:db8::53", "fe80::1%lo"]) expect(addressOf(formatPeer(a, 5353))).toBe(a);
  });

  it("IPv6 loopback, with or without a port, is loopback to a source policy (the HTTP peer has no port)", () => {
    const loopback = sourceMatcher(["127.0.0.0/8", "::1/128"], "test");
    for (const p of ["::1", "[::1]:41000", "127.0.0.1", "127.0.0.1:41000", "::ffff:127.0.0.1"])
      expect(loopback(addressOf(p)), p).toBe(true);
    expect(loopback(addressOf("2001:db8::1"))).toBe(false);
  });

  it("per-source limits count an IPv6 client by its /64 (anyone given one holds every address in it), IPv4 by its address", () => {
    expect(sourceOf("[2001:db8:1:2::a]:5300")).toBe("2001:0db8:0001:0002::/64");
    expect(sourceOf("2001:db8:1:2:ffff::1")).toBe(sourceOf("[2001:db8:1:2::b]:53"));
    expect(sourceOf("2001:db8:1:3::a")).not.toBe(sourceOf("2001:db8:1:2::a"));
    expect(sourceOf("192.0.2.7:53")).toBe("192.0.2.7");
    expect(sourceOf("::ffff:192.0.2.7")).toBe("192.0.2.7");
  });

  it("canonicalAddress writes an address one way, as a reply's source is read", () => {
    expect(canonicalAddress("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(canonicalAddress("[2001:DB8:0:0::53]:53")).toBe("2001:db8::53");
    expect(canonicalAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
  });
});
