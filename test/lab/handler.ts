// The DNS handler as the daemon wires it, over an in-memory registry and a
// manual clock: for tests that drive handleDnsMessage without sockets.
import { pino } from "pino";
import { ManualClock } from "../../src/clock.js";
import type { DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import type { Labels } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import { MemoryStore } from "../../src/store/memory.js";
import { makePolicy } from "../../src/update/policy.js";
import type { TsigKey } from "../../src/wire/tsig.js";

export interface HandlerSetup {
  /** The clock's time, ms since the epoch. */
  nowMs: number;
  /** Served domains besides local. */
  zone: Labels;
  keys: TsigKey[];
  /** Sources allowed to send unsigned updates. */
  allowUnsigned: string[];
}

/** Handler deps with UPDATE on (`keys`, `allowUnsigned`); `extra` adds or replaces fields. */
export async function handlerDeps(setup: HandlerSetup, extra: Partial<DnsHandlerDeps> = {}): Promise<DnsHandlerDeps> {
  const clock = new ManualClock(setup.nowMs);
  const registry = new Registry({ clock, store: new MemoryStore() });
  await registry.open();
  const log = pino({ level: "silent" });
  const domains: Labels[] = [["local"], setup.zone];
  return {
    registry,
    clock,
    log,
    maxUdpPayload: 1232,
    answer: { domains, ttl: 30, negativeTtl: 5, udpPayloadSize: 1232 },
    update: {
      registry,
      clock,
      log,
      domains,
      keys: setup.keys,
      policy: makePolicy(setup.allowUnsigned, new Map()),
      lease: { min: 1, max: 86400 },
    },
    ...extra,
  };
}
