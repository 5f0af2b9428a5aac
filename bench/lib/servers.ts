// Starting and stopping the three servers on 127.0.0.1 and free ports. Every
// child is tracked, so a Ctrl-C or a failure still ends them all.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ZONE, type Dataset } from "./dataset.js";

/** The daemon as `npm run build` leaves it: what every bench spawns. */
export const CLI = join(import.meta.dirname, "../../dist/bin/ringdns.js");

const children = new Set<ChildProcess>();

export function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    stopAll();
    process.exit(130);
  });
}
process.on("exit", stopAll);

/** A port free for both UDP and TCP on 127.0.0.1. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      const u = createSocket("udp4");
      u.once("error", () => resolve(false));
      u.bind(port, "127.0.0.1", () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

export interface Running {
  name: string;
  version: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A started server, with what it has printed on stderr and whether it has exited, for `ready`. */
interface Tracked extends Running {
  stderr(): string;
  exited(): boolean;
}

function track(name: string, proc: ChildProcess, port: number, version: string): Tracked {
  children.add(proc);
  let err = "";
  proc.stderr?.on("data", (d) => (err += d));
  proc.once("exit", () => children.delete(proc));
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    name,
    version,
    port,
    pid: proc.pid!,
    stderr: () => err,
    exited,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited()) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
      }),
  };
}

/**
 * Wait (2 minutes at most: knotd loads a zone of 300,000 records first) until the server answers
 * for `probe`, a name with an A record; stopped, with what it printed, when it exits or never answers.
 */
async function ready(server: Tracked, probe = `host-0.${ZONE}`): Promise<Running> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline && !server.exited()) {
    const r = spawnSync("dig", ["@127.0.0.1", "-p", String(server.port), "+time=1", "+tries=1", "+short", probe, "A"], {
      encoding: "utf8",
    });
    if (r.status === 0 && r.stdout.trim()) return server;
    await new Promise((res) => setTimeout(res, 100));
  }
  await server.stop();
  throw new Error(
    `${server.name} ${server.exited() ? "exited before it answered" : "did not answer within 2 minutes"} on port ${server.port}: ${server.stderr().trim().slice(-1000) || "(nothing on stderr)"}`,
  );
}

export async function startRingdns(d: Dataset, extra: string[] = []): Promise<Running> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--dns",
      `127.0.0.1:${port}`,
      "--domain",
      ZONE,
      "--services",
      d.servicesFile,
      "--max-udp-size",
      "4096",
      "--log-level",
      "warn",
      "--data-dir",
      join(d.dir, "ringdns-data"),
      ...extra,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
  return ready(track("ringdns", proc, port, `ringdns ${pkg.version} (Node ${process.version})`));
}

/** Who may update knotd's zone: holders of a TSIG key, or (the scale bench's unsigned UPDATEs) an address. */
export type KnotUpdateAcl = { keyName: string; secret: string } | { address: string };

/** The zone knotd serves: the data set's by default; `probe` is a name in it with an A record. */
export interface KnotZone {
  name: string;
  probe: string;
}

export async function startKnot(
  d: Pick<Dataset, "dir" | "zoneFile">,
  workers = 2,
  update?: KnotUpdateAcl,
  zone: KnotZone = { name: ZONE, probe: `host-0.${ZONE}` },
): Promise<Running> {
  const port = await freePort();
  const dir = join(d.dir, `knot-${port}`);
  mkdirSync(dir, { recursive: true });
  const conf = [
    "server:",
    `  listen: 127.0.0.1@${port}`,
    `  rundir: ${dir}`,
    `  udp-workers: ${workers}`,
    `  tcp-workers: ${workers}`,
    "  udp-max-payload: 4096",
    "database:",
    `  storage: ${dir}`,
    "log:",
    "  - target: stderr",
    "    any: error",
    ...(update && "keyName" in update
      ? [
          "key:",
          `  - id: ${update.keyName}`,
          "    algorithm: hmac-sha256",
          `    secret: ${update.secret}`,
          "acl:",
          "  - id: upd",
          `    key: ${update.keyName}`,
          "    action: update",
        ]
      : []),
    ...(update && "address" in update
      ? ["acl:", "  - id: upd", `    address: ${update.address}`, "    action: update"]
      : []),
    "zone:",
    `  - domain: ${zone.name}`,
    `    file: ${d.zoneFile}`,
    "    zonefile-sync: -1",
    // updates are made durable in knotd's journal, as ringdns makes them durable in LMDB
    ...(update ? ["    journal-content: changes", "    acl: upd"] : ["    journal-content: none"]),
  ];
  const confFile = join(dir, "knot.conf");
  writeFileSync(confFile, `${conf.join("\n")}\n`);
  const version = spawnSync("knotd", ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0]!;
  const proc = spawn("knotd", ["-c", confFile], { stdio: ["ignore", "ignore", "pipe"] });
  return ready(track("knotd", proc, port, version), zone.probe);
}

export async function startDnsmasq(d: Dataset): Promise<Running> {
  const port = await freePort();
  const version = spawnSync("dnsmasq", ["--version"], { encoding: "utf8" })
    .stdout.split("\n")[0]!
    .replace(/\s+Copyright.*/, "");
  // -k: foreground without debug mode (in debug mode it serves one TCP connection at a time)
  const proc = spawn(
    "dnsmasq",
    [
      "-k",
      "-C",
      d.dnsmasqConf,
      "-p",
      String(port),
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--user=root",
      "--pid-file=",
      "--log-facility=-",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return ready(track("dnsmasq", proc, port, version));
}
