// `ringdns register` and `ringdns deregister`: the client library on the command line.
import { deregister, register, type ServiceInstance } from "../client/registration.js";
import type { Server } from "../client/dns-client.js";
import { parseSetting, RingdnsError } from "../errors.js";
import { parseServiceType } from "../names.js";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadKeyFile, parseKeySpec } from "../update/keys.js";
import { loadSig0Key, srpKeyFor } from "../update/sig0-keys.js";
import type { Sig0Signer } from "../wire/sig0.js";
import type { TsigKey } from "../wire/tsig.js";

export interface ClientArgs {
  server: Server;
  domain: string;
  keyFile?: string;
  key?: string;
  tcp: boolean;
}

export function keyFrom(args: ClientArgs): TsigKey | undefined {
  if (args.keyFile && args.key) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", "--key-file and --key: give one");
  if (args.keyFile) {
    const keys = loadKeyFile(args.keyFile);
    if (keys.length > 1)
      throw new RingdnsError(
        "RINGDNS_E_BAD_CONFIG",
        `${args.keyFile}: holds ${keys.length} keys; the client signs with one`,
      );
    return keys[0];
  }
  return args.key ? parseKeySpec(args.key) : undefined;
}

const int = (flag: string, v: string | undefined, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${flag}: must be an integer ${min}-${max}, got "${v}"`);
  return n;
};

export interface RegisterArgs extends ClientArgs {
  type: string;
  instance: string;
  host: string;
  port: string;
  address: string[];
  txt: string[];
  subtype: string[];
  priority?: string;
  weight?: string;
  lease?: string;
  once: boolean;
  /** Register as an SRP client (RFC 9665), signing with the host's own key. */
  srp?: boolean;
  /** The key pair's .private file, or a directory to keep it in (made on first use). */
  srpKey?: string;
  keyLease?: string;
}

/** Where `register --srp` keeps host keys unless --srp-key says otherwise. */
export function defaultSrpKeyDir(): string {
  const base = process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config");
  return join(base, "ringdns", "srp-keys");
}

function srpSigner(a: RegisterArgs): Sig0Signer {
  if (a.keyFile || a.key)
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", "--srp signs with the host's own key: no --key-file or --key");
  if (a.address.length === 0)
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      "--srp: give the host's --address (an SRP host describes its addresses)",
    );
  const where = a.srpKey ?? defaultSrpKeyDir();
  if (where.endsWith(".private") || where.endsWith(".key")) return loadSig0Key(where);
  const host = `${a.host}.${a.domain.replace(/\.?$/, ".")}`;
  const k = srpKeyFor(host, where);
  process.stderr.write(`${k.created ? "made a new key for" : "signing as"} ${host} (${k.file})\n`);
  return k.signer;
}

export async function runRegister(a: RegisterArgs): Promise<number> {
  parseSetting("<type>", () => parseServiceType(a.type));
  const service: ServiceInstance = {
    instance: a.instance,
    type: a.type,
    host: a.host,
    port: int("--port", a.port, 0, 65535)!,
    addresses: a.address,
    txt: a.txt,
    subtypes: a.subtype,
    ...(a.priority !== undefined ? { priority: int("--priority", a.priority, 0, 65535)! } : {}),
    ...(a.weight !== undefined ? { weight: int("--weight", a.weight, 0, 65535)! } : {}),
  };
  const lease = int("--lease", a.lease, 1, 2 ** 31 - 1);
  const keyLease = int("--key-lease", a.keyLease, 1, 2 ** 31 - 1);
  const srp = a.srp ? { signer: srpSigner(a), ...(keyLease !== undefined ? { keyLease } : {}) } : undefined;
  const key = srp ? undefined : keyFrom(a);
  const options = {
    server: a.server,
    domain: a.domain,
    tcp: a.tcp,
    ...(key ? { key } : {}),
    ...(srp ? { srp } : {}),
    ...(lease !== undefined ? { lease } : {}),
  };
  const reg = await register(service, options);
  const leaseText = reg.lease === undefined ? "permanent" : `lease ${reg.lease}s`;
  process.stderr.write(`registered ${a.instance}.${a.type}.${a.domain.replace(/\.?$/, ".")} (${leaseText})\n`);
  if (a.once) return 0;
  reg.on("renewed", (l: number) => process.stderr.write(`renewed (lease ${l}s)\n`));
  reg.on("reregistered", () => process.stderr.write("the server had lost the registration: registered again\n"));
  reg.on("error", (e: Error) => process.stderr.write(`renewal failed, retrying: ${e.message}\n`));
  process.stderr.write("renewing until interrupted (Ctrl-C deregisters)\n");
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((done) => {
    const stop = () => {
      clearInterval(keepAlive);
      reg.close().then(
        () => {
          process.stderr.write("deregistered\n");
          done();
        },
        (e: Error) => {
          process.stderr.write(`ringdns: deregistration failed: ${e.message}\n`);
          process.exitCode = 1;
          done();
        },
      );
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return process.exitCode === 1 ? 1 : 0;
}

export async function runDeregister(a: ClientArgs & { type: string; instance: string }): Promise<number> {
  parseSetting("<type>", () => parseServiceType(a.type));
  const key = keyFrom(a);
  await deregister(a.type, a.instance, { server: a.server, domain: a.domain, tcp: a.tcp, ...(key ? { key } : {}) });
  process.stderr.write(`deregistered ${a.instance}.${a.type}.${a.domain.replace(/\.?$/, ".")}\n`);
  return 0;
}
