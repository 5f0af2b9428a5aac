// A query worker process: answers plain queries on the UDP sockets the
// primary hands it, from a replica of the primary's registry that the primary
// keeps current. Everything else goes back to the primary. It exits when the
// primary goes away.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { makeLogger } from "../../log.js";
import { guarded, onInternalError, reportInternalError } from "../../guard.js";
import { systemClock } from "../../clock.js";
import { domainKey, Registry } from "../../registry/registry.js";
import { QueryMetrics } from "../../metrics.js";
import { makeRateLimiter } from "../rrl.js";
import { CookieJar } from "../cookies.js";
import { ReplicaStore } from "../../store/replica.js";
import { AnswerCache } from "../answer-cache.js";
import { workerRingAside } from "../../ring/aside.js";
import { holdYoungGeneration, settleAfterLoad } from "../../startup-gc.js";
import { LocalMissHandOff, type DnsHandlerDeps, type Transport } from "../dns-handler.js";
import { replyLookup, serveUdp } from "../udp.js";
import type { FromWorker, ToWorker } from "./protocol.js";

holdYoungGeneration(); // the primary's copy arrives first thing: until it is loaded (startup-gc.ts)

const send = (m: FromWorker) => process.send!(m);
const pending = new Map<number, (reply: Buffer | null) => void>();
let nextId = 0;

function delegate(msg: Buffer, transport: Transport, peer: string): Promise<Buffer | null> {
  const id = nextId++ & 0x7fffffff;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    send({ t: "delegate", id, msg, transport, peer });
    deps!.log.debug({ peer, transport }, "handed to the primary");
  });
}

/** A handed-over socket, and what arrived on it before the replica was ready (a datagram with no listener is lost). */
interface Adopted {
  socket: Socket;
  early: [Buffer, RemoteInfo][];
}

function adoptSocket(type: "udp4" | "udp6", handle: unknown): Adopted {
  const socket = createSocket({ type, lookup: replyLookup });
  const early: [Buffer, RemoteInfo][] = [];
  socket.on(
    "message",
    guarded("query worker early datagram", (msg: Buffer, rinfo: RemoteInfo) => early.push([msg, rinfo])),
  );
  // dgram's bind takes a native handle as cluster workers use it: start reading it, listener in place
  socket.bind(handle as never);
  return { socket, early };
}

let deps: DnsHandlerDeps | undefined;
let store: ReplicaStore | undefined;
let socketsLeft = 0;

async function receive(m: ToWorker, adopted: Adopted | undefined): Promise<void> {
  switch (m.t) {
    case "start": {
      const s = m.settings;
      const log = makeLogger(s.logLevel, s.logFormat, { worker: s.index });
      onInternalError((where, err) => log.error({ err, where }, "internal error caught; still serving"));
      store = new ReplicaStore(new Map(m.entries));
      const registry = new Registry({
        clock: systemClock,
        store,
        ring: { pointsPerWeight: s.ringPoints, aside: workerRingAside() },
      });
      await registry.open();
      registry.followSerial(m.serial);
      registry.warm(s.answer.domains.map(domainKey));
      settleAfterLoad(registry);
      deps = {
        registry,
        answer: s.answer,
        clock: systemClock,
        log,
        maxUdpPayload: s.maxUdpPayload,
        cache: new AnswerCache(),
        delegate,
        metrics: new QueryMetrics(),
        queryLogRate: s.queryLogRate,
        rrl: makeRateLimiter(s.rrl, log),
        cookies: new CookieJar(Buffer.from(s.cookieSecret)),
        ...(s.delegateLocalMisses ? { localProxy: new LocalMissHandOff() } : {}),
      };
      socketsLeft = s.sockets;
      log.debug({ pid: process.pid, entries: m.entries.length }, "query worker has its replica");
      return;
    }
    case "socket": {
      const { socket, early } = adopted!;
      socket.removeAllListeners("message");
      serveUdp(socket, deps!);
      for (const [msg, rinfo] of early) socket.emit("message", msg, rinfo);
      if (--socketsLeft === 0) send({ t: "ready" });
      return;
    }
    case "change":
      store!.follow(m.ops);
      deps!.registry.followSerial(m.serial);
      return;
    case "sync":
      send({ t: "synced", id: m.id });
      return;
    case "metrics":
      send({ t: "metrics", id: m.id, metrics: await deps!.metrics!.prom.getMetricsAsJSON() });
      return;
    case "reply":
      pending.get(m.id)?.(m.reply);
      pending.delete(m.id);
      return;
  }
}

// in order: a change must not overtake the start message whose replica it updates
let queue = Promise.resolve();
// a worker that cannot follow its primary exits (the primary starts another from a full copy)
const failed = (err: unknown) => {
  process.stderr.write(`ringdns query worker: ${String(err)}\n`);
  process.exit(1);
};
process.on(
  "message",
  guarded("query worker message", (m: ToWorker, handle: unknown) => {
    try {
      const adopted = m.t === "socket" ? adoptSocket(m.type, handle) : undefined;
      queue = queue.then(() => receive(m, adopted)).catch(failed);
    } catch (err) {
      failed(err);
    }
  }),
);
process.on(
  "disconnect",
  guarded("query worker disconnect", () => process.exit(0)),
);
// as in the primary: a promise nobody awaited is reported, not the end of the worker
process.on("unhandledRejection", (err) => reportInternalError("unhandled promise rejection", err));
