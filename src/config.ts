// One typed, frozen configuration. Flags, the config file and the environment
// (layered in config-layers.ts) all go through `resolveConfig`, which names the
// bad setting.
import type { EtcdAccess, StoreConfig } from "./store/open.js";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.js";
import { isIP } from "node:net";
import { availableParallelism, hostname } from "node:os";
import { DEFAULT_ANSWER_OPTIONS, type ZoneNs } from "./answer/answer.js";
import { parseSetting, RingdnsError } from "./errors.js";
import { DEFAULT_TCP_OPTIONS, MIN_UNSENT_BYTES, type TcpOptions } from "./frontends/tcp.js";
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_SOURCE } from "./frontends/dns-push.js";
import { DEFAULT_LIMITS, ringWeightLimits } from "./registry/limits.js";
import { DEFAULT_CACHE_LIMITS } from "./frontends/mdns/cache.js";
import { DEFAULT_PROXY_WAIT_MS, MAX_PROXY_WAIT_MS } from "./frontends/mdns/proxy.js";
import { DEFAULT_WATCH_LIMITS } from "./frontends/http/server.js";
import { canonicalAddress } from "./frontends/peer.js";
import { formatName, lowerAscii, nameProblem, parseName, type Labels } from "./names.js";
import { DEFAULT_POINTS_PER_WEIGHT } from "./ring/ring.js";
import { DEFAULT_ALLOW_UPDATE, makePolicy, sourceMatcher } from "./update/policy.js";
import { parseEtcdUrl } from "./store/etcd.js";
import { MAX_UDP_PAYLOAD } from "./wire/constants.js";

export { LOG_LEVELS, type LogLevel } from "./log.js";
export type { EtcdAccess, StoreConfig } from "./store/open.js";

export interface ListenAddress {
  host: string;
  port: number;
  /** A default listener: skipped with a warning when the address family is unavailable (no IPv6). */
  optional?: boolean;
}

export interface Config {
  /** UDP and TCP listeners, each on the same address and port. */
  readonly listen: readonly ListenAddress[];
  /** Served domains: `local.` first, the SRP zone when SRP is on, then the configured ones. */
  readonly domains: readonly Labels[];
  /** The SRP zone was named by --domain too (its rings are then built at start like any served domain's). */
  readonly srpZoneNamed?: boolean;
  readonly servicesFile: string | undefined;
  readonly logLevel: LogLevel;
  /** JSON lines, or human-readable lines (pretty); auto = pretty on a terminal. */
  readonly logFormat: LogFormat;
  /** Fraction of queries logged, one line each. */
  readonly queryLogRate: number;
  /** Positive-answer TTL, seconds. */
  readonly ttl: number;
  /** SOA minimum / negative caching TTL, seconds. */
  readonly negativeTtl: number;
  /** Largest UDP reply, bytes (EDNS clients may ask for less, never more). */
  readonly maxUdpPayload: number;
  /** The NS RRset at each served apex (--zone-ns). */
  readonly zoneNs: ZoneNs;
  readonly tcp: TcpOptions;
  /** Virtual ring points per unit of SRV weight. */
  readonly ringPoints: number;
  /** Where registrations are kept: the embedded LMDB store in `dataDir`, or memory (lost on exit). */
  readonly store: StoreConfig;
  /** TSIG key files (BIND format). */
  readonly keyFiles: readonly string[];
  /** Key name (presentation, with trailing dot) -> zones it may update; keys not listed may update every zone. */
  readonly keyZones: ReadonlyMap<string, readonly Labels[]>;
  /** Key names (presentation, with trailing dot) that may change any registration (--admin-key); checked against the loaded keys at start. */
  readonly adminKeys: readonly string[];
  /** Sources allowed to send unsigned updates (CIDRs, or "none"). */
  readonly allowUpdate: readonly string[];
  /** Zone transfers and NOTIFY (hidden primary); off (no source, no key, no secondary) by default. */
  readonly transfer: {
    /** Sources that may transfer unsigned (CIDRs). */
    allowFrom: readonly string[];
    /** Keys (presentation, lower-case, trailing dot) whose signed requests may transfer; checked against the loaded keys at start. */
    keys: readonly string[];
    maxConcurrent: number;
    learned: boolean;
    /** Changes kept per zone for IXFR. */
    journalSteps: number;
    /** Secondaries sent NOTIFY. */
    notify: readonly ListenAddress[];
    notifyIntervalMs: number;
  };
  /** Bounds on registrations (see RegistrationLimits); updateRate 0 = unlimited. */
  readonly limits: {
    maxRegistrations: number;
    maxPerKey: number;
    maxInstancesPerType: number;
    maxRingWeight: number;
    maxTotalRingWeight: number;
    maxAddressesPerHost: number;
    maxSubtypes: number;
    maxTxtBytes: number;
    updateRate: number;
    updateRateExempt: readonly string[];
  };
  /** Lease bounds and default, seconds (default undefined = permanent). */
  readonly lease: { min: number; max: number; default?: number };
  /**
   * SRP registration (RFC 9665), undefined when off (--srp-from none). `from`:
   * CIDRs given, or empty for the default (loopback and the networks the
   * daemon's interfaces are on, worked out at start).
   */
  readonly srp?: { from: readonly string[]; keyLeaseMax: number; verifyRate: number };
  /** DNS over TLS (RFC 7858) listeners, with the certificate and key files (PEM); undefined = none. */
  readonly tls?: {
    listen: readonly ListenAddress[];
    cert: string;
    key: string;
    dsoInactivityMs: number;
    /** DNS Push subscriptions one source address may hold across its sessions. */
    pushMaxPerSource: number;
  };
  /** Interfaces mDNS runs on; none (the default) = no mDNS. */
  readonly mdnsInterfaces: readonly string[];
  /** Bounds on the mDNS cache: records in all, and from one peer. */
  readonly mdnsCache: { maxRecords: number; maxPerPeer: number };
  /** Discovery proxy: how long a unicast query for a `.local` name nothing answers waits for the LAN, ms (0 = answer at once). */
  readonly mdnsProxyWaitMs: number;
  /** Processes answering UDP queries, the primary included (1 = the primary alone). */
  readonly workers: number;
  /** UDP response-rate limiting per source prefix: replies/s (0 = off), slip, exempt sources. */
  readonly rrl: { rate: number; slip: number; exempt: readonly string[] };
  /** The HTTP admin API, dashboard and metrics; undefined = off. */
  readonly http?: {
    listen: ListenAddress;
    /** File with the bearer token for writes; none = registration over HTTP is off. */
    tokenFile?: string;
    /** Sources that may read without the token. */
    readFrom: readonly string[];
    /** Host names requests may name besides IP addresses and localhost (DNS rebinding); default this machine's host name. */
    hosts: readonly string[];
    /** Event streams (/v1/watch) open at once in all, and from one address. */
    maxWatchers: number;
    maxWatchersPerSource: number;
  };
}

/** What a user may set; every field optional, text as typed. */
export interface ConfigInput {
  dns?: string[];
  domain?: string[];
  services?: string;
  logLevel?: string;
  logFormat?: string;
  logQueries?: string | number;
  ttl?: string | number;
  negativeTtl?: string | number;
  zoneNs?: string;
  maxUdpSize?: string | number;
  tcpIdleTimeout?: string | number;
  tcpMaxConnections?: string | number;
  tcpReadTimeoutMs?: string | number;
  tcpMaxPerSource?: string | number;
  tcpMaxUnsentBytes?: string | number;
  tcpMaxPipelined?: string | number;
  tcpWriteTimeoutMs?: string | number;
  ringPoints?: string | number;
  dataDir?: string;
  store?: string;
  keyFile?: string[];
  keyZone?: string[];
  adminKey?: string[];
  allowUpdate?: string[];
  allowTransfer?: string[];
  transferKey?: string[];
  maxTransfers?: string | number;
  transferLearned?: boolean;
  ixfrJournal?: string | number;
  notify?: string[];
  notifyInterval?: string | number;
  leaseMin?: string | number;
  leaseMax?: string | number;
  defaultLease?: string | number;
  srpFrom?: string[];
  dnsTls?: string[];
  tlsCert?: string;
  tlsKey?: string;
  dsoInactivityTimeout?: string | number;
  pushMaxSubscriptionsPerSource?: string | number;
  keyLeaseMax?: string | number;
  srpVerifyRate?: string | number;
  mdnsInterface?: string[];
  mdnsMaxRecords?: string | number;
  mdnsMaxPerPeer?: string | number;
  mdnsProxyWait?: string | number;
  /** false: no mDNS even when interfaces are named (commander's --no-mdns). */
  mdns?: boolean;
  /** A count, or "auto" for one per CPU. */
  workers?: string | number;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
  /** Allow etcd user/password without TLS (the password crosses the network in clear text). */
  etcdInsecure?: boolean;
  nodeName?: string;
  maxRegistrations?: string | number;
  maxRegistrationsPerKey?: string | number;
  maxInstancesPerType?: string | number;
  maxRingWeight?: string | number;
  maxTotalRingWeight?: string | number;
  maxAddressesPerHost?: string | number;
  maxSubtypes?: string | number;
  maxTxtBytes?: string | number;
  updateRate?: string | number;
  updateRateExempt?: string[];
  rrlRate?: string | number;
  rrlSlip?: string | number;
  rrlExempt?: string[];
  http?: string;
  httpTokenFile?: string;
  httpReadFrom?: string[];
  httpHost?: string[];
  httpMaxWatchers?: string | number;
  httpMaxWatchersPerSource?: string | number;
}

export const DEFAULT_PORT = 8053;
const MAX_WORKERS = 64;
export const DEFAULT_DATA_DIR = "./ringdns-data";
export const DEFAULT_LISTEN: readonly ListenAddress[] = [
  { host: "0.0.0.0", port: DEFAULT_PORT },
  { host: "::", port: DEFAULT_PORT, optional: true },
];

function bad(setting: string, msg: string): never {
  throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${setting}: ${msg}`);
}

/** "127.0.0.1:8053", "[::1]:53", "0.0.0.0" (default port) or ":8053" (all addresses). */
export function parseListenAddress(text: string, setting = "--dns"): ListenAddress[] {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(":");
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!/^\d*$/.test(portText ?? "") || !Number.isInteger(port) || port < 0 || port > 65535)
    bad(setting, `"${text}": port must be 0-65535`);
  if (host === "") return DEFAULT_LISTEN.map((a) => ({ ...a, port }));
  if (isIP(host) === 0) bad(setting, `"${text}": expected ADDRESS:PORT with an IPv4 or [IPv6] address`);
  return [{ host, port }];
}

export function parseDomain(text: string, setting = "--domain"): Labels {
  const labels = parseSetting(setting, () => parseName(text).map(lowerAscii));
  if (labels.length === 0) bad(setting, "the root cannot be served");
  const problem = nameProblem(labels);
  if (problem) bad(setting, `"${text}": ${problem}`);
  return labels;
}

function int(setting: string, v: string | number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = typeof v === "number" ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) bad(setting, `must be an integer ${min}-${max}, got "${v}"`);
  return n;
}

export function resolveConfig(input: ConfigInput): Config {
  const listen = input.dns && input.dns.length > 0 ? input.dns.flatMap((d) => parseListenAddress(d)) : DEFAULT_LISTEN;
  const domains: Labels[] = [["local"]];
  const srp = parseSrp(input);
  // the zone SRP clients register in (RFC 9665 §3.1.2), served like local.
  if (srp) domains.push(SRP_ZONE);
  let srpZoneNamed = false;
  for (const d of input.domain ?? []) {
    const labels = parseDomain(d);
    if (formatName(labels) === formatName(SRP_ZONE)) srpZoneNamed = true;
    if (!domains.some((x) => formatName(x) === formatName(labels))) domains.push(labels);
  }
  const logLevel = (input.logLevel ?? "info") as LogLevel;
  const ringPoints = int("--ring-points", input.ringPoints, DEFAULT_POINTS_PER_WEIGHT, 1, 1024);
  const ringWeights = ringWeightLimits(ringPoints);
  if (!LOG_LEVELS.includes(logLevel)) bad("--log-level", `"${input.logLevel}" is not one of ${LOG_LEVELS.join(", ")}`);
  const config: Config = {
    listen,
    domains,
    ...(srpZoneNamed ? { srpZoneNamed } : {}),
    servicesFile: input.services,
    logLevel,
    logFormat: parseLogFormat(input.logFormat),
    queryLogRate: parseQueryLogRate(input.logQueries, logLevel),
    ttl: int("--ttl", input.ttl, DEFAULT_ANSWER_OPTIONS.ttl, 0, 2_147_483_647),
    negativeTtl: int("--negative-ttl", input.negativeTtl, DEFAULT_ANSWER_OPTIONS.negativeTtl, 0, 86_400),
    zoneNs: parseZoneNs(input.zoneNs),
    maxUdpPayload: int("--max-udp-size", input.maxUdpSize, MAX_UDP_PAYLOAD, 512, 65_535),
    tcp: {
      idleTimeoutMs:
        int("--tcp-idle-timeout", input.tcpIdleTimeout, DEFAULT_TCP_OPTIONS.idleTimeoutMs / 1000, 1, 3600) * 1000,
      maxConnections: int(
        "--tcp-max-connections",
        input.tcpMaxConnections,
        DEFAULT_TCP_OPTIONS.maxConnections,
        1,
        65_535,
      ),
      readTimeoutMs: int("--tcp-read-timeout-ms", input.tcpReadTimeoutMs, DEFAULT_TCP_OPTIONS.readTimeoutMs, 1, 60_000),
      maxPerSource: int("--tcp-max-per-source", input.tcpMaxPerSource, DEFAULT_TCP_OPTIONS.maxPerSource, 1, 65_535),
      maxUnsentBytes: int(
        "--tcp-max-unsent-bytes",
        input.tcpMaxUnsentBytes,
        DEFAULT_TCP_OPTIONS.maxUnsentBytes,
        MIN_UNSENT_BYTES,
        1 << 30,
      ),
      maxPipelined: int("--tcp-max-pipelined", input.tcpMaxPipelined, DEFAULT_TCP_OPTIONS.maxPipelined, 1, 65_535),
      writeTimeoutMs: int(
        "--tcp-write-timeout-ms",
        input.tcpWriteTimeoutMs,
        DEFAULT_TCP_OPTIONS.writeTimeoutMs,
        1,
        600_000,
      ),
    },
    ringPoints,
    store: parseStore(input),
    keyFiles: input.keyFile ?? [],
    keyZones: parseKeyZones(input.keyZone ?? []),
    adminKeys: [...new Set((input.adminKey ?? []).map((k) => formatName(parseDomain(k, "--admin-key"))))],
    allowUpdate: input.allowUpdate && input.allowUpdate.length > 0 ? input.allowUpdate : DEFAULT_ALLOW_UPDATE,
    lease: parseLeases(input),
    transfer: parseTransfer(input),
    ...(srp ? { srp } : {}),
    ...parseTls(input),
    limits: {
      maxRegistrations: int(
        "--max-registrations",
        input.maxRegistrations,
        DEFAULT_LIMITS.maxRegistrations,
        1,
        100_000_000,
      ),
      maxPerKey: int(
        "--max-registrations-per-key",
        input.maxRegistrationsPerKey,
        DEFAULT_LIMITS.maxPerKey,
        1,
        100_000_000,
      ),
      maxInstancesPerType: int(
        "--max-instances-per-type",
        input.maxInstancesPerType,
        DEFAULT_LIMITS.maxInstancesPerType,
        1,
        100_000_000,
      ),
      // a unit of weight costs --ring-points points: the defaults keep the memory they allow whatever that is
      maxRingWeight: int("--max-ring-weight", input.maxRingWeight, ringWeights.maxRingWeight, 1, 2 ** 31),
      maxTotalRingWeight: int(
        "--max-total-ring-weight",
        input.maxTotalRingWeight,
        ringWeights.maxTotalRingWeight,
        1,
        2 ** 31,
      ),
      maxAddressesPerHost: int(
        "--max-addresses-per-host",
        input.maxAddressesPerHost,
        DEFAULT_LIMITS.maxAddressesPerHost,
        1,
        10_000,
      ),
      maxSubtypes: int("--max-subtypes", input.maxSubtypes, DEFAULT_LIMITS.maxSubtypes, 0, 10_000),
      maxTxtBytes: int("--max-txt-bytes", input.maxTxtBytes, DEFAULT_LIMITS.maxTxtBytes, 1, 65_000),
      updateRate: int("--update-rate", input.updateRate, DEFAULT_LIMITS.updateRate, 0, 1_000_000),
      updateRateExempt:
        input.updateRateExempt && input.updateRateExempt.length > 0 ? input.updateRateExempt : DEFAULT_RRL.exempt,
    },
    mdnsInterfaces: input.mdns === false ? [] : [...new Set(input.mdnsInterface ?? [])],
    mdnsCache: {
      maxRecords: int("--mdns-max-records", input.mdnsMaxRecords, DEFAULT_CACHE_LIMITS.maxRecords, 1, 10_000_000),
      maxPerPeer: int("--mdns-max-per-peer", input.mdnsMaxPerPeer, DEFAULT_CACHE_LIMITS.maxPerPeer, 1, 10_000_000),
    },
    mdnsProxyWaitMs: int("--mdns-proxy-wait", input.mdnsProxyWait, DEFAULT_PROXY_WAIT_MS, 0, MAX_PROXY_WAIT_MS),
    workers: parseWorkers(input.workers),
    rrl: {
      rate: int("--rrl-rate", input.rrlRate, DEFAULT_RRL.rate, 0, 1_000_000),
      slip: int("--rrl-slip", input.rrlSlip, DEFAULT_RRL.slip, 0, 10),
      exempt: input.rrlExempt && input.rrlExempt.length > 0 ? input.rrlExempt : DEFAULT_RRL.exempt,
    },
    ...parseHttp(input),
  };
  makePolicy(config.allowUpdate, config.keyZones); // validates the CIDRs now, not at the first update
  sourceMatcher(config.rrl.exempt, "--rrl-exempt");
  sourceMatcher(config.transfer.allowFrom, "--allow-transfer");
  sourceMatcher(config.limits.updateRateExempt, "--update-rate-exempt");
  if (config.srp) sourceMatcher(config.srp.from, "--srp-from");
  return Object.freeze(config);
}

function parseTls(input: ConfigInput): Pick<Config, "tls"> {
  const listen = (input.dnsTls ?? []).flatMap((d) => parseListenAddress(d, "--dns-tls"));
  if (listen.length === 0) {
    if (input.tlsCert !== undefined) bad("--tls-cert", "given without --dns-tls (nothing would use it)");
    if (input.tlsKey !== undefined) bad("--tls-key", "given without --dns-tls (nothing would use it)");
    return {};
  }
  if (input.tlsCert === undefined || input.tlsKey === undefined)
    bad("--dns-tls", "needs --tls-cert FILE and --tls-key FILE (PEM)");
  const inactivity = int("--dso-inactivity-timeout", input.dsoInactivityTimeout, 15, 1, 86_400);
  const pushMaxPerSource = int(
    "--push-max-subscriptions-per-source",
    input.pushMaxSubscriptionsPerSource,
    DEFAULT_MAX_SUBSCRIPTIONS_PER_SOURCE,
    1,
    1_000_000,
  );
  return {
    tls: { listen, cert: input.tlsCert!, key: input.tlsKey!, dsoInactivityMs: inactivity * 1000, pushMaxPerSource },
  };
}

/** Where SRP clients register unless told otherwise (RFC 9665 §3.1.2). */
export const SRP_ZONE: Labels = ["default", "service", "arpa"];

function parseSrp(input: ConfigInput): Config["srp"] {
  const from = input.srpFrom ?? [];
  if (from.includes("none")) {
    if (from.length > 1) bad("--srp-from", `"none" cannot be given with CIDRs`);
    return undefined;
  }
  return {
    from,
    keyLeaseMax: int("--key-lease-max", input.keyLeaseMax, 7 * 86_400, 30, 2 ** 31 - 1),
    verifyRate: int("--srp-verify-rate", input.srpVerifyRate, 100, 0, 1_000_000),
  };
}

const NS_HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** --zone-ns: a host label (put under each zone) or an absolute name; default this machine's host name, "ns" when that is no host label. */
function parseZoneNs(v: string | undefined): ZoneNs {
  if (v === undefined) {
    const own = lowerAscii(hostname().split(".")[0] ?? "");
    return { host: NS_HOST_LABEL.test(own) ? own : "ns" };
  }
  if (v.endsWith(".")) {
    const name = parseDomain(v, "--zone-ns");
    if (name.length === 0) bad("--zone-ns", "the root is no name server");
    return { name };
  }
  if (!NS_HOST_LABEL.test(v))
    bad("--zone-ns", `"${v}" is neither a host label (put under each zone) nor an absolute name ending in "."`);
  return { host: lowerAscii(v) };
}

function parseLogFormat(v: string | undefined): Config["logFormat"] {
  if (v === undefined || v === "auto") return process.stderr.isTTY ? "pretty" : "json";
  if (v === "json" || v === "pretty") return v;
  return bad("--log-format", `"${v}" is not one of auto, json, pretty`);
}

/** Off unless asked for; --log-level debug logs every query, as it always has. */
function parseQueryLogRate(v: string | number | undefined, level: LogLevel): number {
  if (v === undefined) return level === "debug" || level === "trace" ? 1 : 0;
  const n = Number(v);
  if (String(v).trim() === "" || !Number.isFinite(n) || n < 0 || n > 1)
    bad("--log-queries", `must be a fraction 0-1 (e.g. 0.01 logs one query in a hundred), got "${v}"`);
  return n;
}

/** Generous for a LAN (a /24 of clients shares it), yet a spoofed flood gets a victim at most this many replies a second. */
export const DEFAULT_RRL = { rate: 1000, slip: 2, exempt: ["127.0.0.0/8", "::1/128"] };

export const DEFAULT_HTTP_READ_FROM = ["127.0.0.0/8", "::1/128"];

function parseHttp(input: ConfigInput): Pick<Config, "http"> {
  if (input.http === undefined) {
    if (input.httpTokenFile !== undefined) bad("--http-token-file", "has no use without --http ADDR:PORT");
    if (input.httpReadFrom !== undefined) bad("--http-read-from", "has no use without --http ADDR:PORT");
    if (input.httpHost !== undefined) bad("--http-host", "has no use without --http ADDR:PORT");
    return {};
  }
  const listen = parseListenAddress(input.http, "--http");
  if (listen.length !== 1) bad("--http", `"${input.http}": give one ADDRESS:PORT, e.g. 127.0.0.1:8080`);
  const readFrom = input.httpReadFrom && input.httpReadFrom.length > 0 ? input.httpReadFrom : DEFAULT_HTTP_READ_FROM;
  sourceMatcher(readFrom, "--http-read-from"); // validates now
  const hosts = input.httpHost && input.httpHost.length > 0 ? input.httpHost.map(parseHttpHost) : [hostname()];
  const maxWatchers = int("--http-max-watchers", input.httpMaxWatchers, DEFAULT_WATCH_LIMITS.maxStreams, 1, 100_000);
  const maxWatchersPerSource = int(
    "--http-max-watchers-per-source",
    input.httpMaxWatchersPerSource,
    DEFAULT_WATCH_LIMITS.maxPerSource,
    1,
    100_000,
  );
  return {
    http: {
      listen: listen[0]!,
      ...(input.httpTokenFile !== undefined ? { tokenFile: input.httpTokenFile } : {}),
      readFrom,
      hosts,
      maxWatchers,
      maxWatchersPerSource,
    },
  };
}

/** A host name for --http-host: a DNS name without port or scheme (IP addresses and localhost are always accepted). */
function parseHttpHost(text: string): string {
  const name = text.trim().toLowerCase().replace(/\.$/, "");
  if (!/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/.test(name) || name.length > 253)
    bad(
      "--http-host",
      `"${text}" is not a host name like ringdns.example (no port, no scheme; IP addresses and localhost are always accepted)`,
    );
  return name;
}

function parseWorkers(v: string | number | undefined): number {
  if (v === "auto") return Math.min(MAX_WORKERS, availableParallelism());
  if (v !== undefined && !/^\d+$/.test(String(v).trim()))
    bad("--workers", `must be a number of processes 1-${MAX_WORKERS} or "auto", got "${v}"`);
  return int("--workers", v, 1, 1, MAX_WORKERS);
}

function parseStore(input: ConfigInput): Config["store"] {
  const { store, dataDir } = input;
  const access: EtcdAccess = {
    ...(input.etcdCa !== undefined ? { caFile: input.etcdCa } : {}),
    ...(input.etcdCert !== undefined ? { certFile: input.etcdCert } : {}),
    ...(input.etcdKey !== undefined ? { keyFile: input.etcdKey } : {}),
    ...(input.etcdUser !== undefined ? { user: input.etcdUser } : {}),
    ...(input.etcdPasswordFile !== undefined ? { passwordFile: input.etcdPasswordFile } : {}),
  };
  const isEtcd = store?.startsWith("etcd://") ?? false;
  if (!isEtcd && input.nodeName !== undefined) bad("--node-name", "has no use without --store etcd://…");
  if (!isEtcd) {
    const flag = Object.keys(access)[0];
    if (flag)
      bad(
        `--etcd-${{ caFile: "ca", certFile: "cert", keyFile: "key", user: "user", passwordFile: "password-file" }[flag]}`,
        "has no use without --store etcd://…",
      );
    if (input.etcdInsecure) bad("--etcd-insecure", "has no use without --store etcd://…");
  } else {
    if ((access.certFile === undefined) !== (access.keyFile === undefined))
      bad(access.certFile ? "--etcd-cert" : "--etcd-key", "needs --etcd-cert and --etcd-key together");
    if (access.certFile && !access.caFile)
      bad("--etcd-cert", "needs --etcd-ca (a client certificate is only sent over TLS)");
    if ((access.user === undefined) !== (access.passwordFile === undefined))
      bad(access.user ? "--etcd-user" : "--etcd-password-file", "needs --etcd-user and --etcd-password-file together");
    // etcd takes the password in the clear on every authentication: without TLS anyone on the path reads it
    if (access.user !== undefined && !access.caFile && !input.etcdInsecure)
      bad(
        "--etcd-user",
        "sends the etcd password in clear text without TLS: add --etcd-ca (and https:// endpoints on etcd), or --etcd-insecure to accept that",
      );
  }
  if (store === undefined || store === "lmdb") return { kind: "lmdb", dataDir: dataDir ?? DEFAULT_DATA_DIR };
  if (store === "memory" || isEtcd) {
    if (dataDir !== undefined) bad("--data-dir", `has no use with --store ${store}`);
    if (store === "memory") return { kind: "memory" };
    parseEtcdUrl(store); // says now what is wrong with it
    if (input.nodeName !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(input.nodeName))
      bad("--node-name", `"${input.nodeName}": letters, digits, ".", "_" and "-", up to 63`);
    return { kind: "etcd", url: store, access, ...(input.nodeName !== undefined ? { nodeName: input.nodeName } : {}) };
  }
  return bad(
    "--store",
    `"${store}" is not a store: use lmdb (the default, in --data-dir), memory, or etcd://host:port[,host:port…][/prefix]`,
  );
}

function parseTransfer(input: ConfigInput): Config["transfer"] {
  const notify = (input.notify ?? []).map((text) => {
    const at = parseListenAddress(text, "--notify");
    if (at.length !== 1 || text.lastIndexOf(":") < 0 || at[0]!.port === 0)
      bad("--notify", `"${text}": give the secondary as ADDRESS:PORT, e.g. 192.0.2.53:53 or [2001:db8::53]:53`);
    // one spelling of each address, the one a reply's source is read in (NOTIFY answers are matched on it)
    const a = at[0]!;
    return { ...a, host: canonicalAddress(a.host) };
  });
  return {
    allowFrom: (input.allowTransfer ?? []).filter((c) => c !== "none"),
    keys: [...new Set((input.transferKey ?? []).map((k) => formatName(parseDomain(k, "--transfer-key"))))],
    maxConcurrent: int("--max-transfers", input.maxTransfers, 4, 1, 1000),
    learned: input.transferLearned === true,
    journalSteps: int("--ixfr-journal", input.ixfrJournal, 1000, 0, 1_000_000),
    notify,
    // at least 100 ms: NOTIFY rounds are bounded whatever the rate of changes
    notifyIntervalMs: int("--notify-interval", input.notifyInterval, 1000, 100, 3_600_000),
  };
}

/** "KEYNAME=zone1,zone2" */
function parseKeyZones(specs: readonly string[]): Map<string, Labels[]> {
  const out = new Map<string, Labels[]>();
  for (const spec of specs) {
    const [key, zones] = spec.split("=");
    if (!key || !zones) bad("--key-zone", `expected KEYNAME=ZONE[,ZONE], got "${spec}"`);
    const name = formatName(parseDomain(key!, "--key-zone"));
    out.set(name, [...(out.get(name) ?? []), ...zones!.split(",").map((z) => parseDomain(z, "--key-zone"))]);
  }
  return out;
}

function parseLeases(input: ConfigInput): Config["lease"] {
  const min = int("--lease-min", input.leaseMin, 30, 1, 2 ** 31 - 1);
  const max = int("--lease-max", input.leaseMax, 7 * 86_400, 1, 2 ** 31 - 1);
  if (max < min) bad("--lease-max", `(${max}) is below --lease-min (${min})`);
  if (input.defaultLease === undefined || input.defaultLease === "none") return { min, max };
  const dflt = int("--default-lease", input.defaultLease, 0, min, max);
  return { min, max, default: dflt };
}
