// The DNS Push sessions of a process hear registry changes through one
// listener, and a question many sessions follow is answered once per change,
// not once per session: 200 sessions browsing a type cost one answerQuery
// when it changes. The sessions keep what each was last pushed, as the very
// answer object they were given, so the difference from the old answer to the
// new one is also worked out once for all who held the same old one.
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

/** A session as the fan-out sees it: told which questions can have moved. */
export interface FanoutMember {
  refresh(touched: Touched): void;
}

/** A record's identity whatever its TTL (a lease counting down is no change). */
function identity(r: ResourceRecord): string {
  return JSON.stringify([r.name.map((l) => l.toLowerCase()), r.class ?? Class.IN, r.data]);
}

export class PushFanout {
  private readonly members = new Set<FanoutMember>();
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

  /** `m` is told of changes from now on; the registry is listened to while anyone is. */
  join(m: FanoutMember): void {
    this.members.add(m);
    this.unlisten ??= this.registry.onChange((c) => this.changed(c));
  }

  leave(m: FanoutMember): void {
    this.members.delete(m);
    if (this.members.size > 0) return;
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
    const answer = new SharedAnswer(new Map(res.answers.map((r) => [identity(r), r])));
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
      for (const m of [...this.members]) {
        // one session's fault (a frontend's bug) must not keep the change from the others
        try {
          m.refresh(t);
        } catch (err) {
          reportInternalError("dns push refresh", err);
        }
      }
    });
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
