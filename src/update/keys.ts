// TSIG keys in BIND's key-file format, so the same file works with
// `nsupdate -k FILE`, `knsupdate -k FILE` and `ringdns serve --key-file FILE`:
//
//   key "ringdns-key" {
//       algorithm hmac-sha256;
//       secret "base64…";
//   };
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { RingdnsError } from "../errors.js";
import { formatName, lowerAscii, parseName } from "../names.js";
import { TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from "../wire/tsig.js";

const KEY_BLOCK = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}\s*;?/g;
const ALIASES: Record<string, TsigAlgorithm> = { "hmac-md5": "hmac-md5.sig-alg.reg.int" };

export function parseAlgorithm(text: string): TsigAlgorithm | undefined {
  const a = lowerAscii(text.replace(/\.$/, ""));
  if (a in TSIG_ALGORITHMS) return a as TsigAlgorithm;
  return ALIASES[a];
}

/** Every key in a BIND key file (a file may hold several). */
export function parseKeyFile(text: string, file: string): TsigKey[] {
  const bad = (msg: string): never => {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${file}: ${msg}`);
  };
  // comments go, quoted strings stay whole: a base64 secret may contain "//"
  const stripped = text.replace(/"(?:[^"\\]|\\.)*"|#.*$|\/\/.*$|\/\*[\s\S]*?\*\//gm, (m) =>
    m.startsWith('"') ? m : "",
  );
  const keys: TsigKey[] = [];
  for (const m of stripped.matchAll(KEY_BLOCK)) {
    const name = m[1]!;
    const body = m[2]!;
    const alg = /algorithm\s+"?([^";\s]+)"?\s*;/.exec(body)?.[1];
    const secret = /secret\s+"([^"]+)"\s*;/.exec(body)?.[1];
    if (!alg) bad(`key "${name}": no algorithm`);
    const algorithm = parseAlgorithm(alg!);
    if (!algorithm) bad(`key "${name}": algorithm "${alg}" is not one of ${Object.keys(TSIG_ALGORITHMS).join(", ")}`);
    if (!secret) bad(`key "${name}": no secret "…";`);
    keys.push({
      name: parseName(name).map(lowerAscii),
      algorithm: algorithm!,
      secret: decodeSecret(secret!, `${file}: key "${name}"`),
    });
  }
  // Knot's one-line form (knsupdate -k): [algorithm:]name:secret
  const line = stripped.trim();
  if (keys.length === 0 && /^[^\s:]+(:[^\s:]+){1,2}$/.test(line)) return [parseKeySpec(line, file)];
  // never quote the file: it may be a key in a form we did not recognise
  if (keys.length === 0)
    bad('no key "name" { algorithm …; secret "…"; }; block (or Knot\'s algorithm:name:secret line) found');
  return keys;
}

/** A key's base64 secret as bytes; `where` names the key in errors, which never quote the secret. */
function decodeSecret(text: string, where: string): Buffer {
  const compact = text.replace(/\s/g, "");
  const bytes = Buffer.from(compact, "base64");
  if (
    bytes.length === 0 ||
    !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) ||
    bytes.toString("base64").replace(/=+$/, "") !== compact.replace(/=+$/, "")
  ) {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${where}: secret is not valid base64`);
  }
  return bytes;
}

export function loadKeyFile(path: string): TsigKey[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${path}: cannot read: ${(e as Error).message}`);
  }
  return parseKeyFile(text, path);
}

/** `nsupdate -y` form: [alg:]name:secret; `where` is the flag or file it came from. Errors name the key, never the secret. */
export function parseKeySpec(spec: string, where = "--key"): TsigKey {
  const parts = spec.split(":");
  const [alg, name, secret] = parts.length === 3 ? parts : ["hmac-sha256", parts[0], parts[1]];
  const bad = (msg: string): never => {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${where}: ${msg}`);
  };
  if (parts.length < 2 || parts.length > 3 || !name || !secret) bad("expected [algorithm:]name:base64secret");
  const algorithm = parseAlgorithm(alg ?? "");
  if (!algorithm) bad(`key "${name}": algorithm "${alg}" is not one of ${Object.keys(TSIG_ALGORITHMS).join(", ")}`);
  return {
    name: parseName(name!).map(lowerAscii),
    algorithm: algorithm!,
    secret: decodeSecret(secret!, `${where}: key "${name}"`),
  };
}

/** A new key with a secret as long as the hash output (RFC 8945 §6). */
export function generateKey(name: string, algorithm: TsigAlgorithm = "hmac-sha256"): TsigKey {
  const bytes = { sha256: 32, sha512: 64, sha384: 48, sha224: 28, sha1: 20, md5: 16 }[TSIG_ALGORITHMS[algorithm]];
  return { name: parseName(name).map(lowerAscii), algorithm, secret: randomBytes(bytes) };
}

export function formatKeyFile(key: TsigKey): string {
  const name = formatName(key.name).replace(/\.$/, "");
  return `key "${name}" {\n\talgorithm ${key.algorithm === "hmac-md5.sig-alg.reg.int" ? "hmac-md5" : key.algorithm};\n\tsecret "${key.secret.toString("base64")}";\n};\n`;
}

/**
 * Every key a setting names (`--key-zone`) must be loaded: a typo there would
 * otherwise leave the real key unrestricted. Throws naming the setting and key.
 */
export function checkKeysNamed(keys: readonly TsigKey[], named: Iterable<string>, setting: string): void {
  const loaded = new Set(keys.map((k) => formatName(k.name)));
  for (const name of named) {
    if (!loaded.has(name)) {
      const have = loaded.size > 0 ? `loaded: ${[...loaded].join(", ")}` : "no --key-file is given";
      throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${setting}: key ${name} is not in any --key-file (${have})`);
    }
  }
}
