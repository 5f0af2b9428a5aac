// The DNS Push sessions of a process hear registry changes through one
// listener, and their subscriptions are held here by question: a question
// many sessions follow is answered once per change, not once per session (200
// sessions browsing a type cost one answerQuery when it changes), and its
// followers are looked at only when the answer moved. Each follower keeps
// what it was last pushed as the very answer object it was given, so the
// difference to the new answer is worked out, and encoded, once for all who
// held the same old one.
import type { Clock } from "../clock.js";
import { later, reportInternalError } from "../guard.js";
import { answerQuery, type AnswerOptions } from "../answer/answer.js";
import { formatServiceType, nameKey, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import type { Change } from "../registry/types.js";
import { Class, Opcode, Rcode } from "../wire/constants.js";
import type { ResourceRecord } from "../wire/message.js";

/** How long changes are gathered before subscriptions are compared, ms. */
const GATHER_MS = 5;
/** An answer is reused while no change came and for at most this long (its TTLs count down), ms. */
const ANSWER_REUSE_MS = 1000;

/** Records by identity (a record whatever its TTL). Shared between sessions: never changed once made. */
export type Held = ReadonlyMap<string, ResourceRecord>;
/** What a subscription holds before its first PUSH. */
export const NOTHING_HELD: Held = new Map();

/** A question as the fan-out sees it: what it is and which changes can move its answer. */
export interface Followed {
  name: Labels;
  type: number;
  class: number;
  /** The service type its records come from (undefined: a host's addresses, or the list of types). */
  serviceType: string | undefined;
  kind: string;
}

/** What changed since the last comparison: which subscriptions can have moved. */
export interface Touched {
  types: ReadonlySet<string>;
  hosts: boolean;
}

/** A question's identity: its type, class and name whatever the letters' case. */
export function questionKey(q: { name: Labels; type: number; class: number }): string {
  return `${q.type}/${q.class}/${nameKey(q.name)}`;
}

/** Only what a change can have moved: a type's names, a host's addresses, the list of types. */
export function canHaveMoved(f: Followed, t: Touched): boolean {
  return (
    (f.serviceType !== undefined && t.types.has(f.serviceType)) ||
    (f.kind === "host" && t.hosts) ||
    (f.kind === "services" && t.types.size > 0)
  );
}

export interface Difference {
  added: readonly ResourceRecord[];
  removed: readonly ResourceRecord[];
}

/** A question's answer now, shared by every session that follows it. */
export class SharedAnswer {
  /** Differences from an older answer, by that answer: worked out once for all who held it. */
  private readonly differences = new WeakMap<Held, Difference>();
  constructor(readonly records: Held) {}

  from(held: Held): Difference {
    let d = this.differences.get(held);
    if (!d) {
      const removed: ResourceRecord[] = [];
      const added: ResourceRecord[] = [];
      for (const [k, r] of held) if (!this.records.has(k)) removed.push(r);
      for (const [k, r] of this.records) if (!held.has(k)) added.push(r);
      d = { added, removed };
      this.differences.set(held, d);
    }
    return d;
  }
}

/** A subscription as the fan-out holds it: its question, and what it was last pushed. */
export interface Follower extends Followed {
  /** Its question's identity (questionKey). */
  readonly key: string;
  held: Held;
}

/** What one follower moved by in a gather: from its `held` to `now`. */
export interface Moved {
  follower: Follower;
  now: Held;
  difference: Difference;
}

/** A session as the fan-out sees it: after a gather, what its followers moved by (at most one call a gather). */
export interface FanoutMember {
  moved(changes: readonly Moved[]): void;
}

/** One question and everyone following it, in every session. */
interface Question {
  readonly q: Followed;
  readonly key: string;
  readonly followers: Map<Follower, FanoutMember>;
  /** The answer the followers were last brought to. */
  current: SharedAnswer | undefined;
  /** Every follower holds `current` (none joined since the last gather): an unchanged answer needs no look at them. */
  settled: boolean;
}

/** A record's identity whatever its TTL (a lease counting down is no change). */
function identity(r: ResourceRecord): string {
  return JSON.stringify([r.name.map((l) => l.toLowerCase()), r.class ?? Class.IN, r.data]);
}

function sameRecords(a: Held, b: Held): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

export class PushFanout {
  private readonly questions = new Map<string, Question>();
  /** The questions about a service type's names, by type: what a change to the type can move. */
  private readonly byType = new Map<string, Set<Question>>();
  /** The others (a host's addresses, the list of types). */
  private readonly untyped = new Set<Question>();
  private unlisten: (() => void) | undefined;
  private pending: NodeJS.Timeout | undefined;
  private touched: { types: Set<string>; hosts: boolean } = { types: new Set(), hosts: false };
  /** Answers made since the last change, by question. */
  private readonly answers = new Map<string, { at: number; answer: SharedAnswer }>();
  /** Answers worked out (not reused) since the fan-out was made: what sharing saves shows here. */
  answersComputed = 0;

  constructor(
    private readonly registry: Registry,
    private readonly options: AnswerOptions,
    private readonly clock: Clock,
  ) {}

  /** `f`, a subscription of `m`, is brought up to date after each change that can move it; the registry is listened to while anyone follows. */
  follow(f: Follower, m: FanoutMember): void {
    let question = this.questions.get(f.key);
    if (!question) {
      const q = { name: f.name, type: f.type, class: f.class, serviceType: f.serviceType, kind: f.kind };
      question = { q, key: f.key, followers: new Map(), current: undefined, settled: false };
      this.questions.set(f.key, question);
      if (f.serviceType === undefined) this.untyped.add(question);
      else {
        let same = this.byType.get(f.serviceType);
        if (!same) this.byType.set(f.serviceType, (same = new Set()));
        same.add(question);
      }
    }
    question.followers.set(f, m);
    question.settled = false;
    this.unlisten ??= this.registry.onChange((c) => this.changed(c));
  }

  unfollow(f: Follower): void {
    const question = this.questions.get(f.key);
    if (!question?.followers.delete(f) || question.followers.size > 0) return;
    this.questions.delete(f.key);
    if (f.serviceType === undefined) this.untyped.delete(question);
    else {
      const same = this.byType.get(f.serviceType);
      same?.delete(question);
      if (same?.size === 0) this.byType.delete(f.serviceType);
    }
    if (this.questions.size > 0) return;
    this.unlisten?.();
    this.unlisten = undefined;
    clearTimeout(this.pending);
    this.pending = undefined;
    this.answers.clear();
  }

  /** The answer to `q` (whose questionKey is `key`) now; undefined while it says nothing (SERVFAIL: a ring still being built). */
  answer(q: { name: Labels; type: number; class: number }, key = questionKey(q)): SharedAnswer | undefined {
    const now = this.clock.now();
    const kept = this.answers.get(key);
    if (kept && now - kept.at < ANSWER_REUSE_MS && now >= kept.at) return kept.answer;
    this.answersComputed++;
    const res = answerQuery(
      { id: 0, opcode: Opcode.QUERY, rd: false, cd: false, question: q },
      this.registry,
      this.options,
      now,
    );
    // what was pushed stands until it answers (and a ring's build landing is no change: not kept)
    if (res.rcode === Rcode.SERVFAIL) return undefined;
    const records = new Map(res.answers.map((r) => [identity(r), r]));
    // the same records as the followers were brought to: the same object, so each of them sees at once that nothing moved
    const current = this.questions.get(key)?.current;
    const answer = current && sameRecords(current.records, records) ? current : new SharedAnswer(records);
    this.answers.set(key, { at: now, answer });
    return answer;
  }

  private changed(c: Change): void {
    this.answers.clear(); // made before this change: none may be given again
    if (c.kind === "host") this.touched.hosts = true;
    else this.touched.types.add(formatServiceType(c.instance.type));
    if (this.pending !== undefined) return;
    this.pending = later("dns push gather", GATHER_MS, () => {
      this.pending = undefined;
      const t = this.touched;
      this.touched = { types: new Set(), hosts: false };
      this.gather(t);
    });
  }

  /** Each question the changes can have moved answered once; those of its followers that hold something else, told. */
  private gather(t: Touched): void {
    const candidates: Question[] = [];
    for (const type of t.types) {
      const same = this.byType.get(type);
      if (same) candidates.push(...same);
    }
    for (const question of this.untyped) if (canHaveMoved(question.q, t)) candidates.push(question);
    const bySession = new Map<FanoutMember, Moved[]>();
    const settling: Question[] = [];
    for (const question of candidates) {
      const now = this.answer(question.q, question.key);
      if (!now || (now === question.current && question.settled)) continue;
      question.current = now;
      question.followers.forEach((member, follower) => {
        if (follower.held === now.records) return;
        let list = bySession.get(member);
        if (!list) bySession.set(member, (list = []));
        list.push({ follower, now: now.records, difference: now.from(follower.held) });
      });
      settling.push(question);
    }
    let faults = 0;
    for (const [member, list] of bySession) {
      // one session's fault (a frontend's bug) must not keep the change from the others
      try {
        member.moved(list);
      } catch (err) {
        faults++;
        reportInternalError("dns push fan-out", err);
      }
    }
    if (faults === 0) for (const question of settling) question.settled = true;
  }
}

const fanouts = new WeakMap<Registry, WeakMap<AnswerOptions, PushFanout>>();

/** The fan-out of the sessions that answer from `registry` with `options` (one per daemon). */
export function fanoutFor(registry: Registry, options: AnswerOptions, clock: Clock): PushFanout {
  let byOptions = fanouts.get(registry);
  if (!byOptions) fanouts.set(registry, (byOptions = new WeakMap()));
  let f = byOptions.get(options);
  if (!f) byOptions.set(options, (f = new PushFanout(registry, options, clock)));
  return f;
}
