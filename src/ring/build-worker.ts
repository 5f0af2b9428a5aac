// Worker thread entry (src/ring/aside.ts): gathers a job's members slice by
// slice, then builds its sorted points and index off the thread that answers
// queries.
import { parentPort } from "node:worker_threads";
import { guarded } from "../guard.js";
import { buildPoints, indexFor, ringWeight } from "./ring.js";
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
      const { pos, owner } = buildPoints(g.ids, weights, req.pointsPerWeight);
      const index = indexFor(pos);
      const reply: BuildReply = { job: req.job, weights, pos, owner, index };
      parentPort!.postMessage(reply, [weights.buffer, pos.buffer, owner.buffer, index.buffer] as ArrayBuffer[]);
    } catch (err) {
      const reply: BuildReply = { job: req.job, error: err instanceof Error ? err.message : String(err) };
      parentPort!.postMessage(reply);
    }
  }),
);
