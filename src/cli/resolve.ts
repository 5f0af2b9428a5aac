// `ringdns resolve`: a human-readable DNS-SD client for a ringdns server.
import { browse, LookupError, ownerOf, resolve, type ResolvedInstance } from "../client/discovery.js";
import type { Server } from "../client/dns-client.js";
import { parseSetting } from "../errors.js";
import { formatName, hashKeyFromLabels, hashName, instanceName, parseName, parseServiceType } from "../names.js";

export interface ResolveArgs {
  type: string;
  instance: string | undefined;
  key: string | undefined;
  subtype: string | undefined;
  server: Server;
  domain: string;
  tcp: boolean;
  json: boolean;
}

function line(r: ResolvedInstance): string {
  return `${r.name}  ${r.target}:${r.port}  priority ${r.priority} weight ${r.weight}  [${r.addresses.join(" ")}]${r.txt.length ? `  ${r.txt.join(" ")}` : ""}`;
}

/** Nothing at `name`: said on stderr as a resolver would, exit status 1. */
function nothing(name: string): number {
  process.stderr.write(`ringdns: ${name}: NXDOMAIN\n`);
  return 1;
}

function hashNameOf(type: string, key: string, domain: string) {
  const bytes = hashKeyFromLabels(parseName(key));
  return hashName(parseServiceType(type), typeof bytes === "string" ? new Uint8Array() : bytes, parseName(domain));
}

export async function runResolve(args: ResolveArgs): Promise<number> {
  parseSetting("<type>", () => parseServiceType(args.type));
  const opts = { server: args.server, domain: args.domain, tcp: args.tcp };
  const out = (value: unknown, text: string) => process.stdout.write(args.json ? `${JSON.stringify(value)}\n` : text);
  try {
    if (args.key !== undefined) {
      const r = await ownerOf(
        args.type,
        parseSetting("--key", () => args.key!),
        opts,
      );
      if (!r) return nothing(formatName(hashNameOf(args.type, args.key, args.domain)));
      out(r, `owner  ${r.instance}\n${line(r)}\n`);
    } else if (args.instance !== undefined) {
      const r = await resolve(args.type, args.instance, opts);
      if (!r)
        return nothing(formatName(instanceName(parseServiceType(args.type), args.instance, parseName(args.domain))));
      out(r, `${line(r)}\n`);
    } else {
      const all = await browse(args.type, { ...opts, ...(args.subtype ? { subtype: args.subtype } : {}) });
      const title = `${parseServiceType(args.type).service}.${parseServiceType(args.type).proto}.${args.domain.replace(/\.?$/, ".")}`;
      out(
        all,
        `${title}  ${all.length} instance${all.length === 1 ? "" : "s"}\n${all.map((r) => `  ${line(r)}`).join("\n")}\n`,
      );
    }
    return 0;
  } catch (e) {
    if (!(e instanceof LookupError)) throw e;
    process.stderr.write(`ringdns: ${e.message}\n`);
    return 1;
  }
}
