// Writes docs/hash-vectors.json: the ring's hash function pinned as data, for
// clients in other languages and for test/ring/vectors.test.ts.
//   npx tsx scripts/hash-vectors.ts > docs/hash-vectors.json
import { base32hexEncode, hashKeyFromLabels, parseName } from "../src/names.js";
import { hex32, instanceSeed, keySeed, mix32, sequenceAt } from "../src/ring/hash.js";
import { DEFAULT_POINTS_PER_WEIGHT, PROBES, Ring, type RingMember } from "../src/ring/ring.js";

export function hashVectors() {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const binary = [Uint8Array.of(0, 1, 2, 0xff), new TextEncoder().encode("Case Sensitive Key")];
  const keyNames = [
    "user42",
    "User42.EU",
    "ключ",
    "a",
    "a-key-long-enough-to-need-a-second-sha256-block-of-sixty-four-bytes",
    ...binary.map((b) => `b32-${base32hexEncode(b)}`),
  ];
  const keyBytes = (name: string) => {
    const key = hashKeyFromLabels(parseName(name));
    if (typeof key === "string") throw new Error(key);
    return key;
  };
  const keys = keyNames.map((name) => {
    const key = keyBytes(name);
    const seed = keySeed(key);
    return {
      name,
      keyBytesHex: hex(key),
      probes: Array.from({ length: PROBES }, (_, j) => hex32(sequenceAt(seed, j))),
    };
  });
  const instancePoints = [
    "alpha",
    "Ω-instance",
    "an instance label with spaces and dots. that runs past fifty-five bytes",
  ].map((identity) => {
    const seed = instanceSeed(identity);
    return {
      identity,
      weight: 1,
      first: Array.from({ length: DEFAULT_POINTS_PER_WEIGHT }, (_, j) => hex32(sequenceAt(seed, j))),
    };
  });
  const mixInputs = [0, 1, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff];
  const ownerKeys = [...Array.from({ length: 40 }, (_, i) => `key-${i}`), ...keyNames];
  const ring = (members: RingMember[], pointsPerWeight = DEFAULT_POINTS_PER_WEIGHT) => {
    const r = Ring.build(members, { pointsPerWeight });
    return {
      pointsPerWeight,
      members,
      owners: Object.fromEntries(ownerKeys.map((k) => [k, r.ownerOf(keyBytes(k))])),
      successors: Object.fromEntries(ownerKeys.slice(0, 12).map((k) => [k, r.successors(keyBytes(k), 4)])),
    };
  };
  return {
    description: "ringdns ring v2 test vectors; see docs/hash.md",
    version: 2,
    pointsPerWeight: DEFAULT_POINTS_PER_WEIGHT,
    probes: PROBES,
    mix: mixInputs.map((x) => [`0x${hex32(x)}`, `0x${hex32(mix32(x))}`]),
    keys,
    instancePoints,
    rings: [
      ring(
        [
          { id: "alpha", weight: 1 },
          { id: "beta", weight: 1 },
          { id: "gamma", weight: 2 },
        ],
        2,
      ),
      ring([
        { id: "alpha", weight: 1 },
        { id: "beta", weight: 0 },
        { id: "gamma", weight: 2 },
        { id: "ключ-инстанс", weight: 7 },
      ]),
      ring(Array.from({ length: 30 }, (_, i) => ({ id: `node-${i}`, weight: [0, 1, 3, 10, 100][i % 5]! }))),
    ],
  };
}

if (process.argv[1]?.endsWith("hash-vectors.ts")) process.stdout.write(`${JSON.stringify(hashVectors(), null, 2)}\n`);
