// One data set, written for all three servers: a ringdns services file, a
// zone file for knotd, a dnsmasq config, and the dnsperf query file. The
// reference servers get each _hash name's owner precomputed by ringdns's ring
// (they serve a static answer; ringdns computes it live).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import { parseServicesFile } from "../../src/registry/services-file.js";
import { MemoryStore } from "../../src/store/memory.js";

export interface Dataset {
  dir: string;
  servicesFile: string;
  zoneFile: string;
  dnsmasqConf: string;
  queryFile: string;
  instances: number;
  types: number;
  queries: number;
}

export const ZONE = "bench.example.";

export async function writeDataset(dir: string, instances = 1000, types = 10): Promise<Dataset> {
  const lines = ["services:"];
  const items: { inst: string; type: string; host: string; addr: string; port: number; txt: string[]; sub: string }[] =
    [];
  for (let i = 0; i < instances; i++) {
    const t = `_svc${i % types}._tcp`;
    const item = {
      inst: `node-${i}`,
      type: t,
      host: `host-${i}`,
      addr: `198.51.100.${(i % 250) + 1}`,
      port: 10000 + i,
      txt: [`id=${i}`, "version=1.4"],
      sub: i % 2 ? "_even" : "_odd",
    };
    items.push(item);
    lines.push(
      `  - {instance: ${item.inst}, type: ${t}, subtypes: [${item.sub}], host: ${item.host}, addresses: [${item.addr}], port: ${item.port}, txt: [${item.txt.join(", ")}]}`,
    );
  }
  const servicesFile = join(dir, "services.yaml");
  writeFileSync(servicesFile, `${lines.join("\n")}\n`);

  // the ring's answers, computed once by the same code the daemon uses
  const registry = new Registry({ clock: new ManualClock(0), store: new MemoryStore() });
  await registry.open();
  const s = parseServicesFile(lines.join("\n"), servicesFile);
  registry.loadStatic(s.instances, s.hosts);
  const hashKeys = Array.from({ length: 200 }, (_, k) => `user${k}`);

  const z = ZONE;
  const zone = [
    `$ORIGIN ${z}`,
    "$TTL 30",
    `@ SOA ns.${z} hostmaster.${z} 1 3600 600 86400 5`,
    `@ NS ns.${z}`,
    `ns A 192.0.2.53`,
  ];
  const dm = ["no-resolv", "no-hosts", "cache-size=0", "edns-packet-max=4096", `local=/${z.slice(0, -1)}/`];
  for (let t = 0; t < types; t++) {
    zone.push(`_services._dns-sd._udp PTR _svc${t}._tcp.${z}`);
    dm.push(`ptr-record=_services._dns-sd._udp.${z.slice(0, -1)},_svc${t}._tcp.${z.slice(0, -1)}`);
  }
  for (const it of items) {
    const name = `${it.inst}.${it.type}.${z}`;
    zone.push(
      `${it.type} PTR ${name}`,
      `${it.sub}._sub.${it.type} PTR ${name}`,
      `${it.inst}.${it.type} SRV 0 1 ${it.port} ${it.host}.${z}`,
      `${it.inst}.${it.type} TXT ${it.txt.map((x) => `"${x}"`).join(" ")}`,
      `${it.host} A ${it.addr}`,
    );
    const n = name.slice(0, -1);
    dm.push(
      `ptr-record=${it.type}.${z.slice(0, -1)},${n}`,
      `ptr-record=${it.sub}._sub.${it.type}.${z.slice(0, -1)},${n}`,
      `srv-host=${n},${it.host}.${z.slice(0, -1)},${it.port},0,1`,
      `txt-record=${n},${it.txt.join(",")}`,
      `host-record=${it.host}.${z.slice(0, -1)},${it.addr}`,
    );
  }
  for (let t = 0; t < types; t++) {
    const type = { service: `_svc${t}`, proto: "_tcp" as const };
    for (const key of hashKeys) {
      const owner = registry.ownerOf(type, key)!;
      const hn = `${key}._hash._svc${t}._tcp`;
      zone.push(`${hn} SRV 0 1 ${owner.port} ${owner.host[0]}.${z}`);
      dm.push(`srv-host=${hn}.${z.slice(0, -1)},${owner.host[0]}.${z.slice(0, -1)},${owner.port},0,1`);
    }
  }
  const zoneFile = join(dir, "bench.example.zone");
  writeFileSync(zoneFile, `${zone.join("\n")}\n`);
  const dnsmasqConf = join(dir, "dnsmasq.conf");
  writeFileSync(dnsmasqConf, `${dm.join("\n")}\n`);

  // the query mix: browse, SRV, TXT, A, _hash SRV, some NXDOMAIN (a deterministic shuffle)
  const q: string[] = [];
  let seed = 42;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  for (let i = 0; i < 20000; i++) {
    const it = items[rnd(items.length)]!;
    const r = rnd(100);
    if (r < 10) q.push(`${it.type}.${z} PTR`);
    else if (r < 35) q.push(`${it.inst}.${it.type}.${z} SRV`);
    else if (r < 50) q.push(`${it.inst}.${it.type}.${z} TXT`);
    else if (r < 75) q.push(`${it.host}.${z} A`);
    else if (r < 92) q.push(`${hashKeys[rnd(hashKeys.length)]}._hash.${it.type}.${z} SRV`);
    else q.push(`missing-${rnd(1000)}.${z} A`);
  }
  const queryFile = join(dir, "queries.txt");
  writeFileSync(queryFile, `${q.join("\n")}\n`);
  return { dir, servicesFile, zoneFile, dnsmasqConf, queryFile, instances, types, queries: q.length };
}
