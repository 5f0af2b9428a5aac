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
import { withRequestHeader } from "../wire/patch.js";

export class AnswerCache {
  private readonly entries = new Map<
    string,
    { wire: Buffer; serial: number; until: number; type?: { key: string; version: number } }
  >();

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
    if (this.entries.size >= this.maxEntries) this.entries.clear(); // crude, bounded, and rare
    const until = type?.timeless ? Infinity : now + 1000;
    this.entries.set(
      key,
      type ? { wire, serial, until, type: { key: type.key, version: type.version } } : { wire, serial, until },
    );
  }
}
