// etcd's Range call with its reply walked in place. etcd3 decodes a reply with
// protobufjs into an object per key, each with four int64s turned into strings:
// at 200,000 keys that was most of a 4 s start-up, and while a resync ran its
// garbage (promoted by the scavenger while calls were in flight) paused the
// event loop 10–90 ms at a time. Here the reply stays one buffer; a page's keys
// and values are read from it by offset, and only what is kept is copied out.
import { Etcd3, EtcdInvalidAuthTokenError, isRecoverableError } from "etcd3";

export interface RangeRequest {
  key: Buffer;
  rangeEnd: Buffer;
  /** 0: no limit. */
  limit?: number;
  /** 0: the latest. */
  revision?: number;
  keysOnly?: boolean;
}

/** One Range reply: its header revision, `more` and `count`, and each entry's key, value and mod revision by offset into `buf`. */
export class RangeReply {
  revision = 0;
  more = false;
  count = 0;
  readonly keyStart: number[] = [];
  readonly keyEnd: number[] = [];
  readonly valueStart: number[] = [];
  readonly valueEnd: number[] = [];
  readonly modRevision: number[] = [];

  constructor(readonly buf: Buffer) {
    for (let at = 0; at < buf.length; ) {
      const tag = readVarint(buf, at);
      const field = Math.floor(tag / 8);
      if (tag % 8 === 2) {
        const len = readVarint(buf, after);
        const from = after;
        at = from + len;
        if (field === 1) this.revision = readHeaderRevision(buf, from, at);
        else if (field === 2) this.readKv(from, at);
      } else if (tag % 8 === 0) {
        const v = readVarint(buf, after);
        at = after;
        if (field === 3) this.more = v !== 0;
        else if (field === 4) this.count = v;
      } else at = skipField(buf, after, tag % 8);
    }
  }

  get length(): number {
    return this.keyStart.length;
  }

  /** Key i, from byte `skip` on (the prefix left out). */
  key(i: number, skip = 0): string {
    return this.buf.toString("utf8", this.keyStart[i]! + skip, this.keyEnd[i]);
  }

  /** Key i's bytes: a copy, so keeping it does not keep the whole reply. */
  keyBytes(i: number): Buffer {
    return Buffer.from(this.buf.subarray(this.keyStart[i], this.keyEnd[i]));
  }

  value(i: number): string {
    return this.buf.toString("utf8", this.valueStart[i], this.valueEnd[i]);
  }

  valueLength(i: number): number {
    return this.valueEnd[i]! - this.valueStart[i]!;
  }

  private readKv(from: number, end: number): void {
    let keyStart = from;
    let keyEnd = from;
    let valueStart = from;
    let valueEnd = from;
    let modRevision = 0;
    for (let at = from; at < end; ) {
      const tag = readVarint(this.buf, at);
      const field = Math.floor(tag / 8);
      if (tag % 8 === 2) {
        const len = readVarint(this.buf, after);
        if (field === 1) {
          keyStart = after;
          keyEnd = after + len;
        } else if (field === 5) {
          valueStart = after;
          valueEnd = after + len;
        }
        at = after + len;
      } else if (field === 3 && tag % 8 === 0) {
        modRevision = readVarint(this.buf, after);
        at = after;
      } else at = skipField(this.buf, after, tag % 8);
    }
    this.keyStart.push(keyStart);
    this.keyEnd.push(keyEnd);
    this.valueStart.push(valueStart);
    this.valueEnd.push(valueEnd);
    this.modRevision.push(modRevision);
  }
}

/** Where the last varint read ended (a module variable: no object per varint). */
let after = 0;

/** A varint as a number: exact up to 2^53, which revisions and counts stay under. */
function readVarint(buf: Buffer, at: number): number {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      after = i + 1;
      return value;
    }
    scale *= 128;
  }
  throw new Error("etcd reply: truncated varint");
}

function skipField(buf: Buffer, at: number, wireType: number): number {
  if (wireType === 0) {
    readVarint(buf, at);
    return after;
  }
  if (wireType === 1) return at + 8;
  if (wireType === 5) return at + 4;
  if (wireType === 2) {
    const len = readVarint(buf, at);
    return after + len;
  }
  throw new Error(`etcd reply: wire type ${wireType}`);
}

/** ResponseHeader.revision (field 3, a varint). */
function readHeaderRevision(buf: Buffer, from: number, end: number): number {
  for (let at = from; at < end; ) {
    const tag = readVarint(buf, at);
    if (tag === 24) return readVarint(buf, after);
    at = skipField(buf, after, tag % 8);
  }
  return 0;
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

/** etcdserverpb.RangeRequest: key 1, range_end 2, limit 3, revision 4, keys_only 8. */
export function encodeRangeRequest(r: RangeRequest): Buffer {
  const bytes = (field: number, b: Buffer) => [Buffer.from([(field << 3) | 2, ...varint(b.length)]), b];
  return Buffer.concat([
    ...bytes(1, r.key),
    ...bytes(2, r.rangeEnd),
    ...(r.limit ? [Buffer.from([3 << 3, ...varint(r.limit)])] : []),
    ...(r.revision ? [Buffer.from([4 << 3, ...varint(r.revision)])] : []),
    ...(r.keysOnly ? [Buffer.from([8 << 3, 1])] : []),
  ]);
}

/** What a gRPC client offers for a call with our own (de)serializers. */
interface UnaryCaller {
  makeUnaryRequest<Req, Res>(
    method: string,
    serialize: (value: Req) => Buffer,
    deserialize: (value: Buffer) => Res,
    argument: Req,
    metadata: unknown,
    options: object,
    callback: (err: Error | null, value?: Res) => void,
  ): unknown;
}

/** etcd3's client with `rangeReply`: through its connection pool (hosts, TLS, auth, circuit breakers), with the reply as a RangeReply. */
export class EtcdClient extends Etcd3 {
  async rangeReply(request: RangeRequest): Promise<RangeReply> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.withConnection(
          "KV",
          ({ client, metadata }) =>
            new Promise<RangeReply>((resolve, reject) =>
              (client as unknown as UnaryCaller).makeUnaryRequest(
                "/etcdserverpb.KV/Range",
                encodeRangeRequest,
                (buf: Buffer) => new RangeReply(buf),
                request,
                metadata,
                {},
                (err, reply) => (err || !reply ? reject(err ?? new Error("etcd: empty reply")) : resolve(reply)),
              ),
            ),
        );
      } catch (e) {
        if (attempt >= 3) throw e;
        // an expired token: one ordinary call has etcd3 sign in again, then ours goes on with the new one
        if (e instanceof EtcdInvalidAuthTokenError) await this.get("\0").exec();
        else if (!isRecoverableError(e as Error)) throw e;
      }
    }
  }
}
