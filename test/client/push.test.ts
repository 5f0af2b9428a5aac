// The library's subscribe() against a tiny fake DNS Push server over TLS: what
// it does when a server accepts and never answers, goes silent, refuses,
// fails, or tells it to stay away, and what it sends for RECONFIRM. The real
// server is followed in test/interop/dot.test.ts.
import { getEventListeners } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { type PushChange, SubscribeError, subscribe, type SubscribeOptions } from "../../src/client/push.js";
import { encodePushes } from "../../src/frontends/dns-push.js";
import { Rcode, Type } from "../../src/wire/constants.js";
import {
  decodeDso,
  DSOTYPENI,
  DsoType,
  encodeDso,
  keepaliveTlv,
  retryDelayTlv,
  type DsoMessage,
} from "../../src/wire/dso.js";
import { decodeName } from "../../src/wire/name.js";
import { makeCert } from "../lab/tls.js";
import { missingTool } from "../lab/tools.js";
import { eventually } from "../lab/wait.js";

const dir = mkdtempSync(join(tmpdir(), "ringdns-push-client-"));

/** One connection as the fake server sees it: what arrived, and a way to send. */
interface Conn {
  socket: Socket;
  got: DsoMessage[];
  send(m: DsoMessage): void;
}

/** A TLS server that hands each DSO message to `onMessage`; every connection is kept for the test to look at. */
async function fakeServer(cert: Buffer, key: Buffer, onMessage: (c: Conn, m: DsoMessage, index: number) => void) {
  const conns: Conn[] = [];
  const server: Server = createServer({ cert, key }, (socket) => {
    const c: Conn = {
      socket,
      got: [],
      send: (m) => {
        const body = encodeDso(m);
        const framed = Buffer.alloc(2 + body.length);
        framed.writeUInt16BE(body.length, 0);
        body.copy(framed, 2);
        if (!socket.destroyed) socket.write(framed);
      },
    };
    const index = conns.push(c) - 1;
    let pending = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const m = decodeDso(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
        c.got.push(m);
        onMessage(c, m, index);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    conns,
    close: () => {
      for (const c of conns) c.socket.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const reply = (m: DsoMessage, rcode: number, tlvs: DsoMessage["tlvs"] = []): DsoMessage => ({
  id: m.id,
  response: true,
  rcode,
  tlvs,
});
const ptr = (i: number) => ({
  name: ["_kv", "_tcp", "local"],
  ttl: 30,
  data: { type: Type.PTR, target: [`kv-${i}`, "_kv", "_tcp", "local"] },
});
/** A well-behaved server's answers: the Keepalive with `keepaliveMs`, SUBSCRIBE with `rcode` (and kv-1 on NOERROR). */
function answer(c: Conn, m: DsoMessage, rcode: number = Rcode.NOERROR, keepaliveMs = 10_000): void {
  const t = m.tlvs[0]?.type;
  if (t === DsoType.KEEPALIVE) c.send(reply(m, 0, [keepaliveTlv({ inactivityMs: 15_000, keepaliveMs })]));
  if (t === DsoType.SUBSCRIBE) {
    c.send(reply(m, rcode));
    if (rcode === 0) for (const p of encodePushes([ptr(1)], [])) c.socket.write(Buffer.concat([len(p), p]));
  }
}
const len = (b: Buffer) => {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length);
  return l;
};

describe.skipIf(missingTool("openssl"))("subscribe() against a fake DNS Push server", () => {
  let cert: Buffer;
  let key: Buffer;
  beforeAll(() => {
    const made = makeCert(dir, "", "fake push");
    cert = readFileSync(made.cert);
    key = readFileSync(made.key);
  });

  /** subscribe() to kv's browse on `port`, collecting what it yields; `stop()` aborts and gives how it ended. */
  function follow(port: number, extra: Partial<SubscribeOptions> = {}) {
    const abort = new AbortController();
    const seen: PushChange[] = [];
    const sub = subscribe({
      server: { host: "127.0.0.1", port },
      name: "_kv._tcp.local.",
      type: "PTR",
      ca: cert,
      signal: abort.signal,
      maxBackoffMs: 100,
      ...extra,
    });
    const done = (async () => {
      for await (const c of sub) seen.push(c);
    })().then(
      () => "ended",
      (e: Error) => e,
    );
    return { sub, seen, signal: abort.signal, done, stop: () => (abort.abort(), done) };
  }

  it("a server that accepts and never answers is left after the establish timeout and tried again", async () => {
    const s = await fakeServer(cert, key, () => {});
    const f = follow(s.port, { establishTimeoutMs: 300 });
    try {
      await eventually("a second connection", () => s.conns.length >= 2);
      await eventually("the first connection closed by the client", () => s.conns[0]!.socket.destroyed);
      expect(s.conns[0]!.got.map((m) => m.tlvs[0]?.type)).toEqual([DsoType.KEEPALIVE, DsoType.SUBSCRIBE]);
      // one abort listener however many times it connected
      expect(getEventListeners(f.signal, "abort").length).toBe(1);
    } finally {
      expect(await f.stop()).toBe("ended");
      await s.close();
    }
    expect(getEventListeners(f.signal, "abort")).toHaveLength(0);
  });

  it("a session that goes silent (no Keepalive answered for twice the agreed interval) is connected again: reset, then the state", async () => {
    // the first connection answers once and then nothing; later ones behave
    const s = await fakeServer(cert, key, (c, m, i) => {
      if (i > 0 || c.got.length <= 2) answer(c, m, Rcode.NOERROR, 200);
    });
    const f = follow(s.port);
    try {
      await eventually("the state after the reconnection", () => f.seen.length >= 3);
      expect(f.seen.map((c) => c.op)).toEqual(["add", "reset", "add"]);
      // it did send Keepalives on the silent session before it gave up
      expect(s.conns[0]!.got.filter((m) => m.id === 3).length).toBeGreaterThan(0);
    } finally {
      await f.stop();
      await s.close();
    }
  });

  it("REFUSED and SERVFAIL are tried again with back-off (a server shedding load); then it follows", async () => {
    const s = await fakeServer(cert, key, (c, m, i) =>
      answer(c, m, i === 0 ? Rcode.REFUSED : i === 1 ? Rcode.SERVFAIL : Rcode.NOERROR),
    );
    const f = follow(s.port);
    try {
      await eventually("the state", () => f.seen.length >= 1);
      expect(s.conns.length).toBe(3);
      expect(f.seen).toEqual([
        { op: "add", name: "_kv._tcp.local.", type: "PTR", ttl: 30, data: "kv-1._kv._tcp.local." },
      ]);
    } finally {
      await f.stop();
      await s.close();
    }
  });

  it("NOTAUTH, FORMERR, NOTIMP and DSOTYPENI end the iterator with a SubscribeError naming the rcode", async () => {
    for (const rcode of [Rcode.NOTAUTH, Rcode.FORMERR, Rcode.NOTIMP, DSOTYPENI]) {
      const s = await fakeServer(cert, key, (c, m) => answer(c, m, rcode));
      const f = follow(s.port);
      const end = await f.done;
      expect(end).toBeInstanceOf(SubscribeError);
      expect((end as SubscribeError).rcode).toBe(rcode);
      expect(s.conns).toHaveLength(1);
      expect(getEventListeners(f.signal, "abort")).toHaveLength(0);
      await s.close();
    }
  });

  it("a Retry Delay is obeyed, and an abort during the wait ends the iterator at once", async () => {
    const s = await fakeServer(cert, key, (c, m) => {
      answer(c, m);
      // told to come back in an hour
      if (m.tlvs[0]?.type === DsoType.SUBSCRIBE)
        c.send({ id: 0, response: false, rcode: 0, tlvs: [retryDelayTlv(3_600_000)] });
    });
    const f = follow(s.port);
    try {
      await eventually("the session closed by the Retry Delay", () => s.conns[0]?.socket.destroyed);
      expect(s.conns).toHaveLength(1);
      // ends without waiting out the hour (vitest's timeout would fail the test)
      expect(await f.stop()).toBe("ended");
      expect(getEventListeners(f.signal, "abort")).toHaveLength(0);
    } finally {
      await s.close();
    }
  });

  it("reconfirm() sends RECONFIRM with the record's name, type, class and RDATA; false before a session", async () => {
    const s = await fakeServer(cert, key, (c, m) => answer(c, m));
    const f = follow(s.port);
    try {
      expect(f.sub.reconfirm({ name: "_kv._tcp.local.", type: "PTR", data: "kv-1._kv._tcp.local." })).toBe(false);
      await eventually("the state", () => f.seen.length >= 1);
      const change = f.seen[0] as { name: string; type: string; data: string };
      expect(f.sub.reconfirm(change)).toBe(true);
      // a record never pushed needs its RDATA
      expect(f.sub.reconfirm({ ...change, data: "kv-7._kv._tcp.local." })).toBe(false);
      const rdata = Buffer.from([4, ...Buffer.from("kv-7"), 0]);
      expect(f.sub.reconfirm({ name: "_KV._tcp.local", type: Type.PTR, rdata })).toBe(true);
      const reconfirms = await eventually("two RECONFIRMs", () => {
        const r = s.conns[0]!.got.filter((m) => m.tlvs[0]?.type === DsoType.RECONFIRM);
        return r.length === 2 && r;
      });
      for (const m of reconfirms) expect(m).toMatchObject({ id: 0, response: false });
      const [first, second] = reconfirms.map((m) => m.tlvs[0]!.data);
      const n = decodeName(first!, 0);
      expect(n.labels).toEqual(["_kv", "_tcp", "local"]);
      expect([first!.readUInt16BE(n.end), first!.readUInt16BE(n.end + 2)]).toEqual([Type.PTR, 1]);
      expect(decodeName(first!, n.end + 4).labels).toEqual(["kv-1", "_kv", "_tcp", "local"]);
      expect(second!.subarray(second!.length - rdata.length)).toEqual(rdata);
    } finally {
      await f.stop();
      await s.close();
    }
  });
});
