// Worker thread entry (src/ring/aside.ts): builds a ring's points (sorted,
// chunked, indexed) from its members, gathered slice by slice, or computes the
// exact shares of a ring's points, off the thread that answers queries.
//
// A build's scratch (unsorted points, the sort's second buffers, counts) is
// kept out of this thread's malloc arena: made there, build after build, it
// was freed among the arrays the rings keep, which pinned it, and the arena
// stayed in the daemon's RSS after the thread ended (10 types of 10,000: a
// 25 MB arena for 14 MB of rings). It comes from one WebAssembly memory
// instead, used again by each build and unmapped with the thread (one
// reservation of address space, not one per ring); what the ring keeps is
// copied out into arrays of its own. Where WebAssembly is not there
// (--jitless), or past its maximum, plain arrays.
import { parentPort } from "node:worker_threads";
import { guarded } from "../guard.js";
import { buildPoints, ringWeight, shareSummaryOf, type PointParts } from "./ring.js";
import type { AsideReply, AsideRequest } from "./aside.js";
import { newWords, type Words } from "./points.js";

const gathering = new Map<number, { ids: string[]; weights: number[] }>();

const WASM_PAGE = 65536;
/** Scratch pages at most (4 GiB, reserved not used): past them, plain arrays. */
const SCRATCH_MAX_PAGES = 65536;

/** The scratch memory; undefined where there is none. Shared: growing it leaves the arrays a build has made from it in place (growing another detaches them). */
function scratchMemory(): WebAssembly.Memory | undefined {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: SCRATCH_MAX_PAGES, shared: true });
  } catch {
    return undefined;
  }
}

let scratch: WebAssembly.Memory | undefined | null = null;
let scratchUsed = 0;

/** Zeroed arrays from the scratch memory, which the next build uses again from its start. */
const scratchWords: Words = (n) => {
  if (scratch === null) scratch = scratchMemory();
  const need = scratchUsed + n * 4;
  try {
    if (!scratch) return newWords(n);
    const have = scratch.buffer.byteLength;
    if (need > have) scratch.grow(Math.ceil((need - have) / WASM_PAGE));
  } catch {
    return newWords(n); // past the maximum, or no memory to grow into
  }
  const words = new Uint32Array(scratch.buffer, scratchUsed, n);
  words.fill(0);
  scratchUsed = need;
  return words;
};

/** What the ring keeps (its chunks and owners) copied out of the scratch, to be handed over: each an array of its own. */
function kept(parts: PointParts): PointParts {
  // every array from the scratch is on a SharedArrayBuffer (not always the one it has now: growing makes another)
  const own = (a: Uint32Array) => (a.buffer instanceof SharedArrayBuffer ? a.slice() : a);
  return { ...parts, starts: own(parts.starts), chunks: own(parts.chunks), owner: own(parts.owner) };
}

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
  scratchUsed = 0; // the last build's scratch is dead: what it made that was kept has been copied out
  const parts = kept(buildPoints(g.ids, weights, req.pointsPerWeight, scratchWords));
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
