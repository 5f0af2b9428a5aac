// `npm run fuzz` as CI runs it (fewer packets than the 200k of a full run):
// no crash, the canary query still answered, memory flat.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("npm run fuzz", () => {
  it("sends 20000 mutated packets over UDP and TCP: 0 crashes, replies by rcode, RSS reported", () => {
    const root = join(import.meta.dirname, "../..");
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/fuzz.ts", "--packets", "20000"], { cwd: root, encoding: "utf8", timeout: 240_000 });
    console.log(r.stdout);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^crashes: 0$/m);
    expect(r.stdout).toMatch(/^replies: .*FORMERR \d+/m);
    expect(r.stdout).toMatch(/canary query answered/);
  }, 300_000);
});
