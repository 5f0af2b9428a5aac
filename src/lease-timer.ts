// Leases run out on one timer, always set for the earliest lease end the
// registry holds; every change may move it.
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { later } from "./guard.js";
import type { Registry } from "./registry/registry.js";

/** Expire leases as they end; returns a function that stops the timer. */
export function startLeaseTimer(registry: Registry, clock: Clock, log: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (timer) clearTimeout(timer);
    const next = registry.nextExpiry();
    if (stopped || next === undefined) return;
    timer = later("lease expiry", Math.max(0, Math.min(next - clock.now(), 2 ** 31 - 1)), () =>
      registry
        .expireDue()
        .then((n) => n > 0 && log.info({ expired: n }, "leases expired"))
        .catch((err) => log.error({ err }, "expiring leases failed"))
        .finally(schedule),
    );
  };
  const unsubscribe = registry.onChange(schedule);
  schedule();
  return () => {
    stopped = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
