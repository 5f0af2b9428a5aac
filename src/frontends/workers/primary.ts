// The primary's side of query workers: N-1 child processes that share the
// primary's UDP sockets (one socket, several readers: the kernel hands each
// datagram to one of them) and answer from a replica of the registry that
// the primary streams to them. Node 20's dgram has no SO_REUSEPORT, and a
// DNS server's cost is mostly the per-datagram send, so more cores means
// more processes.
import { fork, type ChildProcess } from "node:child_process";
import type { Socket } from "node:dgram";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { guarded, later } from "../../guard.js";
import { changeToStoreOp, type Registry } from "../../registry/registry.js";
import type { ProcessMetrics } from "../../metrics.js";
import type { StoreOp } from "../../store/store.js";
import { handleDnsMessage, type DnsHandlerDeps } from "../dns-handler.js";
import type { FromWorker, ToWorker, WorkerSettings } from "./protocol.js";

const WORKER_ENTRY = fileURLToPath(new URL("./worker.js", import.meta.url));
const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 2000;

export interface QueryWorkers {
  /** Workers answering now. */
  running(): number;
  /** Each running worker's query metrics (a worker that does not answer within a second is left out). */
  metrics(): Promise<ProcessMetrics[]>;
  /** Resolves once every worker has applied every registry change made so far: an UPDATE is acknowledged after it, so a client reads its own write whichever process answers. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface QueryWorkerOptions {
  /** Worker processes besides the primary. */
  count: number;
  sockets: readonly Socket[];
  registry: Registry;
  /** The primary's own handler: delegated messages are answered with it. */
  handler: DnsHandlerDeps;
  settings: Omit<WorkerSettings, "index" | "sockets">;
  log: Logger;
}

/**
 * The native handle under a dgram socket. Node can send a dgram.Socket
 * itself, but the receiving side then starts reading before its listener can
 * be attached, and what arrives in that window is lost (hundreds of
 * datagrams under load, measured). A native handle is bound by the worker
 * with its listener already in place, as cluster workers do.
 */
function nativeHandle(socket: Socket): unknown {
  const state = Object.getOwnPropertySymbols(socket).find((k) => k.description === "state symbol");
  const handle = state && (socket as unknown as Record<symbol, { handle?: unknown }>)[state]?.handle;
  if (!handle)
    throw new Error("this Node version keeps dgram handles where ringdns cannot find them: run with --workers 1");
  return handle;
}

/**
 * One worker process, from fork to exit: it is given its settings, a copy of
 * the registry and the sockets; the registry's changes follow, batched per
 * tick; `sync` resolves once it has applied every change sent so far; it asks
 * the primary to answer what it cannot (delegate) and reports its metrics.
 */
class WorkerProcess {
  readonly child: ChildProcess;
  ready = false;
  private batch: StoreOp[] = [];
  private readonly unsubscribe: () => void;
  private readonly waitingSyncs = new Map<number, () => void>();
  private nextSync = 0;
  private readonly metricRequests = new Map<number, (m: ProcessMetrics | undefined) => void>();
  private nextMetrics = 0;

  constructor(
    readonly index: number,
    private readonly o: QueryWorkerOptions,
  ) {
    this.child = fork(WORKER_ENTRY, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    // the replica starts from everything served now and follows every change after it, batched per tick
    this.unsubscribe = o.registry.onChange((c) => {
      if (this.batch.length === 0) queueMicrotask(guarded("query worker change feed", () => this.flush()));
      this.batch.push(changeToStoreOp(c));
    });
    this.send({
      t: "start",
      settings: { ...o.settings, index, sockets: o.sockets.length },
      entries: [...o.registry.entries()],
      serial: o.registry.serial(),
    });
    for (const s of o.sockets)
      this.send({ t: "socket", type: s.address().family === "IPv6" ? "udp6" : "udp4" }, nativeHandle(s));
  }

  private send(m: ToWorker, handle?: unknown): void {
    if (this.child.connected) this.child.send(m, handle as never);
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.send({ t: "change", ops: this.batch, serial: this.o.registry.serial() });
    this.batch = [];
  }

  /** Resolves once the worker has applied every change made so far (at once when it is gone: a new one starts from a full copy). */
  sync(): Promise<void> {
    this.flush();
    if (!this.child.connected) return Promise.resolve();
    const id = this.nextSync++;
    return new Promise<void>((done) => {
      this.waitingSyncs.set(id, done);
      this.send({ t: "sync", id });
    });
  }

  /** Its query metrics, or undefined when it does not answer within a second. */
  metrics(): Promise<ProcessMetrics | undefined> {
    return new Promise((resolve) => {
      const id = this.nextMetrics++;
      const timer = later("query worker metrics", 1000, () => done(undefined), true);
      const done = (m: ProcessMetrics | undefined) => {
        clearTimeout(timer);
        this.metricRequests.delete(id);
        resolve(m);
      };
      this.metricRequests.set(id, done);
      this.send({ t: "metrics", id });
    });
  }

  /** A message from the worker; `onReady` once it answers. */
  onMessage(m: FromWorker, onReady: () => void): Promise<void> | void {
    if (m.t === "ready") {
      this.ready = true;
      this.o.log.debug({ worker: this.index, pid: this.child.pid }, "query worker answering");
      onReady();
    } else if (m.t === "metrics") {
      this.metricRequests.get(m.id)?.(m.metrics);
    } else if (m.t === "synced") {
      this.waitingSyncs.get(m.id)?.();
      this.waitingSyncs.delete(m.id);
    } else if (m.t === "delegate") {
      return Promise.resolve(handleDnsMessage(m.msg, m.transport, m.peer, this.o.handler)).then((reply) =>
        this.send({ t: "reply", id: m.id, reply }),
      );
    }
  }

  /** It exited: stop feeding it, and release whoever waits on it. */
  gone(): void {
    this.ready = false;
    this.unsubscribe();
    for (const done of this.waitingSyncs.values()) done();
    this.waitingSyncs.clear();
  }

  /** Ask it to end (it exits when its primary goes away); killed if it has not within STOP_GRACE_MS. */
  stop(): Promise<void> {
    const child = this.child;
    return new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.disconnect();
      later("query worker stop", STOP_GRACE_MS, () => child.kill("SIGKILL"));
    });
  }
}

export function startQueryWorkers(o: QueryWorkerOptions): Promise<QueryWorkers> {
  const workers = new Map<number, WorkerProcess>();
  let closing = false;

  /** Start worker `index`; resolves when it answers. One that exits is started again after RESTART_DELAY_MS. */
  const spawnWorker = (index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new WorkerProcess(index, o);
      workers.set(index, w);
      w.child.on(
        "message",
        guarded("query worker message", (m: FromWorker) => w.onMessage(m, resolve)),
      );
      w.child.once("error", reject);
      w.child.once(
        "exit",
        guarded("query worker exit", (code: number | null, signal: NodeJS.Signals | null) => {
          w.gone();
          workers.delete(index);
          if (closing) return;
          o.log.error({ worker: index, pid: w.child.pid, code, signal }, "query worker exited; starting another");
          reject(new Error(`query worker ${index} exited (${signal ?? code}) before it was ready`));
          later("query worker restart", RESTART_DELAY_MS, () => {
            if (!closing)
              spawnWorker(index).catch((err) => o.log.error({ err, worker: index }, "query worker did not start"));
          });
        }),
      );
    });

  const api: QueryWorkers = {
    running: () => [...workers.values()].filter((w) => w.ready).length,
    metrics: async () => {
      const answers = await Promise.all(
        [...workers.values()].filter((w) => w.ready && w.child.connected).map((w) => w.metrics()),
      );
      return answers.filter((m): m is ProcessMetrics => m !== undefined);
    },
    settled: async () => {
      await Promise.all([...workers.values()].map((w) => w.sync()));
    },
    async close() {
      closing = true;
      await Promise.all([...workers.values()].map((w) => w.stop()));
    },
  };
  const all = Array.from({ length: o.count }, (_, i) => spawnWorker(i + 1));
  return Promise.all(all).then(
    () => api,
    async (err) => {
      await api.close();
      throw err;
    },
  );
}
