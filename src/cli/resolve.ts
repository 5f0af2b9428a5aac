// `ringdns resolve`: a human-readable DNS-SD client for a ringdns server.
import { queryServer, type Server } from "../client/dns-client.js";
import { parseSetting, RingdnsError } from "../errors.js";
import { formatName, hashKeyFromLabels, hashName, instanceName, labelsEqual, parseName, parseServiceType, subtypeName, typeName, type Labels } from "../names.js";
import { Type } from "../wire/constants.js";
import type { DecodedData, DecodedMessage, DecodedRecord } from "../wire/decode.js";

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

type Srv = Extract<DecodedData, { type: typeof Type.SRV }>;
type Ask = (name: Labels, qtype: number) => Promise<DecodedMessage>;

export async function runResolve(args: ResolveArgs): Promise<number> {
  const type = parseSetting("<type>", () => parseServiceType(args.type));
  const ask: Ask = (name, qtype) => queryServer(args.server, name, qtype, { tcp: args.tcp });

  if (args.key !== undefined) {
    const key = hashKeyFromLabels(parseSetting("--key", () => parseName(args.key!)));
    if (typeof key === "string") throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `--key: ${key}`);
    const qname = hashName(type, key, args.domain);
    const res = await ask(qname, Type.SRV);
    if (!found(res, qname)) return 1;
    const one = await describe(qname, res, ask);
    // the additional section names the owning instance (its own SRV record)
    const ownerRec = res.additionals.find((r) => r.type === Type.SRV);
    const owner = ownerRec ? formatName(ownerRec.name) : "";
    print(args.json, { key: args.key, query: formatName(qname), owner, ...one }, () => `owner  ${owner || "(unnamed)"}\n${line(one)}\n`);
    return 0;
  }
  if (args.instance !== undefined) {
    const qname = instanceName(type, args.instance, args.domain);
    const res = await ask(qname, Type.SRV);
    if (!found(res, qname)) return 1;
    const one = await describe(qname, res, ask);
    print(args.json, one, () => line(one) + "\n");
    return 0;
  }
  const browse = args.subtype ? subtypeName(type, args.subtype, args.domain) : typeName(type, args.domain);
  const res = await ask(browse, Type.PTR);
  if (!found(res, browse)) return 1;
  const names = res.answers.flatMap((a) => (a.data.type === Type.PTR && "target" in a.data ? [a.data.target] : []));
  const all = await Promise.all(names.map(async (n) => describe(n, await ask(n, Type.SRV), ask)));
  print(args.json, all, () => `${formatName(browse)}  ${all.length} instance${all.length === 1 ? "" : "s"}\n${all.map((r) => "  " + line(r)).join("\n")}\n`);
  return 0;
}

function found(res: DecodedMessage, qname: Labels): boolean {
  if (res.rcodeName === "NOERROR" && res.answers.length > 0) return true;
  process.stderr.write(`ringdns: ${formatName(qname)}: ${res.rcodeName === "NOERROR" ? "no such records" : res.rcodeName}\n`);
  return false;
}

const addressesIn = (records: DecodedRecord[], owner: Labels) =>
  records.flatMap((r) => ((r.type === Type.A || r.type === Type.AAAA) && "address" in r.data && labelsEqual(r.name, owner) ? [r.data.address] : []));

async function describe(name: Labels, srvRes: DecodedMessage, ask: Ask): Promise<Resolved> {
  const srvRec = srvRes.answers.find((a) => a.type === Type.SRV);
  if (!srvRec) throw new Error(`${formatName(name)}: no SRV record`);
  const srv = srvRec.data as Srv;
  let addresses = addressesIn(srvRes.additionals, srv.target);
  if (addresses.length === 0) {
    const [a, aaaa] = await Promise.all([ask(srv.target, Type.A), ask(srv.target, Type.AAAA)]);
    addresses = addressesIn([...a.answers, ...aaaa.answers], srv.target);
  }
  const txtRes = await ask(name, Type.TXT);
  const txtData = txtRes.answers.find((a) => a.type === Type.TXT)?.data;
  const txt = txtData && "strings" in txtData ? txtData.strings.map((b) => b.toString()).filter((s) => s.length > 0) : [];
  return { name: formatName(srvRec.name), target: formatName(srv.target), port: srv.port, priority: srv.priority, weight: srv.weight, txt, addresses };
}

function line(r: Resolved): string {
  return `${r.name}  ${r.target}:${r.port}  priority ${r.priority} weight ${r.weight}  [${r.addresses.join(" ")}]${r.txt.length ? "  " + r.txt.join(" ") : ""}`;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value) + "\n" : text());
}
