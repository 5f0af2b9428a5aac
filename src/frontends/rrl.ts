// Response-rate limiting for UDP (the Knot/BIND RRL idea): replies to one
// source prefix (/24 for IPv4, /56 for IPv6) are allowed `rate` per second
// with a burst of the same; beyond that every `slip`-th reply goes out as an
// empty truncated one (TC=1: a real client retries over TCP, which a spoofed
// source cannot) and the rest are dropped. A flood with a victim's address
// thus gets the victim at most `rate` full replies a second plus slipped
// replies no larger than the queries. Pure but for the clock it is given.
import { isIPv4 } from "node:net";
import type { Logger } from "pino";
import { sourceMatcher } from "../update/policy.js";
import { TokenBuckets } from "./token-buckets.js";
import { ipv6Groups } from "./peer.js";

export interface RrlOptions {
  /** Replies per second per source prefix; 0 = no limit. */
  rate: number;
  /** Every slip-th limited reply is sent truncated; 0 = drop them all. */
  slip: number;
  /** Sources never limited. */
  exempt: (address: string) => boolean;
}

export type RrlDecision = "send" | "slip" | "drop";

/** The prefix a source counts against: /24 for IPv4, /56 for IPv6. */
export function sourcePrefix(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+)\.\d+$/i.exec(address);
  if (v4) return `${v4[1]}.0/24`;
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  return `${groups.slice(0, 3).join(":")}:${groups[3]!.slice(0, 2)}00::/56`;
}

export class ResponseRateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    private readonly options: RrlOptions,
    /** Called when a prefix starts being limited (for a log line), at most once per idle period. */
    private readonly onLimit?: (prefix: string) => void,
  ) {
    this.buckets = new TokenBuckets(options.rate);
  }

  get enabled(): boolean {
    return this.options.rate > 0;
  }

  /** Exempt or not, per address: the hot path asks for every reply. */
  private readonly exemptCache = new Map<string, boolean>();

  private isExempt(address: string): boolean {
    let e = this.exemptCache.get(address);
    if (e === undefined) {
      if (this.exemptCache.size >= 10_000) this.exemptCache.clear();
      this.exemptCache.set(address, (e = this.options.exempt(address)));
    }
    return e;
  }

  decide(address: string, now: number): RrlDecision {
    if (this.options.rate <= 0 || this.isExempt(address)) return "send";
    const prefix = sourcePrefix(address);
    const taken = this.buckets.take(prefix, now);
    if (taken === true) return "send";
    if (taken === 1) this.onLimit?.(prefix);
    return this.options.slip > 0 && taken % this.options.slip === 0 ? "slip" : "drop";
  }
}

/** A limiter from settings, logging when a prefix starts being limited. */
export function makeRateLimiter(
  o: { rate: number; slip: number; exempt: readonly string[] },
  log: Logger,
): ResponseRateLimiter {
  return new ResponseRateLimiter(
    { rate: o.rate, slip: o.slip, exempt: sourceMatcher(o.exempt, "--rrl-exempt") },
    (prefix) =>
      log.warn(
        { prefix, rate: o.rate, slip: o.slip },
        "response rate limit: replies to this source prefix are being limited (dropped, or sent truncated)",
      ),
  );
}
