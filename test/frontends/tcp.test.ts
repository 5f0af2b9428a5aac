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

let daemon: Daemon;
let port: number;
beforeAll(async () => {
  const config = resolveConfig({ dns: ["127.0.0.1:0"], services: "examples/services.yaml", tcpIdleTimeout: 1, tcpMaxConnections: 2, store: "memory" });
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

  it("closes connections beyond --tcp-max-connections, and serves again once one closes", async () => {
    const a = await open();
    const b = await open();
    expect((await ask(a, ["alpha", "local"], Type.A)).answers).toHaveLength(1);
    const c = await open();
    await once(c, "close");
    a.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const d = await open();
    expect((await ask(d, ["beta", "local"], Type.A)).answers).toHaveLength(1);
    b.destroy();
    d.destroy();
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
