// Multicast DNS (RFC 6762/6763) on the interfaces named with --mdns-interface:
// the responder advertises registrations, the learner mirrors what the LAN
// announces. Only this module knows both; they share the sockets.
import type { RemoteInfo } from "node:dgram";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import { guarded } from "../../guard.js";
import type { Labels } from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import type { RegistrationLimits } from "../../registry/limits.js";
import { decodeMessage, type DecodedData, type DecodedMessage } from "../../wire/decode.js";
import type { MdnsStats } from "../../metrics.js";
import { MdnsLearner } from "./learner.js";
import type { CacheLimits } from "./cache.js";
import { DEFAULT_PROXY_WAIT_MS, DiscoveryProxy } from "./proxy.js";
import { MdnsResponder } from "./responder.js";
import { interfaceAddress, MDNS_PORT, openTransport, sameAddress, type MdnsTransport } from "./transport.js";

export interface Mdns {
  readonly interfaces: readonly { iface: string; family: 4 | 6; address: string }[];
  stats(): MdnsStats;
  /** Unicast queries for `.local` names nothing answers: held while the LAN is asked (RFC 8766). */
  readonly proxy: DiscoveryProxy;
  /** A DNS Push subscription to a `.local` name: the LAN is asked about it until the release is called (see MdnsLearner.follow). */
  follow(name: Labels, type: number, source: string): (() => void) | undefined;
  /** A DNS Push client doubts a `.local` record (RECONFIRM): see MdnsLearner.reconfirm. */
  reconfirm(name: Labels, type: number, data: DecodedData): boolean;
  close(): Promise<void>;
}

export type { MdnsStats };

export async function startMdns(
  interfaces: readonly string[],
  deps: {
    registry: Registry;
    clock: Clock;
    log: Logger;
    cacheLimits?: CacheLimits;
    limits?: RegistrationLimits;
    /** How long the discovery proxy holds a unicast query the LAN may answer, ms (0 = not at all). */
    proxyWaitMs?: number;
  },
  port = MDNS_PORT,
): Promise<Mdns> {
  const transports: MdnsTransport[] = [];
  try {
    for (const iface of interfaces) {
      transports.push(await openTransport(iface, 4, deps.log, port));
      // IPv6 where the interface has a link-local address; an IPv4-only interface is fine
      if (interfaceAddress(iface, 6)) transports.push(await openTransport(iface, 6, deps.log, port));
      else deps.log.info({ iface }, "mDNS: no IPv6 link-local address, IPv4 only");
    }
  } catch (e) {
    await Promise.all(transports.map((t) => t.close()));
    throw e;
  }
  const responder = new MdnsResponder({ ...deps, transports });
  let offLink = 0;
  const learner = new MdnsLearner({ ...deps, transports, isOurs: (type, label) => responder.isOurs(type, label) });
  for (const t of transports) {
    // a fault in handling one packet is logged and counted (guard.ts); the next packet is handled as usual
    t.onMessage(
      guarded(`mdns packet on ${t.iface}`, (buf: Buffer, from: RemoteInfo) => {
        if (sameAddress(from.address, t.address) && from.port === port) return; // our own packet, looped back
        if (!t.isOnLink(from.address)) {
          // §5.5, §11: not from this link (a unicast packet from afar): no reply, nothing learned
          offLink++;
          if (offLink === 1 || offLink % 1000 === 0)
            deps.log.warn(
              { iface: t.iface, from: from.address, dropped: offLink },
              "mDNS: packet from off the link ignored",
            );
          return;
        }
        let msg: DecodedMessage;
        try {
          msg = decodeMessage(buf);
        } catch (err) {
          deps.log.debug(
            { iface: t.iface, from: from.address, err: (err as Error).message },
            "mDNS: undecodable packet dropped",
          );
          return;
        }
        if (!msg.flags.qr) responder.onQuery(msg, from, t);
        else {
          responder.onResponse(msg);
          learner.onResponse(msg, from, t);
        }
      }),
    );
  }
  const proxy = new DiscoveryProxy({
    registry: deps.registry,
    ask: (name, type) => learner.askNow(name, type),
    waitMs: deps.proxyWaitMs ?? DEFAULT_PROXY_WAIT_MS,
  });
  responder.start();
  learner.start();
  deps.log.info({ interfaces: transports.map((t) => `${t.iface} (${t.address})`) }, "mDNS running");
  return {
    interfaces: transports.map((t) => ({ iface: t.iface, family: t.family, address: t.address })),
    proxy,
    follow: (name, type, source) => learner.follow(name, type, source),
    reconfirm: (name, type, data) => learner.reconfirm(name, type, data),
    stats: () => ({
      ...responder.counts,
      cacheRecords: learner.cache.size(),
      cacheRefused: { ...learner.cache.refused },
      browsesRefused: { ...learner.browsesRefused },
      offLink,
      proxy: { ...proxy.counts },
    }),
    async close() {
      proxy.close();
      await learner.close();
      await responder.close();
      await Promise.all(transports.map((t) => t.close()));
    },
  };
}
