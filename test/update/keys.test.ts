// Key files as BIND and Knot write them, comments included.
import { describe, expect, it } from "vitest";
import { formatKeyFile, generateKey, parseKeyFile, parseKeySpec } from "../../src/update/keys.js";

describe("parseKeyFile", () => {
  it("keeps a secret whole when its base64 contains // or # (found as a 1-in-100 flaky interop test)", () => {
    const secret = Buffer.from(`${"ff".repeat(2)}fbff${"00".repeat(26)}`, "hex"); // base64 "//v/AAAA…"
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

describe("bad key material", () => {
  const secret = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ"; // base64 of a secret that must never be shown
  const cases: [string, () => unknown, RegExp][] = [
    [
      "Knot line, unknown algorithm",
      () => parseKeyFile(`hmac-sha999:k:${secret}\n`, "k.key"),
      /^k\.key: key "k": algorithm "hmac-sha999" is not one of/,
    ],
    [
      "Knot line, secret not base64",
      () => parseKeyFile(`hmac-sha256:k:${secret}!!\n`, "k.key"),
      /^k\.key: key "k": secret is not valid base64/,
    ],
    [
      "Knot line, base64 with a stray character",
      () => parseKeyFile(`hmac-sha256:k:${secret.slice(0, 8)}*${secret.slice(8)}\n`, "k.key"),
      /^k\.key: key "k": secret is not valid base64/,
    ],
    [
      "BIND block, secret not base64",
      () => parseKeyFile(`key "k" { algorithm hmac-sha256; secret "${secret}%%"; };`, "k.key"),
      /^k\.key: key "k": secret is not valid base64/,
    ],
    ["unrecognised file", () => parseKeyFile(`k ${secret}`, "k.key"), /^k\.key: no key "name"/],
    ["--key with an unknown algorithm", () => parseKeySpec(`sha1:k:${secret}`), /^--key: key "k": algorithm "sha1"/],
    [
      "--key with too many parts",
      () => parseKeySpec(`hmac-sha256:k:${secret}:x`),
      /^--key: expected \[algorithm:\]name:base64secret$/,
    ],
    ["--key with an empty secret", () => parseKeySpec("k:"), /^--key: expected/],
  ];
  it.each(cases)("%s: one line naming the key and the problem, and never the secret", (_, parse, message) => {
    let error: Error | undefined;
    try {
      parse();
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error!.message).not.toContain(secret.slice(0, 12));
  });

  it("still reads good keys in both forms", () => {
    expect(parseKeyFile(`hmac-sha512:k:${secret}\n`, "k.key")[0]!.algorithm).toBe("hmac-sha512");
    expect(parseKeySpec(`k:${secret}=`).secret.toString()).toBe("secret-that-must-never-be-logged");
  });
});
