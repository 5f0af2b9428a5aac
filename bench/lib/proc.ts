// What /proc says of a process a bench started: its resident memory and the
// CPU time it has used.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Resident memory of process `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Clock ticks a second, the unit of /proc's CPU times: asked once, when first needed (every bench imports this, run with tools missing too). */
let clockTicks: number | undefined;

/**
 * CPU seconds (user + system) process `pid` has used: all its threads, or
 * only thread `tid` (the main thread's tid is the pid). Throws once the
 * process is gone.
 */
export function cpuSeconds(pid: number, tid?: number): number {
  clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  // the fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 14th and 15th
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / clockTicks;
}
