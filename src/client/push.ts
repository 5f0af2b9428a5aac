// Following a name by DNS Push (RFC 8765) over DNS over TLS: a DSO session
// (Keepalive, RFC 8490), one SUBSCRIBE, then each PUSH as changes. When the
// connection drops it connects again with back-off and says `reset` before
// the records it is sent afresh (the client rebuilds its view, as after the
// HTTP watch's reset).
//
// Nothing waits unbounded: the handshake, the Keepalive's acknowledgement and
// the SUBSCRIBE's reply must come within `establishTimeoutMs`; once
// established, each Keepalive we send is answered, so a session silent for
// twice the server's keepalive interval is dead and is connected again. A
// SUBSCRIBE refused (REFUSED) or failed (SERVFAIL) is tried again with
// back-off, as a server sheds load that way; the other errors of RFC 8765
// §6.2.2 (FORMERR, NOTIMP, NOTAUTH, DSOTYPENI) will not mend and end the
// iterator with a SubscribeError.
import { connect, type TLSSocket } from "node:tls";
import { formatName, hashName, parseName, parseServiceType, typeName, type Labels } from "../names.js";
import { Rcode, Type, rcodeName, typeName as rrTypeName } from "../wire/constants.js";
import { readRecord, type DecodedData } from "../wire/decode.js";
import {
  REMOVE_RECORD_TTL,
  REMOVE_RRSET_TTL,
  decodeDso,
  DSOTYPENI,
  DsoType,
  encodeDso,
  keepaliveTlv,
  parseKeepalive,
  parseRetryDelay,
  type DsoTlv,
} from "../wire/dso.js";
import { decodeName, NameCompressor } from "../wire/name.js";
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
  /** Longest wait for the TLS handshake, the Keepalive's acknowledgement and the SUBSCRIBE's reply, ms (10 s). */
  establishTimeoutMs?: number;
  /** Stop following (the iterator ends). */
  signal?: AbortSignal;
  /** Called each time a session is established. */
  onConnect?: () => void;
}

export type PushChange =
  /** `data` "" in a remove: every record of that name and type is gone (RFC 8765 §6.3.1, TTL 0xFFFFFFFE). */
  { op: "add" | "remove"; name: string; type: string; ttl: number; data: string } | { op: "reset" };

/** A record to RECONFIRM: one the iterator yielded (its name, type and data as given), or its RDATA in wire form. */
export type ReconfirmRecord =
  | { name: string; type: string; data: string }
  | { name: string; type: string | number; rdata: Buffer };

/** What `subscribe` returns: the changes, and a way to tell the server a record seems gone. */
export interface Subscription extends AsyncGenerator<PushChange> {
  /**
   * RECONFIRM (RFC 8765 §6.5): the caller believes this record is gone (its
   * host does not answer); the server checks and, if so, pushes its removal.
   * False when no session is open now, or when a record given by its text
   * was never pushed on this session (give its `rdata` then).
   */
  reconfirm(record: ReconfirmRecord): boolean;
}

/** A SUBSCRIBE the server answered with an error that trying again would not mend. */
export class SubscribeError extends Error {
  constructor(
    readonly rcode: number,
    name: string,
  ) {
    super(`SUBSCRIBE ${name} refused by the server: ${rcode === DSOTYPENI ? "DSOTYPENI" : rcodeName(rcode)}`);
    this.name = "SubscribeError";
  }
}

/** A server's answer to SUBSCRIBE that may be tried again later: it sheds load so (RFC 8765 §6.2.2). */
const RETRIED_RCODES: ReadonlySet<number> = new Set([Rcode.REFUSED, Rcode.SERVFAIL]);
/** Message IDs of our requests: the Keepalive that establishes the session, the SUBSCRIBE, later Keepalives. */
const ID_KEEPALIVE = 1;
const ID_SUBSCRIBE = 2;
const ID_KEEPALIVE_AGAIN = 3;
/** RFC 8490 §6.2: a session's keepalive interval until a Keepalive says otherwise, ms. */
const DEFAULT_KEEPALIVE_MS = 15_000;
/** A Retry Delay is obeyed up to this long, ms. */
const MAX_RETRY_DELAY_MS = 3_600_000;

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

function typeNumber(type: string | number): number | undefined {
  return typeof type === "number" ? type : (Type as Record<string, number>)[type.toUpperCase()];
}

/** A question as DSO TLVs carry it (RFC 8765 §6.2, §6.5): the name written out, type, class IN, then `rdata` if any. */
function questionTlvData(name: Labels, type: number, rdata: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(300 + rdata.length);
  const end = new NameCompressor().write(buf, 0, name, false);
  buf.writeUInt16BE(type, end);
  buf.writeUInt16BE(1, end + 2);
  rdata.copy(buf, end + 4);
  return Buffer.from(buf.subarray(0, end + 4 + rdata.length));
}

const recordKey = (name: string, type: string, data: string) => `${name.toLowerCase()}\u0000${type}\u0000${data}`;

/** The session now open, for RECONFIRM: how to send on it, and the RDATA of each record it pushed. */
interface Live {
  send?: (m: Buffer) => void;
  rdata: Map<string, Buffer>;
}

/** Changes to `name` `type` as the server pushes them, until `signal` aborts. */
export function subscribe(o: SubscribeOptions): Subscription {
  const live: Live = { rdata: new Map() };
  const reconfirm = (r: ReconfirmRecord): boolean => {
    const type = typeNumber(r.type);
    if (!live.send || type === undefined) return false;
    const rdata = "rdata" in r ? r.rdata : live.rdata.get(recordKey(formatName(parseName(r.name)), r.type, r.data));
    if (!rdata) return false;
    const data = questionTlvData(parseName(r.name), type, rdata);
    live.send(encodeDso({ id: 0, response: false, rcode: 0, tlvs: [{ type: DsoType.RECONFIRM, data }] }));
    return true;
  };
  return Object.assign(follow(o, live), { reconfirm });
}

async function* follow(o: SubscribeOptions, live: Live): AsyncGenerator<PushChange> {
  const qtype = typeNumber(o.type);
  if (qtype === undefined) throw new Error(`subscribe: unknown type ${String(o.type)}`);
  const name = parseName(o.name);
  const establishMs = o.establishTimeoutMs ?? 10_000;
  let backoff = 500;
  let sessions = 0;
  // one abort listener for the whole follow: it ends whatever is being waited for now
  let interrupt: (() => void) | undefined;
  const onAbort = () => interrupt?.();
  o.signal?.addEventListener("abort", onAbort);
  try {
    while (!o.signal?.aborted) {
      /** A Retry Delay from the server: not back before this long, ms. */
      let retryDelay = 0;
      const queue: (PushChange | Error | "closed")[] = [];
      let wake: (() => void) | undefined;
      const push = (x: PushChange | Error | "closed") => {
        queue.push(x);
        wake?.();
      };
      interrupt = () => push("closed");
      let socket: TLSSocket | undefined;
      let keepalive: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const expectWithin = (ms: number, what: string) => {
        clearTimeout(deadline);
        deadline = setTimeout(() => push(new Error(`DNS Push: ${what} within ${ms} ms`)), ms);
      };
      try {
        expectWithin(establishMs, "no TLS session, Keepalive acknowledgement and SUBSCRIBE reply");
        socket = connect({
          host: o.server.host,
          port: o.server.port,
          ...(o.ca !== undefined ? { ca: o.ca } : {}),
          rejectUnauthorized: !o.insecure,
        });
        const s = socket;
        const frame = (m: Buffer) => {
          if (s.destroyed || s.writableEnded) return;
          const b = Buffer.alloc(2 + m.length);
          b.writeUInt16BE(m.length, 0);
          m.copy(b, 2);
          s.write(b);
        };
        const request = (id: number, tlv: DsoTlv) => frame(encodeDso({ id, response: false, rcode: 0, tlvs: [tlv] }));
        const keepaliveRequest = (id: number) =>
          request(id, keepaliveTlv({ inactivityMs: 15_000, keepaliveMs: 10_000 }));
        /** Once established: silence longer than this means the server is gone (each Keepalive we send is answered). */
        let silentMs: number | undefined;
        const records = new Map<string, Buffer>();
        const changes = (data: Buffer) => {
          for (let p = 0; p < data.length; ) {
            const n = decodeName(data, p);
            const owner = formatName(n.labels);
            if (n.end + 10 > data.length) throw new Error("PUSH record runs past its TLV");
            const ttl = data.readUInt32BE(n.end + 4);
            if (ttl === REMOVE_RRSET_TTL) {
              // the whole RRset: RDLEN 0, nothing to decode
              const type = rrTypeName(data.readUInt16BE(n.end));
              p = n.end + 10 + data.readUInt16BE(n.end + 8);
              for (const k of [...records.keys()]) if (k.startsWith(recordKey(owner, type, ""))) records.delete(k);
              push({ op: "remove", name: owner, type, ttl: 0, data: "" });
              continue;
            }
            const r = readRecord(data, p);
            p = r.end;
            const type = rrTypeName(r.type);
            const text = dataText(r.record.data);
            const key = recordKey(owner, type, text);
            if (ttl === REMOVE_RECORD_TTL) records.delete(key);
            else records.set(key, Buffer.from(data.subarray(r.rdataAt, r.rdataAt + r.rdataLength)));
            push({
              op: ttl === REMOVE_RECORD_TTL ? "remove" : "add",
              name: owner,
              type,
              ttl: ttl === REMOVE_RECORD_TTL ? 0 : ttl,
              data: text,
            });
          }
        };
        /** The keepalive interval the server agreed (the first one stands): a Keepalive every half of it, each answered. */
        const agree = (agreedMs: number) => {
          if (keepalive) return;
          const every = Math.min(Math.max(agreedMs > 0 ? agreedMs / 2 : 5000, 100), 300_000);
          silentMs = 4 * every;
          keepalive = setInterval(() => keepaliveRequest(ID_KEEPALIVE_AGAIN), every);
        };
        let pending = Buffer.alloc(0);
        s.on("data", (chunk: Buffer) => {
          if (live.send === frame) expectWithin(silentMs!, "the server silent");
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
            pending = pending.subarray(2 + msg.length);
            try {
              const m = decodeDso(msg);
              const tlv = m.tlvs[0];
              const delay = m.tlvs.find((t) => t.type === DsoType.RETRY_DELAY);
              if (delay) retryDelay = Math.min(parseRetryDelay(delay), MAX_RETRY_DELAY_MS);
              if (m.response && m.id === ID_KEEPALIVE) {
                if (m.rcode === DSOTYPENI || m.rcode === Rcode.NOTIMP)
                  push(new SubscribeError(m.rcode, formatName(name)));
                else if (m.rcode !== 0) push(new Error(`DNS Push: Keepalive answered ${rcodeName(m.rcode)}`));
                else if (tlv?.type === DsoType.KEEPALIVE) agree(parseKeepalive(tlv).keepaliveMs);
              } else if (m.response && m.id === ID_SUBSCRIBE && m.rcode !== 0)
                push(new SubscribeError(m.rcode, formatName(name)));
              else if (m.response && m.id === ID_SUBSCRIBE) {
                backoff = 500;
                if (sessions++ > 0) push({ op: "reset" });
                live.rdata = records;
                live.send = frame;
                // a reply without the Keepalive's: RFC 8490 §6.2's default interval
                agree(DEFAULT_KEEPALIVE_MS);
                expectWithin(silentMs!, "the server silent");
                o.onConnect?.();
              } else if (m.id === 0 && tlv?.type === DsoType.RETRY_DELAY) push("closed");
              else if (m.id === 0 && tlv?.type === DsoType.PUSH) changes(tlv.data);
            } catch (err) {
              push(err as Error);
            }
          }
        });
        s.on("close", () => push("closed"));
        s.on("error", (err) => push(err));
        // a Keepalive establishes the session, the subscription follows (written now, sent after the handshake)
        keepaliveRequest(ID_KEEPALIVE);
        request(ID_SUBSCRIBE, { type: DsoType.SUBSCRIBE, data: questionTlvData(name, qtype) });
        for (;;) {
          if (queue.length === 0) await new Promise<void>((r) => (wake = r));
          wake = undefined;
          const x = queue.shift()!;
          if (x === "closed") break;
          if (x instanceof Error) throw x;
          yield x;
        }
      } catch (err) {
        if (err instanceof SubscribeError && !RETRIED_RCODES.has(err.rcode)) throw err;
        // a certificate that does not check out will not mend by trying again
        const what = `${(err as NodeJS.ErrnoException).code ?? ""} ${(err as Error).message}`;
        if (/certificate|ERR_TLS|SELF_SIGNED/i.test(what)) throw err;
        // refused for now, connection refused, dropped or silent: tried again below
      } finally {
        clearInterval(keepalive);
        clearTimeout(deadline);
        live.send = undefined;
        socket?.destroy();
      }
      if (o.signal?.aborted) return;
      const wait = Math.max(backoff, retryDelay);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        interrupt = () => {
          clearTimeout(t);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 30_000);
    }
  } finally {
    interrupt = undefined;
    o.signal?.removeEventListener("abort", onAbort);
  }
}
