// Ring work too big for the thread that answers queries, done in a worker
// thread: building a ring of 100,000 instances (~200 ms of hashing and
// sorting) and computing its exact shares (~100 ms). The worker only computes
// arrays; they come back without a copy (the buffers are transferred). A
// build's members go over in slices, one per turn of the event loop: copying
// 100,000 names into one message would itself hold queries up for ~10 ms.
import { Worker } from "node:worker_threads";
import { guarded, later, sleep } from "../guard.js";
import {
  DEFAULT_POINTS_PER_WEIGHT,
  Ring,
  type PointParts,
  type RingBuilder,
  type ShareInput,
  type ShareSummary,
} from "./ring.js";

/** To the worker: a slice of a build's members (the last one starts it), or the points to compute shares of. */
export type AsideRequest =
  | {
      kind: "build";
      job: number;
      ids: readonly string[];
      weights: readonly number[];
      last: boolean;
      pointsPerWeight: number;
    }
  | { kind: "shares"; job: number; input: ShareInput };

export type AsideReply =
  | { kind: "build"; job: number; weights: Uint32Array; parts: PointParts }
  | { kind: "shares"; job: number; summary: ShareSummary }
  | { kind: "error"; job: number; error: string };

export interface RingAside {
  build: RingBuilder;
  /** The ring's exact shares, computed aside (and kept by the ring). */
  shares(ring: Ring): Promise<ShareSummary>;
  close(): Promise<void>;
}

const SLICE = 8192;
/** Points copied per turn of the event loop when a ring's points are handed over for its shares (~0.5 ms). */
const COPY_STEP_POINTS = 131_072;
/**
 * A worker idle this long is ended: its heap, grown by a build of 100,000
 * names, would otherwise stay (28 MB of RSS); a later job starts another
 * (~30 ms, on its own thread).
 */
const IDLE_MS = 500;

/**
 * One worker thread, started on first use and ended when idle; jobs run in
 * order. A worker that dies fails its jobs and is started anew.
 */
export function workerRingAside(options: { idleMs?: number } = {}): RingAside {
  const idleMs = options.idleMs ?? IDLE_MS;
  let worker: Worker | undefined;
  let nextJob = 0;
  const pending = new Map<number, { resolve: (r: AsideReply) => void; reject: (e: Error) => void }>();
  let idleTimer: NodeJS.Timeout | undefined;

  const endWhenIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (pending.size > 0 || !worker) return;
    idleTimer = later("ring worker idle", idleMs, () => {
      const w = worker;
      if (pending.size > 0 || !w) return;
      worker = undefined; // before it exits: its exit fails no job
      return w.terminate();
    });
  };

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  };

  const start = (): Worker => {
    const w = new Worker(new URL("./aside-worker.js", import.meta.url));
    w.unref(); // work under way does not keep a stopping daemon alive
    w.on(
      "message",
      guarded("ring worker reply", (reply: AsideReply) => {
        const p = pending.get(reply.job);
        if (!p) return;
        pending.delete(reply.job);
        endWhenIdle();
        if (reply.kind === "error") p.reject(new Error(`ring worker: ${reply.error}`));
        else p.resolve(reply);
      }),
    );
    w.on(
      "error",
      guarded("ring worker error", (err: Error) => failAll(err)),
    );
    w.on(
      "exit",
      guarded("ring worker exit", (code: number) => w === worker && failAll(new Error(`ring worker exited (${code})`))),
    );
    return w;
  };

  const job = (send: (w: Worker, job: number) => Promise<void> | void): Promise<AsideReply> => {
    const id = nextJob++;
    const done = new Promise<AsideReply>((resolve, reject) => pending.set(id, { resolve, reject }));
    clearTimeout(idleTimer);
    const w = (worker ??= start());
    // a send that throws (a message that cannot be cloned, a worker gone) fails its job, never the daemon
    Promise.resolve()
      .then(() => send(w, id))
      .catch((err: unknown) => {
        const p = pending.get(id);
        pending.delete(id);
        endWhenIdle();
        p?.reject(err instanceof Error ? err : new Error(String(err)));
      });
    return done;
  };

  return {
    async build(ids, weights, options) {
      const pointsPerWeight = options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
      const reply = await job(async (w, id) => {
        for (let at = 0; at < ids.length || at === 0; at += SLICE) {
          if (at > 0) await sleep(0);
          if (w !== worker) return; // died or closed meanwhile: the job has failed already
          const req: AsideRequest = {
            kind: "build",
            job: id,
            ids: ids.slice(at, at + SLICE),
            weights: weights.slice(at, at + SLICE),
            last: at + SLICE >= ids.length,
            pointsPerWeight,
          };
          w.postMessage(req);
        }
      });
      if (reply.kind !== "build") throw new Error("ring worker: a reply of the wrong kind");
      return Ring.fromParts(ids, reply.weights, reply.parts, { pointsPerWeight });
    },
    async shares(ring) {
      // copied in steps of ~1 MB, a turn of the event loop between them: queries go on meanwhile
      const steps = ring.flatPointsInSteps(COPY_STEP_POINTS);
      let step = steps.next();
      while (!step.done) {
        await sleep(0);
        step = steps.next();
      }
      const input = step.value;
      const reply = await job((w, id) => {
        const req: AsideRequest = { kind: "shares", job: id, input };
        w.postMessage(
          req,
          [input.pts.pos, input.pts.owner, input.weights].map((a) => a.buffer as ArrayBuffer),
        );
      });
      if (reply.kind !== "shares") throw new Error("ring worker: a reply of the wrong kind");
      return ring.adoptShares(reply.summary);
    },
    async close() {
      const w = worker;
      worker = undefined;
      clearTimeout(idleTimer);
      failAll(new Error("ring worker closed"));
      await w?.terminate();
    },
  };
}
