// Key files as BIND and Knot write them, comments included.
import { describe, expect, it } from "vitest";
import { formatKeyFile, generateKey, parseKeyFile } from "../../src/update/keys.js";

describe("parseKeyFile", () => {
  it("keeps a secret whole when its base64 contains // or # (found as a 1-in-100 flaky interop test)", () => {
    const secret = Buffer.from("ff".repeat(2) + "fbff" + "00".repeat(26), "hex"); // base64 "//v/AAAA…"
    const text = `# a comment\nkey "k" { // another\n\talgorithm hmac-sha256; /* and a block */\n\tsecret "${secret.toString("base64")}";\n};\n`;
    expect(secret.toString("base64")).toContain("//");
    const [key] = parseKeyFile(text, "k.key");
    expect(Buffer.compare(key!.secret, secret)).toBe(0);
  });

  it("reads back what formatKeyFile writes, for many random keys", () => {
    for (let i = 0; i < 500; i++) {
      const k = generateKey("ringdns-key");
      expect(parseKeyFile(formatKeyFile(k), "k.key")[0]!.secret.toString("base64")).toBe(k.secret.toString("base64"));
    }
  });
});
