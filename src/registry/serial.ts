// SOA serial arithmetic (RFC 1982, SERIAL_BITS = 32): serials wrap, so "newer"
// is "ahead by less than half the space". Two serials exactly 2^31 apart are
// not comparable (§3.2): neither is newer.

const HALF = 2 ** 31;

/** -1 when `a` is older than `b`, 1 when newer, 0 when equal, undefined when neither (2^31 apart). */
export function compareSerial(a: number, b: number): -1 | 0 | 1 | undefined {
  const x = a >>> 0;
  const y = b >>> 0;
  if (x === y) return 0;
  if ((x < y && y - x < HALF) || (x > y && x - y > HALF)) return -1;
  if ((x < y && y - x > HALF) || (x > y && x - y < HALF)) return 1;
  return undefined;
}

/** `serial` + `n` (0 <= n < 2^31), wrapped (RFC 1982 §3.1). */
export function addSerial(serial: number, n: number): number {
  return ((serial >>> 0) + n) % 2 ** 32;
}

/**
 * Where the SOA serial is kept across restarts: `floor` is above every serial
 * an earlier run may have served; `reserve(upTo)` keeps `upTo` as the next
 * floor, durably, before a serial beyond the last reservation is served.
 */
export interface SerialKeeper {
  readonly floor: number | undefined;
  reserve(upTo: number): void;
}

/** Serials reserved at a time: one write per this many changes, and a restart jumps at most this far. */
export const SERIAL_RESERVATION = 10_000;

/** The next serial after `serial` for a change at `clockSerial` (seconds): one more, or the clock when it is ahead (RFC 1982). */
export function nextSerial(serial: number, clockSerial: number): number {
  const next = addSerial(serial, 1);
  return compareSerial(clockSerial, next) === 1 ? clockSerial >>> 0 : next;
}
