// NameCompressor against the plain model it replaced (one map key per suffix):
// the same bytes for any run of names, rollbacks included, on both sides of
// the point where it starts indexing suffixes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Labels } from "../../src/names.js";
import { decodeName, NameCompressor } from "../../src/wire/name.js";

class SuffixMapModel {
  private readonly table = new Map<string, number>();
  private journal: string[] = [];
  write(buf: Buffer, offset: number, name: Labels, compress = true): number {
    for (let i = 0; i < name.length; i++) {
      const key = name
        .slice(i)
        .map((l) => `${l.length}:${l}`)
        .join("");
      const target = compress ? this.table.get(key) : undefined;
      if (target !== undefined) {
        buf.writeUInt16BE(0xc000 | target, offset);
        return offset + 2;
      }
      if (offset <= 0x3fff && !this.table.has(key)) {
        this.table.set(key, offset);
        this.journal.push(key);
      }
      const len = buf.write(name[i]!, offset + 1, "utf8");
      buf[offset] = len;
      offset += 1 + len;
    }
    buf[offset] = 0;
    return offset + 1;
  }
  mark(): number {
    return this.journal.length;
  }
  rollback(mark: number): void {
    for (const key of this.journal.splice(mark)) this.table.delete(key);
  }
}

type Step = { name: string[]; compress: boolean; keep: boolean };

/** Writes the steps; a step not kept is rolled back, as a record that does not fit is. */
function run(c: NameCompressor | SuffixMapModel, steps: Step[], start: number): { buf: Buffer; at: number[] } {
  const buf = Buffer.alloc(start + steps.length * 300);
  const at: number[] = [];
  let offset = start;
  for (const s of steps) {
    const mark = c.mark();
    const end = c.write(buf, offset, s.name, s.compress);
    if (s.keep) {
      at.push(offset);
      offset = end;
    } else c.rollback(mark);
  }
  return { buf: buf.subarray(0, offset), at };
}

const label = fc.constantFrom("a", "b", "A", "_tcp", "local", "x.y", "é", "\u0000");
const step = fc.record({
  name: fc.array(label, { minLength: 1, maxLength: 5 }),
  compress: fc.boolean(),
  keep: fc.integer({ min: 0, max: 3 }).map((x) => x > 0), // mostly kept, so runs pass the indexing point
});

describe("NameCompressor", () => {
  it("writes the bytes the suffix-map model writes, rollbacks included, for few names and for many", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120, size: "max" }), fc.constantFrom(12, 0x3f00), (steps, start) => {
        const ours = run(new NameCompressor(), steps, start);
        const model = run(new SuffixMapModel(), steps, start);
        expect(ours.buf.equals(model.buf)).toBe(true);
        const kept = steps.filter((s) => s.keep);
        ours.at.forEach((at, i) => expect(decodeName(ours.buf, at).labels).toEqual(kept[i]!.name));
      }),
      { numRuns: 500 },
    );
  });

  it("points a repeated name at its first copy, case kept apart", () => {
    const c = new NameCompressor();
    const buf = Buffer.alloc(100);
    let o = c.write(buf, 12, ["alpha", "_x", "_tcp", "local"]);
    const before = o;
    o = c.write(buf, o, ["beta", "_x", "_tcp", "local"]);
    expect(buf.readUInt16BE(o - 2)).toBe(0xc000 | (12 + 6)); // "beta" then a pointer to "_x._tcp.local"
    const upper = c.write(buf, o, ["ALPHA", "_x", "_tcp", "local"]);
    expect(upper - o).toBe(6 + 2); // a differently spelled label is written out
    expect(before).toBeGreaterThan(12);
  });
});
