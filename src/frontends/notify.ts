// NOTIFY (RFC 1996) to the secondaries (--notify ADDR:PORT): after a change,
// each is told that every transferred zone has a new serial, so it asks for
// the changes (IXFR) at once instead of at its next SOA refresh. Changes are
// coalesced: at most one round per --notify-interval. A NOTIFY not answered
// is sent again with back-off (§3.6), until answered, superseded by the next
// round, or given up after MAX_TRIES; the secondary's own refresh timer
// catches up then.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "pino";
import { guarded, later } from "../guard.js";
import type { QueryMetrics } from "../metrics.js";
import { formatName, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import { rcodeName } from "../wire/constants.js";
import { encodeNotify, notifyResponse } from "../wire/transfer.js";
import { canonicalAddress, formatPeer } from "./peer.js";

export interface NotifyTarget {
  host: string;
  port: number;
}

export interface NotifyDeps {
  registry: Registry;
  zones: readonly Labels[];
  /** Where changes are heard, by zone (the IXFR journals: records changed, not a lease renewed); default every registry change, every zone. */
  changes?: (listener: (zone: Labels) => void) => () => void;
  targets: readonly NotifyTarget[];
  /** At most one round of NOTIFYs per this long, ms. */
  intervalMs: number;
  log: Logger;
  metrics?: QueryMetrics;
}

/** Tries of one NOTIFY: 1 s, 2 s, 4 s … apart, about four minutes in all. */
const MAX_TRIES = 8;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

interface Outstanding {
  id: number;
  tries: number;
  serial: number;
  timer?: NodeJS.Timeout;
}

export interface Notifier {
  close(): Promise<void>;
}

export async function startNotify(deps: NotifyDeps): Promise<Notifier> {
  const { log } = deps;
  const sockets = new Map<string, Socket>();
  for (const family of new Set(deps.targets.map((t) => (isIPv6(t.host) ? "udp6" : "udp4")))) {
    const socket = createSocket(family);
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, family === "udp6" ? "::" : "0.0.0.0", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on(
      "error",
      guarded("notify socket error", (err: Error) => log.warn({ err }, "NOTIFY socket error")),
    );
    socket.on(
      "message",
      guarded("notify response", (msg: Buffer, from: { address: string; port: number }) => answered(msg, from)),
    );
    sockets.set(family, socket);
  }
  const socketFor = (t: NotifyTarget) => sockets.get(isIPv6(t.host) ? "udp6" : "udp4")!;
  /** By target and zone: the NOTIFY waiting for its answer. */
  const outstanding = new Map<string, Outstanding & { target: NotifyTarget; zone: Labels }>();
  const keyOf = (t: NotifyTarget, zone: Labels) => `${formatPeer(t.host, t.port)} ${formatName(zone)}`;
  let closed = false;

  const send = (key: string) => {
    const o = outstanding.get(key);
    if (!o || closed) return;
    if (o.tries >= MAX_TRIES) {
      outstanding.delete(key);
      deps.metrics?.observeNotify("given-up");
      log.warn(
        {
          secondary: formatPeer(o.target.host, o.target.port),
          zone: formatName(o.zone),
          serial: o.serial,
          tries: o.tries,
        },
        "NOTIFY not answered: given up (the secondary's refresh timer will catch up)",
      );
      return;
    }
    o.tries++;
    socketFor(o.target).send(encodeNotify(o.id, o.zone), o.target.port, o.target.host);
    deps.metrics?.observeNotify("sent");
    const wait = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (o.tries - 1));
    o.timer = later("notify retry", wait, () => send(key));
  };

  const answered = (msg: Buffer, from: { address: string; port: number }) => {
    for (const [key, o] of outstanding) {
      if (o.target.port !== from.port || o.target.host !== canonicalAddress(from.address)) continue;
      const rcode = notifyResponse(msg, o.id);
      if (rcode === undefined) continue;
      clearTimeout(o.timer);
      outstanding.delete(key);
      deps.metrics?.observeNotify("acknowledged");
      log.info(
        {
          secondary: formatPeer(from.address, from.port),
          zone: formatName(o.zone),
          serial: o.serial,
          rcode: rcodeName(rcode),
          tries: o.tries,
        },
        "NOTIFY acknowledged",
      );
      return;
    }
  };

  let lastRound = 0;
  let pending: NodeJS.Timeout | undefined;
  /** Zones changed since the last round (by presentation name). */
  const changed = new Map<string, Labels>();
  const round = () => {
    pending = undefined;
    if (closed) return;
    lastRound = Date.now();
    const serial = deps.registry.serial();
    const zones = [...changed.values()];
    changed.clear();
    for (const target of deps.targets)
      for (const zone of zones) {
        const key = keyOf(target, zone);
        clearTimeout(outstanding.get(key)?.timer); // superseded: the new serial is what counts
        outstanding.set(key, { id: (Math.random() * 0x10000) >>> 0, tries: 0, serial, target, zone });
        send(key);
      }
  };
  const served = new Map(deps.zones.map((z) => [formatName(z).toLowerCase(), z]));
  const heard = (zones: readonly Labels[]) => {
    if (closed) return;
    for (const z of zones) {
      const ours = served.get(formatName(z).toLowerCase());
      if (ours) changed.set(formatName(ours), ours);
    }
    if (pending !== undefined || changed.size === 0) return;
    pending = later("notify round", Math.max(0, lastRound + deps.intervalMs - Date.now()), round);
  };
  const stop = deps.changes ? deps.changes((zone) => heard([zone])) : deps.registry.onChange(() => heard(deps.zones));
  log.info(
    { secondaries: deps.targets.map((t) => formatPeer(t.host, t.port)), zones: deps.zones.map(formatName) },
    "NOTIFY on every change",
  );
  return {
    close: async () => {
      closed = true;
      stop();
      clearTimeout(pending);
      for (const o of outstanding.values()) clearTimeout(o.timer);
      outstanding.clear();
      for (const s of sockets.values()) await new Promise<void>((r) => s.close(() => r()));
    },
  };
}
