// Discovery proxy (RFC 8766) for unicast clients: a query for a `.local`
// name that nothing answers asks the LAN and is held until the answer has
// been learned (mirrored into the registry) or the wait ends, instead of
// getting the negative answer at once. Holding costs a promise and a timer;
// the number held at once is bounded, beyond it the answer is given at once.
import { later } from "../../guard.js";
import type { Labels } from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import { LOCAL_DOMAIN, servedDomain, type Change } from "../../registry/types.js";

/** RFC 8766 §5.6: a proxy may wait up to 6 s for the LAN; the default, 1 s, is what most answers need. */
export const DEFAULT_PROXY_WAIT_MS = 1_000;
export const MAX_PROXY_WAIT_MS = 6_000;
/** Queries held at once; a flood of them beyond is answered at once (negative). */
export const MAX_HELD = 1_000;

export interface ProxyCounts {
  /** Held until the LAN's answer was learned. */
  answered: number;
  /** Held until the wait ended, then answered with what there was (nothing). */
  timedOut: number;
  /** Not held: too many held already. */
  refused: number;
}

interface Held {
  found: () => boolean;
  done: () => void;
  timer: NodeJS.Timeout;
}

export class DiscoveryProxy {
  private readonly held = new Set<Held>();
  private stopListening: (() => void) | undefined;
  private recheckQueued = false;
  readonly counts: ProxyCounts = { answered: 0, timedOut: 0, refused: 0 };

  constructor(
    private readonly deps: {
      registry: Registry;
      /** Ask the LAN about `name` `type`; false when it cannot be asked (then waiting is pointless). */
      ask: (name: Labels, type: number) => boolean;
      /** How long a query is held, ms; 0 = never. */
      waitMs: number;
      maxHeld?: number;
    },
  ) {}

  /**
   * Ask the LAN about `name` `type` and resolve once `found()` holds (checked
   * after each change to what `local.` serves) or the wait is over.
   * Undefined: not held (the wait is 0, too many held, or the LAN cannot be
   * asked this): answer now.
   */
  hold(name: Labels, type: number, found: () => boolean): Promise<void> | undefined {
    // asked even when not held: the answer is then there when the client asks again
    if (!this.deps.ask(name, type) || this.deps.waitMs <= 0) return undefined;
    if (this.held.size >= (this.deps.maxHeld ?? MAX_HELD)) {
      this.counts.refused++;
      return undefined;
    }
    return new Promise<void>((resolve) => {
      const h: Held = {
        found,
        done: resolve,
        timer: later("discovery proxy wait", this.deps.waitMs, () => this.finish(h, "timedOut")),
      };
      this.held.add(h);
      this.stopListening ??= this.deps.registry.onChange((c) => this.changed(c));
    });
  }

  /** Let every held query go now (shutting down). */
  close(): void {
    for (const h of [...this.held]) this.finish(h, "timedOut");
  }

  private changed(c: Change): void {
    const r = c.kind === "instance" ? c.instance : c.host;
    const served = servedDomain(r);
    if (served !== undefined && served !== LOCAL_DOMAIN) return;
    if (this.recheckQueued) return;
    // one check after the changes of a commit, which arrive together
    this.recheckQueued = true;
    later("discovery proxy recheck", 0, () => {
      this.recheckQueued = false;
      for (const h of [...this.held]) if (h.found()) this.finish(h, "answered");
    });
  }

  private finish(h: Held, outcome: "answered" | "timedOut"): void {
    if (!this.held.delete(h)) return;
    clearTimeout(h.timer);
    this.counts[outcome]++;
    h.done();
    if (this.held.size === 0) {
      this.stopListening?.();
      this.stopListening = undefined;
    }
  }
}
