// Files that flags name (a CA, a key, a password, a token): read with one
// line saying which flag and why when they cannot be.
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { RingdnsError } from "./errors.js";

/** A file a flag names (a CA, a key, a password, a token): its bytes, or one line saying why not. */
export function readSettingFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `${flag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** The HTTP bearer token: the file's first line. */
export function readToken(file: string): string {
  const token = readSettingFile("--http-token-file", file).toString("utf8").split(/\r?\n/)[0]!.trim();
  if (token.length < 16)
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `--http-token-file: ${file}: the token must be at least 16 characters (e.g. openssl rand -hex 32 > ${file})`,
    );
  return token;
}

/** The certificate chain and key for DNS over TLS, read and checked to belong together (one line saying why not). */
export function readTlsCredentials(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readSettingFile("--tls-cert", certFile);
  const key = readSettingFile("--tls-key", keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `--tls-cert ${certFile} / --tls-key ${keyFile}: ${(e as Error).message} (PEM certificate chain and its private key)`,
    );
  }
  return { cert, key };
}
