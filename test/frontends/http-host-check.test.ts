// The Host check against DNS rebinding: IP literals, localhost and the
// configured names pass; any other name, or a Host that is not one, fails.
import { describe, expect, it } from "vitest";
import { hostCheck, hostOf } from "../../src/frontends/http/host-check.js";

describe("HTTP Host check", () => {
  const ok = hostCheck(["ringdns.example", "Build-Host."]);
  it.each([
    "127.0.0.1",
    "127.0.0.1:8080",
    "[::1]",
    "[::1]:8080",
    "192.0.2.7:80",
    "[2001:db8::1]:8080",
    "localhost",
    "LOCALHOST:8080",
    "localhost.:8080",
    "dash.localhost:8080",
    "ringdns.example",
    "RINGDNS.EXAMPLE.:443",
    "build-host",
  ])("accepts %s", (h) => expect(ok(h)).toBe(true));
  it.each([
    "attacker.example",
    "attacker.example:8080",
    "ringdns.example.attacker.example",
    "localhost.attacker.example",
    "",
    ":8080",
    "[::1",
    "[zz::1]:80",
    "127.0.0.1:8080@evil",
    "a b",
    "[v1.x]",
    "x:y:z",
  ])("refuses %j", (h) => expect(ok(h)).toBe(false));
  it("hostOf strips port and trailing dot and lower-cases", () => {
    expect(hostOf("Example.COM.:8080")).toBe("example.com");
    expect(hostOf("[2001:DB8::1]:53")).toBe("2001:db8::1");
    expect(hostOf("::1")).toBeUndefined(); // an IPv6 Host must be bracketed (RFC 3986 §3.2.2)
  });
});
