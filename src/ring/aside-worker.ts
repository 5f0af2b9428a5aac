// Worker thread entry (src/ring/aside.ts): builds a ring's points (sorted,
// chunked, indexed) from its members, gathered slice by slice, or computes the
// exact shares of a ring's points, off the thread that answers queries.
import { parentPort } from "node:worker_threads";
import { guarded } from "../guard.js";
import { buildPoints, ringWeight, shareSummaryOf } from "./ring.js";
import type { AsideReply, AsideRequest } from "./aside.js";

const gathering = new Map<number, { ids: string[]; weights: number[] }>();

function answer(req: AsideRequest): { reply: AsideReply; transfer: ArrayBuffer[] } | undefined {
  if (req.kind === "shares") {
    const summary = shareSummaryOf(req.input);
    return {
      reply: { kind: "shares", job: req.job, summary },
      transfer: [summary.bySlot.buffer as ArrayBuffer, summary.busiest.buffer as ArrayBuffer],
    };
  }
  const g = gathering.get(req.job) ?? { ids: [], weights: [] };
  gathering.set(req.job, g);
  g.ids.push(...req.ids);
  g.weights.push(...req.weights);
  if (!req.last) return undefined;
  gathering.delete(req.job);
  const weights = Uint32Array.from(g.weights, ringWeight);
  const parts = buildPoints(g.ids, weights, req.pointsPerWeight);
  return {
    reply: { kind: "build", job: req.job, weights, parts },
    transfer: [weights, parts.chunks, parts.owner, parts.starts].map((a) => a.buffer as ArrayBuffer),
  };
}

parentPort?.on(
  "message",
  guarded("ring worker", (req: AsideRequest) => {
    try {
      const out = answer(req);
      if (out) parentPort!.postMessage(out.reply, out.transfer);
    } catch (err) {
      gathering.delete(req.job);
      const reply: AsideReply = {
        kind: "error",
        job: req.job,
        error: err instanceof Error ? err.message : String(err),
      };
      parentPort!.postMessage(reply);
    }
  }),
);
