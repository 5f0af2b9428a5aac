// Finding services over DNS: browse a type, resolve an instance, ask the ring
// for a key's owner. Used by the CLI and exported by the package.
import {
  formatName,
  hashKeyFromLabels,
  hashName,
  instanceName,
  labelsEqual,
  parseName,
  parseServiceType,
  subtypeName,
  typeName,
  type Labels,
} from "../names.js";
import { Type, rcodeName } from "../wire/constants.js";
import type { DecodedData, DecodedMessage, DecodedRecord } from "../wire/decode.js";
import { queryServer, type Server } from "./dns-client.js";

export interface LookupOptions {
  /** "127.0.0.1:8053" by default. */
  server?: Server;
  /** Domain the type lives under, "local." by default. */
  domain?: string;
  tcp?: boolean;
  timeoutMs?: number;
}

export interface ResolvedInstance {
  /** Instance label, e.g. "alpha". */
  instance: string;
  /** Its full name, presentation form. */
  name: string;
  target: string;
  port: number;
  priority: number;
  weight: number;
  txt: string[];
  addresses: string[];
}

export class LookupError extends Error {
  constructor(
    readonly rcode: string,
    readonly qname: string,
  ) {
    super(`${qname}: ${rcode === "NOERROR" ? "no such records" : rcode}`);
    this.name = "LookupError";
  }
}

export const DEFAULT_SERVER: Server = { host: "127.0.0.1", port: 8053 };

type Srv = Extract<DecodedData, { type: typeof Type.SRV }>;

function context(o: LookupOptions) {
  const server = o.server ?? DEFAULT_SERVER;
  const domain = parseName(o.domain ?? "local.");
  const ask = (name: Labels, qtype: number): Promise<DecodedMessage> =>
    queryServer(server, name, qtype, {
      ...(o.tcp ? { tcp: true } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    });
  return { domain, ask };
}

/** The answer, or undefined when there is nothing there (`none`); any other failure is a LookupError. */
async function found(
  ask: (n: Labels, t: number) => Promise<DecodedMessage>,
  name: Labels,
  qtype: number,
): Promise<DecodedMessage | undefined> {
  const res = await ask(name, qtype);
  if (none(res)) return undefined;
  if (rcodeName(res.rcode) !== "NOERROR") throw new LookupError(rcodeName(res.rcode), formatName(name));
  return res;
}

const addressesIn = (records: DecodedRecord[], owner: Labels) =>
  records.flatMap((r) =>
    (r.type === Type.A || r.type === Type.AAAA) && "address" in r.data && labelsEqual(r.name, owner)
      ? [r.data.address]
      : [],
  );

/** SRV (with the additional section's addresses), TXT and, when missing, addresses of one instance name. */
async function describe(
  ask: (n: Labels, t: number) => Promise<DecodedMessage>,
  name: Labels,
  srvRes: DecodedMessage,
  instanceLabel: string,
): Promise<ResolvedInstance> {
  const srvRec = srvRes.answers.find((a) => a.type === Type.SRV);
  if (!srvRec) throw new LookupError("NOERROR", formatName(name));
  const srv = srvRec.data as Srv;
  let addresses = addressesIn(srvRes.additionals, srv.target);
  if (addresses.length === 0) {
    const [a, aaaa] = await Promise.all([ask(srv.target, Type.A), ask(srv.target, Type.AAAA)]);
    addresses = addressesIn([...a.answers, ...aaaa.answers], srv.target);
  }
  const txtRes = await ask(name, Type.TXT);
  const txtData = txtRes.answers.find((a) => a.type === Type.TXT)?.data;
  const txt =
    txtData && "strings" in txtData ? txtData.strings.map((b) => b.toString()).filter((s) => s.length > 0) : [];
  return {
    instance: instanceLabel,
    name: formatName(srvRec.name),
    target: formatName(srv.target),
    port: srv.port,
    priority: srv.priority,
    weight: srv.weight,
    txt,
    addresses,
  };
}

/**
 * Every instance of `type` (or of one subtype), resolved. A type with no
 * instances (NXDOMAIN or no PTR records: its last one just left, or it never
 * had one) is an empty list, as a registry's "list services" is; an instance
 * that leaves between the PTR and its SRV is left out. Any other answer
 * (REFUSED, SERVFAIL: a domain the server does not serve, a server in
 * trouble) is a LookupError.
 */
export async function browse(
  type: string,
  options: LookupOptions & { subtype?: string } = {},
): Promise<ResolvedInstance[]> {
  const { domain, ask } = context(options);
  const t = parseServiceType(type);
  const name = options.subtype ? subtypeName(t, options.subtype, domain) : typeName(t, domain);
  const res = await found(ask, name, Type.PTR);
  if (!res) return [];
  const targets = res.answers.flatMap((a) => (a.data.type === Type.PTR && "target" in a.data ? [a.data.target] : []));
  const instances = await Promise.all(
    targets.map(async (n) => {
      const srv = await found(ask, n, Type.SRV);
      return srv && describe(ask, n, srv, n[0]!);
    }),
  );
  return instances.filter((i): i is ResolvedInstance => i !== undefined);
}

/** No such name, or no records of the type asked for. */
const none = (res: DecodedMessage) =>
  rcodeName(res.rcode) === "NXDOMAIN" || (rcodeName(res.rcode) === "NOERROR" && res.answers.length === 0);

/** One instance by name; undefined when there is none (NXDOMAIN, or no SRV record). */
export async function resolve(
  type: string,
  instance: string,
  options: LookupOptions = {},
): Promise<ResolvedInstance | undefined> {
  const { domain, ask } = context(options);
  const name = instanceName(parseServiceType(type), instance, domain);
  const res = await found(ask, name, Type.SRV);
  return res && describe(ask, name, res, instance);
}

/**
 * The ring owner of `key` (as written left of `_hash`: text, or b32-… for
 * binary keys); undefined when the type has no instances. A ring still being
 * built is SERVFAIL (Not Ready): a LookupError, worth asking again.
 */
export async function ownerOf(
  type: string,
  key: string | Uint8Array,
  options: LookupOptions = {},
): Promise<(ResolvedInstance & { query: string }) | undefined> {
  const { domain, ask } = context(options);
  const keyBytes = typeof key === "string" ? hashKeyFromLabels(parseName(key)) : key;
  if (typeof keyBytes === "string") throw new Error(`bad key "${String(key)}": ${keyBytes}`);
  const name = hashName(parseServiceType(type), keyBytes, domain);
  const res = await found(ask, name, Type.SRV);
  if (!res) return undefined;
  // the additional section names the owning instance (its own SRV record)
  const owner = res.additionals.find((r) => r.type === Type.SRV)?.name[0] ?? "";
  return { ...(await describe(ask, name, res, owner)), query: formatName(name) };
}
