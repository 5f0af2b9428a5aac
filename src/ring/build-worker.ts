// Worker thread entry (src/ring/aside.ts): gathers a job's members slice by
// slice, then builds its points (sorted, chunked, indexed) off the thread
// that answers queries.
import { parentPort } from "node:worker_threads";
import { guarded } from "../guard.js";
import { buildPoints, ringWeight } from "./ring.js";
import type { BuildReply, BuildRequest } from "./aside.js";

const gathering = new Map<number, { ids: string[]; weights: number[] }>();

parentPort?.on(
  "message",
  guarded("ring build", (req: BuildRequest) => {
    const g = gathering.get(req.job) ?? { ids: [], weights: [] };
    gathering.set(req.job, g);
    g.ids.push(...req.ids);
    g.weights.push(...req.weights);
    if (!req.last) return;
    gathering.delete(req.job);
    try {
      const weights = Uint32Array.from(g.weights, ringWeight);
      const parts = buildPoints(g.ids, weights, req.pointsPerWeight);
      const reply: BuildReply = { job: req.job, weights, parts };
      parentPort!.postMessage(reply, [weights, parts.pos, parts.owner, parts.starts, parts.indexes, parts.indexStarts].map((a) => a.buffer as ArrayBuffer));
    } catch (err) {
      const reply: BuildReply = { job: req.job, error: err instanceof Error ? err.message : String(err) };
      parentPort!.postMessage(reply);
    }
  }),
);
