// Interop tests need real tools. On a laptop a missing tool skips the test;
// in CI (CI set) it fails, so a green CI run always means the tool ran.
import { execFileSync } from "node:child_process";

export function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** For use at the top of a test: throws in CI when `name` is missing. */
export function requireTool(name: string): void {
  if (!hasTool(name) && process.env.CI) throw new Error(`${name} is not installed, and CI needs it (see .ci/run)`);
}

/** For describe.skipIf: skip only outside CI. */
export function missingTool(...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length > 0 && process.env.CI)
    throw new Error(`${missing.join(", ")} not installed, and CI needs them (see .ci/run)`);
  return missing.length > 0;
}

/** Debian's python3-dnspython, a second compressing DNS implementation to compare sizes with. */
export function hasDnspython(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import dns.message"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI) throw new Error("python3-dnspython is not installed, and CI needs it (see .ci/run)");
    return false;
  }
}
