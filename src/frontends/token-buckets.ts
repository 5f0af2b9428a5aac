// Token buckets by key: `rate` a second with a burst of as many, entries
// dropped when idle, the table bounded. Used for RRL and the update rate.
interface Bucket {
  tokens: number;
  last: number;
  /** Takes refused since the bucket was made. */
  refused: number;
}

const IDLE_MS = 10_000;
const MAX_KEYS = 200_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(private readonly rate: number) {}

  /** True when `key` may go ahead now; otherwise how many times in a row (since the bucket was made) it was refused. */
  take(key: string, now: number): true | number {
    if (now - this.lastSweep > 1000) {
      this.lastSweep = now;
      for (const [k, b] of this.buckets) if (now - b.last > IDLE_MS) this.buckets.delete(k);
    }
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_KEYS) this.buckets.clear(); // a spread this wide (spoofed): start over, bounded
      b = { tokens: this.rate, last: now, refused: 0 };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.rate, b.tokens + ((now - b.last) * this.rate) / 1000);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    return ++b.refused;
  }
}
