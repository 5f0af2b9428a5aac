// Ring figures, in process: the same Ring class the daemon uses.
import { performance } from "node:perf_hooks";
import { DEFAULT_POINTS_PER_WEIGHT, Ring } from "../../src/ring/ring.js";

const members = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `instance-${i}`, weight: 1 }));

export interface RingFigures {
  pointsPerWeight: number;
  lookupsPerSecond: number;
  rebuildMs: { n: number; ms: number }[];
  moved: { n: number; joinRatio: number; leaveRatio: number }[];
  balance: { n: number; max: number; min: number }[];
}

function balance(n: number, keys: number) {
  const ring = Ring.build(members(n));
  const counts = new Map<string, number>();
  for (let k = 0; k < keys; k++) {
    const o = ring.ownerOf(`key-${k}`)!;
    counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  const mean = keys / n;
  const v = [...members(n).map((m) => counts.get(m.id) ?? 0)];
  return { n, max: Math.max(...v) / mean, min: Math.min(...v) / mean };
}

export function ringFigures(quick: boolean): RingFigures {
  const ring100 = Ring.build(members(100));
  const keys = Array.from({ length: 200_000 }, (_, i) => `key-${i}`);
  for (let i = 0; i < 20_000; i++) ring100.ownerOf(keys[i]!); // warm up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000) for (let i = 0; i < 10_000; i++, n++) ring100.ownerOf(keys[n % keys.length]!);
  const lookupsPerSecond = n / ((performance.now() - t0) / 1000);

  const rebuildMs = [];
  for (const size of quick ? [100, 1000] : [100, 10_000]) {
    const base = Ring.build(members(size));
    const t = performance.now();
    base.with({ id: "newcomer", weight: 1 }).ownerOf("x");
    rebuildMs.push({ n: size, ms: performance.now() - t });
  }

  const moved = [];
  for (const size of [10, 100]) {
    const base = Ring.build(members(size));
    const joined = base.with({ id: "newcomer", weight: 1 });
    const left = base.without("instance-0");
    const sample = keys.slice(0, 100_000);
    const join = sample.filter((k) => base.ownerOf(k) !== joined.ownerOf(k)).length / sample.length;
    const leave = sample.filter((k) => base.ownerOf(k) !== left.ownerOf(k)).length / sample.length;
    moved.push({ n: size, joinRatio: join / (1 / (size + 1)), leaveRatio: leave / (1 / size) });
  }

  const balanceRows = [];
  const keyCount = quick ? 200_000 : 1_000_000;
  // v2 has one point count (docs/hash.md); point counts and other designs are compared by `--scale`
  for (const size of quick ? [10, 100] : [10, 100, 1000]) balanceRows.push(balance(size, keyCount));
  return { pointsPerWeight: DEFAULT_POINTS_PER_WEIGHT, lookupsPerSecond, rebuildMs, moved, balance: balanceRows };
}
