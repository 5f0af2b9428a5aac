// A script's temporary directory, removed when the script exits (Ctrl-C
// included): daemon stores and key files are not left behind in /tmp.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  // without a handler a signal ends the process without "exit"
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    if (process.listenerCount(sig) === 0) process.once(sig, () => process.exit(130));
  return dir;
}
