// A self-signed certificate for tests of the DNS-over-TLS listener.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** A self-signed P-256 certificate for 127.0.0.1 with common name `cn`, as `<prefix>cert.pem` / `<prefix>key.pem` in `dir`. */
export function makeCert(dir: string, prefix: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${prefix}cert.pem`);
  const key = join(dir, `${prefix}key.pem`);
  const r = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`);
  return { cert, key };
}
