// Following a name by DNS Push (RFC 8765) over DNS over TLS: a DSO session
// (Keepalive, RFC 8490), one SUBSCRIBE, then each PUSH as changes. When the
// connection drops it connects again with back-off and says `reset` before
// the records it is sent afresh (the client rebuilds its view, as after the
// HTTP watch's reset).
import { connect, type TLSSocket } from "node:tls";
import { formatName, hashName, parseName, parseServiceType, typeName, type Labels } from "../names.js";
import { Type, typeName as rrTypeName } from "../wire/constants.js";
import { readRecord, type DecodedData } from "../wire/decode.js";
import { decodeDso, DsoType, encodeDso, keepaliveTlv, type DsoTlv } from "../wire/dso.js";
import { NameCompressor } from "../wire/name.js";
import type { Server } from "./dns-client.js";

export interface SubscribeOptions {
  server: Server;
  /** The name to follow ("_cache._tcp.local."), and its record type (name or number). */
  name: string;
  type: string | number;
  /** CA certificate(s), PEM, to check the server's certificate with; `insecure` checks nothing. */
  ca?: string | Buffer;
  insecure?: boolean;
  /** Longest wait between reconnection attempts, ms (they start at 500 ms and double). */
  maxBackoffMs?: number;
  /** Stop following (the iterator ends). */
  signal?: AbortSignal;
  /** Called each time a session is established. */
  onConnect?: () => void;
}

export type PushChange =
  | { op: "add" | "remove"; name: string; type: string; ttl: number; data: string }
  | { op: "reset" };

/** The name a browse or `_hash` follow is about: `type` in `domain`, or `key`'s owner there. */
export function pushName(type: string, domain: string, key?: string): { name: string; type: string } {
  const t = parseServiceType(type);
  const d = parseName(domain);
  return key === undefined
    ? { name: formatName(typeName(t, d)), type: "PTR" }
    : { name: formatName(hashName(t, key, d)), type: "SRV" };
}

function dataText(d: DecodedData): string {
  if ("target" in d && d.type === Type.PTR) return formatName(d.target);
  if (d.type === Type.SRV && "target" in d) return `${d.priority} ${d.weight} ${d.port} ${formatName(d.target)}`;
  if ("address" in d) return d.address;
  if ("strings" in d) return d.strings.map((s) => JSON.stringify(s.toString("utf8"))).join(" ");
  return "raw" in d ? `\\# ${d.raw.length} ${d.raw.toString("hex")}` : JSON.stringify(d);
}

function subscribeTlvData(name: Labels, type: number): Buffer {
  const buf = Buffer.alloc(300);
  const end = new NameCompressor().write(buf, 0, name, false);
  buf.writeUInt16BE(type, end);
  buf.writeUInt16BE(1, end + 2);
  return Buffer.from(buf.subarray(0, end + 4));
}

/** Changes to `name` `type` as the server pushes them, until `signal` aborts. */
export async function* subscribe(o: SubscribeOptions): AsyncGenerator<PushChange> {
  const qtype = typeof o.type === "number" ? o.type : (Type as Record<string, number>)[o.type.toUpperCase()];
  if (qtype === undefined) throw new Error(`subscribe: unknown type ${String(o.type)}`);
  const name = parseName(o.name);
  let backoff = 500;
  let sessions = 0;
  while (!o.signal?.aborted) {
    const queue: (PushChange | Error | "closed")[] = [];
    let wake: (() => void) | undefined;
    const push = (x: PushChange | Error | "closed") => {
      queue.push(x);
      wake?.();
    };
    let socket: TLSSocket | undefined;
    let keepalive: NodeJS.Timeout | undefined;
    try {
      socket = connect({
        host: o.server.host,
        port: o.server.port,
        ...(o.ca !== undefined ? { ca: o.ca } : {}),
        rejectUnauthorized: !o.insecure,
      });
      const s = socket;
      const frame = (m: Buffer) => {
        const b = Buffer.alloc(2 + m.length);
        b.writeUInt16BE(m.length, 0);
        m.copy(b, 2);
        s.write(b);
      };
      let pending = Buffer.alloc(0);
      s.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
          pending = pending.subarray(2 + msg.length);
          try {
            const m = decodeDso(msg);
            if (m.response && m.id === 2 && m.rcode !== 0) push(new Error(`SUBSCRIBE refused: rcode ${m.rcode}`));
            else if (m.response && m.id === 2) {
              backoff = 500;
              if (sessions++ > 0) push({ op: "reset" });
              o.onConnect?.();
            }
            const tlv = m.tlvs[0];
            if (m.id === 0 && tlv?.type === DsoType.PUSH)
              for (let p = 0; p < tlv.data.length; ) {
                const r = readRecord(tlv.data, p);
                p = r.end;
                const remove = r.ttl === 0xffffffff;
                push({
                  op: remove ? "remove" : "add",
                  name: formatName(r.record.name),
                  type: rrTypeName(r.type),
                  ttl: remove ? 0 : r.ttl,
                  data: dataText(r.record.data),
                });
              }
          } catch (err) {
            push(err as Error);
          }
        }
      });
      s.on("close", () => push("closed"));
      s.on("error", () => push("closed"));
      await new Promise<void>((resolve, reject) => {
        s.once("secureConnect", resolve);
        s.once("error", reject);
      });
      // a Keepalive establishes the session; the subscription follows; a Keepalive every 5 s keeps it (the
      // server's interval is at least 10 s)
      const request = (id: number, tlv: DsoTlv) => frame(encodeDso({ id, response: false, rcode: 0, tlvs: [tlv] }));
      const keepaliveRequest = (id: number) => request(id, keepaliveTlv({ inactivityMs: 15_000, keepaliveMs: 10_000 }));
      keepaliveRequest(1);
      request(2, { type: DsoType.SUBSCRIBE, data: subscribeTlvData(name, qtype) });
      keepalive = setInterval(() => keepaliveRequest(3), 5000);
      const onAbort = () => push("closed");
      o.signal?.addEventListener("abort", onAbort, { once: true });
      for (;;) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const x = queue.shift()!;
        if (x === "closed") break;
        if (x instanceof Error) throw x;
        yield x;
      }
      o.signal?.removeEventListener("abort", onAbort);
    } catch (err) {
      const what = `${(err as NodeJS.ErrnoException).code ?? ""} ${(err as Error).message}`;
      // a refusal or a certificate that does not check out will not mend by trying again
      if (/SUBSCRIBE refused|certificate|ERR_TLS|SELF_SIGNED/i.test(what)) throw err;
      // connection refused or dropped: tried again below
    } finally {
      clearInterval(keepalive);
      socket?.destroy();
    }
    if (o.signal?.aborted) return;
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 30_000);
  }
}
