// `ringdns resolve`: a human-readable DNS-SD client for a ringdns server.
import { queryServer, type Reply, type Server } from "../client/dns-client.js";
import { RingdnsError } from "../errors.js";
import { formatName, hashName, instanceName, parseName, parseServiceType, subtypeName, typeName, hashKeyFromLabels, type Labels } from "../names.js";
import { Type } from "../wire/constants.js";

export interface ResolveArgs {
  type: string;
  instance: string | undefined;
  key: string | undefined;
  subtype: string | undefined;
  server: Server;
  domain: Labels;
  tcp: boolean;
  json: boolean;
}

interface Resolved {
  name: string;
  target: string;
  port: number;
  priority: number;
  weight: number;
  txt: string[];
  addresses: string[];
}

export async function runResolve(args: ResolveArgs): Promise<number> {
  const type = guard("<type>", () => parseServiceType(args.type));
  const ask = (name: Labels | string, qtype: number) =>
    queryServer(args.server, typeof name === "string" ? parseName(name) : name, qtype, { tcp: args.tcp });

  let names: string[];
  let title: string;
  if (args.key !== undefined) {
    const key = hashKeyFromLabels(guard("--key", () => parseName(args.key!)));
    if (typeof key === "string") throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--key: ${key}`);
    const qname = formatName(hashName(type, key, args.domain));
    const res = await ask(qname, Type.SRV);
    if (!ok(res, qname)) return 1;
    const one = await describe(qname, res, ask);
    // the additional section names the owning instance (its own SRV record)
    const owner = res.additionals.find((r) => r.type === "SRV")?.name ?? "";
    print(args.json, { key: args.key, query: qname, owner, ...one }, () => `owner  ${owner || "(unnamed)"}\n${line(one)}\n`);
    return 0;
  }
  if (args.instance !== undefined) {
    const qname = formatName(instanceName(type, args.instance, args.domain));
    const res = await ask(qname, Type.SRV);
    if (!ok(res, qname)) return 1;
    const one = await describe(qname, res, ask);
    print(args.json, one, () => line(one) + "\n");
    return 0;
  }
  const browse = args.subtype ? subtypeName(type, args.subtype, args.domain) : typeName(type, args.domain);
  title = formatName(browse);
  const res = await ask(browse, Type.PTR);
  if (!ok(res, title)) return 1;
  names = res.answers.filter((a) => a.type === "PTR").map((a) => String(a.data));
  const all = await Promise.all(names.map(async (n) => describe(n, await ask(n, Type.SRV), ask)));
  print(args.json, all, () => `${title}  ${all.length} instance${all.length === 1 ? "" : "s"}\n${all.map((r) => "  " + line(r)).join("\n")}\n`);
  return 0;
}

function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${what}: ${(e as Error).message}`);
  }
}

function ok(res: Reply, qname: string): boolean {
  if (res.rcode === "NOERROR" && res.answers.length > 0) return true;
  process.stderr.write(`ringdns: ${qname}: ${res.rcode === "NOERROR" ? "no such records" : res.rcode}\n`);
  return false;
}

async function describe(name: string, srvRes: Reply, ask: (n: string, t: number) => Promise<Reply>): Promise<Resolved> {
  const srv = srvRes.answers.find((a) => a.type === "SRV") as { name: string; data: { target: string; port: number; priority?: number; weight?: number } } | undefined;
  if (!srv) throw new Error(`${name}: no SRV record`);
  const extra = srvRes.additionals;
  const target = srv.data.target;
  let addresses = extra.filter((a) => (a.type === "A" || a.type === "AAAA") && a.name.toLowerCase() === target.toLowerCase()).map((a) => String(a.data));
  if (addresses.length === 0) {
    const [a, aaaa] = await Promise.all([ask(target, Type.A), ask(target, Type.AAAA)]);
    addresses = [...a.answers, ...aaaa.answers].filter((r) => r.type === "A" || r.type === "AAAA").map((r) => String(r.data));
  }
  const txtRes = await ask(name, Type.TXT);
  const txtRec = txtRes.answers.find((a) => a.type === "TXT");
  const txt = ((txtRec?.data ?? []) as (Buffer | string)[]).map((b) => b.toString()).filter((s) => s.length > 0);
  return { name: srv.name, target, port: srv.data.port, priority: srv.data.priority ?? 0, weight: srv.data.weight ?? 0, txt, addresses };
}

function line(r: Resolved): string {
  return `${r.name}  ${r.target}:${r.port}  priority ${r.priority} weight ${r.weight}  [${r.addresses.join(" ")}]${r.txt.length ? "  " + r.txt.join(" ") : ""}`;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value) + "\n" : text());
}
