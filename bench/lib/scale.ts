// Memory per registration and restart time with a large store: the store is
// filled directly (as a long-running daemon would have), then a daemon starts
// on it and is timed until it answers.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { LmdbStore } from "../../src/store/lmdb.js";
import type { StoreOp } from "../../src/store/store.js";
import { rssBytes } from "./proc.js";
import { CLI, freePort } from "./servers.js";

/** Registrations `start`..`end` as the store holds them: instance s-i of type _scale<i % types> (weight 1) and its host sh-i. */
export function scaleOps(start: number, end: number, types = 10): StoreOp[] {
  const ops: StoreOp[] = [];
  for (let i = start; i < end; i++) {
    const type = { service: `_scale${i % types}`, proto: "_tcp" as const };
    ops.push({
      op: "put",
      key: `instance/${type.service}._tcp/s-${i}`,
      entry: {
        kind: "instance",
        value: {
          name: `s-${i}`,
          type,
          subtypes: [],
          host: [`sh-${i}`],
          port: 1000 + (i % 50000),
          priority: 0,
          weight: 1,
          txt: [new TextEncoder().encode(`i=${i}`)],
          source: "update",
        },
      },
    });
    ops.push({
      op: "put",
      key: `host/sh-${i}`,
      entry: { kind: "host", value: { name: `sh-${i}`, addresses: [`198.51.100.${(i % 250) + 1}`], source: "update" } },
    });
  }
  return ops;
}

/** The embedded store in `dir` filled directly with `n` registrations spread over `types` types. */
export async function fill(dir: string, n: number, types = 10): Promise<void> {
  const store = await LmdbStore.open(dir);
  for (let start = 0; start < n; start += 10_000)
    await store.commit(scaleOps(start, Math.min(n, start + 10_000), types));
  await store.close();
}

export interface ScaleFigures {
  n: number;
  restartMs: number;
  bytesPerRegistration: number;
  /** Undefined where building every ring would take the run past its time budget. */
  bytesPerRegistrationWithRings?: number;
}

async function daemonOn(dir: string) {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [CLI, "serve", "--dns", `127.0.0.1:${port}`, "--data-dir", dir, "--log-level", "warn"],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  // the answer's records, or "" (dig prints its errors on stdout too, and exits non-zero)
  const ask = (name: string, type: string) => {
    const r = spawnSync("dig", ["@127.0.0.1", "-p", String(port), "+time=1", "+tries=1", "+short", name, type], {
      encoding: "utf8",
    });
    return r.status === 0
      ? r.stdout
          .split("\n")
          .filter((l) => l && !l.startsWith(";"))
          .join("\n")
      : "";
  };
  for (;;) {
    if (ask("s-0._scale0._tcp.local", "SRV")) break;
    if (performance.now() - t0 > 120_000) throw new Error("daemon did not answer within 2 minutes");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, port, ask, ms: performance.now() - t0 };
}

export async function scaleFigures(base: string, sizes: number[]): Promise<ScaleFigures[]> {
  // a daemon with an empty store is the baseline
  const emptyDir = join(base, "scale-empty");
  mkdirSync(emptyDir, { recursive: true });
  await fill(emptyDir, 1);
  const empty = await daemonOn(emptyDir);
  const baseline = rssBytes(empty.proc.pid!);
  empty.proc.kill("SIGKILL");
  const out: ScaleFigures[] = [];
  for (const n of sizes) {
    const dir = join(base, `scale-${n}`);
    await fill(dir, n);
    const d = await daemonOn(dir);
    await new Promise((r) => setTimeout(r, 500));
    const rss = rssBytes(d.proc.pid!);
    let withRings: number | undefined;
    if (n <= 10_000) {
      for (let t = 0; t < 10; t++) d.ask(`k._hash._scale${t}._tcp.local`, "SRV"); // builds every type's ring
      withRings = (rssBytes(d.proc.pid!) - baseline) / n;
    }
    d.proc.kill("SIGKILL");
    out.push({
      n,
      restartMs: d.ms,
      bytesPerRegistration: (rss - baseline) / n,
      ...(withRings !== undefined ? { bytesPerRegistrationWithRings: withRings } : {}),
    });
  }
  return out;
}
