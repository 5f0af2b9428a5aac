// DNS Push Notifications (RFC 8765) on one DSO session: SUBSCRIBE to a name
// and type, get its records at once in a PUSH, then a PUSH with what was
// added and removed after each change; UNSUBSCRIBE ends it. What a
// subscription holds is what a query for it would answer now (answerQuery),
// so every name the server answers can be followed, `_hash` names included:
// a key's new owner arrives as the old record removed and the new one added
// in one PUSH. Changes are gathered for a few milliseconds, then every
// subscription of the session is compared with what was last pushed.
import type { Clock } from "../clock.js";
import { later } from "../guard.js";
import { answerQuery, type AnswerOptions } from "../answer/answer.js";
import { formatName, formatServiceType, hasSuffix, nameKey, parseQueryName, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import type { Change } from "../registry/types.js";
import { Class, Opcode, Rcode, typeName as rrTypeName } from "../wire/constants.js";
import { DsoType, encodeDso, type DsoTlv } from "../wire/dso.js";
import { encodeRecord, type ResourceRecord } from "../wire/message.js";
import { decodeName, NameCompressor, WireError } from "../wire/name.js";
import { readRecord, type DecodedData } from "../wire/decode.js";

const LOCAL: Labels = ["local"];

/** RFC 8765 §6.3.1: the TTL of a PUSH record that removes that one record. */
export const REMOVE_RECORD_TTL = 0xffffffff;
/** How long changes are gathered before subscriptions are compared, ms. */
const GATHER_MS = 5;
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
  followLan?: (name: Labels, type: number) => (() => void) | undefined;
  /** The client's address, and how many subscriptions it may hold across its sessions (so no one takes the whole budget). */
  source?: string;
  maxPerSource?: number;
  /** Told of a SUBSCRIBE refused by a limit (the metrics count it). */
  refused?: (
    limit: "push-subscriptions-per-session" | "push-subscriptions-per-source" | "push-subscriptions" | "push-records",
  ) => void;
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

/** A record's identity whatever its TTL (a lease counting down is no change). */
function identity(r: ResourceRecord): string {
  return JSON.stringify([r.name.map((l) => l.toLowerCase()), r.class ?? Class.IN, r.data]);
}

interface Subscription {
  name: Labels;
  type: number;
  class: number;
  /** The service type its records come from (undefined: a host's addresses, or the list of types). */
  serviceType: string | undefined;
  kind: string;
  /** What was last pushed, by identity. */
  held: Map<string, ResourceRecord>;
  /** Stops asking the LAN for it (a `.local` name). */
  releaseLan?: () => void;
  /** PUSH updates sent to it (the first state counts when it had records). */
  pushes: number;
}

/** What changed since the last comparison: which subscriptions can have moved. */
interface Touched {
  types: Set<string>;
  hosts: boolean;
}

export class PushSession {
  private readonly subscriptions = new Map<number, Subscription>();
  private unsubscribe: (() => void) | undefined;
  private pending: NodeJS.Timeout | undefined;
  private touched: Touched = { types: new Set(), hosts: false };
  private closed = false;

  constructor(
    private readonly deps: PushDeps,
    private readonly send: (message: Buffer) => void,
  ) {}

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
    const key = nameKey(q.name);
    for (const [other, s] of this.subscriptions)
      if (other !== id && s.type === q.type && s.class === q.class && nameKey(s.name) === key) {
        this.deps.refused?.("push-subscriptions-per-session");
        return Rcode.REFUSED;
      }
    this.unsubscribeById(id); // the same ID again replaces the subscription
    const serviceType = "type" in parsed ? formatServiceType(parsed.type) : undefined;
    const releaseLan = hasSuffix(q.name, LOCAL) ? this.deps.followLan?.(q.name, q.type) : undefined;
    this.subscriptions.set(id, {
      ...q,
      serviceType,
      kind: parsed.kind,
      held: new Map(),
      pushes: 0,
      ...(releaseLan ? { releaseLan } : {}),
    });
    budget.subscriptions++;
    budget.perSource.set(this.source, this.fromSource() + 1);
    this.unsubscribe ??= this.deps.registry.onChange((c) => this.changed(c));
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
    if (s) this.compare([s]);
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
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.pending);
    for (const id of [...this.subscriptions.keys()]) this.unsubscribeById(id);
  }

  private changed(c: Change): void {
    if (this.subscriptions.size === 0) return;
    if (c.kind === "host") this.touched.hosts = true;
    else this.touched.types.add(formatServiceType(c.instance.type));
    if (this.pending !== undefined) return;
    this.pending = later("dns push gather", GATHER_MS, () => {
      this.pending = undefined;
      const t = this.touched;
      this.touched = { types: new Set(), hosts: false };
      // only what a change can have moved: a type's names, a host's addresses, the list of types
      this.compare(
        [...this.subscriptions.values()].filter(
          (s) =>
            (s.serviceType !== undefined && t.types.has(s.serviceType)) ||
            (s.kind === "host" && t.hosts) ||
            (s.kind === "services" && t.types.size > 0),
        ),
      );
    });
  }

  private answer(q: { name: Labels; type: number; class: number }) {
    return answerQuery(
      { id: 0, opcode: Opcode.QUERY, rd: false, cd: false, question: q },
      this.deps.registry,
      this.deps.answer,
      this.deps.clock.now(),
    );
  }

  /** Each subscription's records now against what was pushed: one PUSH with the differences. */
  private compare(subs: readonly Subscription[]): void {
    const added: ResourceRecord[] = [];
    const removed: ResourceRecord[] = [];
    const updated: [Subscription, Map<string, ResourceRecord>, boolean][] = [];
    for (const s of subs) {
      const res = this.answer(s);
      // a ring still being built (SERVFAIL, Not Ready) says nothing: what was pushed stands until it answers
      if (res.rcode === Rcode.SERVFAIL) continue;
      const now = new Map(res.answers.map((r) => [identity(r), r]));
      const before = added.length + removed.length;
      for (const [k, r] of s.held) if (!now.has(k)) removed.push(r);
      for (const [k, r] of now) if (!s.held.has(k)) added.push(r);
      updated.push([s, now, added.length + removed.length > before]);
    }
    const messages = encodePushes(added, removed);
    // held only once its PUSH exists: a change that could not be encoded is tried again at the next one
    for (const [s, now, changed] of updated) {
      this.budget.records += now.size - s.held.size;
      s.held = now;
      if (changed) s.pushes++;
    }
    for (const m of messages) this.send(m);
  }
}
