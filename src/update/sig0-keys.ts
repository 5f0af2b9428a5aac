// SIG(0) key pairs in BIND's files (K<name>.+<alg>+<tag>.key / .private, as
// `dnssec-keygen -T KEY` writes them): `ringdns keygen --algorithm
// ecdsa-p256` makes one, `nsupdate -k` and `ringdns register --srp` sign with it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RingdnsError } from "../errors.js";
import { formatName, parseName } from "../names.js";
import { encodeKeyRdata, KeyAlgorithm, keyTag, type KeyAlgorithmNumber, type Sig0Signer } from "../wire/sig0.js";

/** Algorithm names `ringdns keygen --algorithm` takes, as in BIND's files. */
export const SIG0_ALGORITHMS: Record<string, KeyAlgorithmNumber> = {
  "ecdsa-p256": KeyAlgorithm.ECDSAP256SHA256,
  ecdsap256sha256: KeyAlgorithm.ECDSAP256SHA256,
  ed25519: KeyAlgorithm.ED25519,
};

const BIND_NAMES: Record<KeyAlgorithmNumber, string> = { 13: "ECDSAP256SHA256", 15: "ED25519" };

/** KEY flags of a host key (RFC 2535 §3.1.2: name type 10, "entity"), as `dnssec-keygen -T KEY -n HOST` sets. */
export const HOST_KEY_FLAGS = 0x0200;

export function generateSig0Key(name: string, algorithm: KeyAlgorithmNumber): Sig0Signer {
  const labels = parseName(name);
  // The pair comes back encoded, not as KeyObjects: on Node 20 exporting a
  // generated KeyObject can deadlock when a collection during the export frees
  // the (unreachable) generation job, which shares the key's mutex; the SRP
  // bench hung so after a few thousand keys.
  const publicKeyEncoding = { type: "spki", format: "der" } as const;
  const privateKeyEncoding = { type: "pkcs8", format: "der" } as const;
  const pair =
    algorithm === KeyAlgorithm.ECDSAP256SHA256
      ? generateKeyPairSync("ec", { namedCurve: "P-256", publicKeyEncoding, privateKeyEncoding })
      : generateKeyPairSync("ed25519", { publicKeyEncoding, privateKeyEncoding });
  return {
    key: { flags: HOST_KEY_FLAGS, protocol: 3, algorithm, publicKey: spkiKeyBytes(pair.publicKey, algorithm) },
    privateKey: createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
    name: labels,
  };
}

/** The key at the end of an SPKI: P-256's X ‖ Y (after the 0x04 of an uncompressed point), Ed25519's 32 bytes. */
function spkiKeyBytes(spki: Buffer, algorithm: KeyAlgorithmNumber): Buffer {
  return Buffer.from(spki.subarray(spki.length - (algorithm === KeyAlgorithm.ECDSAP256SHA256 ? 64 : 32)));
}

function publicKeyBytes(k: KeyObject, algorithm: KeyAlgorithmNumber): Buffer {
  return spkiKeyBytes(k.export({ format: "der", type: "spki" }), algorithm);
}

/** `K<name>.+013+<tag>`: the base of both file names. */
export function sig0FileBase(s: Sig0Signer): string {
  const tag = keyTag(encodeKeyRdata(s.key));
  return `K${formatName(s.name)}+${String(s.key.algorithm).padStart(3, "0")}+${String(tag).padStart(5, "0")}`;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** The public file: one KEY record in zone-file form. */
export function formatSig0PublicFile(s: Sig0Signer): string {
  const tag = keyTag(encodeKeyRdata(s.key));
  return (
    `; SIG(0) key for ${formatName(s.name)}, ${BIND_NAMES[s.key.algorithm as KeyAlgorithmNumber]}, key tag ${tag}\n` +
    `${formatName(s.name)} IN KEY ${s.key.flags} ${s.key.protocol} ${s.key.algorithm} ${s.key.publicKey.toString("base64")}\n`
  );
}

/** The private file (BIND's Private-key-format v1.3). */
export function formatSig0PrivateFile(s: Sig0Signer, now = new Date()): string {
  const jwk = s.privateKey.export({ format: "jwk" });
  const alg = s.key.algorithm as KeyAlgorithmNumber;
  return [
    "Private-key-format: v1.3",
    `Algorithm: ${alg} (${BIND_NAMES[alg]})`,
    `PrivateKey: ${Buffer.from(jwk.d ?? "", "base64url").toString("base64")}`,
    `Created: ${stamp(now)}`,
    `Publish: ${stamp(now)}`,
    `Activate: ${stamp(now)}`,
    "",
  ].join("\n");
}

/**
 * Read a key pair from `path`: the .private or .key file, or their common
 * base; both files must be there. Errors name the file and what is wrong.
 */
export function loadSig0Key(path: string): Sig0Signer {
  const base = path.replace(/\.(private|key)$/, "");
  const pub = `${base}.key`;
  const priv = `${base}.private`;
  for (const f of [pub, priv])
    if (!existsSync(f))
      throw new RingdnsError(
        "RINGDNS_E_BAD_CONFIG",
        `SIG(0) key ${base}: ${f} is missing (ringdns keygen writes both files)`,
      );
  const record = readFileSync(pub, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith(";"));
  const m = record?.match(/^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?KEY\s+(\d+)\s+(\d+)\s+(\d+)\s+([A-Za-z0-9+/=\s]+)$/i);
  if (!m) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${pub}: no KEY record ("name IN KEY flags 3 alg base64")`);
  const algorithm = Number(m[4]);
  if (algorithm !== 13 && algorithm !== 15)
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${pub}: algorithm ${algorithm} (ringdns signs with 13 or 15)`);
  const publicKey = Buffer.from(m[5]!.replace(/\s/g, ""), "base64");
  const fields = new Map(
    readFileSync(priv, "utf8")
      .split("\n")
      .map((l) => l.match(/^([A-Za-z-]+):\s*(.*)$/))
      .filter((x): x is RegExpMatchArray => x !== null)
      .map((x) => [x[1]!.toLowerCase(), x[2]!.trim()]),
  );
  const d = fields.get("privatekey");
  if (!d || !fields.get("algorithm")?.startsWith(`${algorithm} `))
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${priv}: no PrivateKey for algorithm ${algorithm}`);
  const b64 = (b: Buffer) => b.toString("base64url");
  const dBytes = Buffer.from(d, "base64");
  let privateKey: KeyObject;
  try {
    privateKey =
      algorithm === 13
        ? createPrivateKey({
            key: {
              kty: "EC",
              crv: "P-256",
              x: b64(publicKey.subarray(0, 32)),
              y: b64(publicKey.subarray(32)),
              d: b64(dBytes),
            },
            format: "jwk",
          })
        : createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: b64(publicKey), d: b64(dBytes) }, format: "jwk" });
    // the pair must match: a .private from another key would sign what the server refuses
    if (!publicKeyBytes(createPublicKey(privateKey), algorithm).equals(publicKey)) throw new Error("mismatch");
  } catch {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${priv}: the private key does not match ${pub}`);
  }
  return {
    key: { flags: Number(m[2]), protocol: Number(m[3]), algorithm, publicKey },
    privateKey,
    name: parseName(m[1]!),
  };
}

/**
 * The key pair an SRP client keeps for host `name` in `dir`: the one there
 * (K<name>.+013+*.private), or a new ECDSA P-256 pair written there first. The
 * key is the host's identity: the registrar gives its names to it alone.
 */
export function srpKeyFor(name: string, dir: string): { signer: Sig0Signer; file: string; created: boolean } {
  const fqdn = formatName(parseName(name));
  const prefix = `K${fqdn}+013+`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const found = readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith(".private"));
  if (found) return { signer: loadSig0Key(join(dir, found)), file: join(dir, found), created: false };
  const signer = generateSig0Key(fqdn, KeyAlgorithm.ECDSAP256SHA256);
  return { signer, file: `${writeSig0Pair(signer, dir)}.private`, created: true };
}

/** Both files of `signer` into `dir` (the private one mode 0600; neither overwritten): their common base. */
export function writeSig0Pair(signer: Sig0Signer, dir: string): string {
  const base = join(dir, sig0FileBase(signer));
  writeFileSync(`${base}.private`, formatSig0PrivateFile(signer), { mode: 0o600, flag: "wx" });
  writeFileSync(`${base}.key`, formatSig0PublicFile(signer), { mode: 0o644, flag: "wx" });
  return base;
}
