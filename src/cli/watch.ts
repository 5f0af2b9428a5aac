// `ringdns watch`: one line per registry event.
import type { WatchItem } from "../client/watch.js";

export function describeEvent(e: WatchItem): string {
  if (e.event === "reset") return `reset: events were missed (the daemon no longer keeps them); reload the state`;
  const at = e.time;
  if (e.event === "instance") {
    const i = e.instance;
    const lease = i.leaseRemainingSeconds === null ? "" : ` lease ${i.leaseRemainingSeconds}s`;
    return `${at} ${e.op.padEnd(6)} ${e.type} ${JSON.stringify(i.name)} -> ${i.host}:${i.port} weight ${i.weight} (${i.source}${lease})`;
  }
  if (e.event === "host")
    return `${at} ${e.op.padEnd(6)} host ${e.host.name} ${e.host.addresses.join(" ")} (${e.host.source})`;
  const shares = Object.entries(e.shares)
    .sort((a, b) => b[1] - a[1])
    .map(([n, s]) => `${JSON.stringify(n)} ${(s * 100).toFixed(1)}%`);
  return `${at} ring   ${e.type}: ${shares.join(", ") || "empty"}`;
}
