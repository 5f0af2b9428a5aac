// A real knotd for the differential suite: one zone from a file, on
// loopback, with a throwaway config and run directory, ended by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const KNOTD = "/usr/sbin/knotd";

export interface RunningKnot {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A port free for both TCP and UDP, below the ephemeral range (32768 and up) so no outgoing socket is handed it meanwhile. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const tcp = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    const udp =
      tcp &&
      (await new Promise<boolean>((resolve) => {
        const s = createSocket("udp4");
        s.once("error", () => resolve(false));
        s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
      }));
    if (udp) return port;
  }
}

function stopProcess(proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
  });
}

/**
 * Start knotd serving `zone` from `zoneFile`; `ready` resolves once it answers
 * (a probe over UDP and TCP). A port taken meanwhile is retried with another.
 */
export async function startKnot(
  dir: string,
  zone: string,
  zoneFile: string,
  ready: (port: number) => Promise<boolean>,
): Promise<RunningKnot> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, "knot.conf");
    writeFileSync(
      conf,
      [
        "server:",
        `    rundir: "${dir}"`,
        `    listen: 127.0.0.1@${port}`,
        "    udp-max-payload: 1232",
        "log:",
        "  - target: stderr",
        "    any: warning",
        "database:",
        `    storage: "${dir}"`,
        "template:",
        "  - id: default",
        `    storage: "${dir}"`,
        "    semantic-checks: off",
        "    global-module: mod-cookies",
        "    zonefile-sync: -1",
        "    journal-content: none",
        "zone:",
        `  - domain: ${zone}`,
        `    file: "${zoneFile}"`,
        "",
      ].join("\n"),
    );
    const proc = spawn(KNOTD, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr!.on("data", (d) => (err = (err + d).slice(-8000)));
    let up = false;
    for (let i = 0; i < 100 && proc.exitCode === null && !/address already in use/i.test(err); i++) {
      if (await ready(port)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) return { port, proc, stop: () => stopProcess(proc) };
    await stopProcess(proc);
    if (!/address already in use/i.test(err) || attempt >= 5) throw new Error(`knotd did not start:\n${err}`);
  }
}
