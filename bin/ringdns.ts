#!/usr/bin/env node
// The ringdns command line: serve, resolve, hash.
import { Command, Option } from "commander";
import {
  resolveConfig,
  parseListenAddress,
  parseDomain,
  LOG_LEVELS,
  type Config,
  type ConfigInput,
} from "../src/config.js";
import {
  explainOrigin,
  layerSettings,
  settingsFromEnv,
  settingsFromFile,
  type Origins,
  type SettingSpec,
  type Settings,
} from "../src/config-layers.js";
import { formatName } from "../src/names.js";
import { startDaemon, type Daemon } from "../src/daemon.js";
import { RingdnsError } from "../src/errors.js";
import { runResolve } from "../src/cli/resolve.js";
import { runHash } from "../src/cli/hash.js";
import { runKeygen } from "../src/cli/keygen.js";
import { pushName, subscribe } from "../src/client/push.js";
import { VERSION } from "../src/version.js";
import { queryServer } from "../src/client/dns-client.js";
import { Class, Type } from "../src/wire/constants.js";
import { runDeregister, runRegister } from "../src/cli/register.js";
import { describeEvent } from "../src/cli/watch.js";
import { watch } from "../src/client/watch.js";
import { readFileSync } from "node:fs";
import { makeLogger } from "../src/log.js";
import { reportInternalError } from "../src/guard.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The settings `serve` takes, as the config file and environment name them: its flags. */
function settingSpecs(cmd: Command): SettingSpec[] {
  return cmd.options
    .filter((o) => o.long !== undefined && o.long !== "--config")
    .map((o) => ({
      name: o.long!.replace(/^--(no-)?/, ""),
      key: o.attributeName(),
      kind: o.negate || o.isBoolean() ? "switch" : o.parseArg === collect ? "list" : "value",
    }));
}

function fail(e: unknown): never {
  if (e instanceof RingdnsError) process.stderr.write(`ringdns: ${e.message}\n`);
  else process.stderr.write(`ringdns: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
}

const program = new Command()
  .name("ringdns")
  .description("DNS-SD / mDNS discovery server with a consistent-hash ring")
  .version(VERSION)
  .showSuggestionAfterError()
  .configureOutput({ outputError: (str, write) => write(`${str.split("\n")[0]}\n`) });

program
  .command("serve")
  .description("run the daemon: answer DNS-SD and _hash queries over UDP and TCP")
  .option(
    "--config <file>",
    "settings file (YAML or JSON): any flag below by its name without dashes, e.g. max-udp-size: 4096 (see examples/ringdns.yaml)",
  )
  .option("--dns <addr:port>", "UDP+TCP listener, repeatable (default 0.0.0.0:8053 and [::]:8053)", collect)
  .option(
    "--dns-tls <addr:port>",
    "DNS over TLS listener (RFC 7858; kdig +tls), repeatable; off unless given; needs --tls-cert and --tls-key",
    collect,
  )
  .option("--tls-cert <file>", "certificate chain for --dns-tls (PEM); re-read on SIGHUP")
  .option("--tls-key <file>", "private key for --dns-tls (PEM); re-read on SIGHUP")
  .option(
    "--dso-inactivity-timeout <seconds>",
    "DSO sessions on --dns-tls (RFC 8490): the inactivity timeout given to clients; an idle session is closed after twice it",
    "15",
  )
  .option(
    "--push-max-subscriptions-per-source <n>",
    "DNS Push on --dns-tls: subscriptions one address may hold across its sessions (REFUSED beyond)",
    "1024",
  )
  .option("--domain <name>", "served domain besides local., repeatable (e.g. svc.example.)", collect)
  .option("--services <file>", "static registrations, YAML or JSON (see examples/services.yaml)")
  .addOption(new Option("--log-level <level>", "log detail").choices(LOG_LEVELS as string[]).default("info"))
  .addOption(
    new Option("--log-format <format>", "json lines, or pretty lines for people (auto: pretty on a terminal)")
      .choices(["auto", "json", "pretty"])
      .default("auto"),
  )
  .option(
    "--log-queries <fraction>",
    "log this fraction of queries, a line each (0.01 = one in a hundred; default none, all with --log-level debug)",
  )
  .option("--ttl <seconds>", "TTL of answers (a lease's remaining time caps it)", "30")
  .option("--negative-ttl <seconds>", "SOA minimum: how long NXDOMAIN/NODATA may be cached", "5")
  .option(
    "--zone-ns <name>",
    'name server in the NS RRset at each served apex: a host label put under each zone (its registered addresses go along), or an absolute name ending in "." (default: this machine\'s host name)',
  )
  .option("--max-udp-size <bytes>", "largest UDP reply to EDNS clients (512 without EDNS)", "1232")
  .option("--tcp-idle-timeout <seconds>", "close idle TCP connections after this long", "10")
  .option(
    "--tcp-max-connections <n>",
    "open TCP connections at most; beyond, a new one takes the place of the one idle the longest",
    "256",
  )
  .option(
    "--tcp-max-per-source <n>",
    "open TCP connections from one address (IPv6: one /64) at most (on --dns-tls counted from the connect, before the TLS handshake)",
    "32",
  )
  .option(
    "--tcp-read-timeout-ms <ms>",
    "a TCP message must arrive whole within this many milliseconds of its first byte",
    "2000",
  )
  .option(
    "--tcp-max-unsent-bytes <bytes>",
    "a TCP connection reads no more queries while this many bytes of its replies wait for the client to take them (at least 65536)",
    "131072",
  )
  .option(
    "--tcp-max-pipelined <n>",
    "queries of one TCP connection waiting for an answer (UPDATEs) at most; reading pauses beyond",
    "16",
  )
  .option(
    "--tcp-write-timeout-ms <ms>",
    "close a TCP connection whose client takes none of its replies for this many milliseconds",
    "2000",
  )
  .option(
    "--ring-points <n>",
    "ring points per unit of SRV weight (docs/hash.md; every daemon and client must use the same)",
    "16",
  )
  .option("--data-dir <dir>", "embedded store for registrations made by DNS UPDATE (default ./ringdns-data)")
  .option(
    "--store <kind>",
    "lmdb (embedded, crash-safe; the default), memory (lost on exit), or etcd://host:port[,host:port…][/prefix] (shared by a cluster)",
  )
  .option(
    "--node-name <name>",
    "with --store etcd://: this daemon's name in the cluster, written with its registrations (default: the host name)",
  )
  .option("--etcd-ca <file>", "with --store etcd://: CA certificate to verify etcd with (talks TLS to etcd)")
  .option(
    "--etcd-cert <file>",
    "with --store etcd://: client certificate for etcd's --client-cert-auth (with --etcd-key)",
  )
  .option("--etcd-key <file>", "with --store etcd://: the client certificate's private key")
  .option("--etcd-user <name>", "with --store etcd://: etcd user (etcd auth enabled)")
  .option(
    "--etcd-password-file <file>",
    "with --store etcd://: file holding that user's password (first line); needs --etcd-ca",
  )
  .option(
    "--etcd-insecure",
    "with --store etcd://: allow --etcd-user without TLS (the password crosses the network in clear text)",
  )
  .option("--key-file <file>", "TSIG keys in BIND format (ringdns keygen writes one), repeatable", collect)
  .option(
    "--key-zone <key=zones>",
    "limit a key to zones: every name its updates change or test must be in them, e.g. ringdns-key=svc.example.; repeatable",
    collect,
  )
  .option(
    "--admin-key <name>",
    "a TSIG key that may change any registration, whoever registered it (not the services file's); repeatable; the key must be loaded by --key-file",
    collect,
  )
  .option(
    "--allow-update <cidr>",
    'sources allowed to send unsigned updates, repeatable (default 127.0.0.0/8 and ::1; "none" for none)',
    collect,
  )
  .option(
    "--allow-transfer <cidr>",
    'sources that may transfer each served zone (AXFR, IXFR over TCP: a hidden primary for standard secondaries, README "Hidden primary"), repeatable; default none',
    collect,
  )
  .option(
    "--transfer-key <name>",
    "a TSIG key whose signed AXFR/IXFR requests may transfer, from any source; repeatable; the key must be loaded by --key-file",
    collect,
  )
  .option("--max-transfers <n>", "zone transfers under way at once at most; beyond, REFUSED", "4")
  .option(
    "--transfer-learned",
    "transfer the instances and hosts learned from the LAN by mDNS too (unauthenticated: off by default)",
  )
  .option(
    "--ixfr-journal <n>",
    "changes kept per zone for IXFR, in the store (a restart keeps them; shared on etcd); a secondary further behind gets the whole zone",
    "1000",
  )
  .option(
    "--notify <addr:port>",
    "secondary told of every change by NOTIFY (RFC 1996), e.g. 192.0.2.53:53; repeatable",
    collect,
  )
  .option(
    "--notify-interval <ms>",
    "NOTIFY rounds at most this often (at least 100), changes in between coalesced",
    "1000",
  )
  .option("--lease-min <seconds>", "shortest lease granted (RFC 9664 Update Lease)", "30")
  .option("--lease-max <seconds>", "longest lease granted", "604800")
  .option("--default-lease <seconds>", 'lease for updates that ask for none ("none": permanent, as in DNS)', "none")
  .option(
    "--srp-from <cidr>",
    "sources that may register by SRP (RFC 9665: UPDATEs signed with SIG(0) by the device's own key, in default.service.arpa.), repeatable; default loopback and the networks of this host's interfaces; \"none\" turns SRP off",
    collect,
  )
  .option("--key-lease-max <seconds>", "longest SRP KEY-LEASE granted: how long a name stays its key's", "604800")
  .option(
    "--srp-verify-rate <n>",
    "SRP signature checks a second from one source at most (burst as many); 0 = no limit",
    "100",
  )
  .option(
    "--max-registrations <n>",
    "instances registered at most, all types and domains, and as many hosts (updates beyond are REFUSED)",
    "100000",
  )
  .option("--max-registrations-per-key <n>", "instances one TSIG key may own at most, and as many hosts", "10000")
  .option("--max-instances-per-type <n>", "instances of one service type in one domain at most", "100000")
  .option(
    "--max-ring-weight <n>",
    "SRV weights of one type's instances in one domain together at most (0 counts as 1; each unit is --ring-points points of 8 bytes); default 1048576 × 16 / --ring-points (128 MiB of points)",
  )
  .option(
    "--max-total-ring-weight <n>",
    "SRV weights of every ring together at most (what all rings' points cost); default 4194304 × 16 / --ring-points (512 MiB of points)",
  )
  .option("--max-addresses-per-host <n>", "A and AAAA records one host may have at most", "16")
  .option("--max-txt-bytes <n>", "TXT bytes one instance may carry at most", "4000")
  .option("--max-subtypes <n>", "subtypes one instance may be listed under at most", "32")
  .option("--update-rate <n>", "updates a second from one source address at most (burst as many); 0 = no limit", "100")
  .option(
    "--update-rate-exempt <cidr>",
    'sources the update rate does not apply to, repeatable (default 127.0.0.0/8 and ::1; "none")',
    collect,
  )
  .option(
    "--mdns-interface <if>",
    "run mDNS on this interface (learn and advertise services), repeatable; off unless given",
    collect,
  )
  .option("--no-mdns", "no mDNS even if --mdns-interface is given")
  .option("--mdns-max-records <n>", "records the mDNS cache holds at most; new ones beyond are not taken", "10000")
  .option("--mdns-max-per-peer <n>", "records one LAN peer may have in the mDNS cache at most", "1000")
  .option(
    "--mdns-proxy-wait <ms>",
    "discovery proxy (RFC 8766): how long a unicast query for a .local name nothing answers waits while the LAN is asked (0 = answer at once, at most 6000)",
    "1000",
  )
  .option(
    "--http <addr:port>",
    "HTTP admin API, live dashboard (/) and Prometheus metrics (/metrics), e.g. 127.0.0.1:8080; off unless given",
  )
  .option(
    "--http-token-file <file>",
    "bearer token for registering over HTTP (and for reads from elsewhere); without it HTTP is read-only",
  )
  .option(
    "--http-read-from <cidr>",
    'sources that may read over HTTP without the token, repeatable (default 127.0.0.0/8 and ::1; "none" for none)',
    collect,
  )
  .option(
    "--http-host <name>",
    "a host name HTTP requests may be addressed to (their Host header), repeatable; IP addresses and localhost always are; others get 421 (against DNS rebinding). Default: this machine's host name",
    collect,
  )
  .option("--http-max-watchers <n>", "event streams (/v1/watch, the dashboard) open at once; more get 503", "64")
  .option("--http-max-watchers-per-source <n>", "event streams open at once from one address; more get 429", "8")
  .option(
    "--rrl-rate <n>",
    "UDP replies per second per source /24 (IPv6 /56) before rate limiting; 0 = no limit",
    "1000",
  )
  .option(
    "--rrl-slip <n>",
    "of the limited replies, every n-th goes out truncated (TC=1) so real clients retry over TCP; 0 = drop all",
    "2",
  )
  .option(
    "--rrl-exempt <cidr>",
    'sources never rate-limited, repeatable (default 127.0.0.0/8 and ::1; "none")',
    collect,
  )
  .option(
    "--workers <n>",
    'processes answering UDP queries ("auto": one per CPU); updates, TCP and mDNS stay in the first',
    "1",
  )
  .addHelpText(
    "after",
    `
Every setting also comes from the environment as RINGDNS_ and the flag in
capitals (RINGDNS_MAX_UDP_SIZE=4096; lists comma-separated: RINGDNS_DNS=127.0.0.1:53,[::1]:53;
switches true/false: RINGDNS_MDNS=false) and from --config FILE (RINGDNS_CONFIG).
The command line wins over the environment, which wins over the file.

Examples:
  ringdns serve --services examples/services.yaml --dns 127.0.0.1:8053
  ringdns serve --config /etc/ringdns/ringdns.yaml
  ringdns serve --dns 0.0.0.0:53 --dns [::]:53 --domain svc.example. --services /etc/ringdns/services.yaml
  ringdns serve --key-file /etc/ringdns/update.key --data-dir /var/lib/ringdns --default-lease 3600
  ringdns serve --mdns-interface eth0 --domain svc.example.   LAN services served by unicast DNS, and the other way round
  dig @127.0.0.1 -p 8053 _cache._tcp.local PTR`,
  )
  .action(async (flags: Settings, cmd: Command) => {
    let config: Config;
    const specs = settingSpecs(cmd);
    const origins: Origins = new Map();
    try {
      const env = settingsFromEnv(process.env, [...specs, { name: "config", key: "config", kind: "value" }]);
      const configFile = cmd.getOptionValueSource("config") === "cli" ? flags.config : env.settings.config;
      const file =
        typeof configFile === "string" ? settingsFromFile(configFile, specs) : { settings: {}, origins: new Map() };
      for (const [k, o] of [...file.origins, ...env.origins])
        if (cmd.getOptionValueSource(k) !== "cli") origins.set(k, o);
      config = resolveConfig(
        layerSettings(flags, (k) => cmd.getOptionValueSource(k) === "cli", file.settings, env.settings) as ConfigInput,
      );
    } catch (e) {
      if (e instanceof RingdnsError) fail(new RingdnsError(e.code, explainOrigin(e.message, specs, origins)));
      fail(e);
    }
    const log = makeLogger(config.logLevel, config.logFormat);
    // signal handlers go in before the daemon starts: "ringdns listening" is logged while it starts,
    // and a SIGTERM right after it must drain and exit cleanly, not kill the process mid-way
    let daemon: Daemon | undefined;
    let stopSignal: string | undefined;
    const stop = (signal: string) => {
      stopSignal = signal;
      if (!daemon) return; // still starting: stopped as soon as it has started (a second signal kills at once)
      log.info({ signal }, "shutting down");
      daemon.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGHUP", () => void daemon?.reload());
    // a promise nobody awaited must not end the daemon: entry points are guarded (src/guard.ts), this is the net below them
    process.on("unhandledRejection", (err) => reportInternalError("unhandled promise rejection", err));
    try {
      daemon = await startDaemon(config, { log });
    } catch (e) {
      fail(e);
    }
    if (stopSignal) stop(stopSignal);
  });

program
  .command("resolve")
  .description("ask a ringdns server: browse a type, resolve an instance, or find a key's owner")
  .argument("<type>", "service type, e.g. _cache._tcp")
  .argument("[instance]", "instance name to resolve (omit to browse)")
  .option("--key <key>", "show the ring owner of this key (a _hash query)")
  .option("--subtype <label>", "browse only instances with this subtype, e.g. _eu")
  .option("--server <addr:port>", "server to ask", "127.0.0.1:8053")
  .option("--domain <name>", "domain the type lives under", "local.")
  .option("--tcp", "use TCP instead of UDP")
  .option("--json", "print JSON instead of text")
  .addHelpText(
    "after",
    `
Examples:
  ringdns resolve _cache._tcp                 list instances with host, port, TXT, addresses
  ringdns resolve _cache._tcp alpha           one instance
  ringdns resolve _cache._tcp --key user42    which instance owns key "user42"
  ringdns resolve _cache._tcp --subtype _eu --server 192.0.2.53:53`,
  )
  .action(async (type: string, instance: string | undefined, opts) => {
    try {
      const [server] = parseListenAddress(opts.server, "--server");
      const code = await runResolve({
        type,
        instance,
        key: opts.key,
        subtype: opts.subtype,
        server: server!,
        domain: formatName(parseDomain(opts.domain)),
        tcp: !!opts.tcp,
        json: !!opts.json,
      });
      process.exitCode = code;
    } catch (e) {
      fail(e);
    }
  });

program
  .command("hash")
  .description("compute a key's owner offline from a services file (same ring as the daemon)")
  .argument("<type>", "service type, e.g. _cache._tcp")
  .argument("<keys...>", "one or more keys, written as left of _hash (b32-… for binary keys)")
  .requiredOption("--services <file>", "services file the daemon serves")
  .option("--successors <n>", "also list the next N-1 distinct instances clockwise", "1")
  .option("--ring-points <n>", "ring points per unit of SRV weight (must match the daemon)", "16")
  .option("--json", "print JSON instead of text")
  .addHelpText(
    "after",
    `
Examples:
  ringdns hash _cache._tcp user42 --services examples/services.yaml
  ringdns hash _cache._tcp user42 --services examples/services.yaml --successors 3
  ringdns hash _cache._tcp k1 k2 k3 --services examples/services.yaml   one "key<TAB>owner" line each`,
  )
  .action((type: string, keys: string[], opts) => {
    try {
      process.exitCode = runHash({
        type,
        keys,
        servicesFile: opts.services,
        successors: opts.successors,
        ringPoints: opts.ringPoints,
        json: !!opts.json,
      });
    } catch (e) {
      fail(e);
    }
  });

const clientOptions = (c: Command) =>
  c
    .option("--server <addr:port>", "ringdns server", "127.0.0.1:8053")
    .option("--domain <name>", "zone to register in (default local.; with --srp default.service.arpa.)")
    .option("--key-file <file>", "TSIG key file (BIND format, or Knot's alg:name:secret line)")
    .option("--key <[alg:]name:secret>", "TSIG key given inline, as nsupdate -y")
    .option("--tcp", "use TCP");

const clientArgs = (opts: {
  server: string;
  domain?: string;
  keyFile?: string;
  key?: string;
  tcp?: boolean;
  srp?: boolean;
}) => ({
  server: parseListenAddress(opts.server, "--server")[0]!,
  domain: formatName(parseDomain(opts.domain ?? (opts.srp ? "default.service.arpa." : "local."))),
  ...(opts.keyFile ? { keyFile: opts.keyFile } : {}),
  ...(opts.key ? { key: opts.key } : {}),
  tcp: !!opts.tcp,
});

clientOptions(
  program
    .command("register")
    .description("register a service instance by DNS UPDATE and keep it registered (renewing its lease) until Ctrl-C")
    .argument("<type>", "service type, e.g. _cache._tcp")
    .argument("<instance>", "instance name, e.g. alpha")
    .requiredOption("--host <label>", "host label; served as <host>.<domain>")
    .requiredOption("--port <port>", "SRV port")
    .option("--address <ip>", "address of the host, repeatable", collect, [])
    .option("--txt <key=value>", "TXT string, repeatable", collect, [])
    .option("--subtype <label>", "subtype, e.g. _eu; repeatable", collect, [])
    .option("--priority <n>", "SRV priority", "0")
    .option("--weight <n>", "SRV weight: the instance's share of the ring", "1")
    .option("--lease <seconds>", "lease to ask for (renewed at 75%); omit for a permanent registration")
    .option("--once", "register and exit, without renewing")
    .option(
      "--srp",
      "register as an SRP client (RFC 9665): signed with the host's own key (SIG(0)), in default.service.arpa. unless --domain, lease one hour unless --lease, renewed at 80%",
    )
    .option(
      "--srp-key <path>",
      "with --srp: the key pair's .private file (ringdns keygen --algorithm ecdsa-p256), or a directory that keeps one per host (made on first use); default ~/.config/ringdns/srp-keys",
    )
    .option(
      "--key-lease <seconds>",
      "with --srp: KEY-LEASE to ask for, how long the name stays this key's (default 7 days)",
    ),
)
  .addHelpText(
    "after",
    `
Examples:
  ringdns register _cache._tcp alpha --host alpha --address 192.0.2.10 --port 11211 --lease 60 --key-file update.key
  ringdns register _http._tcp web-1 --host web-1 --port 8080 --txt path=/ --once
  ringdns register --srp _ipp._tcp "Office Printer" --host printer --address 192.0.2.7 --port 631`,
  )
  .action(async (type: string, instance: string, opts) => {
    try {
      process.exitCode = await runRegister({
        ...clientArgs(opts),
        type,
        instance,
        host: opts.host,
        port: opts.port,
        address: opts.address,
        txt: opts.txt,
        subtype: opts.subtype,
        priority: opts.priority,
        weight: opts.weight,
        lease: opts.lease,
        once: !!opts.once,
        srp: !!opts.srp,
        ...(opts.srpKey ? { srpKey: opts.srpKey } : {}),
        ...(opts.keyLease ? { keyLease: opts.keyLease } : {}),
      });
    } catch (e) {
      fail(e);
    }
  });

clientOptions(
  program
    .command("deregister")
    .description("remove a registered service instance by DNS UPDATE")
    .argument("<type>", "service type, e.g. _cache._tcp")
    .argument("<instance>", "instance name"),
)
  .addHelpText(
    "after",
    `
Examples:
  ringdns deregister _cache._tcp alpha --key-file update.key`,
  )
  .action(async (type: string, instance: string, opts) => {
    try {
      process.exitCode = await runDeregister({ ...clientArgs(opts), type, instance });
    } catch (e) {
      fail(e);
    }
  });

program
  .command("watch")
  .description(
    "follow a daemon's registry as it changes, a line per event (the daemon's --http), or a type or key by DNS Push (--push)",
  )
  .argument("[type]", "only this service type, e.g. _cache._tcp")
  .option("--http <url>", "the daemon's HTTP admin address", "http://127.0.0.1:8080")
  .option("--token-file <file>", "bearer token, when reads from here need one")
  .option("--json", "print each event as a JSON line")
  .option("--push <addr:port>", "follow by DNS Push (RFC 8765) over the daemon's --dns-tls listener instead")
  .option("--key <key>", "with --push: follow this key's owner on the type's ring (its _hash name)")
  .option("--domain <name>", "with --push: the domain the type is in", "local.")
  .option("--ca <file>", "with --push: CA certificate (PEM) to check the daemon's certificate with")
  .option("--insecure", "with --push: do not check the daemon's certificate")
  .addHelpText(
    "after",
    `
Examples:
  ringdns watch --http http://127.0.0.1:8080
  ringdns watch _cache._tcp --json
  ringdns watch --push 127.0.0.1:8853 --ca cert.pem _cache._tcp
  ringdns watch --push 127.0.0.1:8853 --ca cert.pem _cache._tcp --key user:42`,
  )
  .action(async (type: string | undefined, opts) => {
    try {
      if (opts.push) {
        if (!type) throw new RingdnsError("RINGDNS_E_BAD_CONFIG", "--push: give the service type to follow");
        const server = parseListenAddress(opts.push, "--push")[0]!;
        const what = pushName(type, opts.domain, opts.key);
        for await (const c of subscribe({
          server,
          ...what,
          ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
          ...(opts.insecure ? { insecure: true } : {}),
          onConnect: () => process.stderr.write(`following ${what.name} ${what.type} by DNS Push (Ctrl-C to stop)\n`),
        })) {
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(c)}\n`
              : c.op === "reset"
                ? "reset: reconnected; what follows is the whole state again\n"
                : `${c.op.padEnd(6)} ${c.name} ${c.type} ${c.data}\n`,
          );
        }
        return;
      }
      const token = opts.tokenFile ? readFileSync(opts.tokenFile, "utf8").split(/\r?\n/)[0]!.trim() : undefined;
      const onConnect = () =>
        process.stderr.write(`watching ${opts.http}${type ? ` for ${type}` : ""} (Ctrl-C to stop)\n`);
      for await (const e of watch({
        url: opts.http,
        onConnect,
        ...(type ? { type } : {}),
        ...(token ? { token } : {}),
      })) {
        process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${describeEvent(e)}\n`);
      }
    } catch (e) {
      fail(e);
    }
  });

program
  .command("status")
  .description("ask a running daemon about itself: store health, revision, registrations (status.ringdns. CH TXT)")
  .option("--server <addr:port>", "daemon to ask", "127.0.0.1:8053")
  .addHelpText(
    "after",
    `
Examples:
  ringdns status --server 127.0.0.1:8053
  dig @127.0.0.1 -p 8053 status.ringdns CH TXT      the same, with dig`,
  )
  .action(async (opts) => {
    try {
      const server = parseListenAddress(opts.server, "--server")[0]!;
      const res = await queryServer(server, ["status", "ringdns"], Type.TXT, { class: Class.CH });
      const txt = res.answers.find((a) => a.type === Type.TXT)?.data;
      if (!txt || !("strings" in txt))
        throw new Error(`${opts.server} did not answer status.ringdns. CH TXT (${res.rcodeName})`);
      process.stdout.write(`${txt.strings.map((s) => s.toString()).join("\n")}\n`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command("keygen")
  .description(
    "write a new TSIG key in BIND's format (for --key-file, nsupdate -k, knsupdate -k), or a SIG(0) key pair for SRP",
  )
  .argument(
    "<name>",
    "key name, e.g. ringdns-key; for a SIG(0) key the host it registers, e.g. printer.default.service.arpa",
  )
  .addOption(
    new Option("--algorithm <alg>", "HMAC algorithm (TSIG), or ecdsa-p256 / ed25519 for a SIG(0) key pair")
      .choices([
        "hmac-sha256",
        "hmac-sha512",
        "hmac-sha384",
        "hmac-sha224",
        "hmac-sha1",
        "hmac-md5",
        "ecdsa-p256",
        "ed25519",
      ])
      .default("hmac-sha256"),
  )
  .option(
    "--out <path>",
    "TSIG: write to this file (mode 0600) instead of standard output; SIG(0): the directory for both files (default: .)",
  )
  .addHelpText(
    "after",
    `
Examples:
  ringdns keygen ringdns-key --out /etc/ringdns/update.key
  ringdns serve --key-file /etc/ringdns/update.key
  nsupdate -k /etc/ringdns/update.key

  ringdns keygen --algorithm ecdsa-p256 printer.default.service.arpa
    (writes Kprinter.default.service.arpa.+013+<tag>.key and .private, prints their base;
     an SRP client signs its registrations with it: nsupdate -k K….private, ringdns register --srp)`,
  )
  .action((name: string, opts) => {
    try {
      process.exitCode = runKeygen(name, opts.algorithm, opts.out);
    } catch (e) {
      fail(e);
    }
  });

program.parseAsync(process.argv).catch(fail);
