// Writes docs/hash-vectors.json: the ring's hash function pinned as data, for
// clients in other languages and for test/ring/vectors.test.ts.
//   npx tsx scripts/hash-vectors.ts > docs/hash-vectors.json
import { base32hexEncode, hashKeyFromLabels, parseName } from "../src/names.js";
import { instancePoints, keyPosition, positionHex } from "../src/ring/hash.js";
import { DEFAULT_POINTS_PER_WEIGHT, Ring } from "../src/ring/ring.js";

export function hashVectors() {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const binary = [Uint8Array.of(0, 1, 2, 0xff), new TextEncoder().encode("Case Sensitive Key")];
  const keyNames = ["user42", "User42.EU", "ключ", "a", ...binary.map((b) => "b32-" + base32hexEncode(b))];
  const keys = keyNames.map((name) => {
    const key = hashKeyFromLabels(parseName(name));
    if (typeof key === "string") throw new Error(key);
    return { name, keyBytesHex: hex(key), position: positionHex(keyPosition(key)) };
  });
  const pts = instancePoints("alpha", 8);
  const alphaPoints = Array.from(pts.hi, (hi, i) => positionHex({ hi, lo: pts.lo[i]! }));
  const members = [
    { id: "alpha", weight: 1 },
    { id: "beta", weight: 1 },
    { id: "gamma", weight: 2 },
  ];
  const ownerKeys = Array.from({ length: 24 }, (_, i) => `key-${i}`);
  const tiny = Ring.build(members, { pointsPerWeight: 2 });
  const full = Ring.build(members);
  return {
    description: "ringdns ring test vectors; see docs/hash.md",
    keys,
    instancePoints: { identity: "alpha", first8: alphaPoints },
    rings: [
      { pointsPerWeight: 2, members, owners: Object.fromEntries(ownerKeys.map((k) => [k, tiny.ownerOf(k)])) },
      { pointsPerWeight: DEFAULT_POINTS_PER_WEIGHT, members, owners: Object.fromEntries(ownerKeys.map((k) => [k, full.ownerOf(k)])) },
    ],
  };
}

if (process.argv[1]?.endsWith("hash-vectors.ts")) process.stdout.write(JSON.stringify(hashVectors(), null, 2) + "\n");
