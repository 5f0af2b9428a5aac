// Leases run out on one timer, set for the earliest lease end the registry
// holds; a change moves it only when it brings an earlier end (a later one
// leaves it early, and the timer sets itself again after expiring nothing).
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { later } from "./guard.js";
import type { Registry } from "./registry/registry.js";

/** Expire leases as they end; returns a function that stops the timer. */
export function startLeaseTimer(registry: Registry, clock: Clock, log: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  /** When the timer fires, on the monotonic clock timers run on (a step of the wall clock does not move it). */
  let firesAt = Number.POSITIVE_INFINITY;
  let stopped = false;
  const delayTo = (next: number) => Math.max(0, Math.min(next - clock.now(), 2 ** 31 - 1));
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    firesAt = Number.POSITIVE_INFINITY;
    const next = registry.nextExpiry();
    if (stopped || next === undefined) return;
    const delay = delayTo(next);
    firesAt = performance.now() + delay;
    timer = later("lease expiry", delay, () => {
      timer = undefined;
      firesAt = Number.POSITIVE_INFINITY;
      return registry
        .expireDue()
        .then((n) => n > 0 && log.info({ expired: n }, "leases expired"))
        .catch((err) => log.error({ err }, "expiring leases failed"))
        .finally(schedule);
    });
  };
  // a new timer on every change cost ~20 µs of each SRP registration: set again only for an earlier end
  const changed = () => {
    const next = registry.nextExpiry();
    if (next !== undefined && performance.now() + delayTo(next) < firesAt - 1) schedule();
  };
  const unsubscribe = registry.onChange(changed);
  schedule();
  return () => {
    stopped = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
