// A fresh TSIG key in a BIND key file (mode 0600, in a directory of its own), as `ringdns keygen --out` writes one.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatKeyFile, generateKey } from "../../src/update/keys.js";
import type { TsigAlgorithm, TsigKey } from "../../src/wire/tsig.js";

export interface KeyOnDisk {
  key: TsigKey;
  /** The key file's path, for --key-file, nsupdate -k and knsupdate -k. */
  file: string;
  /** The secret in base64, for `-y alg:name:secret` and for checking it never shows in a log. */
  secret: string;
}

export function writeKeyFile(name: string, algorithm: TsigAlgorithm = "hmac-sha256"): KeyOnDisk {
  const key = generateKey(name, algorithm);
  const file = join(mkdtempSync(join(tmpdir(), "ringdns-key-")), `${name}.key`);
  writeFileSync(file, formatKeyFile(key), { mode: 0o600 });
  return { key, file, secret: key.secret.toString("base64") };
}
