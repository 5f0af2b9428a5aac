// DNS Push Notifications (RFC 8765) on one DSO session: SUBSCRIBE to a name
// and type, get its records at once in a PUSH, then a PUSH with what was
// added and removed after each change; UNSUBSCRIBE ends it. What a
// subscription holds is what a query for it would answer now (answerQuery),
// so every name the server answers can be followed, `_hash` names included:
// a key's new owner arrives as the old record removed and the new one added
// in one PUSH. Changes are gathered for a few milliseconds by the process's
// fan-out (push-fanout.ts: one registry listener, one answer per question for
// all the sessions that follow it), then each subscription a change can have
// moved is compared with what was last pushed.
import type { Clock } from "../clock.js";
import type { AnswerOptions } from "../answer/answer.js";
import { formatName, formatServiceType, hasSuffix, LOCAL, parseQueryName, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import { Rcode, typeName as rrTypeName } from "../wire/constants.js";
import { readRecord, type DecodedData } from "../wire/decode.js";
import { DsoType, encodeDso, REMOVE_RECORD_TTL, type DsoTlv } from "../wire/dso.js";

import { encodeRecord, type ResourceRecord } from "../wire/message.js";
import { decodeName, NameCompressor, WireError } from "../wire/name.js";
import {
  fanoutFor,
  NOTHING_HELD,
  questionKey,
  type Difference,
  type FanoutMember,
  type Follower,
  type Moved,
  type PushFanout,
} from "./push-fanout.js";

/** Subscriptions one session may hold. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 256;

/**
 * What every session of a process holds together: subscriptions, and the
 * records they were last pushed (a browse of a large type holds what fits a
 * message). Past either, a SUBSCRIBE is REFUSED.
 */
export class PushBudget {
  subscriptions = 0;
  records = 0;
  /** Subscriptions by source address, across its sessions. */
  readonly perSource = new Map<string, number>();
  constructor(
    readonly maxSubscriptions = 10_000,
    readonly maxRecords = 1_000_000,
  ) {}
}
const processBudget = new PushBudget();

/** Subscriptions one source address may hold across its sessions by default (--push-max-subscriptions-per-source). */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_SOURCE = 1024;

/** What this process's push sessions hold now (the metrics read it). */
export function pushTotals(): { subscriptions: number; records: number } {
  return { subscriptions: processBudget.subscriptions, records: processBudget.records };
}

export interface PushDeps {
  registry: Registry;
  answer: AnswerOptions;
  clock: Clock;
  /** Shared by the sessions of a process; default one per process. */
  budget?: PushBudget;
  /** A subscription to a `.local` name: the LAN is asked about it until the release is called (RFC 8766 §6). */
  followLan?: (name: Labels, type: number, source: string) => (() => void) | undefined;
  /** The client's address, and how many subscriptions it may hold across its sessions (so no one takes the whole budget). */
  source?: string;
  maxPerSource?: number;
  /** Told of a SUBSCRIBE refused by a limit (the metrics count it). */
  refused?: (
    limit: "push-subscriptions-per-session" | "push-subscriptions-per-source" | "push-subscriptions" | "push-records",
  ) => void;
  /** Shared by the sessions of a process (one registry listener, one answer per question); default one per registry. */
  fanout?: PushFanout;
}

/** A SUBSCRIBE TLV's question (RFC 8765 §6.2: name uncompressed, type, class). */
export function parseSubscribe(t: DsoTlv): { name: Labels; type: number; class: number } {
  const n = decodeName(t.data, 0);
  // written out, the name ends where its own bytes do; a pointer would end it early
  if (n.end !== n.wireLength) throw new WireError("a name in a DSO TLV is never compressed");
  if (n.end + 4 !== t.data.length) throw new WireError("SUBSCRIBE TLV is a name, a type and a class");
  return { name: n.labels, type: t.data.readUInt16BE(n.end), class: t.data.readUInt16BE(n.end + 2) };
}

/** A RECONFIRM TLV's record (RFC 8765 §6.5: name uncompressed, type, class, RDATA). */
export function parseReconfirm(t: DsoTlv): { name: Labels; type: number; class: number; data: DecodedData } {
  const n = decodeName(t.data, 0);
  if (n.end !== n.wireLength) throw new WireError("a name in a DSO TLV is never compressed");
  if (n.end + 4 > t.data.length) throw new WireError("RECONFIRM TLV is a name, a type, a class and RDATA");
  // the RDATA read as a record's: a header with its length put before it
  const rdata = t.data.subarray(n.end + 4);
  const header = Buffer.alloc(10);
  t.data.copy(header, 0, n.end, n.end + 4);
  header.writeUInt16BE(rdata.length, 8);
  const { record } = readRecord(Buffer.concat([t.data.subarray(0, n.end), header, rdata]), 0);
  return { name: record.name, type: record.type, class: record.class, data: record.data };
}

/** Names are never compressed in DSO TLVs: every suffix is written out. */
class Uncompressed extends NameCompressor {
  override write(buf: Buffer, offset: number, name: Labels): number {
    return new NameCompressor().write(buf, offset, name, false);
  }
}

/** What a PUSH TLV holds at most: a DSO message is at most 65,535 bytes, 12 of them its header and 4 the TLV's. */
const MAX_PUSH_DATA = 65535 - 12 - 4;

/** Where PUSH data is put together, and one record encoded: its name (255), header (10) and RDATA (65,535) at most. */
const scratch = { buf: Buffer.allocUnsafe(MAX_PUSH_DATA), one: Buffer.allocUnsafe(256 + 10 + 65535) };

/**
 * PUSH messages: records removed (TTL 0xFFFFFFFF), then added (their TTL),
 * as many to a message as fit its 65,535 bytes. A record too large for any
 * message (which no query could carry either) is left out.
 */
export function encodePushes(added: readonly ResourceRecord[], removed: readonly ResourceRecord[]): Buffer[] {
  if (added.length === 0 && removed.length === 0) return [];
  const all = [...removed.map((r) => ({ ...r, ttl: REMOVE_RECORD_TTL })), ...added];
  const out: Buffer[] = [];
  // the scratch space of every call (synchronous, so never shared): a change to one session allocates no 128 KiB
  const { buf, one } = scratch;
  const comp = new Uncompressed();
  let off = 0;
  const flush = () => {
    if (off === 0) return;
    const data = Buffer.from(buf.subarray(0, off));
    out.push(encodeDso({ id: 0, response: false, rcode: 0, tlvs: [{ type: DsoType.PUSH, data }] }));
    off = 0;
  };
  for (const r of all) {
    let size: number;
    try {
      size = encodeRecord(one, 0, r, comp);
    } catch (e) {
      if (e instanceof WireError || e instanceof RangeError) continue;
      throw e;
    }
    if (size > MAX_PUSH_DATA) continue;
    if (off + size > MAX_PUSH_DATA) flush();
    one.copy(buf, off, 0, size);
    off += size;
  }
  flush();
  return out;
}

/** A subscription: what was last pushed (`held`) is the shared answer it came from. */
interface Subscription extends Follower {
  /** PUSH updates sent to it (the first state counts when it had records). */
  pushes: number;
  /** Stops asking the LAN for it (a `.local` name). */
  releaseLan?: () => void;
}

/** The PUSH messages of a difference, made once for every session that is sent it. */
const encoded = new WeakMap<Difference, Buffer[]>();
function pushesOf(d: Difference): Buffer[] {
  let m = encoded.get(d);
  if (!m) encoded.set(d, (m = encodePushes(d.added, d.removed)));
  return m;
}

export class PushSession implements FanoutMember {
  private readonly subscriptions = new Map<number, Subscription>();
  private readonly fanout: PushFanout;
  private closed = false;

  constructor(
    private readonly deps: PushDeps,
    /** The PUSH messages of one change, to be written together. */
    private readonly send: (messages: readonly Buffer[]) => void,
  ) {
    this.fanout = deps.fanout ?? fanoutFor(deps.registry, deps.answer, deps.clock);
  }

  /** The rcode for a SUBSCRIBE with message ID `id`; on NOERROR, call `pushCurrent(id)` once the reply is sent. */
  subscribe(id: number, q: { name: Labels; type: number; class: number }): number {
    if (this.closed) return Rcode.REFUSED;
    const budget = this.budget;
    const over =
      this.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SESSION
        ? "push-subscriptions-per-session"
        : this.fromSource() >= (this.deps.maxPerSource ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_SOURCE)
          ? "push-subscriptions-per-source"
          : budget.subscriptions >= budget.maxSubscriptions
            ? "push-subscriptions"
            : budget.records >= budget.maxRecords
              ? "push-records"
              : undefined;
    if (over) {
      this.deps.refused?.(over);
      return Rcode.REFUSED;
    }
    // only names this server answers for: elsewhere it is not authoritative (RFC 8765 §6.2.2)
    const parsed = parseQueryName(q.name, this.deps.answer.domains);
    if (!parsed) return Rcode.NOTAUTH;
    // the same question twice in one session would only double the work of every change (RFC 8765 §6.2)
    const key = questionKey(q);
    for (const [other, s] of this.subscriptions)
      if (other !== id && s.key === key) {
        this.deps.refused?.("push-subscriptions-per-session");
        return Rcode.REFUSED;
      }
    this.unsubscribeById(id); // the same ID again replaces the subscription
    const serviceType = "type" in parsed ? formatServiceType(parsed.type) : undefined;
    const releaseLan = hasSuffix(q.name, LOCAL) ? this.deps.followLan?.(q.name, q.type, this.source) : undefined;
    const s: Subscription = {
      ...q,
      key,
      serviceType,
      kind: parsed.kind,
      held: NOTHING_HELD,
      pushes: 0,
      ...(releaseLan ? { releaseLan } : {}),
    };
    this.subscriptions.set(id, s);
    budget.subscriptions++;
    budget.perSource.set(this.source, this.fromSource() + 1);
    this.fanout.follow(s, this);
    return Rcode.NOERROR;
  }

  private get budget(): PushBudget {
    return this.deps.budget ?? processBudget;
  }

  private get source(): string {
    return this.deps.source ?? "";
  }

  private fromSource(): number {
    return this.budget.perSource.get(this.source) ?? 0;
  }

  /** The records the subscription `id` has now, as its first PUSH (nothing when there are none). */
  pushCurrent(id: number): void {
    const s = this.subscriptions.get(id);
    const now = s && this.fanout.answer(s, s.key);
    // a ring still being built (SERVFAIL, Not Ready) says nothing: the first change after it answers brings it
    if (s && now) this.moved([{ follower: s, now: now.records, difference: now.from(s.held) }]);
  }

  /** UNSUBSCRIBE (RFC 8765 §6.4): its TLV holds the SUBSCRIBE's message ID. */
  unsubscribeById(id: number): void {
    const s = this.subscriptions.get(id);
    if (!s) return;
    this.budget.subscriptions--;
    this.budget.records -= s.held.size;
    const left = this.fromSource() - 1;
    if (left > 0) this.budget.perSource.set(this.source, left);
    else this.budget.perSource.delete(this.source);
    this.subscriptions.delete(id);
    this.fanout.unfollow(s); // the registry listener goes with the process's last subscription
    s.releaseLan?.();
  }

  get size(): number {
    return this.subscriptions.size;
  }

  /** Its subscriptions as the HTTP API lists them: question, records held, PUSH updates sent. */
  describe(): { name: string; type: string; records: number; pushes: number }[] {
    return [...this.subscriptions.values()].map((s) => ({
      name: formatName(s.name),
      type: rrTypeName(s.type),
      records: s.held.size,
      pushes: s.pushes,
    }));
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.subscriptions.keys()]) this.unsubscribeById(id);
  }

  /**
   * Subscriptions of this session brought up to date (the fan-out calls it
   * after a change): a PUSH with the differences for each (a key's old owner
   * removed and its new one added in the same message), all written together.
   * Sessions that held the same answer are sent the very same messages, made once.
   */
  moved(changes: readonly Moved[]): void {
    const messages: Buffer[] = [];
    for (const { follower, now, difference } of changes) {
      const s = follower as Subscription;
      // encoded first: what a subscription holds changes only once its PUSH exists
      if (difference.added.length + difference.removed.length > 0) {
        messages.push(...pushesOf(difference));
        s.pushes++;
      }
      this.budget.records += now.size - s.held.size;
      s.held = now;
    }
    if (messages.length > 0) this.send(messages);
  }
}
