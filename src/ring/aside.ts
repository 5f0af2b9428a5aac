// Builds big rings in a worker thread, so that a ring of 100,000 instances
// (~200 ms of hashing and sorting) never holds up the queries answered on the
// main thread. The worker only computes arrays; the ring is made here around
// them, with no copy (the buffers are transferred). The members go over in
// slices, one per turn of the event loop: copying 100,000 names into one
// message would itself hold queries up for ~10 ms.
import { Worker } from "node:worker_threads";
import { guarded, sleep } from "../guard.js";
import { DEFAULT_POINTS_PER_WEIGHT, Ring, type PointParts, type RingBuilder } from "./ring.js";

/** To the worker: a slice of a job's members; the last slice (`last`) starts the build. */
export interface BuildRequest {
  job: number;
  ids: readonly string[];
  weights: readonly number[];
  last: boolean;
  pointsPerWeight: number;
}

export type BuildReply = { job: number; weights: Uint32Array; parts: PointParts } | { job: number; error: string };

export interface AsideBuilder {
  build: RingBuilder;
  close(): Promise<void>;
}

const SLICE = 8192;

/** One worker thread, started on the first build; jobs run in order. A worker that dies fails its jobs and is started anew. */
export function workerRingBuilder(): AsideBuilder {
  let worker: Worker | undefined;
  let nextJob = 0;
  const pending = new Map<number, { ids: readonly string[]; pointsPerWeight: number; resolve: (r: Ring) => void; reject: (e: Error) => void }>();

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  };

  const start = (): Worker => {
    const w = new Worker(new URL("./build-worker.js", import.meta.url));
    w.unref(); // a build under way does not keep a stopping daemon alive
    w.on(
      "message",
      guarded("ring build reply", (reply: BuildReply) => {
        const p = pending.get(reply.job);
        if (!p) return;
        pending.delete(reply.job);
        if ("error" in reply) p.reject(new Error(`ring build: ${reply.error}`));
        else p.resolve(Ring.fromParts(p.ids, reply.weights, reply.parts, { pointsPerWeight: p.pointsPerWeight }));
      }),
    );
    w.on("error", guarded("ring build worker error", (err: Error) => failAll(err)));
    w.on("exit", guarded("ring build worker exit", (code: number) => w === worker && failAll(new Error(`ring build worker exited (${code})`))));
    return w;
  };

  return {
    build(ids, weights, options) {
      const pointsPerWeight = options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
      const job = nextJob++;
      const done = new Promise<Ring>((resolve, reject) => pending.set(job, { ids, pointsPerWeight, resolve, reject }));
      worker ??= start();
      const w = worker;
      void (async () => {
        for (let at = 0; at < ids.length || at === 0; at += SLICE) {
          if (at > 0) await sleep(0);
          if (w !== worker) return; // died or closed meanwhile: the job has failed already
          const last = at + SLICE >= ids.length;
          const req: BuildRequest = { job, ids: ids.slice(at, at + SLICE), weights: weights.slice(at, at + SLICE), last, pointsPerWeight };
          w.postMessage(req);
        }
      })();
      return done;
    },
    async close() {
      const w = worker;
      worker = undefined;
      failAll(new Error("ring builder closed"));
      await w?.terminate();
    },
  };
}
