// Encoded replies, reused. A reply depends on the question as spelled (case
// is echoed), the size limit, EDNS, the registry's state and, through lease
// TTLs, the clock; so an entry is keyed by the first three, dropped when the
// registry serial moves, and lives one second at most. The ID and the RD/CD
// bits are patched into a copy for each request.
//
// The name is keyed as length-prefixed labels, like its wire form, so no two
// questions share a key: a label may hold any byte, "\0" and "." included.
// Case is kept, not folded: the reply echoes the spelling it was asked in.
export class AnswerCache {
  private readonly entries = new Map<string, { wire: Buffer; serial: number; until: number }>();

  constructor(private readonly maxEntries = 10_000) {}

  /** `ednsVersion` undefined = no EDNS (the reply then has no OPT). */
  static key(question: { name: readonly string[]; type: number; class: number }, limit: number, ednsVersion: number | undefined): string {
    let name = "";
    for (const label of question.name) name += `${label.length}:${label}`;
    return `${limit}|${ednsVersion ?? "-"}|${question.type}|${question.class}|${name}`;
  }

  get(key: string, serial: number, now: number, id: number, rd: boolean, cd: boolean): Buffer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.serial !== serial || e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    const out = Buffer.allocUnsafe(e.wire.length);
    e.wire.copy(out);
    out.writeUInt16BE(id, 0);
    out[2] = (out[2]! & ~0x01) | (rd ? 0x01 : 0); // RD and CD are copied from the request
    out[3] = (out[3]! & ~0x10) | (cd ? 0x10 : 0);
    return out;
  }

  set(key: string, wire: Buffer, serial: number, now: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear(); // crude, bounded, and rare
    this.entries.set(key, { wire, serial, until: now + 1000 });
  }
}
