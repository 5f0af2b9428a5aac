// Wires config -> store -> registry -> frontends, and owns the lifecycle:
// start, reload, shutdown. The only place that knows every part.
import type { Socket } from "node:dgram";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.js";
import type { Config, ListenAddress } from "./config.js";
import { RingdnsError } from "./errors.js";
import { onInternalError, sleep } from "./guard.js";
import type { DnsHandlerDeps } from "./frontends/dns-handler.js";
import { AnswerCache } from "./frontends/answer-cache.js";
import { listenTcp } from "./frontends/tcp.js";
import { listenUdp } from "./frontends/udp.js";
import { makeRateLimiter } from "./frontends/rrl.js";
import { CookieJar } from "./frontends/cookies.js";
import { TokenBuckets } from "./frontends/token-buckets.js";
import { startMdns, type Mdns } from "./frontends/mdns/index.js";
import { startQueryWorkers, type QueryWorkers } from "./frontends/workers/primary.js";
import { listenHttp, type HttpListener } from "./frontends/http/server.js";
import { WatchHub } from "./frontends/http/watch.js";
import { DaemonMetrics } from "./metrics.js";
import { DEFAULT_ALLOW_UPDATE, sourceMatcher } from "./update/policy.js";
import { domainKey, Registry } from "./registry/registry.js";
import { workerRingAside } from "./ring/aside.js";
import { loadServicesFile } from "./registry/services-file.js";
import { formatName, lowerAscii, type Labels } from "./names.js";
import { VERSION } from "./version.js";
import { openStore } from "./store/open.js";
import { readToken } from "./setting-files.js";
import { startLeaseTimer } from "./lease-timer.js";
import { logRegistryChanges } from "./change-log.js";
import { checkKeysNamed, loadKeyFile } from "./update/keys.js";
import { makePolicy } from "./update/policy.js";
import type { Store } from "./store/store.js";
import { holdYoungGeneration, settleAfterLoad } from "./startup-gc.js";

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

export async function startDaemon(config: Config, deps: DaemonDeps): Promise<Daemon> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  // a fault caught at an entry point is a bug: logged with its stack and counted, and the daemon serves on
  onInternalError((where, err) => log.error({ err, where }, "internal error caught; still serving"));
  // the files flags name are read before the store is opened (or created): a bad one changes nothing
  const keys = config.keyFiles.flatMap(loadKeyFile);
  checkKeysNamed(keys, config.keyZones.keys(), "--key-zone");
  checkKeysNamed(keys, config.adminKeys, "--admin-key");
  const services = config.servicesFile ? loadServicesFile(config.servicesFile) : undefined;
  holdYoungGeneration(); // until the load is done (startup-gc.ts)
  const store = deps.store ?? (await openStore(config.store, log));
  const rings = workerRingAside();
  const registry = new Registry({ clock, store, ring: { pointsPerWeight: config.ringPoints, aside: rings } });
  await registry.open();
  if (services) {
    registry.loadStatic(services.instances, services.hosts);
    log.info({ file: config.servicesFile, instances: services.instances.length, hosts: services.hosts.length }, "loaded static services");
  }
  registry.warm(config.domains.map(domainKey)); // big rings build aside while the listeners start; no query is the first to ask
  settleAfterLoad(registry);

  let mdns: Mdns | undefined;
  let workers: QueryWorkers | undefined;
  const metrics = config.http
    ? new DaemonMetrics({ registry, store: () => store.status(), mdns: () => mdns?.stats(), others: async () => (workers ? workers.metrics() : []) })
    : undefined;
  const lifecycle = { draining: false, inflight: new Set<Promise<unknown>>() };
  const cookies = new CookieJar();
  // each answering process gets its share of the limit: the kernel spreads datagrams over them
  const rrlShare = { ...config.rrl, rate: config.rrl.rate === 0 ? 0 : Math.max(1, Math.round(config.rrl.rate / config.workers)) };
  const handler: DnsHandlerDeps = {
    lifecycle,
    // unicast questions about .local types or subtypes we know nothing of are asked on the LAN
    ...(config.mdnsInterfaces.length > 0 ? { onLocalMiss: (name: Labels) => mdns?.askLan(name) } : {}),
    rrl: makeRateLimiter(rrlShare, log),
    cookies,
    ...(metrics ? { metrics } : {}),
    queryLogRate: config.queryLogRate,
    update: {
      registry,
      clock,
      log,
      domains: config.domains,
      keys,
      policy: makePolicy(config.allowUpdate, config.keyZones),
      adminKeys: new Set(config.adminKeys.map(lowerAscii)),
      lease: config.lease,
      limits: {
        maxRegistrations: config.limits.maxRegistrations,
        maxPerKey: config.limits.maxPerKey,
        maxInstancesPerType: config.limits.maxInstancesPerType,
        maxRingWeight: config.limits.maxRingWeight,
        maxAddressesPerHost: config.limits.maxAddressesPerHost,
        maxSubtypes: config.limits.maxSubtypes,
        maxTxtBytes: config.limits.maxTxtBytes,
        ...(config.limits.updateRate > 0 ? { updateRate: new TokenBuckets(config.limits.updateRate), updateRateExempt: sourceMatcher(config.limits.updateRateExempt, "--update-rate-exempt") } : {}),
        hit: (limit) => metrics?.observeLimit(limit),
      },
    },
    registry,
    clock,
    log,
    maxUdpPayload: config.maxUdpPayload,
    cache: new AnswerCache(),
    // a data directory or etcd endpoints and prefix tell an attacker where to aim: loopback only
    statusDetailsTo: sourceMatcher(DEFAULT_ALLOW_UPDATE, "status"),
    status: (detailed) => {
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
        ...(st.lastEventAt !== undefined ? [`last-change-seconds-ago=${Math.round((clock.now() - st.lastEventAt) / 1000)}`] : []),
        `types=${types.length}`,
        `instances=${types.reduce((n, t) => n + registry.instanceCount(t), 0)}`,
        `serial=${registry.serial()}`,
        `workers=${config.workers}`,
      ];
    },
    answer: { domains: config.domains, ttl: config.ttl, negativeTtl: config.negativeTtl, udpPayloadSize: config.maxUdpPayload },
  };

  const closers: (() => Promise<void>)[] = [];
  const listening: { host: string; port: number }[] = [];
  const udpSockets: Socket[] = [];
  try {
    const queue: ListenAddress[] = [...config.listen];
    let attempt = 0;
    while (queue.length > 0) {
      const want = queue.shift()!;
      // UDP first: with port 0 the kernel picks one, and TCP takes the same
      let udp;
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
      let tcp;
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
      closers.push(udp.close);
      udpSockets.push(udp.socket);
      closers.push(tcp.close);
      listening.push({ host: want.host, port: udp.port });
    }
  } catch (e) {
    await Promise.all(closers.map((c) => c()));
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === "EADDRINUSE" ? " (address in use: is another server running? choose another with --dns)" : err.code === "EACCES" ? " (permission denied: ports below 1024 need privileges)" : "";
    throw new RingdnsError("RINGDNS_E_LISTEN", `cannot listen on ${err.message.replace(/^listen |^bind /, "")}${hint}`);
  }

  if (config.mdnsInterfaces.length > 0) {
    try {
      mdns = await startMdns(config.mdnsInterfaces, { registry, clock, log, cacheLimits: config.mdnsCache });
      closers.unshift(mdns.close); // first, so goodbyes leave before the sockets close
    } catch (e) {
      await Promise.all(closers.map((c) => c()));
      throw e;
    }
  }

  if (config.workers > 1) {
    try {
      const settings = { reportLocalMisses: handler.onLocalMiss !== undefined, cookieSecret: cookies.secret, rrl: rrlShare, logLevel: config.logLevel, logFormat: config.logFormat, queryLogRate: config.queryLogRate, answer: handler.answer, maxUdpPayload: config.maxUdpPayload, ringPoints: config.ringPoints };
      workers = await startQueryWorkers({ count: config.workers - 1, sockets: udpSockets, registry, handler, settings, log });
      handler.settled = workers.settled;
      closers.unshift(workers.close); // first: no worker answers from a registry that is closing
    } catch (e) {
      await Promise.all(closers.map((c) => c()));
      throw e;
    }
  }

  let httpAddress: string | undefined;
  let httpListener: HttpListener | undefined;
  if (config.http && metrics) {
    try {
      const node = store.status().node;
      const watch = new WatchHub(registry, clock, undefined, node);
      const token = config.http.tokenFile === undefined ? undefined : readToken(config.http.tokenFile);
      const http = await listenHttp(config.http.listen.host, config.http.listen.port, {
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
        readsOpenTo: sourceMatcher(config.http.readFrom, "--http-read-from"),
        hosts: config.http.hosts,
        watchLimits: { maxStreams: config.http.maxWatchers, maxPerSource: config.http.maxWatchersPerSource },
        observeLimit: (limit) => metrics.observeLimit(limit),
      });
      httpListener = http;
      closers.unshift(async () => {
        await http.close();
        watch.close();
      });
      httpAddress = http.address.includes(":") ? `[${http.address}]:${http.port}` : `${http.address}:${http.port}`;
    } catch (e) {
      await Promise.all(closers.map((c) => c()));
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EADDRINUSE" || err.code === "EACCES") throw new RingdnsError("RINGDNS_E_LISTEN", `cannot listen on --http ${config.http.listen.host}:${config.http.listen.port}: ${err.code}`);
      throw e;
    }
  }

  const stopLeaseTimer = startLeaseTimer(registry, clock, log);
  const stopChangeLog = logRegistryChanges(registry, log);

  log.info(
    {
      dns: listening.map((l) => (l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`)),
      domains: config.domains.map(formatName),
      store: store.kind,
      keys: keys.map((k) => formatName(k.name)),
      mdns: config.mdnsInterfaces.length > 0 ? config.mdnsInterfaces : "off",
      workers: config.workers,
      http: httpAddress ?? "off",
      unsignedUpdatesFrom: config.allowUpdate,
      rrl: config.rrl.rate > 0 ? `${config.rrl.rate}/s per prefix, slip ${config.rrl.slip}, exempt ${config.rrl.exempt.join(" ")}` : "off",
    },
    "ringdns listening",
  );

  return {
    registry,
    listening,
    async reload() {
      try {
        const s = config.servicesFile ? loadServicesFile(config.servicesFile) : undefined;
        const newKeys = config.keyFiles.flatMap(loadKeyFile);
        checkKeysNamed(newKeys, config.keyZones.keys(), "--key-zone");
        checkKeysNamed(newKeys, config.adminKeys, "--admin-key");
        // everything is read before anything changes: a bad file leaves the daemon as it was
        const newToken = httpListener && config.http?.tokenFile !== undefined ? readToken(config.http.tokenFile) : undefined;
        if (s) await registry.replaceStatic(s.instances, s.hosts);
        handler.update!.keys = newKeys;
        if (newToken !== undefined) httpListener!.setToken(newToken);
        log.info({ file: config.servicesFile, instances: s?.instances.length ?? 0, keys: newKeys.map((k) => formatName(k.name)), ...(newToken !== undefined ? { httpToken: "re-read" } : {}) }, "reloaded the services file and keys");
        return { ok: true, instances: s?.instances.length ?? 0, keys: newKeys.length };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        log.error({ error }, "reload failed: still serving the previous services file and keys");
        return { ok: false, error };
      }
    },
    async close() {
      stopLeaseTimer();
      stopChangeLog();
      lifecycle.draining = true;
      if (lifecycle.inflight.size > 0) {
        log.info({ updates: lifecycle.inflight.size }, "draining: finishing the updates under way");
        await Promise.race([Promise.allSettled(lifecycle.inflight), sleep(DRAIN_MS)]);
        await sleep(20); // let their replies leave the sockets before they close
      }
      for (const c of closers) await c();
      await registry.close();
      await rings.close();
      await store.close();
    },
  };
}
