// `npm run fuzz` as CI runs it (fewer packets than the 200k of a full run):
// no crash, the canary query still answered, memory flat. And `--mdns`, the
// multicast path in the network lab, briefly (50k packets in a full run).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canBuildLab } from "../lab/netns.js";
import { missingTool } from "../lab/tools.js";

const root = join(import.meta.dirname, "../..");
const labMissing = !canBuildLab();
if (labMissing && process.env.CI)
  throw new Error("the mDNS lab needs root and ip netns (iproute2), and CI has neither");

describe("npm run fuzz", () => {
  it("sends 20000 mutated packets over UDP and TCP: 0 crashes, replies by rcode, RSS reported", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/fuzz.ts", "--packets", "20000"], {
      cwd: root,
      encoding: "utf8",
      timeout: 240_000,
    });
    console.log(r.stdout);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^crashes: 0$/m);
    expect(r.stdout).toMatch(/^replies: .*FORMERR \d+/m);
    expect(r.stdout).toMatch(/canary query answered/);
  }, 300_000);

  it.skipIf(labMissing || missingTool("dig"))(
    "--mdns sends 1000 mutated and oversized mDNS packets to a daemon in the lab: 0 crashes, 0 internal errors, canary answered",
    () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/fuzz.ts", "--mdns", "--packets", "1000"], {
        cwd: root,
        encoding: "utf8",
        timeout: 120_000,
      });
      console.log(r.stdout);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^fuzz --mdns: 1000 packets/m);
      expect(r.stdout).toMatch(/^crashes: 0$/m);
      expect(r.stdout).toMatch(/^internal errors: 0$/m);
      expect(r.stdout).toMatch(/canary query answered/);
    },
    150_000,
  );
});
