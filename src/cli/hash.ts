// `ringdns hash TYPE KEY --services FILE`: the owner of a key computed offline,
// with the same key parsing and ring as a `_hash` query to the daemon.
import { MemoryStore } from "../store/memory.js";
import { Registry } from "../registry/registry.js";
import { loadServicesFile } from "../registry/services-file.js";
import {
  formatName,
  formatServiceType,
  hashKeyFromLabels,
  hashName,
  instanceName,
  parseName,
  parseServiceType,
  hostName,
} from "../names.js";
import { systemClock } from "../clock.js";
import { parseSetting, RingdnsError } from "../errors.js";
import { resolveConfig } from "../config.js";

export interface HashArgs {
  type: string;
  keys: string[];
  servicesFile: string;
  successors: string;
  ringPoints: string;
  json: boolean;
}

export function runHash(args: HashArgs): number {
  const config = resolveConfig({ ringPoints: args.ringPoints });
  const type = parseSetting("<type>", () => parseServiceType(args.type));
  const keys = args.keys.map((k) => {
    const key = hashKeyFromLabels(parseSetting("<key>", () => parseName(k)));
    if (typeof key === "string") throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `<key> "${k}": ${key}`);
    return key;
  });
  const n = Number(args.successors);
  if (!Number.isInteger(n) || n < 1)
    throw new RingdnsError(
      "RINGDNS_E_BAD_CONFIG",
      `--successors: must be a positive integer, got "${args.successors}"`,
    );

  const registry = new Registry({
    clock: systemClock,
    store: new MemoryStore(),
    ring: { pointsPerWeight: config.ringPoints },
  });
  const s = loadServicesFile(args.servicesFile);
  registry.loadStatic(s.instances, s.hosts);
  if (registry.instances(type).length === 0) {
    process.stderr.write(`ringdns: no instances of ${formatServiceType(type)} in ${args.servicesFile}\n`);
    return 1;
  }
  const domain = ["local"];
  const out: string[] = [];
  keys.forEach((key, k) => {
    const owners = registry.successors(type, key, n).map((i) => ({
      instance: i.name,
      name: formatName(instanceName(type, i.name, domain)),
      target: formatName(hostName(i.host, domain)),
      port: i.port,
    }));
    const query = formatName(hashName(type, key, domain));
    if (args.json) out.push(JSON.stringify({ key: args.keys[k], query, owner: owners[0]!.instance, owners }));
    else if (keys.length > 1) out.push(`${args.keys[k]}\t${owners.map((o) => o.instance).join("\t")}`);
    else {
      out.push(`key    ${Buffer.from(key).toString("utf8")}`, `query  ${query}`);
      for (const [i, r] of owners.entries())
        out.push(`${i === 0 ? "owner " : `next ${i}`} ${r.instance}  (${r.name} -> ${r.target}:${r.port})`);
    }
  });
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
