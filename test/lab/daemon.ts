// Starts the real ringdns CLI (dist/) as a child process on loopback with
// kernel-chosen ports, and stops it by PID. Interop tests drive it with real clients.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "../../dist/bin/ringdns.js");

export interface RunningDaemon {
  /** IPv4 loopback port (UDP and TCP). */
  port: number;
  /** IPv6 loopback port, when listening on ::1. */
  port6?: number;
  /** The HTTP admin API's port, when started with --http. */
  httpPort?: number;
  /** The first DNS-over-TLS listener's port, when started with --dns-tls. */
  tlsPort?: number;
  proc: ChildProcess;
  logs: string[];
  /** Resolves with the first log line matching `pattern` (the daemon writes asynchronously to us). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** `command`: an installed `ringdns` to run instead of this checkout's dist/. */
export async function startDaemon(
  args: string[],
  opts: { ipv6?: boolean; port?: number; command?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningDaemon> {
  const dns = ["--dns", `127.0.0.1:${opts.port ?? 0}`, ...(opts.ipv6 ? ["--dns", "[::1]:0"] : [])];
  // each daemon gets its own store unless the test chose one
  if (!args.includes("--data-dir") && !args.includes("--store"))
    args = [...args, "--data-dir", mkdtempSync(join(tmpdir(), "ringdns-data-"))];
  const [cmd, pre] = opts.command ? [opts.command, []] : [process.execPath, [CLI]];
  const proc = spawn(cmd, [...pre, "serve", ...dns, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...opts.env },
  });
  const logs: string[] = [];
  let buffered = "";
  let httpPort: number | undefined;
  let tlsPort: number | undefined;
  const listening = new Promise<string[]>((resolve, reject) => {
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        try {
          const j = JSON.parse(line);
          if (j.msg === "ringdns listening") {
            if (typeof j.http === "string" && j.http !== "off")
              httpPort = Number(j.http.slice(j.http.lastIndexOf(":") + 1));
            if (Array.isArray(j.dnsTls) && typeof j.dnsTls[0] === "string")
              tlsPort = Number(j.dnsTls[0].slice(j.dnsTls[0].lastIndexOf(":") + 1));
            resolve(j.dns);
          }
        } catch {
          /* not JSON: a startup error line */
        }
      }
    });
    proc.once("exit", (code) =>
      reject(new Error(`ringdns exited with ${code} before listening:\n${logs.join("\n")}${buffered}`)),
    );
  });
  const dnsAddrs = await listening;
  const portOf = (prefix: string) => {
    const a = dnsAddrs.find((d) => d.startsWith(prefix));
    return a ? Number(a.slice(a.lastIndexOf(":") + 1)) : undefined;
  };
  return {
    port: portOf("127.0.0.1")!,
    ...(opts.ipv6 ? { port6: portOf("[::1]")! } : {}),
    ...(httpPort !== undefined ? { httpPort } : {}),
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    proc,
    logs,
    async waitForLog(pattern, timeoutMs = 3000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find((l) => pattern.test(l));
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`no log line matching ${pattern} in:\n${logs.join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await once(proc, "exit");
    },
  };
}

/** Run the CLI to completion. */
export function runCli(
  args: string[],
  input?: string,
  env?: NodeJS.ProcessEnv,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    input,
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Write a services file with `n` instances of `type` (documentation addresses only). */
export function writeServicesFile(n: number, type = "_big._tcp", extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "ringdns-test-"));
  const lines = ["services:"];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - {instance: node-${i}, type: ${type}, host: node-${i}, addresses: [198.51.100.${(i % 254) + 1}], port: ${10000 + i}, weight: ${1 + (i % 3)}, txt: {index: "${i}"}}`,
    );
  }
  const file = join(dir, "services.yaml");
  writeFileSync(file, `${lines.join("\n")}\n${extra}`);
  return file;
}

/** Run a command and return stdout; throws with stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
