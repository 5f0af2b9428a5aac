// Encoded replies, reused. A reply depends on the question as spelled (case
// is echoed), the size limit, EDNS, the transport (TCP keeps the part of a
// cut answer that fits), the registry's state and, through lease TTLs, the
// clock; so an entry is keyed by the first four, dropped when the
// registry serial moves, and lives one second at most. The ID and the RD/CD
// bits are patched into a copy for each request.
//
// The name is keyed as length-prefixed labels, like its wire form, so no two
// questions share a key: a label may hold any byte, "\0" and "." included.
// Case is kept, not folded: the reply echoes the spelling it was asked in.
//
// A reply is kept only when its question was already asked within the last
// second (a doorkeeper, as in TinyLFU): at 5,000 qps of names asked about once
// a second or less, keeping every reply held thousands of entries past each
// young-generation collection, only to promote them and drop them unused. That
// doubled the scavenge pauses (~2 ms instead of ~1 at 100,000 registrations)
// and grew the old space toward full collections. A name asked twice a second
// or more, the one a cache helps, is kept from its second ask.
import { withRequestHeader } from "../wire/patch.js";

/** Questions remembered for admission: fingerprints in a fixed table, no allocation per question. */
const SEEN_SLOTS = 1 << 14;
/** How long a question is remembered: an entry lives this long at most, so an ask further apart would miss anyway. */
const ENTRY_LIFE_MS = 1000;

export class AnswerCache {
  private readonly entries = new Map<
    string,
    { wire: Buffer; serial: number; until: number; type?: { key: string; version: number } }
  >();

  /** Slot (fingerprint's low bits) → the fingerprint last asked there, and when. */
  private readonly seen = new Int32Array(SEEN_SLOTS);
  private readonly seenAt = new Float64Array(SEEN_SLOTS).fill(Number.NEGATIVE_INFINITY);

  constructor(private readonly maxEntries = 10_000) {}

  /** `ednsVersion` undefined = no EDNS (the reply then has no OPT). */
  static key(
    question: { name: readonly string[]; type: number; class: number },
    limit: number,
    ednsVersion: number | undefined,
    transport: "udp" | "tcp" = "udp",
    dnssecOk = false,
  ): string {
    let name = "";
    for (const label of question.name) name += `${label.length}:${label}`;
    // DO is copied into the reply's OPT (RFC 3225 §3): replies with and without it differ
    return `${transport}|${limit}|${ednsVersion ?? "-"}${dnssecOk ? "+do" : ""}|${question.type}|${question.class}|${name}`;
  }

  /** `typeVersion`: the current counter of a service type, for entries stored with one (see set). */
  get(
    key: string,
    serial: number,
    now: number,
    id: number,
    rd: boolean,
    cd: boolean,
    typeVersion?: (typeKey: string) => number,
  ): Buffer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const current = e.type
      ? typeVersion !== undefined && typeVersion(e.type.key) === e.type.version
      : e.serial === serial;
    if (!current || e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return withRequestHeader(e.wire, id, rd, cd);
  }

  /**
   * `type`: the reply depends on one service type alone (a browse too large
   * for one message), so it stays while that type's counter does not move,
   * however the serial does; `timeless` (no lease TTLs in it): with no one-second limit either.
   */
  set(
    key: string,
    wire: Buffer,
    serial: number,
    now: number,
    type?: { key: string; version: number; timeless: boolean },
  ): void {
    // a cut browse is costly to build and lives until its type changes: kept at once
    if (!type && !this.askedAgain(key, now)) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear(); // crude, bounded, and rare
    const until = type?.timeless ? Infinity : now + ENTRY_LIFE_MS;
    this.entries.set(
      key,
      type ? { wire, serial, until, type: { key: type.key, version: type.version } } : { wire, serial, until },
    );
  }

  /** Whether `key` was asked within the last second; notes this ask either way. */
  private askedAgain(key: string, now: number): boolean {
    let h = 0x811c9dc5; // FNV-1a over the key's UTF-16 code units
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const slot = h & (SEEN_SLOTS - 1);
    const again = this.seen[slot] === h && now - this.seenAt[slot]! <= ENTRY_LIFE_MS;
    this.seen[slot] = h;
    this.seenAt[slot] = now;
    return again;
  }
}
