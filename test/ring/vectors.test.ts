// docs/hash-vectors.json pins the hash function: if this fails, every client's
// owners would change. Regenerate only on purpose (scripts/hash-vectors.ts).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hashVectors } from "../../scripts/hash-vectors.js";
import { missingTool } from "../lab/tools.js";

const committed = JSON.parse(readFileSync("docs/hash-vectors.json", "utf8"));

describe("hash test vectors", () => {
  it("the implementation reproduces docs/hash-vectors.json", () => {
    expect(hashVectors()).toEqual(committed);
  });

  it.skipIf(missingTool("python3"))("the Python reference in docs/ reproduces them too", () => {
    const out = execFileSync("python3", ["docs/ring_reference.py", "docs/hash-vectors.json"], { encoding: "utf8" });
    expect(out.trim()).toBe("ok");
  });
});

describe("the one-block SHA-256 used for keys", () => {
  it("equals node:crypto's SHA-256 for every length it takes", async () => {
    const fc = (await import("fast-check")).default;
    const { sha256, sha256OneBlockFirst8 } = await import("../../src/ring/hash.js");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 55 }), (m) => {
        const d = sha256(m);
        expect(sha256OneBlockFirst8(m)).toEqual({ hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) });
      }),
      { numRuns: 2000 },
    );
  });

  it("a key given as a string hashes its UTF-8 bytes, whatever its characters and length", async () => {
    const fc = (await import("fast-check")).default;
    const { sha256, keySeed } = await import("../../src/ring/hash.js");
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (k) => {
        const d = sha256(Buffer.from(k, "utf8"));
        expect(keySeed(k)).toEqual({ hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) });
      }),
      { numRuns: 3000 },
    );
  });

  it("an ASCII key (four characters to a word) hashes as its bytes, at every length and with any non-ASCII character in it", async () => {
    const fc = (await import("fast-check")).default;
    const { sha256, keySeed, keySeedInto } = await import("../../src/ring/hash.js");
    const out = new Int32Array(2);
    fc.assert(
      fc.property(
        fc.string({ unit: "binary-ascii", maxLength: 64 }),
        fc.option(fc.tuple(fc.nat(), fc.string({ unit: "binary", minLength: 1, maxLength: 1 }))),
        (ascii, insert) => {
          // one character of any kind at any place, or none
          const at = insert ? insert[0] % (ascii.length + 1) : 0;
          const k = insert ? ascii.slice(0, at) + insert[1] + ascii.slice(at) : ascii;
          const d = sha256(Buffer.from(k, "utf8"));
          expect(keySeed(k)).toEqual({ hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) });
          keySeedInto(k, out);
          expect([out[0], out[1]]).toEqual([d.readInt32BE(0), d.readInt32BE(4)]);
          keySeedInto(Buffer.from(k, "utf8"), out);
          expect([out[0], out[1]]).toEqual([d.readInt32BE(0), d.readInt32BE(4)]);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
