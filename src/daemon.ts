// Wires config -> store -> registry -> frontends, and owns the lifecycle:
// start, reload, shutdown. The only place that knows every part.
import type { Socket } from "node:dgram";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.js";
import { SRP_ZONE, type Config, type ListenAddress } from "./config.js";
import { RingdnsError } from "./errors.js";
import { onInternalError, sleep } from "./guard.js";
import type { DnsHandlerDeps } from "./frontends/dns-handler.js";
import type { DecodedData } from "./wire/decode.js";
import { AnswerCache } from "./frontends/answer-cache.js";
import { listenTcp, type TcpListener } from "./frontends/tcp.js";
import { formatPeer } from "./frontends/peer.js";
import { pushTotals } from "./frontends/dns-push.js";
import { listenUdp, type UdpListener } from "./frontends/udp.js";
import { makeRateLimiter } from "./frontends/rrl.js";
import { CookieJar } from "./frontends/cookies.js";
import { TokenBuckets } from "./frontends/token-buckets.js";
import { networkInterfaces } from "node:os";
import { startMdns, type Mdns } from "./frontends/mdns/index.js";
import { startQueryWorkers, type QueryWorkers } from "./frontends/workers/primary.js";
import { listenHttp, type HttpListener } from "./frontends/http/server.js";
import { WatchHub } from "./frontends/http/watch.js";
import { DaemonMetrics } from "./metrics.js";
import { DEFAULT_ALLOW_UPDATE, sourceMatcher } from "./update/policy.js";
import { domainKey, Registry } from "./registry/registry.js";
import { workerRingAside } from "./ring/aside.js";
import { loadServicesFile } from "./registry/services-file.js";
import type { RegistrationLimits } from "./registry/limits.js";
import { formatName, lowerAscii, type Labels } from "./names.js";
import { VERSION } from "./version.js";
import { openStore } from "./store/open.js";
import { serialFile } from "./store/serial-file.js";
import { readTlsCredentials, readToken } from "./setting-files.js";
import { startLeaseTimer } from "./lease-timer.js";
import { logRegistryChanges } from "./change-log.js";
import { checkKeysNamed, loadKeyFile } from "./update/keys.js";
import { makePolicy } from "./update/policy.js";
import type { Store } from "./store/store.js";
import { holdYoungGeneration, settleAfterLoad } from "./startup-gc.js";
import { ZoneJournals } from "./answer/journal.js";
import type { TransferOptions } from "./answer/zone.js";
import type { AnswerOptions } from "./answer/answer.js";
import type { TransferDeps } from "./frontends/xfr.js";
import { startNotify } from "./frontends/notify.js";

export interface Daemon {
  readonly registry: Registry;
  /** Where UDP+TCP listen, with ports resolved (port 0 becomes the real port). */
  readonly listening: readonly { host: string; port: number }[];
  /** SIGHUP: read the services file and key files again. A bad file changes nothing and is reported. */
  reload(): Promise<{ ok: true; instances: number; keys: number } | { ok: false; error: string }>;
  /** Stop taking requests, finish the updates under way (their clients get answers), then close everything. */
  close(): Promise<void>;
}

export interface DaemonDeps {
  log: Logger;
  clock?: Clock;
  store?: Store;
}

/** How long shutdown waits for updates under way before closing the store anyway. */
const DRAIN_MS = 5000;

/**
 * What is open, closed in the reverse order it was opened: on a failed start
 * (everything opened so far) and on shutdown. The one list of closers.
 */
class Closers {
  private readonly stack: (() => Promise<void> | void)[] = [];

  add(close: () => Promise<void> | void): void {
    this.stack.push(close);
  }

  async closeAll(): Promise<void> {
    while (this.stack.length > 0) await this.stack.pop()!();
  }
}

/** The files flags name, read before the store is opened (or created): a bad one changes nothing. */
function readFlagFiles(config: Config, limits: RegistrationLimits) {
  const keys = config.keyFiles.flatMap(loadKeyFile);
  checkKeysNamed(keys, config.keyZones.keys(), "--key-zone");
  checkKeysNamed(keys, config.adminKeys, "--admin-key");
  checkKeysNamed(keys, config.transfer.keys, "--transfer-key");
  const services = config.servicesFile
    ? loadServicesFile(config.servicesFile, config.domains.length, limits)
    : undefined;
  return { keys, services };
}

type FlagFiles = ReturnType<typeof readFlagFiles>;

/** The store, the ring worker and the registry with every registration in it; big rings start building aside. */
async function openRegistry(
  config: Config,
  deps: DaemonDeps,
  clock: Clock,
  files: FlagFiles,
  closers: Closers,
): Promise<{ store: Store; registry: Registry }> {
  const { log } = deps;
  holdYoungGeneration(); // until the load is done (startup-gc.ts)
  const store = deps.store ?? (await openStore(config.store, log));
  closers.add(() => store.close());
  const rings = workerRingAside();
  closers.add(() => rings.close());
  const registry = new Registry({
    clock,
    store,
    ring: { pointsPerWeight: config.ringPoints, aside: rings },
    // the serial never goes back across restarts: kept beside the LMDB store (etcd: README "Hidden primary")
    ...(config.store.kind === "lmdb" && !deps.store ? { serials: serialFile(config.store.dataDir) } : {}),
  });
  await registry.open();
  closers.add(() => registry.close());
  if (files.services) {
    registry.loadStatic(files.services.instances, files.services.hosts);
    log.info(
      { file: config.servicesFile, instances: files.services.instances.length, hosts: files.services.hosts.length },
      "loaded static services",
    );
  }
  // big rings build aside while the listeners start; no query is the first to ask. Not the SRP zone's, unless named
  // by --domain: what is served everywhere (the services file) would have a second set of rings there, asked for by few
  const warmed = config.domains.filter((d) => formatName(d) !== formatName(SRP_ZONE) || config.srpZoneNamed);
  registry.warm(warmed.map(domainKey));
  settleAfterLoad(registry, (ms) =>
    log.info(
      { ms: Math.round(ms), heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) },
      "start-up load settled: rings built, start-up garbage collected",
    ),
  );
  return { store, registry };
}

/** `status.ringdns. CH TXT`: version and health for everyone, where the store is for loopback (`detailed`). */
function statusLines(config: Config, store: Store, registry: Registry, clock: Clock) {
  return (detailed: boolean): string[] => {
    const st = store.status();
    const types = registry.serviceTypes();
    return [
      `version=${VERSION}`,
      `store=${store.kind}`,
      `healthy=${st.healthy ? "yes" : "no (answering from a possibly stale replica; see reason)"}`,
      ...(st.reason !== undefined ? [`reason=${st.reason}`] : []),
      ...(detailed ? [`location=${st.location}`, ...(st.node !== undefined ? [`node=${st.node}`] : [])] : []),
      ...(st.revision !== undefined ? [`revision=${st.revision}`] : []),
      ...(st.lagMs !== undefined ? [`lag-ms=${st.lagMs}`] : []),
      ...(st.lastEventAt !== undefined
        ? [`last-change-seconds-ago=${Math.round((clock.now() - st.lastEventAt) / 1000)}`]
        : []),
      `types=${types.length}`,
      `instances=${types.reduce((n, t) => n + registry.instanceCount(t), 0)}`,
      ...(config.srp
        ? [`srp-hosts=${registry.countBySource().hosts.get("srp") ?? 0}`, `srp-claims=${registry.claimTotal()}`]
        : []),
      `serial=${registry.serial()}`,
      `workers=${config.workers}`,
    ];
  };
}

interface Parts {
  config: Config;
  log: Logger;
  clock: Clock;
  store: Store;
  registry: Registry;
  limits: RegistrationLimits;
  keys: FlagFiles["keys"];
  metrics: DaemonMetrics | undefined;
  /** Set once started: asked by the DNS handler (.local misses) and the metrics. */
  mdns?: Mdns;
  workers?: QueryWorkers;
  /** The --dns-tls listeners (DNS Push sessions live there, in this process), once listening. */
  tls?: readonly TcpListener[];
}

/** What every DNS transport shares: the core, UPDATE, caches, cookies, rate limits, status. */
function dnsHandler(
  p: Parts,
  lifecycle: NonNullable<DnsHandlerDeps["lifecycle"]>,
  rrlShare: Config["rrl"],
): DnsHandlerDeps {
  const { config, log, clock, registry } = p;
  return {
    lifecycle,
    // unicast questions about .local names nothing answers are asked on the LAN, and held meanwhile (RFC 8766)
    ...(config.mdnsInterfaces.length > 0
      ? {
          localProxy: {
            hold: (name: Labels, type: number, found: () => boolean) => p.mdns?.proxy.hold(name, type, found),
            follow: (name: Labels, type: number, source: string) => p.mdns?.follow(name, type, source),
            reconfirm: (name: Labels, type: number, data: DecodedData) => void p.mdns?.reconfirm(name, type, data),
          },
        }
      : {}),
    rrl: makeRateLimiter(rrlShare, log),
    cookies: new CookieJar(),
    ...(p.metrics ? { metrics: p.metrics } : {}),
    queryLogRate: config.queryLogRate,
    update: {
      registry,
      clock,
      log,
      domains: config.domains,
      keys: p.keys,
      policy: makePolicy(config.allowUpdate, config.keyZones),
      adminKeys: new Set(config.adminKeys.map(lowerAscii)),
      lease: config.lease,
      ...(config.srp
        ? {
            srp: {
              from: sourceMatcher(config.srp.from.length > 0 ? config.srp.from : onLinkSources(), "--srp-from"),
              // per source, and ten sources' worth from all together (sources are cheap): a quarter of a core at most
              ...(config.srp.verifyRate > 0
                ? {
                    verifyRate: new TokenBuckets(config.srp.verifyRate),
                    verifyRateTotal: new TokenBuckets(10 * config.srp.verifyRate),
                  }
                : {}),
              lease: { min: config.lease.min, max: config.lease.max, keyMax: config.srp.keyLeaseMax },
              ...(p.metrics ? { refused: (why: string) => p.metrics?.observeSrpRefusal(why) } : {}),
            },
          }
        : {}),
      limits: {
        ...p.limits,
        ...(config.limits.updateRate > 0
          ? {
              updateRate: new TokenBuckets(config.limits.updateRate),
              updateRateExempt: sourceMatcher(config.limits.updateRateExempt, "--update-rate-exempt"),
            }
          : {}),
      },
    },
    registry,
    clock,
    log,
    maxUdpPayload: config.maxUdpPayload,
    cache: new AnswerCache(),
    // a data directory or etcd endpoints and prefix tell an attacker where to aim: loopback only
    statusDetailsTo: sourceMatcher(DEFAULT_ALLOW_UPDATE, "status"),
    status: statusLines(config, p.store, registry, clock),
    answer: {
      domains: config.domains,
      ttl: config.ttl,
      negativeTtl: config.negativeTtl,
      udpPayloadSize: config.maxUdpPayload,
      zoneNs: config.zoneNs,
      // what the discovery proxy answers in local. may change on the LAN any moment (RFC 8766 §5.5.1)
      ...(config.mdnsInterfaces.length > 0 ? { localTtlCap: 10 } : {}),
    },
  };
}

/** Zone transfers (--allow-transfer, --transfer-key), with IXFR's journals; undefined when nobody may transfer. */
function transferDeps(p: Parts, handler: DnsHandlerDeps, salt: string | undefined): TransferDeps | undefined {
  const t = p.config.transfer;
  if (t.allowFrom.length === 0 && t.keys.length === 0) return undefined;
  const options = { learned: t.learned };
  return {
    registry: p.registry,
    get answer() {
      return handler.answer; // the DNS Push port is set once the TLS listeners are up
    },
    clock: p.clock,
    log: p.log,
    keys: () => handler.update?.keys ?? p.keys,
    allowFrom: sourceMatcher(t.allowFrom, "--allow-transfer"),
    transferKeys: new Set(t.keys),
    maxTransfers: t.maxConcurrent,
    transfer: options,
    ...(t.journalSteps > 0 ? { journals: zoneJournals(p, options, () => handler.answer, salt) } : {}),
    ...(p.metrics ? { metrics: p.metrics } : {}),
    active: { count: 0 },
  };
}

/**
 * IXFR's journals, kept in the store (when it keeps them) so a restart, or
 * another daemon of the cluster, still answers IXFR: what was stored is read
 * and checked against the zones in the background, while the daemon serves.
 */
function zoneJournals(
  p: Parts,
  options: TransferOptions,
  answer: () => AnswerOptions,
  salt: string | undefined,
): ZoneJournals {
  const t = p.config.transfer;
  const store = salt !== undefined ? p.store.journal : undefined;
  const journals = new ZoneJournals(
    p.registry,
    p.config.domains,
    p.config.ttl,
    options,
    { maxSteps: t.journalSteps, maxRecords: Math.max(10_000, 100 * t.journalSteps) },
    store && salt !== undefined
      ? {
          store,
          salt,
          // the records besides the registrations': an NS set or a DNS Push SRV (its port as bound) changed is a changed zone
          settings: () => JSON.stringify([answer().zoneNs ?? null, answer().pushPort ?? null]),
          onError: (err) =>
            p.log.warn(
              { err: String(err) },
              "IXFR journal: the store did not take or give it; secondaries may need a full transfer after a restart",
            ),
        }
      : undefined,
  );
  return journals;
}

/** The key of the journal's digests, from the store; none (journals in memory only) when it has no journal or will not give it. */
async function journalSalt(p: Parts): Promise<string | undefined> {
  const t = p.config.transfer;
  if (!p.store.journal || t.journalSteps === 0 || (t.allowFrom.length === 0 && t.keys.length === 0)) return undefined;
  try {
    return await p.store.journal.salt();
  } catch (err) {
    p.log.warn({ err: String(err) }, "IXFR journal kept in memory only: the store did not give its key");
    return undefined;
  }
}

function restoreJournals(journals: ZoneJournals, p: Parts): void {
  if (!journals.kept) return;
  const started = p.clock.now();
  void journals
    .restore()
    .then((steps) =>
      p.log.info(
        { steps, ms: p.clock.now() - started },
        "IXFR journals: steps from before this start taken from the store",
      ),
    );
}

/** UDP and TCP on every --dns address (one port for both); UDP sockets kept for query workers to share. */
async function listenDns(
  config: Config,
  handler: DnsHandlerDeps,
  log: Logger,
  closers: Closers,
): Promise<{ listening: { host: string; port: number }[]; udpSockets: Socket[] }> {
  const listening: { host: string; port: number }[] = [];
  const udpSockets: Socket[] = [];
  try {
    const queue: ListenAddress[] = [...config.listen];
    let attempt = 0;
    while (queue.length > 0) {
      const want = queue.shift()!;
      // UDP first: with port 0 the kernel picks one, and TCP takes the same
      let udp: UdpListener;
      try {
        udp = await listenUdp(want.host, want.port, handler);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (want.optional && (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL")) {
          log.warn({ address: want.host, code }, "address family unavailable, not listening there");
          continue;
        }
        throw e;
      }
      let tcp: TcpListener;
      try {
        tcp = await listenTcp(want.host, udp.port, handler, config.tcp);
      } catch (e) {
        // port 0: the kernel's free UDP port may be taken for TCP (a client's ephemeral port); try another pair
        if (want.port !== 0 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 10) throw e;
        await udp.close();
        attempt++;
        queue.unshift(want);
        continue;
      }
      closers.add(udp.close);
      closers.add(tcp.close);
      udpSockets.push(udp.socket);
      listening.push({ host: want.host, port: udp.port });
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint =
      err.code === "EADDRINUSE"
        ? " (address in use: is another server running? choose another with --dns)"
        : err.code === "EACCES"
          ? " (permission denied: ports below 1024 need privileges)"
          : "";
    throw new RingdnsError("RINGDNS_E_LISTEN", `cannot listen on ${err.message.replace(/^listen |^bind /, "")}${hint}`);
  }
  return { listening, udpSockets };
}

/** DNS over TLS on every --dns-tls address (RFC 7858: TCP's framing and limits inside TLS). */
async function listenDnsOverTls(
  settings: NonNullable<Config["tls"]>,
  handler: DnsHandlerDeps,
  config: Config,
  closers: Closers,
): Promise<TcpListener[]> {
  const credentials = readTlsCredentials(settings.cert, settings.key);
  const out: TcpListener[] = [];
  for (const want of settings.listen) {
    try {
      const options = {
        ...config.tcp,
        dsoInactivityMs: settings.dsoInactivityMs,
        pushMaxPerSource: settings.pushMaxPerSource,
      };
      const t = await listenTcp(want.host, want.port, handler, options, credentials);
      closers.add(t.close);
      out.push(t);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new RingdnsError(
        "RINGDNS_E_LISTEN",
        `--dns-tls: cannot listen on ${formatPeer(want.host, want.port)}: ${err.code ?? err.message}`,
      );
    }
  }
  return out;
}

/** The HTTP API, dashboard and metrics (--http); its address as logged. */
async function listenHttpApi(
  p: Parts & { metrics: DaemonMetrics; http: NonNullable<Config["http"]> },
  handler: DnsHandlerDeps,
  closers: Closers,
): Promise<{ listener: HttpListener; address: string }> {
  const { http: settings, registry, clock, log, store, metrics } = p;
  const node = store.status().node;
  const watch = new WatchHub(registry, clock, undefined, node);
  const token = settings.tokenFile === undefined ? undefined : readToken(settings.tokenFile);
  try {
    const http = await listenHttp(settings.listen.host, settings.listen.port, {
      registry,
      clock,
      log,
      update: { ...handler.update!, ...(handler.settled ? { settled: handler.settled } : {}) },
      watch,
      storeStatus: () => store.status(),
      ...(node !== undefined ? { node } : {}),
      metrics: () => metrics.exposition(),
      observeUpdate: (rcode) => metrics.observeUpdate("http", rcode),
      ...(token !== undefined ? { token } : {}),
      readsOpenTo: sourceMatcher(settings.readFrom, "--http-read-from"),
      hosts: settings.hosts,
      watchLimits: { maxStreams: settings.maxWatchers, maxPerSource: settings.maxWatchersPerSource },
      observeLimit: (limit) => metrics.observeLimit(limit),
      ...(p.tls && p.tls.length > 0
        ? { pushSessions: () => (p.tls ?? []).flatMap((t) => t.pushSessions?.() ?? []) }
        : {}),
    });
    closers.add(async () => {
      await http.close();
      watch.close();
    });
    return {
      listener: http,
      address: http.address.includes(":") ? `[${http.address}]:${http.port}` : `${http.address}:${http.port}`,
    };
  } catch (e) {
    watch.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE" || err.code === "EACCES")
      throw new RingdnsError(
        "RINGDNS_E_LISTEN",
        `cannot listen on --http ${settings.listen.host}:${settings.listen.port}: ${err.code}`,
      );
    throw e;
  }
}

/**
 * Start the daemon as a short sequence of steps: read the files flags name,
 * open the registry on its store, make the DNS handler, listen for DNS, then
 * mDNS, query workers and HTTP when configured, then the timers. Whatever a
 * failed step leaves open is closed (one list, in reverse order).
 */
export async function startDaemon(config: Config, deps: DaemonDeps): Promise<Daemon> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  // a fault caught at an entry point is a bug: logged with its stack and counted, and the daemon serves on
  onInternalError((where, err) => log.error({ err, where }, "internal error caught; still serving"));
  const { updateRate: _rate, updateRateExempt: _exempt, ...bounds } = config.limits;
  // every writer's bounds (UPDATE, HTTP, mDNS, the services file); hits are counted once metrics exist
  let countLimitHit: ((limit: string) => void) | undefined;
  const limits: RegistrationLimits = { ...bounds, hit: (limit) => countLimitHit?.(limit) };
  const files = readFlagFiles(config, limits);
  const closers = new Closers();
  try {
    const { store, registry } = await openRegistry(config, deps, clock, files, closers);
    const p: Parts = { config, log, clock, store, registry, limits, keys: files.keys, metrics: undefined };
    if (config.http) {
      const metrics = new DaemonMetrics({
        registry,
        store: () => store.status(),
        mdns: () => p.mdns?.stats(),
        others: async () => (p.workers ? p.workers.metrics() : []),
        push: pushTotals,
      });
      p.metrics = metrics;
      countLimitHit = (limit) => metrics.observeLimit(limit);
    }
    const lifecycle = { draining: false, inflight: new Set<Promise<unknown>>() };
    // each answering process gets its share of the limit: the kernel spreads datagrams over them
    const rrlShare = {
      ...config.rrl,
      rate: config.rrl.rate === 0 ? 0 : Math.max(1, Math.round(config.rrl.rate / config.workers)),
    };
    const handler = dnsHandler(p, lifecycle, rrlShare);
    const transfer = transferDeps(p, handler, await journalSalt(p));
    if (transfer) {
      handler.transfer = transfer;
      if (transfer.journals) closers.add(() => transfer.journals?.close());
    }
    const { listening, udpSockets } = await listenDns(config, handler, log, closers);
    const tls = config.tls ? await listenDnsOverTls(config.tls, handler, config, closers) : [];
    p.tls = tls;
    // where DNS Push is (`_dns-push-tls._tcp` SRV): the first TLS listener's port as bound (before any worker copies the options)
    if (tls[0]) handler.answer = { ...handler.answer, pushPort: tls[0].port };
    if (config.mdnsInterfaces.length > 0) {
      const mdns = await startMdns(config.mdnsInterfaces, {
        registry,
        clock,
        log,
        cacheLimits: config.mdnsCache,
        limits,
        proxyWaitMs: config.mdnsProxyWaitMs,
      });
      p.mdns = mdns;
      closers.add(mdns.close); // closed before the DNS sockets: its goodbyes leave first
    }
    if (config.workers > 1) {
      const settings = {
        delegateLocalMisses: handler.localProxy !== undefined,
        cookieSecret: handler.cookies!.secret,
        rrl: rrlShare,
        logLevel: config.logLevel,
        logFormat: config.logFormat,
        queryLogRate: config.queryLogRate,
        answer: handler.answer,
        maxUdpPayload: config.maxUdpPayload,
        ringPoints: config.ringPoints,
      };
      const workers = await startQueryWorkers({
        count: config.workers - 1,
        sockets: udpSockets,
        registry,
        handler,
        settings,
        log,
      });
      p.workers = workers;
      handler.settled = workers.settled;
      closers.add(workers.close); // closed early: no worker answers from a registry that is closing
    }
    if (config.transfer.notify.length > 0) {
      const notifier = await startNotify({
        registry,
        // local. is the LAN's own: no secondary serves it
        zones: config.domains.filter((d) => !(d.length === 1 && lowerAscii(d[0]!) === "local")),
        targets: config.transfer.notify,
        ...(transfer?.journals ? { changes: (l: (zone: Labels) => void) => transfer.journals!.onZoneChange(l) } : {}),
        intervalMs: config.transfer.notifyIntervalMs,
        log,
        ...(p.metrics ? { metrics: p.metrics } : {}),
      });
      closers.add(notifier.close);
    }
    const http =
      config.http && p.metrics
        ? await listenHttpApi({ ...p, metrics: p.metrics, http: config.http }, handler, closers)
        : undefined;
    // stopped first on shutdown: no lease ends, and nothing is written, while updates drain
    const stopTimers = [startLeaseTimer(registry, clock, log), logRegistryChanges(registry, log)];
    logListening(p, listening, http?.address, tls);
    // once serving: what the store kept of IXFR's journal is read and checked while queries are answered
    if (transfer?.journals) restoreJournals(transfer.journals, p);
    return {
      registry,
      listening,
      reload: () => reload(p, handler, http?.listener, tls),
      async close() {
        for (const stop of stopTimers) stop();
        await drain(lifecycle, log);
        await closers.closeAll();
      },
    };
  } catch (e) {
    await closers.closeAll();
    throw e;
  }
}

function logListening(
  p: Parts,
  listening: readonly { host: string; port: number }[],
  httpAddress: string | undefined,
  tls: readonly TcpListener[],
): void {
  const { config } = p;
  p.log.info(
    {
      dns: listening.map((l) => formatPeer(l.host, l.port)),
      ...(tls.length > 0 ? { dnsTls: tls.map((t) => formatPeer(t.address, t.port)) } : {}),
      domains: config.domains.map(formatName),
      store: p.store.kind,
      keys: p.keys.map((k) => formatName(k.name)),
      mdns: config.mdnsInterfaces.length > 0 ? config.mdnsInterfaces : "off",
      workers: config.workers,
      http: httpAddress ?? "off",
      unsignedUpdatesFrom: config.allowUpdate,
      rrl:
        config.rrl.rate > 0
          ? `${config.rrl.rate}/s per prefix, slip ${config.rrl.slip}, exempt ${config.rrl.exempt.join(" ")}`
          : "off",
    },
    "ringdns listening",
  );
}

/** SIGHUP: everything is read before anything changes, so a bad file leaves the daemon as it was. */
async function reload(
  p: Parts,
  handler: DnsHandlerDeps,
  http: HttpListener | undefined,
  tls: readonly TcpListener[],
): ReturnType<Daemon["reload"]> {
  const { config, log } = p;
  try {
    const { keys, services } = readFlagFiles(config, p.limits);
    const token = http && config.http?.tokenFile !== undefined ? readToken(config.http.tokenFile) : undefined;
    const credentials = config.tls ? readTlsCredentials(config.tls.cert, config.tls.key) : undefined;
    if (services) await p.registry.replaceStatic(services.instances, services.hosts);
    handler.update!.keys = keys;
    if (token !== undefined) http!.setToken(token);
    if (credentials) for (const t of tls) t.setCredentials?.(credentials);
    log.info(
      {
        file: config.servicesFile,
        instances: services?.instances.length ?? 0,
        keys: keys.map((k) => formatName(k.name)),
        ...(token !== undefined ? { httpToken: "re-read" } : {}),
        ...(credentials ? { tlsCertificate: "re-read" } : {}),
      },
      "reloaded the services file and keys",
    );
    return { ok: true, instances: services?.instances.length ?? 0, keys: keys.length };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    log.error({ error }, "reload failed: still serving the previous services file and keys");
    return { ok: false, error };
  }
}

/** Shutdown's first step: take no new messages, and let the updates under way finish (their clients get answers). */
async function drain(lifecycle: NonNullable<DnsHandlerDeps["lifecycle"]>, log: Logger): Promise<void> {
  lifecycle.draining = true;
  if (lifecycle.inflight.size === 0) return;
  log.info({ updates: lifecycle.inflight.size }, "draining: finishing the updates under way");
  await Promise.race([Promise.allSettled(lifecycle.inflight), sleep(DRAIN_MS)]);
  await sleep(20); // let their replies leave the sockets before they close
}

/** --srp-from's default: loopback and the networks this host's interfaces are on (the devices of its own links). */
function onLinkSources(): string[] {
  const nets = Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a?.cidr ? [a.cidr.replace(/%.*\//, "/")] : []));
  return [...DEFAULT_ALLOW_UPDATE, ...nets];
}
