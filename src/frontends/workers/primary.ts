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
  if (!handle) throw new Error("this Node version keeps dgram handles where ringdns cannot find them: run with --workers 1");
  return handle;
}

export function startQueryWorkers(o: QueryWorkerOptions): Promise<QueryWorkers> {
  const workers = new Map<number, ChildProcess>();
  const ready = new Set<number>();
  const syncs = new Map<number, () => Promise<void>>();
  const metricRequests = new Map<number, (m: ProcessMetrics | undefined) => void>();
  let nextMetricsId = 0;
  let closing = false;

  const spawnWorker = (index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = fork(WORKER_ENTRY, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
      workers.set(index, child);
      const send = (m: ToWorker, handle?: unknown) => {
        if (child.connected) child.send(m, handle as never);
      };
      // the replica starts from everything served now and follows every change after it, batched per tick
      let batch: StoreOp[] = [];
      const flush = () => {
        if (batch.length === 0) return;
        send({ t: "change", ops: batch, serial: o.registry.serial() });
        batch = [];
      };
      const unsubscribe = o.registry.onChange((c) => {
        if (batch.length === 0) queueMicrotask(guarded("query worker change feed", flush));
        batch.push(changeToStoreOp(c));
      });
      const waiting = new Map<number, () => void>();
      let nextSync = 0;
      syncs.set(index, () => {
        flush();
        if (!child.connected) return Promise.resolve();
        const id = nextSync++;
        return new Promise<void>((done) => {
          waiting.set(id, done);
          send({ t: "sync", id });
        });
      });
      send({ t: "start", settings: { ...o.settings, index, sockets: o.sockets.length }, entries: [...o.registry.entries()], serial: o.registry.serial() });
      for (const s of o.sockets) send({ t: "socket", type: s.address().family === "IPv6" ? "udp6" : "udp4" }, nativeHandle(s));

      child.on(
        "message",
        guarded("query worker message", (m: FromWorker) => {
          if (m.t === "ready") {
            ready.add(index);
            o.log.debug({ worker: index, pid: child.pid }, "query worker answering");
            resolve();
          } else if (m.t === "metrics") {
            metricRequests.get(m.id)?.(m.metrics);
          } else if (m.t === "synced") {
            waiting.get(m.id)?.();
            waiting.delete(m.id);
          } else if (m.t === "local-miss") {
            o.handler.onLocalMiss?.(m.name);
          } else if (m.t === "delegate") {
            return Promise.resolve(handleDnsMessage(m.msg, m.transport, m.peer, o.handler)).then((reply) => send({ t: "reply", id: m.id, reply }));
          }
        }),
      );
      child.once("error", reject);
      child.once(
        "exit",
        guarded("query worker exit", (code: number | null, signal: NodeJS.Signals | null) => {
          unsubscribe();
          syncs.delete(index);
          for (const done of waiting.values()) done(); // a new worker starts from a full copy
          waiting.clear();
          ready.delete(index);
          workers.delete(index);
          if (closing) return;
          o.log.error({ worker: index, pid: child.pid, code, signal }, "query worker exited; starting another");
          reject(new Error(`query worker ${index} exited (${signal ?? code}) before it was ready`));
          later("query worker restart", RESTART_DELAY_MS, () => {
            if (!closing) spawnWorker(index).catch((err) => o.log.error({ err, worker: index }, "query worker did not start"));
          });
        }),
      );
    });

  const stop = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.disconnect(); // a worker exits when its primary goes away
      later("query worker stop", STOP_GRACE_MS, () => child.kill("SIGKILL"));
    });

  const api: QueryWorkers = {
    running: () => ready.size,
    metrics: async () => {
      const asked = [...workers.entries()].filter(([i, c]) => ready.has(i) && c.connected);
      const answers = await Promise.all(
        asked.map(
          ([, child]) =>
            new Promise<ProcessMetrics | undefined>((resolve) => {
              const id = nextMetricsId++;
              const timer = later("query worker metrics", 1000, () => done(undefined), true);
              const done = (m: ProcessMetrics | undefined) => {
                clearTimeout(timer);
                metricRequests.delete(id);
                resolve(m);
              };
              metricRequests.set(id, done);
              child.send({ t: "metrics", id } satisfies ToWorker);
            }),
        ),
      );
      return answers.filter((m): m is ProcessMetrics => m !== undefined);
    },
    settled: async () => {
      await Promise.all([...syncs.values()].map((sync) => sync()));
    },
    async close() {
      closing = true;
      await Promise.all([...workers.values()].map(stop));
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
