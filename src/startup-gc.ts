// The daemon's memory after its start-up load. Loading 100,000 registrations
// and building their rings leaves two things behind that steady state never
// needs, together ~90 MB of RSS at 100,000:
//
// - a grown young generation: every loaded object survives, and V8 reads a
//   high survival rate as a reason to double the young generation (to 32 MB
//   here, never shrunk again). Its growth is held back while the load runs
//   and restored after (V8's flag is read when it would grow);
// - ~60 MB of dead start-up objects (decoded store records, the load's map,
//   build arrays) in the old generation, which V8 collects only when that
//   generation reaches its limit: a daemon at steady state may never get
//   there. Full collections are started once every ring is built. Node has
//   no public "collect now" without --expose-gc; vm.measureMemory with eager
//   execution starts one (incremental, its marking mostly concurrent: ~17 ms
//   of final pause at 100,000) to measure, which is the collection wanted.
import { setFlagsFromString } from "node:v8";
import { measureMemory } from "node:vm";
import { every } from "./guard.js";

/** Below this many registrations the start-up garbage is a few MB: left to V8. */
const WORTH_IT = 10_000;
/** Polls (every 100 ms: 60 s) waiting for the rings at most (a build that keeps failing): then the collection and the release happen all the same. */
const MAX_POLLS = 600;
/** V8's own (semi_space_growth_factor), restored after the load. */
const YOUNG_GROWTH_DEFAULT = 2;

/** Before the store is read: the load does not grow the young generation. */
export function holdYoungGeneration(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}

/**
 * After the load: once no ring is being built any more (a big one is built
 * aside), collect the start-up garbage, then let the young generation
 * grow again as the work asks.
 */
export function settleAfterLoad(
  registry: {
    ringsBuilding(): number;
    instanceTotal(): number;
    hostTotal(): number;
  },
  /** Told once a collection was made and is done (a log line: its pauses are over, steady state begins). Not for a small load, which has none. */
  onSettled: (ms: number) => void = () => {},
): void {
  const started = performance.now();
  const release = () => setFlagsFromString(`--semi-space-growth-factor=${YOUNG_GROWTH_DEFAULT}`);
  if (registry.instanceTotal() + registry.hostTotal() < WORTH_IT) {
    release();
    return;
  }
  let polls = 0;
  const poll = every("start-up garbage collection", 100, () => {
    if (registry.ringsBuilding() > 0 && ++polls < MAX_POLLS) return;
    clearInterval(poll);
    // twice: the first frees the dead, the second moves what lives out of the pages the first left
    // part-filled (old generation 77 → 65 MB at 100,000)
    return collectStartupGarbage()
      .then(collectStartupGarbage)
      .finally(release)
      .then(() => onSettled(performance.now() - started));
  });
}

export async function collectStartupGarbage(): Promise<void> {
  // experimental in Node 20, it says so once on stderr: a line that is not the daemon's to print
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: never[]) => {
    if (!String(warning).includes("vm.measureMemory")) emitWarning.call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  let measured: Promise<unknown>;
  try {
    measured = measureMemory({ mode: "summary", execution: "eager" });
  } finally {
    process.emitWarning = emitWarning;
  }
  await measured;
}
