// A fault inside an mDNS timer or event callback is caught by guard.ts:
// logged, counted (ringdns_internal_errors_total) and the daemon goes on; the
// learner keeps its schedule and the responder its probe sequence. Before
// issue 14 an exception thrown from the learner's tick ended the process.
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MdnsLearner } from "../../../src/frontends/mdns/learner.js";
import { MdnsResponder } from "../../../src/frontends/mdns/responder.js";
import type { MdnsTransport } from "../../../src/frontends/mdns/transport.js";
import { internalErrorCount, onInternalError, type InternalErrorSink } from "../../../src/guard.js";
import { Registry } from "../../../src/registry/registry.js";
import { MemoryStore } from "../../../src/store/memory.js";

const clock = { now: () => Date.now() };
/** A transport whose socket is broken: every send throws. */
function throwingTransport(): MdnsTransport & { attempts: number } {
  const t = {
    iface: "test0",
    family: 4 as const,
    address: "203.0.113.10",
    attempts: 0,
    send() {
      t.attempts++;
      throw new Error("injected: the socket is gone");
    },
    onMessage: () => {},
    isOnLink: () => true,
    close: async () => {},
  };
  return t;
}

let reported: string[];
let previous: InternalErrorSink;
beforeEach(() => {
  vi.useFakeTimers();
  reported = [];
  previous = onInternalError((where) => reported.push(where));
});
afterEach(() => {
  onInternalError(previous);
  vi.useRealTimers();
});

describe("mDNS faults are caught, counted, and the work goes on", () => {
  it("the learner's tick: a throwing send is counted each time, and the next tick still runs", async () => {
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const t = throwingTransport();
    const learner = new MdnsLearner({
      registry,
      clock,
      log: pino({ level: "silent" }),
      transports: [t],
      isOurs: () => false,
    });
    const before = internalErrorCount();
    learner.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(t.attempts).toBe(1);
    expect(internalErrorCount()).toBe(before + 1);
    expect(reported).toEqual(["mdns learner tick"]);
    await vi.advanceTimersByTimeAsync(2000); // the back-off's next query, 2 s later
    expect([t.attempts, reported]).toEqual([2, ["mdns learner tick", "mdns learner tick"]]);
    expect(internalErrorCount()).toBe(before + 2);
    await learner.close();
  });

  it("the responder: a registration whose probes cannot be sent is still registered, and the probe sequence goes on", async () => {
    const registry = new Registry({ clock, store: new MemoryStore() });
    await registry.open();
    const t = throwingTransport();
    const responder = new MdnsResponder({ registry, clock, log: pino({ level: "silent" }), transports: [t] });
    responder.start();
    const before = internalErrorCount();
    const lamp = {
      name: "lamp",
      type: { service: "_web", proto: "_tcp" as const },
      subtypes: [],
      host: ["lamp"],
      port: 80,
      priority: 0,
      weight: 1,
      txt: [],
      source: "update" as const,
    };
    await registry.register(lamp); // the change callback's throw does not reach the registration
    expect(registry.instance(lamp.type, "lamp")).toBeDefined();
    expect(reported).toEqual(["mdns responder change"]);
    await vi.advanceTimersByTimeAsync(600); // probes 2 and 3, from their timers
    expect(t.attempts).toBe(3);
    expect(reported).toEqual(["mdns responder change", "mdns responder probe", "mdns responder probe"]);
    await vi.advanceTimersByTimeAsync(1300); // announced twice
    expect(t.attempts).toBe(5);
    expect(internalErrorCount()).toBe(before + 5);
    await responder.close().catch(() => {}); // the goodbye's send throws too, in close(): the caller's to handle
  });
});
