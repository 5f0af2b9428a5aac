// Prometheus metrics (prom-client). Query counters live in every process that
// answers queries (the primary and each query worker) and are summed at
// scrape time; the rest is the primary's: updates, registrations and leases
// by source, expiries, mDNS, store health and lag, and the process.
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry as PromRegistry,
} from "prom-client";
import { internalErrorCount } from "./guard.js";
import type { Registry } from "./registry/registry.js";
import type { StoreStatus } from "./store/store.js";
import { rcodeName, typeName } from "./wire/constants.js";

/** What the mDNS frontend counts (frontends/mdns), as the metrics read it. */
export interface MdnsStats {
  probes: number;
  conflicts: number;
  goodbyes: number;
  /** Records in the learner's cache now. */
  cacheRecords: number;
  /** New records not taken: cache full, or a peer over its share. */
  cacheRefused: { full: number; perPeer: number };
  /** Names not browsed: over the bound on service types followed, on names unicast clients asked for, or on names DNS Push clients follow. */
  browsesRefused: { followed: number; asked: number; subscribed: number; rate: number };
  /** Packets ignored because their source is not on the interface's link (RFC 6762 §5.5, §11). */
  offLink: number;
  /** Discovery proxy (RFC 8766): unicast queries held while the LAN was asked, by how they ended. */
  proxy: { answered: number; timedOut: number; refused: number };
}

export type MetricTransport = "udp" | "tcp" | "http";

/** One process's metrics as prom-client JSON (what a query worker sends). */
export type ProcessMetrics = Awaited<ReturnType<PromRegistry["getMetricsAsJSON"]>>;

/** What a process that answers queries counts. The hot path: children are cached, no label objects per query. */
export class QueryMetrics {
  readonly prom = new PromRegistry();
  private readonly queries = new Counter({
    name: "ringdns_queries_total",
    help: "DNS queries answered, by transport, query type and response code",
    labelNames: ["transport", "qtype", "rcode"],
    registers: [this.prom],
  });
  private readonly duration = new Histogram({
    name: "ringdns_query_duration_seconds",
    help: "Time from a query's arrival to its reply being ready, by transport",
    labelNames: ["transport"],
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1],
    registers: [this.prom],
  });
  private readonly updates = new Counter({
    name: "ringdns_updates_total",
    help: "DNS UPDATE and HTTP registration requests, by transport and response code",
    labelNames: ["transport", "rcode"],
    registers: [this.prom],
  });
  private readonly limited = new Counter({
    name: "ringdns_rrl_limited_total",
    help: "UDP replies held back by response-rate limiting: dropped, or slipped (sent truncated)",
    labelNames: ["action"],
    registers: [this.prom],
  });
  private readonly counters = new Map<string, ReturnType<Counter["labels"]>>();
  private readonly timers = new Map<string, ReturnType<Histogram["labels"]>>();

  observeQuery(transport: MetricTransport, qtype: number, rcode: number, seconds: number): void {
    const key = `${transport}|${qtype}|${rcode}`;
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, (c = this.queries.labels(transport, typeName(qtype), rcodeName(rcode))));
    c.inc();
    let h = this.timers.get(transport);
    if (!h) this.timers.set(transport, (h = this.duration.labels(transport)));
    h.observe(seconds);
  }

  constructor() {
    new Counter({
      name: "ringdns_internal_errors_total",
      help: "Faults caught at an entry point (timer, socket event, request) and survived: each is a bug, logged with its stack",
      registers: [this.prom],
      collect() {
        // counted by guard.ts, which every entry point goes through; read at each scrape
        this.reset();
        this.inc(internalErrorCount());
      },
    });
  }

  private readonly limits = new Counter({
    name: "ringdns_limit_hits_total",
    help: "Requests or connections refused or closed by a configured limit",
    labelNames: ["limit"],
    registers: [this.prom],
  });

  observeLimit(limit: string): void {
    this.limits.labels(limit).inc();
  }

  private readonly srpRefused = new Counter({
    name: "ringdns_srp_refused_total",
    help: "SRP registrations refused, by why: source (--srp-from), structure, rate (--srp-verify-rate), signature, replay, name-taken (YXDOMAIN), limit, store (SERVFAIL), off",
    labelNames: ["reason"],
    registers: [this.prom],
  });

  observeSrpRefusal(reason: string): void {
    this.srpRefused.labels(reason).inc();
  }

  private readonly transfers = new Counter({
    name: "ringdns_transfers_total",
    help: "Zone transfer requests (AXFR, IXFR), by what was sent: axfr, ixfr, ixfr-as-axfr (journal too short), up-to-date (one SOA), refused, limit (--max-transfers), aborted (connection lost)",
    labelNames: ["outcome"],
    registers: [this.prom],
  });

  observeTransfer(outcome: string): void {
    this.transfers.labels(outcome).inc();
  }

  private readonly notifies = new Counter({
    name: "ringdns_notify_total",
    help: "NOTIFY messages to secondaries (--notify), by outcome: sent (each try), acknowledged, given-up",
    labelNames: ["outcome"],
    registers: [this.prom],
  });

  observeNotify(outcome: "sent" | "acknowledged" | "given-up"): void {
    this.notifies.labels(outcome).inc();
  }

  observeRateLimited(action: "slip" | "drop"): void {
    this.limited.labels(action === "slip" ? "slipped" : "dropped").inc();
  }

  observeUpdate(transport: MetricTransport, rcode: number): void {
    this.updates.labels(transport, rcodeName(rcode)).inc();
  }
}

export interface DaemonMetricSources {
  registry: Registry;
  store: () => StoreStatus;
  mdns: () => MdnsStats | undefined;
  /** Other processes' query metrics (query workers), as prom-client JSON. */
  others: () => Promise<ProcessMetrics[]>;
  /** What DNS Push sessions hold (--dns-tls). */
  push?: () => { subscriptions: number };
}

/** The primary's metrics: its QueryMetrics plus everything only it knows. */
export class DaemonMetrics extends QueryMetrics {
  constructor(private readonly sources: DaemonMetricSources) {
    super();
    const { registry } = sources;
    const prom = this.prom;
    collectDefaultMetrics({ register: prom, prefix: "ringdns_" });
    const changes = new Counter({
      name: "ringdns_registration_changes_total",
      help: "Registrations added, updated, removed and expired, by kind and source",
      labelNames: ["op", "kind", "source"],
      registers: [prom],
    });
    registry.onChange((c) =>
      changes.labels(c.op, c.kind, c.kind === "instance" ? c.instance.source : c.host.source).inc(),
    );
    new Gauge({
      name: "ringdns_registrations",
      help: "Instances registered now, by source",
      labelNames: ["source"],
      registers: [prom],
      collect() {
        this.reset();
        for (const [source, n] of registry.countBySource().instances) this.labels(source).set(n);
      },
    });
    new Gauge({
      name: "ringdns_leases",
      help: "Instances and hosts registered with a lease now, by source",
      labelNames: ["source"],
      registers: [prom],
      collect() {
        this.reset();
        for (const [source, n] of registry.countBySource().leased) this.labels(source).set(n);
      },
    });
    new Gauge({
      name: "ringdns_push_subscriptions",
      help: "DNS Push subscriptions held now (--dns-tls; at most 10,000 in all, then REFUSED)",
      registers: [prom],
      collect() {
        this.set(sources.push?.().subscriptions ?? 0);
      },
    });
    new Gauge({
      name: "ringdns_store_healthy",
      help: "1 when the store accepts writes; 0 while a shared store is out of reach",
      registers: [prom],
      collect() {
        this.set(sources.store().healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: "ringdns_store_lag_seconds",
      help: "How far this daemon's replica of a shared store runs behind it (etcd heartbeat)",
      registers: [prom],
      collect() {
        this.set((sources.store().lagMs ?? 0) / 1000);
      },
    });
    // mDNS counters come from the responder's own counts; each scrape adds what is new
    const seen = { probes: 0, conflicts: 0, goodbyes: 0 };
    const mdnsCounter = (field: keyof typeof seen, name: string, help: string) =>
      new Counter({
        name,
        help,
        registers: [prom],
        collect() {
          const now = sources.mdns()?.[field] ?? seen[field];
          this.inc(now - seen[field]);
          seen[field] = now;
        },
      });
    mdnsCounter("probes", "ringdns_mdns_probes_total", "mDNS probes sent (RFC 6762 §8.1)");
    mdnsCounter("conflicts", "ringdns_mdns_conflicts_total", "mDNS name conflicts that renamed an instance");
    mdnsCounter("goodbyes", "ringdns_mdns_goodbyes_total", "mDNS goodbyes sent");
    const refused = { full: 0, perPeer: 0 };
    new Counter({
      name: "ringdns_mdns_cache_refused_total",
      help: "Records heard on the LAN and not cached: the cache full (--mdns-max-records) or the peer over its share (--mdns-max-per-peer)",
      labelNames: ["reason"],
      registers: [prom],
      collect() {
        const now = sources.mdns()?.cacheRefused ?? refused;
        this.labels("full").inc(now.full - refused.full);
        this.labels("per-peer").inc(now.perPeer - refused.perPeer);
        Object.assign(refused, now);
      },
    });
    const browsesRefused = { followed: 0, asked: 0, subscribed: 0, rate: 0 };
    new Counter({
      name: "ringdns_mdns_browses_refused_total",
      help: "Service types the mDNS learner did not browse: over its bound on types the LAN named (followed), on names unicast clients asked for (asked), on names DNS Push clients follow (subscribed), or past the rate of new questions clients may cause (rate)",
      labelNames: ["reason"],
      registers: [prom],
      collect() {
        const now = sources.mdns()?.browsesRefused ?? browsesRefused;
        this.labels("followed").inc(now.followed - browsesRefused.followed);
        this.labels("asked").inc(now.asked - browsesRefused.asked);
        this.labels("subscribed").inc(now.subscribed - browsesRefused.subscribed);
        this.labels("rate").inc(now.rate - browsesRefused.rate);
        Object.assign(browsesRefused, now);
      },
    });
    const proxied = { answered: 0, timedOut: 0, refused: 0 };
    new Counter({
      name: "ringdns_mdns_proxy_queries_total",
      help: "Unicast queries for .local names the discovery proxy (RFC 8766) held while it asked the LAN: answered once learned, timeout (--mdns-proxy-wait passed), or refused (too many held at once, answered at once)",
      labelNames: ["outcome"],
      registers: [prom],
      collect() {
        const now = sources.mdns()?.proxy ?? proxied;
        this.labels("answered").inc(now.answered - proxied.answered);
        this.labels("timeout").inc(now.timedOut - proxied.timedOut);
        this.labels("refused").inc(now.refused - proxied.refused);
        Object.assign(proxied, now);
      },
    });
    let offLink = 0;
    new Counter({
      name: "ringdns_mdns_off_link_dropped_total",
      help: "mDNS packets ignored because their source is not on the receiving interface's link (RFC 6762 §5.5, §11)",
      registers: [prom],
      collect() {
        const now = sources.mdns()?.offLink ?? offLink;
        this.inc(now - offLink);
        offLink = now;
      },
    });
    new Gauge({
      name: "ringdns_mdns_cache_records",
      help: "Records in the mDNS learner's cache",
      registers: [prom],
      collect() {
        this.set(sources.mdns()?.cacheRecords ?? 0);
      },
    });
  }

  /** The exposition text, with the query workers' counts summed in. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const all = [await this.prom.getMetricsAsJSON(), ...(await this.sources.others())];
    const merged = AggregatorRegistry.aggregate(all);
    return { contentType: this.prom.contentType, body: await merged.metrics() };
  }
}
