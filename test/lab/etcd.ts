// A real etcd for tests: one member on loopback with a throwaway data dir,
// ended by PID when the test is done.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface RunningEtcd {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Start it again on the same ports and data (after stop). */
  restart(): Promise<RunningEtcd>;
}

export async function startEtcd(at?: { client: number; peer: number; dir: string }): Promise<RunningEtcd> {
  const client = at?.client ?? (await freeTcpPort());
  const peer = at?.peer ?? (await freeTcpPort());
  const dir = at?.dir ?? mkdtempSync(join(tmpdir(), "ringdns-etcd-"));
  const url = `http://127.0.0.1:${client}`;
  const proc = spawn("etcd", ["--name", "t", "--data-dir", dir, "--listen-client-urls", url, "--advertise-client-urls", url, "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`, "--initial-cluster", `t=http://127.0.0.1:${peer}`, "--log-level", "error"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 100 || proc.exitCode !== null) throw new Error(`etcd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
    restart: () => startEtcd({ client, peer, dir }),
  };
}

/** A three-member etcd cluster on loopback; `members[i].stop()` ends one member. */
export async function startEtcdCluster(size = 3): Promise<{ urls: string[]; members: RunningEtcd[]; stop(): Promise<void> }> {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freeTcpPort(), peer: await freeTcpPort() });
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
  const members = await Promise.all(
    ports.map(async (p, i) => {
      const dir = mkdtempSync(join(tmpdir(), `ringdns-etcd-m${i}-`));
      const url = `http://127.0.0.1:${p.client}`;
      const proc = spawn("etcd", ["--name", `m${i}`, "--data-dir", dir, "--listen-client-urls", url, "--advertise-client-urls", url, "--listen-peer-urls", `http://127.0.0.1:${p.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${p.peer}`, "--initial-cluster", initial, "--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error"], { stdio: ["ignore", "ignore", "ignore"] });
      const member: RunningEtcd = {
        url,
        proc,
        stop: () =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
            proc.once("exit", () => resolve());
            proc.kill("SIGKILL");
          }),
        restart: () => Promise.reject(new Error("not supported for cluster members")),
      };
      return member;
    }),
  );
  for (const m of members) {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${m.url}/health`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 150) throw new Error("etcd cluster did not become healthy");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls: members.map((m) => m.url), members, stop: async () => void (await Promise.all(members.map((m) => m.stop()))) };
}
