// The TCP frontend's limits, against an in-process daemon on port 0.
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { startDaemon, type Daemon } from "../../src/daemon.js";
import { Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery } from "../../src/wire/message.js";
import { DEFAULT_TCP_OPTIONS, listenTcp } from "../../src/frontends/tcp.js";
import type { DnsHandlerDeps } from "../../src/frontends/dns-handler.js";
import { internalErrorCount, onInternalError } from "../../src/guard.js";

let daemon: Daemon;
let port: number;
beforeAll(async () => {
  const config = resolveConfig({
    dns: ["127.0.0.1:0"],
    services: "examples/services.yaml",
    tcpIdleTimeout: 1,
    tcpMaxConnections: 2,
    store: "memory",
  });
  daemon = await startDaemon(config, { log: pino({ level: "silent" }) });
  port = daemon.listening[0]!.port;
});
afterAll(() => daemon.close());

async function open(): Promise<Socket> {
  const s = connect(port, "127.0.0.1");
  await once(s, "connect");
  return s;
}

function ask(s: Socket, name: string[], type: number): Promise<ReturnType<typeof decodeMessage>> {
  const q = encodeQuery(7, name, type);
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        s.off("data", onData);
        resolve(decodeMessage(got.subarray(2, 2 + got.readUInt16BE(0))));
      }
    };
    s.on("data", onData);
    s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]));
  });
}

describe("TCP frontend", () => {
  it("answers a query split across many small writes", async () => {
    const s = await open();
    const q = encodeQuery(9, ["alpha", "local"], Type.A);
    const framed = Buffer.concat([Buffer.from([0, q.length]), q]);
    const reply = new Promise<Buffer>((resolve) => s.once("data", resolve));
    for (const byte of framed) {
      s.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(decodeMessage((await reply).subarray(2)).answers).toHaveLength(1);
    s.destroy();
  });

  it("at --tcp-max-connections a new connection takes the place of the one idle the longest (RFC 7766 §6.2.3); when every one has work under way the new one is closed", async () => {
    const a = await open();
    const b = await open();
    expect((await ask(b, ["alpha", "local"], Type.A)).answers).toHaveLength(1); // b was active after a
    const c = await open();
    await once(a, "close"); // a: idle the longest
    expect(b.destroyed).toBe(false);
    expect((await ask(c, ["beta", "local"], Type.A)).answers).toHaveLength(1);
    // b and c each halfway through a message: no connection is idle, so the next one is refused
    b.write(Buffer.from([0]));
    c.write(Buffer.from([0]));
    await new Promise((r) => setTimeout(r, 50));
    const d = await open();
    await once(d, "close");
    expect(b.destroyed || c.destroyed).toBe(false);
    b.destroy();
    c.destroy();
  });

  it("a connection that takes the place of an idle one from its own address is counted once: its address is never locked out", async () => {
    const seen = await listenTcp(
      "127.0.0.1",
      0,
      { registry: daemon.registry, log: pino({ level: "silent" }) } as unknown as DnsHandlerDeps,
      { ...DEFAULT_TCP_OPTIONS, maxConnections: 2, maxPerSource: 3 },
    );
    try {
      const connectTo = async () => {
        const s = connect(seen.port, "127.0.0.1");
        await once(s, "connect");
        return s;
      };
      const sockets = [await connectTo(), await connectTo()];
      // ten times over the per-source cap: each new one closes the oldest idle one, all from 127.0.0.1
      for (let k = 0; k < 10; k++) {
        const oldest = once(sockets.shift()!, "close");
        const fresh = await connectTo();
        sockets.push(fresh);
        const refused = once(fresh, "close").then(() =>
          Promise.reject(new Error(`round ${k}: the new connection was closed, not the oldest`)),
        );
        await Promise.race([oldest, refused]);
        refused.catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(sockets.every((s) => !s.destroyed)).toBe(true); // two open, the last two: not refused per source
    } finally {
      await seen.close();
    }
  });

  it("closes a connection idle for --tcp-idle-timeout", async () => {
    await new Promise((r) => setTimeout(r, 100)); // let the server see the last test's closes
    const s = await open();
    const started = Date.now();
    await once(s, "close");
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(5000);
  });
});

describe("TCP pipelining is bounded", () => {
  it("--tcp-max-pipelined: a connection reads no more while that many of its queries wait for an answer, then reads on; replies stay in order", async () => {
    // UPDATEs handed to a delegate that answers only when told (one at a time: an UPDATE holds back what follows it)
    const waiting: { id: number; answer: (b: Buffer) => void }[] = [];
    const limits: string[] = [];
    const deps = {
      log: pino({ level: "silent" }),
      delegate: (msg: Buffer) => new Promise<Buffer>((answer) => waiting.push({ id: msg.readUInt16BE(0), answer })),
      metrics: { observeLimit: (l: string) => limits.push(l), observeQuery: () => {}, observeUpdate: () => {} },
    } as unknown as DnsHandlerDeps;
    const listener = await listenTcp("127.0.0.1", 0, deps, { ...DEFAULT_TCP_OPTIONS, maxPipelined: 4 });
    try {
      const s = connect(listener.port, "127.0.0.1");
      await once(s, "connect");
      const frames = Array.from({ length: 50 }, (_, id) => {
        const m = encodeQuery(id, ["x", "local"], Type.SOA);
        m[2] = 5 << 3; // opcode UPDATE
        return Buffer.concat([Buffer.from([0, m.length]), m]);
      });
      const ids: number[] = [];
      let got = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        got = Buffer.concat([got, c]);
        while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          ids.push(got.readUInt16BE(2));
          got = got.subarray(2 + got.readUInt16BE(0));
        }
      });
      s.write(Buffer.concat(frames)); // all 50 arrive at once
      const until = async (ok: () => boolean) => {
        for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
        expect(ok()).toBe(true);
      };
      await until(() => waiting.length === 1);
      // the connection stopped reading at 4 unanswered (today it read all 50 and queued them)
      expect(limits).toEqual(["tcp-pipelined"]);
      // answering lets it read on, until every one is answered, in order
      for (let answered = 0; answered < 50; answered++) {
        await until(() => waiting.length > answered);
        const w = waiting[answered]!;
        w.answer(Buffer.from(frames[w.id]!.subarray(2)));
      }
      await until(() => ids.length === 50);
      expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(limits).toEqual(["tcp-pipelined"]); // one pause, held while 4 waited, lifted once all were read
      s.destroy();
    } finally {
      await listener.close();
    }
  });
});

describe("TCP callbacks go through guard.ts", () => {
  it("a handler that throws, or whose reply promise rejects, is counted as an internal error; the listener keeps serving", async () => {
    const faults: string[] = [];
    const previous = onInternalError((where) => faults.push(where));
    let mode: "throw" | "reject" | "answer" = "throw";
    const deps = {
      log: pino({ level: "silent" }),
      delegate: (msg: Buffer) => {
        if (mode === "throw") throw new Error("bug in a handler");
        if (mode === "reject") return Promise.reject(new Error("bug in an async handler"));
        return Promise.resolve(Buffer.from(msg));
      },
    } as unknown as DnsHandlerDeps;
    const listener = await listenTcp("127.0.0.1", 0, deps);
    const update = (id: number) => {
      const m = encodeQuery(id, ["x", "local"], Type.SOA);
      m[2] = 5 << 3; // opcode UPDATE: handed to the delegate
      return Buffer.concat([Buffer.from([0, m.length]), m]);
    };
    try {
      const before = internalErrorCount();
      for (const m of ["throw", "reject"] as const) {
        mode = m;
        const s = connect(listener.port, "127.0.0.1");
        await once(s, "connect");
        s.write(update(1));
        for (let i = 0; i < 200 && internalErrorCount() === before + (m === "throw" ? 0 : 1); i++)
          await new Promise((r) => setTimeout(r, 5));
        s.destroy();
      }
      expect(internalErrorCount() - before).toBe(2);
      expect(faults).toEqual(["tcp data", "tcp reply"]);
      // and the listener still answers
      mode = "answer";
      const s = connect(listener.port, "127.0.0.1");
      await once(s, "connect");
      s.write(update(9));
      const [reply] = (await once(s, "data")) as [Buffer];
      expect(reply.readUInt16BE(2)).toBe(9);
      s.destroy();
    } finally {
      onInternalError(previous);
      await listener.close();
    }
  });
});
