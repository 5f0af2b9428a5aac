// `ringdns keygen NAME`: a new TSIG key in BIND's key-file format.
import { writeFileSync } from "node:fs";
import { parseSetting, RingdnsError } from "../errors.js";
import { formatKeyFile, generateKey, parseAlgorithm } from "../update/keys.js";

export function runKeygen(name: string, algorithm: string, out: string | undefined): number {
  const alg = parseAlgorithm(algorithm);
  if (!alg) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--algorithm: "${algorithm}" is not supported`);
  const key = parseSetting("<name>", () => generateKey(name, alg));
  const text = formatKeyFile(key);
  if (!out) {
    process.stdout.write(text);
    return 0;
  }
  parseSetting("--out", () => writeFileSync(out, text, { mode: 0o600, flag: "wx" }));
  process.stderr.write(`wrote key "${name}" (${alg}) to ${out}\n`);
  return 0;
}
