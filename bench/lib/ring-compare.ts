// `npm run bench -- --scale`, ring part (issue 15): ring v1 (the old design),
// ring v2 (src/ring/ring.ts) and Maglev on the same figures, in process.
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { keySeed } from "../../src/ring/hash.js";
import { DEFAULT_POINTS_PER_WEIGHT, PROBES, Ring } from "../../src/ring/ring.js";
import { Maglev, maglevTableSize } from "./maglev.js";
import { RingV1, V1_MAX_WEIGHT, V1_POINTS_PER_WEIGHT } from "./ring-v1.js";

// a collection between measurements, so RSS deltas show what a structure keeps, not leftover garbage
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

interface Member {
  id: string;
  weight: number;
}

/** What the comparison asks of a built structure. */
interface Built {
  readonly structure: object;
  owner(key: string): string | undefined;
  /**
   * Owners of keys[from..to), each key hashed: how many found none. A loop of
   * the design's own, so the call to its lookup is one the compiler sees
   * always the same (a loop shared by the designs would measure a call site
   * that has seen three).
   */
  lookups(keys: readonly string[], from: number, to: number): number;
  /** Exact fraction of keys per instance. */
  shares(): Map<string, number>;
  join(m: Member): Built;
  leave(id: string): Built;
  /** Exact fraction of keys whose owner differs in `other`. */
  movedTo(other: Built, joined?: string, left?: string): number;
}

interface Design {
  readonly name: string;
  build(members: readonly Member[]): Built;
}

// v1 and v2 are monotone: a join moves keys only to the joiner, a leave only away from the leaver
const monotoneMoved = (b: Built, other: Built, joined?: string, left?: string) =>
  joined !== undefined ? other.shares().get(joined)! : b.shares().get(left!)!;

const v2 = (r: Ring): Built => ({
  structure: r,
  owner: (k) => r.ownerOf(k),
  lookups(keys, from, to) {
    let none = 0;
    for (let i = from; i < to; i++) if (r.ownerOf(keys[i]!) === undefined) none++;
    return none;
  },
  shares: () => r.shares(),
  join: (m) => v2(r.change([m], [])),
  leave: (id) => v2(r.change([], [id])),
  movedTo(other, joined, left) {
    return monotoneMoved(this, other, joined, left);
  },
});
const v1 = (r: RingV1): Built => {
  let shares: Map<string, number> | undefined;
  return {
    structure: r,
    owner: (k) => r.ownerOf(k),
    lookups(keys, from, to) {
      let none = 0;
      for (let i = from; i < to; i++) if (r.ownerOf(keys[i]!) === undefined) none++;
      return none;
    },
    shares: () => (shares ??= r.shares()),
    join: (m) => v1(r.change([m], [])),
    leave: (id) => v1(r.change([], [id])),
    movedTo(other, joined, left) {
      return monotoneMoved(this, other, joined, left);
    },
  };
};
const maglev = (t: Maglev): Built => ({
  structure: t,
  owner: (k) => t.ownerOf(k),
  lookups(keys, from, to) {
    let none = 0;
    for (let i = from; i < to; i++) if (t.ownerOf(keys[i]!) === undefined) none++;
    return none;
  },
  shares: () => t.shares(),
  join: (m) => maglev(t.with(m)),
  leave: (id) => maglev(t.without(id)),
  movedTo: (other) => t.movedTo(other.structure as Maglev),
});

const DESIGNS: Design[] = [
  { name: "ring v1", build: (ms) => v1(RingV1.build(ms)) },
  { name: "ring v2", build: (ms) => v2(Ring.build(ms)) },
  { name: "Maglev", build: (ms) => maglev(Maglev.build(ms)) },
];

const members = (n: number, prefix = "instance-") =>
  Array.from({ length: n }, (_, i): Member => ({ id: `${prefix}${i}`, weight: 1 }));
const key = (i: number) => `key-${i}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

/** Bytes of the typed arrays a structure holds (each buffer once), four levels deep (ring v2: ring → points → chunks → chunk). */
function typedArrayBytes(root: object): number {
  const seen = new Set<ArrayBufferLike>();
  const walk = (o: object, depth: number) => {
    for (const v of Object.values(o)) {
      if (ArrayBuffer.isView(v)) seen.add(v.buffer);
      else if (v !== null && typeof v === "object" && !(v instanceof Map) && depth < 4) walk(v as object, depth + 1);
    }
  };
  walk(root, 0);
  let bytes = 0;
  for (const b of seen) bytes += b.byteLength;
  return bytes;
}

/** 53 bits of SHA-256(key) as a number in [0, 2^53). */
function key53(k: string): number {
  const s = keySeed(k);
  return s.hi * 2097152 + (s.lo >>> 11);
}

/** Lookups per second of wall-clock time, and per second of this process's CPU time (the machine is shared). */
interface LookupRate {
  wall: number;
  cpu: number;
}

/** Owner lookups per second, SHA-256 of the key included: median of 3 runs of 0.4 s over 100,000 distinct keys. */
function lookupsPerSecond(b: Built): LookupRate {
  const keys = Array.from({ length: 100_000 }, (_, i) => key(i));
  const batch = 10_000; // divides keys.length: a batch never wraps
  let none = b.lookups(keys, 0, 2 * batch); // warm up
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    while (performance.now() - t0 < 400) {
      const from = n % keys.length;
      none += b.lookups(keys, from, from + batch);
      n += batch;
    }
    const cpu = process.cpuUsage(c0);
    runs.push(n / ((performance.now() - t0) / 1000));
    cpuRuns.push(n / ((cpu.user + cpu.system) / 1e6));
  }
  if (none > 0) throw new Error("lookup on a non-empty ring found no owner");
  return { wall: median(runs), cpu: median(cpuRuns) };
}

/** Keys per instance over `keys` sampled keys. */
function sampleCounts(owner: (k: string) => string | undefined, ids: readonly string[], keys: number): Float64Array {
  const slot = new Map(ids.map((id, i) => [id, i]));
  const counts = new Float64Array(ids.length);
  for (let i = 0; i < keys; i++) counts[slot.get(owner(key(i))!)!]!++;
  return counts;
}

const busiest = (counts: ArrayLike<number>) => {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    max = Math.max(max, counts[i]!);
    sum += counts[i]!;
  }
  return max / (sum / counts.length);
};

/** Worst |share / (weight / total) − 1| over all instances. */
function worstWeighted(share: (i: number) => number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let worst = 0;
  weights.forEach((w, i) => (worst = Math.max(worst, Math.abs(share(i) / (w / total) - 1))));
  return worst;
}

/** A fixed-seed generator (mulberry32), so every run draws the same weights. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Timing {
  medianMs: number;
  maxMs: number;
  runs: number;
  /** Measured at this N and scaled linearly to 100,000 when not 100,000. */
  measuredAt: number;
}

export interface DesignFigures {
  design: string;
  /** Build of one type of 100,000; `measuredAt` 10,000 means scaled ×10 (extrapolated). */
  build100k: { ms: number; measuredAt: number };
  /** Build of 10 types of 10,000, summed; `extrapolated`: 10 × one 10,000 build. */
  build10x10k: { ms: number; extrapolated: boolean };
  join: Timing;
  leave: Timing;
  memory: { typedBytesPerInstance: number; rssBytesPerInstance: number; measuredAt: number };
  lookups: { n100: LookupRate; n10k: LookupRate; large: LookupRate; largeN: number };
  balanceExact: { n100: number; n10k: number };
  balanceSampled: { n100: number; n10k: number };
  moved: { n: number; joinSampled: number; leaveSampled: number; joinExact: number; leaveExact: number }[];
  weighted: { exact: number; sampled: number; keys: number };
}

export interface RingComparison {
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  seconds: number;
  maglevTableSize100k: number;
  weightSeed: number;
  balanceKeys: number;
  floor: { n100: number; n10k: number; weighted: number; weightedKeys: number };
  designs: DesignFigures[];
}

const BALANCE_KEYS = 1_000_000;
const WEIGHTED_KEYS = 10_000_000;
const WEIGHT_SEED = 15;
/** A design whose 100,000 build would take longer than this is measured at 10,000 and scaled. */
const BUILD_LIMIT_MS = 60_000;

/** Build, change, memory and lookup figures on a large ring, released on return. */
function measureLarge(
  d: Design,
  first10k: { value: Built; ms: number; rssBytesPerInstance: number },
  tooSlow: boolean,
) {
  // a design too slow for 100,000 is measured on its 10,000 ring and scaled
  const largeN = tooSlow ? 10_000 : 100_000;
  const builds = [first10k.ms];
  let big = first10k.value;
  let rssBytesPerInstance = first10k.rssBytesPerInstance;
  if (!tooSlow) {
    const large = members(largeN);
    builds.length = 0;
    gc();
    const rss0 = process.memoryUsage().rss;
    const b = timed(() => d.build(large));
    b.value.owner("x");
    gc();
    rssBytesPerInstance = (process.memoryUsage().rss - rss0) / largeN;
    builds.push(b.ms);
    big = b.value;
    // cheap builds are timed three times (median); a build of seconds once
    while (builds.length < 3 && b.ms < 1000) builds.push(timed(() => d.build(large)).ms);
  }
  const typedBytesPerInstance = typedArrayBytes(big.structure) / largeN;
  const scaleTo100k = 100_000 / largeN;
  const build100k = { ms: median(builds) * scaleTo100k, measuredAt: largeN };

  // joins and leaves, each applied to the same base; a lookup after, as the first query would do
  const changeRuns = median(builds) < 1000 ? 20 : 5;
  const change = (fn: (i: number) => Built): Timing => {
    const ms = Array.from({ length: changeRuns }, (_, i) => timed(() => fn(i).owner("x")).ms * scaleTo100k);
    return { medianMs: median(ms), maxMs: Math.max(...ms), runs: changeRuns, measuredAt: largeN };
  };
  const join = change((i) => big.join({ id: `newcomer-${i}`, weight: 1 }));
  const leave = change((i) => big.leave(`instance-${i * 7}`));
  return {
    build100k,
    join,
    leave,
    memory: { typedBytesPerInstance, rssBytesPerInstance, measuredAt: largeN },
    lookupsLarge: lookupsPerSecond(big),
    largeN,
  };
}

function measureDesign(d: Design, weightedMembers: readonly Member[], log: (s: string) => void): DesignFigures {
  log(`ring comparison: ${d.name}…`);
  // one type of 10,000 first: it tells whether 100,000 fits the time budget
  gc();
  const rss0 = process.memoryUsage().rss;
  const first = timed(() => d.build(members(10_000)));
  first.value.owner("x"); // v1 builds its lookup index on the first lookup
  gc();
  const first10k = { ...first, rssBytesPerInstance: (process.memoryUsage().rss - rss0) / 10_000 };
  const tooSlow = first10k.ms * 10 > BUILD_LIMIT_MS;
  let build10x10k: DesignFigures["build10x10k"];
  if (tooSlow) build10x10k = { ms: first10k.ms * 10, extrapolated: true };
  else {
    let sum = first10k.ms;
    for (let t = 1; t < 10; t++) sum += timed(() => d.build(members(10_000, `t${t}-instance-`)).owner("x")).ms;
    build10x10k = { ms: sum, extrapolated: false };
  }
  log(`ring comparison: ${d.name}: one 10,000 build ${ms(first10k.ms)}; large ring…`);
  const large = measureLarge(d, first10k, tooSlow);
  gc();

  log(`ring comparison: ${d.name}: balance, keys moved…`);
  const balanceExact = { n100: 0, n10k: 0 };
  const balanceSampled = { n100: 0, n10k: 0 };
  const moved: DesignFigures["moved"] = [];
  const lookupsAt: { n100?: LookupRate; n10k?: LookupRate } = {};
  for (const n of [100, 10_000]) {
    const ids = members(n).map((m) => m.id);
    const base = n === 10_000 ? first10k.value : d.build(members(n));
    lookupsAt[n === 100 ? "n100" : "n10k"] = lookupsPerSecond(base);
    const shares = base.shares();
    const exact = busiest(ids.map((id) => shares.get(id)!));
    const slot = new Map(ids.map((id, i) => [id, i]));
    const counts = new Float64Array(n);
    const baseOwners = Array.from({ length: BALANCE_KEYS }, (_, i) => base.owner(key(i))!);
    for (const o of baseOwners) counts[slot.get(o)!]!++;
    const sampled = busiest(counts);
    balanceExact[n === 100 ? "n100" : "n10k"] = exact;
    balanceSampled[n === 100 ? "n100" : "n10k"] = sampled;
    const joined = base.join({ id: "newcomer", weight: 1 });
    const left = base.leave("instance-0");
    let joinMoved = 0;
    let leaveMoved = 0;
    for (let i = 0; i < BALANCE_KEYS; i++) {
      const k = key(i);
      if (joined.owner(k) !== baseOwners[i]) joinMoved++;
      if (left.owner(k) !== baseOwners[i]) leaveMoved++;
    }
    // the ideal: 1/(N+1) of the keys move to a joiner, 1/N away from a leaver
    moved.push({
      n,
      joinSampled: (joinMoved / BALANCE_KEYS) * (n + 1),
      leaveSampled: (leaveMoved / BALANCE_KEYS) * n,
      joinExact: base.movedTo(joined, "newcomer") * (n + 1),
      leaveExact: base.movedTo(left, undefined, "instance-0") * n,
    });
  }

  log(`ring comparison: ${d.name}: weighted shares over ${WEIGHTED_KEYS.toLocaleString("en")} keys…`);
  const wb = d.build(weightedMembers);
  const wids = weightedMembers.map((m) => m.id);
  const wweights = weightedMembers.map((m) => m.weight);
  const wshares = wb.shares();
  const wcounts = sampleCounts((k) => wb.owner(k), wids, WEIGHTED_KEYS);
  const weighted = {
    exact: worstWeighted((i) => wshares.get(wids[i]!)!, wweights),
    sampled: worstWeighted((i) => wcounts[i]! / WEIGHTED_KEYS, wweights),
    keys: WEIGHTED_KEYS,
  };
  return {
    design: d.name,
    build100k: large.build100k,
    build10x10k,
    join: large.join,
    leave: large.leave,
    memory: large.memory,
    lookups: { n100: lookupsAt.n100!, n10k: lookupsAt.n10k!, large: large.lookupsLarge, largeN: large.largeN },
    balanceExact,
    balanceSampled,
    moved,
    weighted,
  };
}

/** The same statistics for an ideal uniform random assignment of the same keys: what sampling alone gives. */
function samplingFloor(weights: readonly number[]) {
  const uniform = (n: number) => {
    const counts = new Float64Array(n);
    for (let i = 0; i < BALANCE_KEYS; i++) counts[key53(key(i)) % n]!++;
    return busiest(counts);
  };
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w) => (cumulative.push(acc + w / total), acc + w / total), 0);
  const counts = new Float64Array(weights.length);
  for (let i = 0; i < WEIGHTED_KEYS; i++) {
    const u = key53(key(i)) / 2 ** 53;
    let lo = 0;
    let hi = weights.length - 1;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (cumulative[m]! <= u) lo = m + 1;
      else hi = m;
    }
    counts[lo]!++;
  }
  return {
    n100: uniform(100),
    n10k: uniform(10_000),
    weighted: worstWeighted((i) => counts[i]! / WEIGHTED_KEYS, weights),
    weightedKeys: WEIGHTED_KEYS,
  };
}

export async function ringComparison(log: (s: string) => void = () => {}): Promise<RingComparison> {
  const t0 = performance.now();
  const random = mulberry32(WEIGHT_SEED);
  const weightedMembers = Array.from(
    { length: 100 },
    (_, i): Member => ({ id: `weighted-${i}`, weight: 1 + Math.floor(random() * 100) }),
  );
  const designs: DesignFigures[] = [];
  for (const d of DESIGNS) {
    designs.push(measureDesign(d, weightedMembers, log));
    await new Promise((r) => setImmediate(r));
  }
  log("ring comparison: sampling floor…");
  const floor = samplingFloor(weightedMembers.map((m) => m.weight));
  return {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    node: process.version,
    seconds: (performance.now() - t0) / 1000,
    maglevTableSize100k: maglevTableSize(members(100_000)),
    weightSeed: WEIGHT_SEED,
    balanceKeys: BALANCE_KEYS,
    floor,
    designs,
  };
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const ms = (x: number) =>
  x >= 10_000 ? `${f(x / 1000, 1)} s` : x >= 100 ? `${f(x)} ms` : `${f(x, x < 10 ? 2 : 1)} ms`;
const perSecond = (r: LookupRate) => `${f(r.wall / 1e6, 2)} M/s (${f(r.cpu / 1e6, 2)} per CPU-s)`;
const pct = (x: number) => `${f(x * 100, 1)} %`;

export function formatRingComparison(r: RingComparison): string {
  const cols = r.designs;
  const row = (figure: string, target: string, cell: (d: DesignFigures) => string, floor = "") =>
    `| ${figure} | ${target} | ${cols.map(cell).join(" | ")} | ${floor} |`;
  const extra = (measuredAt: number) =>
    measuredAt < 100_000 ? ` (extrapolated from ${measuredAt.toLocaleString("en")})` : "";
  const timing = (t: Timing) =>
    `${ms(t.medianMs)} / ${ms(t.maxMs)}${t.runs !== 20 ? ` (${t.runs} runs)` : ""}${extra(t.measuredAt)}`;
  const movedRow = (n: number, what: "join" | "leave") =>
    row(`keys moved by one ${what}, N = ${n.toLocaleString("en")}, × ideal: sampled (exact)`, "≤ 1.1×", (d) => {
      const m = d.moved.find((x) => x.n === n)!;
      return what === "join"
        ? `${f(m.joinSampled, 2)} (${f(m.joinExact, 2)})`
        : `${f(m.leaveSampled, 2)} (${f(m.leaveExact, 2)})`;
    });
  const table = [
    `| figure | target (issue 15) | ${cols.map((d) => d.design).join(" | ")} | sampling floor |`,
    `|---|---|${cols.map(() => "---:").join("|")}|---:|`,
    row("build, 1 type × 100,000", "every ring ≤ 1 s", (d) => `${ms(d.build100k.ms)}${extra(d.build100k.measuredAt)}`),
    row(
      "build, 10 types × 10,000 (sum)",
      "every ring ≤ 1 s",
      (d) => `${ms(d.build10x10k.ms)}${d.build10x10k.extrapolated ? " (extrapolated: 10 × one)" : ""}`,
    ),
    row("one join at 100,000, median / max of 20", "≤ 5 ms", (d) => timing(d.join)),
    row("one leave at 100,000, median / max of 20", "≤ 5 ms", (d) => timing(d.leave)),
    row(
      "memory per instance at 100,000: typed arrays",
      "RSS ≤ 1 KiB per registration (whole daemon)",
      (d) =>
        `${f(d.memory.typedBytesPerInstance)} B${d.memory.measuredAt < 100_000 ? ` (at ${d.memory.measuredAt.toLocaleString("en")})` : ""}`,
    ),
    row(
      "… process RSS delta per instance",
      "",
      (d) =>
        `${f(d.memory.rssBytesPerInstance)} B${d.memory.measuredAt < 100_000 ? ` (at ${d.memory.measuredAt.toLocaleString("en")})` : ""}`,
    ),
    row("owner lookups incl. SHA-256 of the key, N = 100", "≥ 2 M/s", (d) => perSecond(d.lookups.n100)),
    row("owner lookups incl. SHA-256 of the key, N = 10,000", "≥ 2 M/s", (d) => perSecond(d.lookups.n10k)),
    row(
      "owner lookups incl. SHA-256 of the key, N = 100,000",
      "≥ 2 M/s",
      (d) =>
        `${perSecond(d.lookups.large)}${d.lookups.largeN < 100_000 ? ` (at ${d.lookups.largeN.toLocaleString("en")})` : ""}`,
    ),
    row("busiest share / mean, N = 100, exact", "≤ 1.10", (d) => f(d.balanceExact.n100, 3)),
    row("busiest share / mean, N = 10,000, exact", "≤ 1.10", (d) => f(d.balanceExact.n10k, 3)),
    row(
      `busiest share / mean, N = 100, over 1M keys`,
      "≤ 1.10",
      (d) => f(d.balanceSampled.n100, 3),
      f(r.floor.n100, 3),
    ),
    row(
      `busiest share / mean, N = 10,000, over 1M keys`,
      "≤ 1.10",
      (d) => f(d.balanceSampled.n10k, 3),
      f(r.floor.n10k, 3),
    ),
    movedRow(100, "join"),
    movedRow(100, "leave"),
    movedRow(10_000, "join"),
    movedRow(10_000, "leave"),
    row("weights 1..100, N = 100: worst \\|share / (w/W) − 1\\|, exact", "≤ 10 %", (d) => pct(d.weighted.exact)),
    row("… sampled over 10M keys", "≤ 10 %", (d) => pct(d.weighted.sampled), pct(r.floor.weighted)),
  ].join("\n");
  const v1 = r.designs.find((d) => d.design === "ring v1");
  return `## Scale: ring designs compared (issue 15)

\`npm run bench -- --scale\`, in process, ${r.date}: ${r.cpus} × ${r.cpuModel}, Node ${r.node}; this part took ${f(r.seconds)} s.
The machine is shared (2 cores, other work running): timings are single runs or medians and noisy.

- **ring v1**: the previous design (\`bench/lib/ring-v1.ts\`, ported from 543922b): ${V1_POINTS_PER_WEIGHT} points per unit of weight, one SHA-256 per 4 points, weights clamped at ${V1_MAX_WEIGHT}, one successor per key.${v1 && v1.build100k.measuredAt < 100_000 ? ` Its 100,000 ring would take over ${f(BUILD_LIMIT_MS / 1000)} s and ${f((v1.memory.typedBytesPerInstance * 100_000) / 2 ** 30, 1)} GiB, so its 100,000 figures are measured at ${v1.build100k.measuredAt.toLocaleString("en")} and scaled ×${f(100_000 / v1.build100k.measuredAt)} (linear: a lower bound for the build, whose merge passes grow with log N).` : ""}
- **ring v2**: \`src/ring/ring.ts\` (docs/hash.md): multi-probe consistent hashing (Appleton and O'Reilly, 2015), ${DEFAULT_POINTS_PER_WEIGHT} points per unit of weight from one SHA-256 per instance, ${PROBES} probes per key.
- **Maglev** (Eisenbud et al., NSDI 2016; \`bench/lib/maglev.ts\`): lookup table of prime size M = the smallest prime ≥ 100 × Σweight / min weight (the paper's M ≥ 100·N for equal weights: M = ${r.maglevTableSize100k.toLocaleString("en")} at 100,000), offset and skip from SHA-256 of the name, weighted as Envoy does (a backend takes a turn while its entries are below round × weight / max weight). M stays fixed across a join or leave, which rebuilds the table.

${table}

Balance over 1M sampled keys cannot show the target at N = 10,000: an ideal uniform assignment of the same keys already gives the sampling floor shown (only ~100 keys per instance), so the exact rows, computed from the structure (v2: \`Ring.shares()\`, v1: arc lengths, Maglev: table entries / M), are the ones that answer "≤ 1.10". Likewise keys moved at N = 10,000 is ~100 keys when sampled; the exact figure (v1 and v2: the joiner's or leaver's exact share, as only its keys move; Maglev: table entries that change owner) is in brackets. Joins and leaves are each applied to the same 100,000 ring, followed by one lookup (v1 builds its index there); for Maglev a change is a rebuild (it has no incremental update), timed ${r.designs.find((d) => d.design === "Maglev")?.join.runs ?? "?"} times. Maglev's keys moved are not minimal and grow with N at M ≈ 100·N; they shrink as M/N grows (the paper's trade-off), at the cost of table memory and rebuild time. Weighted shares: weights drawn 1..100 with seed ${r.weightSeed}; v1 clamps weights above ${V1_MAX_WEIGHT}. Memory: bytes of the structure's typed arrays (ids not counted) and the process RSS growth while it is held (after a GC).
`;
}
