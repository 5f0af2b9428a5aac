// Response-rate limiting, decision by decision, on a hand-moved clock.
import { describe, expect, it } from "vitest";
import { ResponseRateLimiter, sourcePrefix } from "../../src/frontends/rrl.js";

const limiter = (rate: number, slip: number, exempt = (_: string) => false) =>
  new ResponseRateLimiter({ rate, slip, exempt });

describe("ResponseRateLimiter", () => {
  it("lets `rate` replies a second through per prefix, then slips every slip-th and drops the rest", () => {
    const l = limiter(10, 2);
    const decisions = Array.from({ length: 20 }, () => l.decide("198.51.100.7", 1000));
    expect(decisions.slice(0, 10)).toEqual(Array(10).fill("send"));
    expect(decisions.slice(10)).toEqual([
      "drop",
      "slip",
      "drop",
      "slip",
      "drop",
      "slip",
      "drop",
      "slip",
      "drop",
      "slip",
    ]);
    // half a second later, half the rate is back
    expect(Array.from({ length: 6 }, () => l.decide("198.51.100.7", 1500)).filter((d) => d === "send")).toHaveLength(5);
  });

  it("counts a whole /24 (or IPv6 /56) as one source, and other prefixes apart", () => {
    const l = limiter(2, 0);
    expect([l.decide("198.51.100.1", 0), l.decide("198.51.100.2", 0), l.decide("198.51.100.3", 0)]).toEqual([
      "send",
      "send",
      "drop",
    ]);
    expect(l.decide("198.51.101.1", 0)).toBe("send");
    expect(sourcePrefix("2001:db8:aa:bbcc::1")).toBe(sourcePrefix("2001:db8:aa:bbff:1::9"));
    expect(sourcePrefix("2001:db8:aa:bbcc::1")).not.toBe(sourcePrefix("2001:db8:aa:cc00::1"));
    expect(sourcePrefix("::ffff:192.0.2.77")).toBe("192.0.2.0/24");
  });

  it("never limits exempt sources, and does nothing at rate 0", () => {
    const l = limiter(1, 2, (a) => a === "127.0.0.1");
    expect(Array.from({ length: 100 }, () => l.decide("127.0.0.1", 0)).every((d) => d === "send")).toBe(true);
    expect(limiter(0, 2).enabled).toBe(false);
  });

  it("tells once when a prefix starts being limited", () => {
    const told: string[] = [];
    const l = new ResponseRateLimiter({ rate: 1, slip: 2, exempt: () => false }, (p) => told.push(p));
    for (let i = 0; i < 50; i++) l.decide("203.0.113.9", 0);
    expect(told).toEqual(["203.0.113.0/24"]);
  });
});
