// A real etcd for tests: one member on loopback with a throwaway data dir,
// ended by PID when the test is done.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A port nothing listens on, for etcd (which cannot be told to pick one and
 * say which): taken below the kernel's ephemeral range (32768 and up), so no
 * outgoing connection can be handed it between this check and etcd's bind;
 * a clash with another listener is retried by the callers.
 */
async function freeTcpPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** etcd failed because a port it was given was taken meanwhile: worth another try with other ports. */
const portTaken = (stderr: string) => /address already in use/i.test(stderr);
const START_ATTEMPTS = 5;

function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill(signal);
  });
}

export interface RunningEtcd {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Start it again on the same ports and data (after stop). */
  restart(): Promise<RunningEtcd>;
}

/** Files for an etcd that talks TLS to its clients and asks them for a certificate. */
export interface EtcdTls {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeEtcdTls(): EtcdTls {
  const dir = mkdtempSync(join(tmpdir(), "ringdns-etcd-tls-"));
  const f = (n: string) => join(dir, n);
  const ssl = (args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  ssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=ringdns test CA",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
  ]);
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
    ["client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    ssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${name === "client" ? "root" : "127.0.0.1"}`,
      "-keyout",
      f(`${name}.key`),
      "-out",
      f(`${name}.csr`),
    ]);
    ssl([
      "x509",
      "-req",
      "-in",
      f(`${name}.csr`),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      f(`${name}.ext`),
      "-out",
      f(`${name}.pem`),
    ]);
  }
  return {
    ca: f("ca.pem"),
    serverCert: f("server.pem"),
    serverKey: f("server.key"),
    clientCert: f("client.pem"),
    clientKey: f("client.key"),
  };
}

/** etcdctl's flags to reach an etcd started with `tls`. */
export function etcdctlTlsArgs(tls: EtcdTls): string[] {
  return ["--cacert", tls.ca, "--cert", tls.clientCert, "--key", tls.clientKey];
}

export async function startEtcd(
  at?: { client: number; peer: number; dir: string },
  tls?: EtcdTls,
): Promise<RunningEtcd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(at, tls);
    } catch (e) {
      if (at || attempt >= START_ATTEMPTS || !portTaken((e as Error).message)) throw e;
    }
  }
}

async function startEtcdOnce(
  at: { client: number; peer: number; dir: string } | undefined,
  tls: EtcdTls | undefined,
): Promise<RunningEtcd> {
  const client = at?.client ?? (await freeTcpPort());
  const peer = at?.peer ?? (await freeTcpPort());
  const dir = at?.dir ?? mkdtempSync(join(tmpdir(), "ringdns-etcd-"));
  const url = `${tls ? "https" : "http"}://127.0.0.1:${client}`;
  const tlsArgs = tls
    ? ["--cert-file", tls.serverCert, "--key-file", tls.serverKey, "--trusted-ca-file", tls.ca, "--client-cert-auth"]
    : [];
  const proc = spawn(
    "etcd",
    [
      "--name",
      "t",
      "--data-dir",
      dir,
      "--listen-client-urls",
      url,
      "--advertise-client-urls",
      url,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `t=http://127.0.0.1:${peer}`,
      "--log-level",
      "error",
      ...tlsArgs,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  for (let i = 0; ; i++) {
    if (tls) {
      if (spawnSync("etcdctl", ["--endpoints", url, ...etcdctlTlsArgs(tls), "endpoint", "health"]).status === 0) break;
    } else {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        /* not up yet */
      }
    }
    if (i > 100 || proc.exitCode !== null) throw new Error(`etcd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    proc,
    stop: () => stopProcess(proc, "SIGTERM"),
    restart: () => startEtcd({ client, peer, dir }, tls),
  };
}

async function healthy(url: string, what: string, proc?: ChildProcess, stderr?: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      /* not up yet */
    }
    if (i > 150 || (proc && proc.exitCode !== null))
      throw new Error(`${what} did not become healthy: ${stderr?.() ?? ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface EtcdCluster {
  urls: string[];
  /** `members[i].stop()` kills one member (SIGKILL); `restart()` brings it back on its data. */
  members: RunningEtcd[];
  /** "etcd://h1:p1,h2:p2,h3:p3/prefix/" for --store. */
  storeUrl(prefix: string): string;
  stop(): Promise<void>;
}

/** A three-member etcd cluster on loopback. */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdClusterOnce(size);
    } catch (e) {
      if (attempt >= START_ATTEMPTS || !portTaken((e as Error).message)) throw e;
    }
  }
}

async function startEtcdClusterOnce(size: number): Promise<EtcdCluster> {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freeTcpPort(), peer: await freeTcpPort() });
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
  const member = (i: number, dir: string): RunningEtcd => {
    const p = ports[i]!;
    const url = `http://127.0.0.1:${p.client}`;
    // with data in `dir` already (a restart), etcd rejoins from it and ignores the initial-cluster flags
    const proc = spawn(
      "etcd",
      [
        "--name",
        `m${i}`,
        "--data-dir",
        dir,
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        `http://127.0.0.1:${p.peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${p.peer}`,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--logger",
        "zap",
        "--log-level",
        "error",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    errors[i] = "";
    proc.stderr!.on("data", (d) => (errors[i] = (errors[i]! + d).slice(-4000)));
    return {
      url,
      proc,
      stop: () => stopProcess(proc, "SIGKILL"),
      restart: async () => {
        const again = member(i, dir);
        members[i] = again;
        return again;
      },
    };
  };
  const errors: string[] = [];
  const members = ports.map((_, i) => member(i, mkdtempSync(join(tmpdir(), `ringdns-etcd-m${i}-`))));
  try {
    for (const [i, m] of members.entries()) await healthy(m.url, "etcd cluster", m.proc, () => errors[i]!);
  } catch (e) {
    await Promise.all(members.map((m) => m.stop()));
    throw e;
  }
  return {
    urls: members.map((m) => m.url),
    members,
    storeUrl: (prefix) =>
      `etcd://${members.map((m) => m.url.replace("http://", "")).join(",")}/${prefix.replace(/^\/|\/$/g, "")}/`,
    stop: async () => void (await Promise.all(members.map((m) => m.stop()))),
  };
}

/** Wait until every member of a restarted cluster reports healthy. */
export async function clusterHealthy(c: EtcdCluster): Promise<void> {
  for (const m of c.members) await healthy(m.url, "etcd cluster");
}
