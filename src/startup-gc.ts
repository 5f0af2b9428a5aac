// One full garbage collection once the start-up load is done. Loading 100,000
// registrations and building their rings leaves ~60 MB of dead start-up
// objects (decoded store records, the load's map, build arrays) in V8's old
// generation, and V8 collects it only when that generation reaches its limit:
// a daemon at steady state may never get there, so it stayed in RSS. Node has
// no public "collect now" without --expose-gc; vm.measureMemory with eager
// execution starts a full collection (incremental, its marking mostly
// concurrent: ~17 ms of final pause at 100,000) to measure, which is the
// collection wanted here.
import { measureMemory } from "node:vm";
import { every } from "./guard.js";

/** Below this many registrations the start-up garbage is a few MB: left to V8. */
const WORTH_IT = 10_000;

/** Once no ring is being built any more (a big one is built aside), collect the start-up garbage once. */
export function collectOnceRingsAreBuilt(registry: { ringsBuilding(): number; instanceTotal(): number; hostTotal(): number }): void {
  if (registry.instanceTotal() + registry.hostTotal() < WORTH_IT) return;
  const poll = every("start-up garbage collection", 100, () => {
    if (registry.ringsBuilding() > 0) return;
    clearInterval(poll);
    return collectStartupGarbage();
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
