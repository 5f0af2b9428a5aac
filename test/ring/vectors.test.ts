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
