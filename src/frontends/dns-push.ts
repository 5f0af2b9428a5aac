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
import { formatServiceType, parseQueryName, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import { Rcode } from "../wire/constants.js";
import { DsoType, encodeDso, type DsoTlv } from "../wire/dso.js";
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

/** RFC 8765 §6.3.1: the TTL of a PUSH record that removes that one record. */
export const REMOVE_RECORD_TTL = 0xffffffff;
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
  constructor(
    readonly maxSubscriptions = 10_000,
    readonly maxRecords = 1_000_000,
  ) {}
}
const processBudget = new PushBudget();

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
  /** Told of a SUBSCRIBE refused by a limit (the metrics count it). */
  refused?: (limit: "push-subscriptions-per-session" | "push-subscriptions" | "push-records") => void;
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

/** Names are never compressed in DSO TLVs: every suffix is written out. */
class Uncompressed extends NameCompressor {
  override write(buf: Buffer, offset: number, name: Labels): number {
    return new NameCompressor().write(buf, offset, name, false);
  }
}

/** Records a PUSH message carries at most: a change to a large type goes out in several. */
const RECORDS_PER_PUSH = 200;

/** PUSH messages: records removed (TTL 0xFFFFFFFF), then added (their TTL). */
export function encodePushes(added: readonly ResourceRecord[], removed: readonly ResourceRecord[]): Buffer[] {
  const all = [...removed.map((r) => ({ ...r, ttl: REMOVE_RECORD_TTL })), ...added];
  const out: Buffer[] = [];
  const buf = Buffer.alloc(65535);
  for (let i = 0; i < all.length; i += RECORDS_PER_PUSH) {
    let off = 0;
    const comp = new Uncompressed();
    for (const r of all.slice(i, i + RECORDS_PER_PUSH)) off = encodeRecord(buf, off, r, comp);
    const data = Buffer.from(buf.subarray(0, off));
    out.push(encodeDso({ id: 0, response: false, rcode: 0, tlvs: [{ type: DsoType.PUSH, data }] }));
  }
  return out;
}

/** A subscription: what was last pushed (`held`) is the shared answer it came from. */
type Subscription = Follower;

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
    const s: Subscription = { ...q, key, serviceType, kind: parsed.kind, held: NOTHING_HELD };
    this.subscriptions.set(id, s);
    budget.subscriptions++;
    this.fanout.follow(s, this);
    return Rcode.NOERROR;
  }

  private get budget(): PushBudget {
    return this.deps.budget ?? processBudget;
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
    this.subscriptions.delete(id);
    this.fanout.unfollow(s); // the registry listener goes with the process's last subscription
  }

  get size(): number {
    return this.subscriptions.size;
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
    for (const { follower: s, now, difference } of changes) {
      this.budget.records += now.size - s.held.size;
      s.held = now;
      if (difference.added.length + difference.removed.length > 0) messages.push(...pushesOf(difference));
    }
    if (messages.length > 0) this.send(messages);
  }
}
