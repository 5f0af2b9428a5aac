// A small stub client for the CLI and the library: one question to one
// server, over UDP with a retry over TCP when the reply is truncated.
import { createSocket } from "node:dgram";
import { randomInt } from "node:crypto";
import { connect, isIPv6 } from "node:net";
import type { Labels } from "../names.js";
import { decodeMessage, type DecodedMessage } from "../wire/decode.js";
import { encodeQuery } from "../wire/message.js";

export interface Server {
  host: string;
  port: number;
}

export interface QueryOptions {
  tcp?: boolean;
  timeoutMs?: number;
  /** Query class: IN unless given (CH for server status). */
  class?: number;
}

export async function queryServer(
  server: Server,
  name: Labels,
  type: number,
  options: QueryOptions = {},
): Promise<DecodedMessage> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const id = randomInt(0, 65536);
  const wire = encodeQuery(id, name, type, { udpSize: 1232 }, options.class);
  if (!options.tcp) {
    const reply = await udpExchange(server, wire, timeoutMs, id);
    const decoded = decodeMessage(reply);
    if (!decoded.flags.tc) return decoded;
  }
  return decodeMessage(await tcpExchange(server, wire, timeoutMs));
}

/** Send a raw message and return the raw reply (UDP, or TCP with the length prefix handled). */
export function exchange(server: Server, wire: Buffer, options: QueryOptions = {}): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 3000;
  return options.tcp
    ? tcpExchange(server, wire, timeoutMs)
    : udpExchange(server, wire, timeoutMs, wire.readUInt16BE(0));
}

function udpExchange(server: Server, wire: Buffer, timeoutMs: number, id: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(server.host) ? "udp6" : "udp4");
    const timer = setTimeout(
      () => done(new Error(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = (err: Error | null, msg?: Buffer) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(msg!);
    };
    sock.on("error", (e) => done(e));
    sock.on("message", (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(null, msg);
    });
    sock.send(wire, server.port, server.host);
  });
}

function tcpExchange(server: Server, wire: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: server.host, port: server.port });
    let got = Buffer.alloc(0);
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new Error(`no answer from ${server.host}:${server.port} over TCP within ${timeoutMs} ms`));
    });
    sock.on("error", reject);
    sock.on("connect", () => {
      const framed = Buffer.alloc(2 + wire.length);
      framed.writeUInt16BE(wire.length, 0);
      wire.copy(framed, 2);
      sock.write(framed);
    });
    sock.on("data", (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        sock.end();
        resolve(got.subarray(2, 2 + got.readUInt16BE(0)));
      }
    });
  });
}
