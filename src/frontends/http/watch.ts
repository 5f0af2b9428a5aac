// The registry's change feed as numbered events, with a bounded history so a
// client that reconnects with Last-Event-ID gets what it missed. After the
// changes of one tick, each type whose ring moved gets one "ring" event with
// the new shares (computed once, however many instances joined).
import type { Clock } from "../../clock.js";
import { formatServiceType, type ServiceType } from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import type { Change } from "../../registry/types.js";
import { performance } from "node:perf_hooks";
import { later } from "../../guard.js";
import type { EventBody, WatchEvent } from "../../api/shapes.js";
import { hostView, instanceView, ringView } from "./views.js";

export type { WatchEvent };

/** Ring events are coalesced: at most one per type per this long, and never more often than 4x what computing them costs. */
const RING_REPORT_MS = 250;
/** The busiest instances a ring event lists (a ring of 100,000 is no event to send to every watcher). */
const RING_EVENT_SHARES = 200;

export const DEFAULT_HISTORY = 1000;

export class WatchHub {
  private readonly history: WatchEvent[] = [];
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private nextId = 1;
  private readonly ringsToReport = new Map<string, ServiceType>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly registry: Registry,
    private readonly clock: Clock,
    private readonly historySize = DEFAULT_HISTORY,
    /** This daemon's node name in a cluster (registrations its peers wrote show as "cluster"). */
    private readonly node?: string,
  ) {
    this.unsubscribe = registry.onChange((c) => this.onChange(c));
  }

  /** The id of the newest event (0 before any). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** Events after `id`, or undefined when some of them are no longer kept (the client must reload). */
  since(id: number): WatchEvent[] | undefined {
    if (id >= this.lastId) return [];
    const first = this.history[0];
    if (!first || id < first.id - 1) return undefined;
    return this.history.filter((e) => e.id > id);
  }

  subscribe(listener: (e: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private closed = false;

  close(): void {
    this.closed = true;
    clearTimeout(this.ringTimer);
    this.unsubscribe();
    this.listeners.clear();
  }

  private publish(e: EventBody): void {
    const event: WatchEvent = { ...e, id: this.nextId++, time: new Date(this.clock.now()).toISOString() };
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    for (const l of this.listeners) l(event);
  }

  private onChange(c: Change): void {
    const ctx = {
      now: this.clock.now(),
      ...(this.node !== undefined ? { node: this.node } : {}),
      claim: (record: string) => this.registry.claim(record),
    };
    if (c.kind === "host") {
      this.publish({ event: "host", op: c.op, host: hostView(c.host, ctx) });
      return;
    }
    const type = formatServiceType(c.instance.type);
    const { share: _, ...instance } = instanceView(c.instance, 0, ctx);
    this.publish({ event: "instance", op: c.op, type, instance });
    const ringMoved = c.op !== "update" || c.previous?.weight !== c.instance.weight;
    if (!ringMoved) return;
    if (this.ringsToReport.size === 0 && !this.reporting) this.scheduleRingReport();
    this.ringsToReport.set(type, c.instance.type);
  }

  private ringTimer: NodeJS.Timeout | undefined;
  private ringDelay = RING_REPORT_MS;
  /** A report is under way (it waits for shares computed aside): the next one starts after it, never beside it. */
  private reporting = false;

  private scheduleRingReport(): void {
    this.ringTimer = later("http watch ring report", this.ringDelay, () => this.reportRings());
  }

  private async reportRings(): Promise<void> {
    const started = performance.now();
    const types = [...this.ringsToReport];
    this.ringsToReport.clear();
    this.reporting = true;
    try {
      for (const [type, t] of types) {
        // a big ring's shares are computed aside; an event carries the busiest, as the ring view does
        const view = await ringView(this.registry, t, 0, RING_EVENT_SHARES);
        this.publish({ event: "ring", type, instances: view.instances, shares: view.shares });
      }
    } finally {
      // a fault in one report (caught and counted by guard.ts) must not stop the next from being scheduled
      this.reporting = false;
      // under constant churn, report a big ring less often rather than spend the CPU
      this.ringDelay = Math.max(RING_REPORT_MS, 4 * (performance.now() - started));
      if (this.ringsToReport.size > 0 && !this.closed) this.scheduleRingReport();
    }
  }
}
