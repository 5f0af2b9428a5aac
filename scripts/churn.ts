// `npm run churn -- [--cycles 20] [--clients 8]`: crash safety under churn.
// Each cycle starts the daemon on the same embedded store, has several
// clients register (some with short leases), renew and deregister with signed
// UPDATEs, and kill -9s the daemon at a random moment. After each restart it
// checks that every acknowledged change is there (an acknowledged
// registration present with its data unless its lease has run out, an
// acknowledged removal gone), that nothing unacknowledged half-appears (an
// instance is whole or absent), and that the store opened. Bounded: cycles x
// about a second. Exits non-zero on any violation.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { queryServer } from "../src/client/dns-client.js";
import { deregistrationUpdate, registrationUpdate } from "../src/client/registration.js";
import { sendUpdate } from "../src/client/update-client.js";
import { parseName } from "../src/names.js";
import { formatKeyFile, generateKey } from "../src/update/keys.js";
import { Type } from "../src/wire/constants.js";
import { startScriptDaemon } from "./lib/daemon.js";
import { scratchDir } from "./lib/scratch.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) {
    console.error(`churn: --${name} must be a positive integer`);
    process.exit(2);
  }
  return v;
};
const cycles = arg("cycles", 20);
// --lossy runs the daemon on the memory store, which keeps nothing across a kill: the check must then fail
const lossy = process.argv.includes("--lossy");
const clients = arg("clients", 8);
const dir = scratchDir("ringdns-churn-");
const key = generateKey("churn-key");
writeFileSync(join(dir, "churn.key"), formatKeyFile(key));
const zone = parseName("local.");
const TYPE = "_churn._tcp";
const SLACK_MS = 1500; // lease ends are checked with this much leeway either side

/** What the daemon acknowledged last for an instance, and whether a later change is still unanswered. */
interface Known {
  state: { present: true; port: number; expiresAt?: number } | { present: false };
  /** The change sent after it and not (yet) answered: the instance may be either way. */
  pending?: { present: true; port: number; expiresAt?: number } | { present: false };
}
const known = new Map<string, Known>();

let daemon: ChildProcess | undefined;

async function start(): Promise<number> {
  const d = await startScriptDaemon([
    ...(lossy ? ["--store", "memory"] : ["--data-dir", join(dir, "data")]),
    "--key-file",
    join(dir, "churn.key"),
    "--lease-min",
    "1",
    "--allow-update",
    "none",
  ]).catch((e: Error) => {
    throw new Error(`the store did not open? ${e.message}`);
  });
  daemon = d.proc;
  return d.port;
}

async function client(c: number, port: number, until: number): Promise<void> {
  let n = 0;
  while (Date.now() < until) {
    const name = `c${c}-${n++ % 12}`;
    const k = known.get(name) ?? { state: { present: false } };
    known.set(name, k);
    const remove = k.state.present && Math.random() < 0.3;
    const lease = Math.random() < 0.3 ? 1 + Math.floor(Math.random() * 3) : undefined;
    const want: Known["state"] = remove
      ? { present: false }
      : {
          present: true,
          port: 1000 + Math.floor(Math.random() * 60000),
          ...(lease ? { expiresAt: Date.now() + lease * 1000 } : {}),
        };
    k.pending = want;
    const ops = want.present
      ? registrationUpdate({ instance: name, type: TYPE, host: name, port: want.port, addresses: ["192.0.2.1"] }, zone)
      : deregistrationUpdate(TYPE, name, zone);
    try {
      const r = await sendUpdate({ host: "127.0.0.1", port }, zone, ops, {
        key,
        timeoutMs: 1000,
        ...(lease ? { lease } : {}),
      });
      if (r.rcode === "NOERROR") {
        k.state = want.present && lease ? { ...want, expiresAt: Date.now() + lease * 1000 } : want; // the lease runs from the answer at the latest
        delete k.pending;
      }
    } catch {
      return; // the daemon is gone: this change stays pending
    }
  }
}

async function observe(port: number, name: string): Promise<{ present: boolean; port?: number; whole: boolean }> {
  const q = (n: string, t: number) => queryServer({ host: "127.0.0.1", port }, parseName(n), t, { timeoutMs: 2000 });
  const srv = await q(`${name}.${TYPE}.local.`, Type.SRV);
  const ptr = await q(`${TYPE}.local.`, Type.PTR);
  const listed = ptr.answers.some(
    (a) => a.data.type === Type.PTR && (a.data as { target: string[] }).target[0] === name,
  );
  const s = srv.answers.find((a) => a.type === Type.SRV)?.data as { port: number } | undefined;
  // whole: listed under its type exactly when it has an SRV record
  return { present: s !== undefined, ...(s ? { port: s.port } : {}), whole: listed === (s !== undefined) };
}

const violations: string[] = [];
/** A leased registration may run out between our two queries (SRV, then the type's PTRs): not a half-applied write. */
const nearExpiry = (k: Known, now: number) =>
  [k.state, k.pending].some(
    (st) => st?.present && st.expiresAt !== undefined && Math.abs(now - st.expiresAt) < SLACK_MS,
  );
const allowed = (st: Known["state"], seen: { present: boolean; port?: number }, now: number) => {
  if (!st.present) return !seen.present;
  if (st.expiresAt !== undefined && now > st.expiresAt + SLACK_MS) return !seen.present;
  if (st.expiresAt !== undefined && now > st.expiresAt - SLACK_MS) return !seen.present || seen.port === st.port;
  return seen.present && seen.port === st.port;
};

const started = Date.now();
for (let cycle = 1; cycle <= cycles; cycle++) {
  const port = await start();
  // what the last kill left: check every instance against what was acknowledged
  const now = Date.now();
  for (const [name, k] of known) {
    const seen = await observe(port, name);
    if (!seen.whole && !nearExpiry(k, now))
      violations.push(`cycle ${cycle}: ${name} half there (SRV without its PTR, or the reverse)`);
    const ok = allowed(k.state, seen, now) || (k.pending !== undefined && allowed(k.pending, seen, now));
    if (!ok)
      violations.push(
        `cycle ${cycle}: ${name} acknowledged ${JSON.stringify(k.state)}${k.pending ? ` (then sent ${JSON.stringify(k.pending)})` : ""}, found ${JSON.stringify(seen)}`,
      );
    // settle what we now know for the next round
    if (k.pending && allowed(k.pending, seen, now) && !allowed(k.state, seen, now))
      k.state =
        k.pending.present && seen.port !== undefined
          ? { present: true, port: seen.port, ...(k.pending.expiresAt ? { expiresAt: k.pending.expiresAt } : {}) }
          : k.pending;
    delete k.pending;
  }
  const runFor = 150 + Math.random() * 700;
  const traffic = Array.from({ length: clients }, (_, c) => client(c, port, Date.now() + runFor + 1000));
  await new Promise((r) => setTimeout(r, runFor));
  daemon!.kill("SIGKILL");
  await Promise.all(traffic);
  await new Promise((r) =>
    daemon!.exitCode !== null || daemon!.signalCode !== null ? r(null) : daemon!.once("exit", r),
  );
  process.stderr.write(
    `churn: cycle ${cycle}/${cycles}: killed after ${runFor.toFixed(0)} ms; ${known.size} instances tracked\n`,
  );
}
// a last start: the final kill is checked too
const port = await start();
const now = Date.now();
for (const [name, k] of known) {
  const seen = await observe(port, name);
  if (!seen.whole && !nearExpiry(k, now)) violations.push(`final: ${name} half there`);
  if (!(allowed(k.state, seen, now) || (k.pending !== undefined && allowed(k.pending, seen, now))))
    violations.push(`final: ${name} acknowledged ${JSON.stringify(k.state)}, found ${JSON.stringify(seen)}`);
}
daemon!.kill("SIGTERM");

console.log(
  `churn: ${cycles} kill -9 cycles in ${((Date.now() - started) / 1000).toFixed(1)} s, ${clients} clients, ${known.size} instances; the store opened every time`,
);
console.log(`violations: ${violations.length}`);
for (const v of violations.slice(0, 20)) console.log(`  ${v}`);
process.exit(violations.length > 0 ? 1 : 0);
