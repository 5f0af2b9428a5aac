// A raw DNS client for the differential suite: builds queries bit by bit
// (any opcode, flag, class, OPT placement) and reads replies into a form two
// servers' replies can be compared in: RRsets as sets of canonical RDATA.
import { createSocket, type Socket } from "node:dgram";
import { connect } from "node:net";
import type { Labels } from "../../src/names.js";
import { Type, typeName } from "../../src/wire/constants.js";
import { ipv6Bytes } from "../../src/wire/message.js";
import { decodeName } from "../../src/wire/name.js";
import { canon } from "./dataset.js";

export type Transport = "udp" | "udp-noedns" | "tcp";

export interface EdnsSpec {
  udpSize: number;
  version?: number;
  do?: boolean;
  options?: { code: number; data: Buffer }[];
}

export interface QuerySpec {
  /** Shown in differences. */
  label: string;
  /** A name as labels, or its exact wire bytes (for names a Labels list cannot say). */
  name: Labels | Buffer;
  type: number;
  class?: number;
  opcode?: number;
  /** Header bits to set besides opcode: e.g. 0x0100 RD, 0x0020 AD, 0x0010 CD, 0x0040 Z. */
  flags?: number;
  /** Over "udp" and "tcp"; dropped for "udp-noedns". */
  edns?: EdnsSpec;
  /** No question at all (QDCOUNT=0). */
  noQuestion?: boolean;
  /** Raw records put in the answer section (e.g. an OPT there). */
  answerSection?: Buffer[];
  /** Raw records put in the authority section. */
  authoritySection?: Buffer[];
  /** Raw records put in the additional section before the OPT (e.g. a second OPT). */
  additionalSection?: Buffer[];
  /** Only on these transports (default: all three). */
  transports?: Transport[];
}

export function wireName(name: Labels): Buffer {
  const parts: Buffer[] = [];
  for (const l of name) {
    const b = Buffer.from(l, "utf8");
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function optRecord(e: EdnsSpec): Buffer {
  const opts = Buffer.concat((e.options ?? []).map((o) => Buffer.concat([u16(o.code), u16(o.data.length), o.data])));
  const b = Buffer.alloc(11);
  b[0] = 0;
  b.writeUInt16BE(Type.OPT, 1);
  b.writeUInt16BE(e.udpSize, 3);
  b[5] = 0;
  b[6] = e.version ?? 0;
  b.writeUInt16BE(e.do ? 0x8000 : 0, 7);
  b.writeUInt16BE(opts.length, 9);
  return Buffer.concat([b, opts]);
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};

export function buildQuery(spec: QuerySpec, id: number, transport: Transport): Buffer {
  const edns = transport === "udp-noedns" ? undefined : spec.edns;
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE((((spec.opcode ?? 0) & 0xf) << 11) | (spec.flags ?? 0), 2);
  const an = spec.answerSection ?? [];
  const ns = spec.authoritySection ?? [];
  head.writeUInt16BE(spec.noQuestion ? 0 : 1, 4);
  head.writeUInt16BE(an.length, 6);
  head.writeUInt16BE(ns.length, 8);
  const ar = spec.additionalSection ?? [];
  head.writeUInt16BE(ar.length + (edns ? 1 : 0), 10);
  const question = spec.noQuestion
    ? []
    : [Buffer.isBuffer(spec.name) ? spec.name : wireName(spec.name), u16(spec.type), u16(spec.class ?? 1)];
  return Buffer.concat([head, ...question, ...an, ...ns, ...ar, ...(edns ? [optRecord(edns)] : [])]);
}

// ---- replies ----

export interface Reply {
  rcode: number;
  opcode: number;
  flags: { aa: boolean; tc: boolean; rd: boolean; ra: boolean; ad: boolean; cd: boolean; z: boolean };
  /** The question section's bytes, in hex (exact: 0x20 case must be echoed). */
  question: string;
  opt?: { udpSize: number; version: number; do: boolean; codes: number[] };
  /** Answer, authority, additional (OPT left out): "owner class type" -> canonical RDATA. */
  sections: [Map<string, string[]>, Map<string, string[]>, Map<string, string[]>];
  /** An OPT record found outside the additional section, or more than one. */
  misplacedOpt: boolean;
}

export const rrsetKey = (owner: Labels, klass: number, type: number) =>
  `${canon(owner)} ${klass === 1 ? "IN" : `CLASS${klass}`} ${typeName(type)}`;

export function aaaaHex(address: string): string {
  return Buffer.from(ipv6Bytes(address)).toString("hex");
}

function rdataText(buf: Buffer, type: number, at: number, len: number): string {
  const rd = buf.subarray(at, at + len);
  switch (type) {
    case Type.A:
      return [...rd].join(".");
    case Type.AAAA:
      return rd.toString("hex");
    case Type.PTR:
    case Type.NS:
    case Type.CNAME:
      return canon(decodeName(buf, at).labels);
    case Type.SRV:
      return `${rd.readUInt16BE(0)} ${rd.readUInt16BE(2)} ${rd.readUInt16BE(4)} ${canon(decodeName(buf, at + 6).labels)}`;
    case Type.TXT: {
      const out: string[] = [];
      for (let p = 0; p < rd.length; p += 1 + rd[p]!) out.push(rd.subarray(p + 1, p + 1 + rd[p]!).toString("hex"));
      return out.join(" ");
    }
    case Type.SOA: {
      const m = decodeName(buf, at);
      const r = decodeName(buf, m.end);
      const nums = [0, 4, 8, 12, 16].map((o) => buf.readUInt32BE(r.end + o));
      return `${canon(m.labels)} ${canon(r.labels)} ${nums.join(" ")}`;
    }
    default:
      return rd.toString("hex");
  }
}

export function readReply(buf: Buffer): Reply {
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let off = 12;
  const qStart = off;
  for (let i = 0; i < counts[0]!; i++) off = decodeName(buf, off).end + 4;
  const question = `${counts[0]}:${buf.subarray(qStart, off).toString("hex")}`;
  const sections: Reply["sections"] = [new Map(), new Map(), new Map()];
  let opt: Reply["opt"];
  let misplacedOpt = false;
  let extRcode = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = decodeName(buf, off);
      const type = buf.readUInt16BE(n.end);
      const klass = buf.readUInt16BE(n.end + 2);
      const ttl = buf.readUInt32BE(n.end + 4);
      const len = buf.readUInt16BE(n.end + 8);
      const at = n.end + 10;
      off = at + len;
      if (type === Type.OPT) {
        if (s !== 2 || opt) misplacedOpt = true;
        const codes: number[] = [];
        for (let p = at; p + 4 <= at + len; p += 4 + buf.readUInt16BE(p + 2)) codes.push(buf.readUInt16BE(p));
        opt = {
          udpSize: klass,
          version: (ttl >>> 16) & 0xff,
          do: (ttl & 0x8000) !== 0,
          codes: codes.sort((a, b) => a - b),
        };
        extRcode = ttl >>> 24;
        continue;
      }
      const key = rrsetKey(n.labels, klass, type);
      const set = sections[s]!.get(key) ?? [];
      set.push(rdataText(buf, type, at, len));
      sections[s]!.set(key, set);
    }
  }
  return {
    rcode: (extRcode << 4) | (flags & 0xf),
    opcode: (flags >> 11) & 0xf,
    flags: {
      aa: !!(flags & 0x0400),
      tc: !!(flags & 0x0200),
      rd: !!(flags & 0x0100),
      ra: !!(flags & 0x0080),
      z: !!(flags & 0x0040),
      ad: !!(flags & 0x0020),
      cd: !!(flags & 0x0010),
    },
    question,
    ...(opt ? { opt } : {}),
    sections,
    misplacedOpt,
  };
}

// ---- transports ----

/** One UDP socket per server, one query at a time: a reply is the next datagram with the query's ID. */
export class UdpClient {
  private readonly socket: Socket = createSocket("udp4");
  private waiting?: { id: number; resolve: (b: Buffer | null) => void };

  constructor(private readonly port: number) {
    this.socket.on("message", (msg) => {
      if (this.waiting && msg.length >= 2 && msg.readUInt16BE(0) === this.waiting.id) {
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(msg);
      }
    });
  }

  ask(query: Buffer, timeoutMs = 800): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(null);
      }, timeoutMs);
      this.waiting = {
        id: query.readUInt16BE(0),
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
      };
      this.socket.send(query, this.port, "127.0.0.1");
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Send `messages` on one TCP connection, each with its 2-byte length, `split` = one write per byte for the first; collect as many replies. */
export function askTcp(
  port: number,
  messages: Buffer[],
  opts: { split?: boolean; timeoutMs?: number } = {},
): Promise<(Buffer | null)[]> {
  return new Promise((resolve) => {
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(messages.map((_, i) => replies[i] ?? null));
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 1500);
    sock.on("error", done);
    sock.on("close", done);
    sock.on("data", (d) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length >= messages.length) done();
    });
    sock.on("connect", async () => {
      const framed = messages.map((m) => Buffer.concat([u16(m.length), m]));
      if (opts.split) {
        const first = framed[0]!;
        for (const b of first) {
          sock.write(Buffer.from([b]));
          await new Promise((r) => setImmediate(r));
        }
        sock.write(Buffer.concat(framed.slice(1)));
      } else {
        sock.write(Buffer.concat(framed));
      }
    });
  });
}
