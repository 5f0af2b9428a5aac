// IXFR's journal in the store (issue 20): what a full journal costs a daemon's
// start-up. One LMDB store of 100,000 registrations (UPDATE-made, so loaded
// from the store) is made with a full journal (--ixfr-journal 1000 steps of
// ~100 records: the records bound, 100,000), and copied without it; the daemon
// is started on each in turn and timed from spawn to "ringdns listening" (the
// registry's load is in that), and with the journal to the line saying the
// journal was read back (done in the background, while queries are answered).
// Bounded: a few starts of each; everything on 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { open } from "lmdb";
import { ZoneJournals } from "../../src/answer/journal.js";
import { ManualClock } from "../../src/clock.js";
import { hostStoreKey, instanceStoreKey, Registry } from "../../src/registry/registry.js";
import type { Host, Instance } from "../../src/registry/types.js";
import { LmdbStore } from "../../src/store/lmdb.js";
import { serialFile } from "../../src/store/serial-file.js";
import type { StoreOp } from "../../src/store/store.js";
import { CLI, freePort } from "./servers.js";

const ZONE = "journal.example.";
const STEPS = 1000;
/** Subtypes per instance changed: its PTR, SRV, TXT and 97 subtype PTRs, 100 records a step. */
const SUBTYPES = 97;

/** What the daemon hashes besides the registrations with --zone-ns ns and no --dns-tls (daemon.ts zoneJournals). */
const SETTINGS = JSON.stringify([{ host: "ns" }, null]);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const f = (x: number) => x.toFixed(0);

const instance = (i: number, subtypes = 0): Instance => ({
  name: `node-${i}`,
  type: { service: `_svc${i % 10}`, proto: "_tcp" },
  subtypes: Array.from({ length: subtypes }, (_, s) => `_s${s}`),
  host: [`node-${i}`],
  port: 1024 + (i % 60000),
  priority: 0,
  weight: 1,
  txt: [Buffer.from(`index=${i}`)],
  source: "update",
  owner: { kind: "unsigned" },
  domain: ZONE,
});
const host = (i: number): Host => ({
  name: `node-${i}`,
  addresses: [`198.51.100.${(i % 254) + 1}`],
  source: "update",
  owner: { kind: "unsigned" },
  domain: ZONE,
});

/** The store with `n` registrations and a full journal in `withJournal`, the same without the journal in `without`. */
async function makeStores(n: number, withJournal: string, without: string, log: (s: string) => void): Promise<void> {
  const store = await LmdbStore.open(withJournal);
  for (let i = 0; i < n; i += 1000) {
    const ops: StoreOp[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      ops.push({ op: "put", key: instanceStoreKey(instance(j)), entry: { kind: "instance", value: instance(j) } });
      ops.push({ op: "put", key: hostStoreKey(host(j)), entry: { kind: "host", value: host(j) } });
    }
    await store.commit(ops);
  }
  log(`journal: ${n} registrations stored; filling the journal (${STEPS} changes of ~100 records)…`);
  // the daemon's serials start above these (soa-serial), so its journal joins on
  const registry = new Registry({ clock: new ManualClock(Date.now()), store, serials: serialFile(withJournal) });
  await registry.open();
  const journals = await journalsOf(registry, store);
  await journals.restore();
  for (let s = 0; s < STEPS; s++) await registry.register(instance(s, s % 2 === 0 ? SUBTYPES : SUBTYPES - 1));
  await journals.close();
  await registry.close();
  await store.close();
  spawnSync("cp", ["-r", withJournal, without]);
  const db = open({ path: join(without, "registry.mdb"), encoding: "json" });
  await db.transaction(() => {
    for (const key of db.getKeys({ start: "meta/journal/", end: "meta/journal0" })) db.remove(key);
  });
  await db.close();
}

/** One start: ms from spawn to listening, and to the journal read back (when asked to wait for it). */
async function startOnce(
  dataDir: string,
  transfers: boolean,
): Promise<{ listening: number; journal?: number; steps?: number }> {
  const port = await freePort();
  const started = performance.now();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--dns",
      `127.0.0.1:${port}`,
      "--domain",
      ZONE,
      "--ttl",
      "120",
      "--zone-ns",
      "ns",
      "--data-dir",
      dataDir,
      "--srp-from",
      "none",
      "--max-registrations",
      "1000000",
      ...(transfers ? ["--allow-transfer", "127.0.0.1/32"] : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const out: { listening?: number; journal?: number; steps?: number } = {};
  const said: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      proc.stderr!.setEncoding("utf8");
      proc.stderr!.on("data", (c: string) => {
        buffered += c;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        said.push(...lines);
        for (const l of lines) {
          if (l.includes('"msg":"ringdns listening"')) out.listening = performance.now() - started;
          if (l.includes("IXFR journals: steps from before this start")) {
            out.journal = performance.now() - started;
            out.steps = (JSON.parse(l) as { steps: number }).steps;
          }
        }
        if (out.listening !== undefined && (!transfers || out.journal !== undefined)) resolve();
      });
      proc.on("exit", (code) => reject(new Error(`ringdns exited with ${code}: ${said.slice(-3).join(" | ")}`)));
      setTimeout(() => reject(new Error("ringdns did not start in 120 s")), 120_000).unref();
    });
  } finally {
    // (an exit already seen would never be seen again: waiting for it held the bench until Node gave up on it)
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
  }
  return {
    listening: out.listening!,
    ...(out.journal !== undefined ? { journal: out.journal, steps: out.steps! } : {}),
  };
}

/** In this process: the registry's load (LmdbStore.open + Registry.open) of `dataDir`, and making the journals (the zone's references taken). */
async function loadOnce(dataDir: string): Promise<{ load: number; journals: number }> {
  const t0 = performance.now();
  const store = await LmdbStore.open(dataDir);
  const registry = new Registry({ clock: new ManualClock(Date.now()), store });
  await registry.open();
  const t1 = performance.now();
  const journals = new ZoneJournals(
    registry,
    [["journal", "example"]],
    120,
    { learned: false },
    { maxSteps: STEPS, maxRecords: 100 * STEPS },
    { store: store.journal, salt: "", settings: "" },
  );
  const t2 = performance.now();
  journals.close(); // not restored: the store is left as it was
  await registry.close();
  await store.close();
  return { load: t1 - t0, journals: t2 - t1 };
}

/** The zone's journals over `store`, as the daemon makes them from --zone-ns ns and no --dns-tls (daemon.ts zoneJournals): NS, no DNS Push port. */
async function journalsOf(registry: Registry, store: LmdbStore): Promise<ZoneJournals> {
  return new ZoneJournals(
    registry,
    [["journal", "example"]],
    120,
    { learned: false },
    { maxSteps: STEPS, maxRecords: 100 * STEPS },
    { store: store.journal, salt: await store.journal.salt(), settings: SETTINGS },
  );
}

/** In this process: the journal read back and checked (restore), its time, and the longest it held the event loop. */
async function restoreOnce(dataDir: string): Promise<{ ms: number; maxBlockMs: number; steps: number }> {
  const store = await LmdbStore.open(dataDir);
  const registry = new Registry({ clock: new ManualClock(Date.now()), store, serials: serialFile(dataDir) });
  await registry.open();
  const journals = await journalsOf(registry, store);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const steps = await journals.restore();
  const ms = performance.now() - t0;
  delay.disable();
  await journals.close(); // the marker again: the next start finds the journal as this one did
  await registry.close();
  await store.close();
  return { ms, maxBlockMs: delay.max / 1e6, steps };
}

export async function journalBench(dir: string, quick: boolean, log: (s: string) => void): Promise<string> {
  const n = quick ? 20_000 : 100_000;
  const tries = quick ? 3 : 5;
  const withJournal = join(dir, "with-journal");
  const without = join(dir, "without-journal");
  await makeStores(n, withJournal, without, log);
  const runs: Record<"off" | "empty" | "full", { listening: number; journal?: number; steps?: number }[]> = {
    off: [],
    empty: [],
    full: [],
  };
  // in turn, so the machine's other load falls on each alike
  for (let t = 0; t < tries; t++) {
    runs.off.push(await startOnce(without, false));
    runs.empty.push(await startOnce(without, true));
    runs.full.push(await startOnce(withJournal, true));
    // the journal was read back, not dropped: else this measured nothing
    if (runs.full.at(-1)!.steps !== STEPS)
      throw new Error(`journal: ${runs.full.at(-1)!.steps} steps read back, not ${STEPS}`);
    log(
      `journal: start ${t + 1}/${tries}: ${f(runs.off.at(-1)!.listening)} / ${f(runs.empty.at(-1)!.listening)} / ${f(runs.full.at(-1)!.listening)} ms to listening, journal read ${f(runs.full.at(-1)!.journal!)} ms`,
    );
  }
  const loads: Record<"empty" | "full", { load: number; journals: number }[]> = { empty: [], full: [] };
  for (let t = 0; t < tries; t++) {
    loads.empty.push(await loadOnce(without));
    loads.full.push(await loadOnce(withJournal));
  }
  log(
    `journal: registry load ${loads.empty.map((l) => f(l.load)).join(", ")} ms without, ${loads.full.map((l) => f(l.load)).join(", ")} ms with the journal`,
  );
  const restores: { ms: number; maxBlockMs: number; steps: number }[] = [];
  for (let t = 0; t < tries; t++) restores.push(await restoreOnce(withJournal));
  log(`journal: read back ${restores.map((r) => `${f(r.ms)} ms (longest block ${f(r.maxBlockMs)} ms)`).join(", ")}`);
  if (restores.some((r) => r.steps !== STEPS)) throw new Error("journal: not every step was read back in this process");
  const med = (xs: { listening: number }[]) => f(median(xs.map((x) => x.listening)));
  const loadMed = (xs: { load: number }[]) => f(median(xs.map((x) => x.load)));
  return [
    `Start-up of a daemon on an LMDB store of ${n + STEPS} UPDATE-made instances and ${n} hosts (\`--ixfr-journal\` ${STEPS}), ms from spawn, median of ${tries} starts each, taken in turn (2 shared cores: noisy):`,
    "",
    '| | to "ringdns listening" | to the journal read back |',
    "|---|---|---|",
    `| transfers off (no journal) | ${med(runs.off)} | — |`,
    `| \`--allow-transfer\`, store without a journal | ${med(runs.empty)} | ${f(median(runs.empty.map((r) => r.journal!)))} |`,
    `| \`--allow-transfer\`, full journal (${STEPS} steps, ~${100 * STEPS} records) | ${med(runs.full)} | ${f(median(runs.full.map((r) => r.journal!)))} |`,
    "",
    `In one process, the registry's load alone (\`LmdbStore.open\` and \`Registry.open\`, median of ${tries}): ${loadMed(loads.empty)} ms on the store without the journal, ${loadMed(loads.full)} ms with it (the load reads around \`meta/\`, never the journal); making the journals (the zone's registrations taken by reference, to be hashed later) ${f(median(loads.full.map((l) => l.journals)))} ms.`,
    "",
    `The journal read back and checked in one process (\`ZoneJournals.restore\`: ${n + STEPS} instances and ${n} hosts hashed, ${STEPS} steps decoded and chained), median of ${tries}: ${f(median(restores.map((r) => r.ms)))} ms, the event loop held at most ${f(median(restores.map((r) => r.maxBlockMs)))} ms at a time (median of the runs' longest).`,
    "",
    "The journal is read and checked after the daemon listens (the zone hashed per registration, in slices between queries); until then an IXFR from before the start gets the whole zone.",
  ].join("\n");
}
