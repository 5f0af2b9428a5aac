// The daemon the fuzz, churn and soak scripts run: this checkout's dist/ on
// 127.0.0.1 and a kernel-chosen port, killed when the script exits.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface ScriptDaemon {
  proc: ChildProcess;
  port: number;
  /** The end of its log (the scripts drive it hard: only the tail is kept). */
  log(): string;
}

const started = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of started) p.kill("SIGKILL");
});

export function startScriptDaemon(args: string[]): Promise<ScriptDaemon> {
  const proc = spawn(
    process.execPath,
    [join(import.meta.dirname, "../../dist/bin/ringdns.js"), "serve", "--dns", "127.0.0.1:0", ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  started.add(proc);
  proc.once("exit", () => started.delete(proc));
  let tail = "";
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (c: string) => (tail = (tail + c).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /"dns":\["127\.0\.0\.1:(\d+)"\].*"msg":"ringdns listening"/.exec(tail);
      if (m) {
        clearInterval(poll);
        resolve({ proc, port: Number(m[1]), log: () => tail });
      }
    }, 10);
    proc.once("exit", (code) => {
      clearInterval(poll);
      reject(new Error(`the daemon exited (${code}) before listening:\n${tail}`));
    });
  });
}
