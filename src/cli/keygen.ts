// `ringdns keygen NAME`: a new TSIG key in BIND's key-file format, or with
// --algorithm ecdsa-p256 / ed25519 a SIG(0) key pair (the kind SRP clients
// sign with) in the K<name>.+<alg>+<tag>.key / .private files BIND writes.
import { writeFileSync } from "node:fs";
import { parseSetting, RingdnsError } from "../errors.js";
import { formatKeyFile, generateKey, parseAlgorithm } from "../update/keys.js";
import { generateSig0Key, SIG0_ALGORITHMS, writeSig0Pair } from "../update/sig0-keys.js";

export function runKeygen(name: string, algorithm: string, out: string | undefined): number {
  const sig0 = SIG0_ALGORITHMS[algorithm.toLowerCase()];
  if (sig0 !== undefined) return makeSig0Pair(name, sig0, out ?? ".");
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

/** Both files into directory `dir`; their common base on standard output, as dnssec-keygen prints it. */
function makeSig0Pair(name: string, algorithm: 13 | 15, dir: string): number {
  const signer = parseSetting("<name>", () => generateSig0Key(name, algorithm));
  const base = parseSetting("--out", () => writeSig0Pair(signer, dir));
  process.stdout.write(`${base}\n`);
  process.stderr.write(`wrote SIG(0) key pair ${base}.key and .private (nsupdate -k ${base}.private)\n`);
  return 0;
}
