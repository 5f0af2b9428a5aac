// Signed DNS UPDATE throughput (dnsperf -u) and update-to-answer latency,
// the same registrations for ringdns (durable in LMDB) and knotd (durable in
// its journal).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { queryServer } from "../../src/client/dns-client.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { Type } from "../../src/wire/constants.js";
import type { TsigKey } from "../../src/wire/tsig.js";
import { ZONE } from "./dataset.js";

/** A dnsperf update file: one registration (PTR + SRV + TXT + A) per message. */
export function writeUpdateFile(dir: string, count: number): string {
  const z = ZONE.slice(0, -1);
  const blocks: string[] = [];
  for (let i = 0; i < count; i++) {
    blocks.push(
      [
        z,
        `add _reg._tcp 60 PTR u-${i}._reg._tcp.${ZONE}`,
        `add u-${i}._reg._tcp 60 SRV 0 1 ${20000 + (i % 40000)} uh-${i}.${ZONE}`,
        `add u-${i}._reg._tcp 60 TXT "i=${i}"`,
        `add uh-${i} 60 A 203.0.113.${(i % 250) + 1}`,
        "send",
      ].join("\n"),
    );
  }
  const file = join(dir, "updates.txt");
  writeFileSync(file, `${blocks.join("\n")}\n`);
  return file;
}

/** Median ms from sending a signed registration to the name answering a query, over `n` tries. */
export async function updateToAnswerMs(port: number, key: TsigKey, n: number, tag: string): Promise<number> {
  const zone = parseName(ZONE);
  const server = { host: "127.0.0.1", port };
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `lat-${tag}-${i}`;
    const t0 = performance.now();
    const r = await sendUpdate(
      server,
      zone,
      registrationUpdate(
        { instance: name, type: "_lat._tcp", host: `${name}-h`, addresses: ["203.0.113.9"], port: 1 },
        zone,
      ),
      { key },
    );
    if (r.rcode !== "NOERROR") throw new Error(`${tag}: registering ${name} got ${r.rcode}`);
    for (;;) {
      const r = await queryServer(server, [name, "_lat", "_tcp", ...zone], Type.SRV);
      if (r.answers.length > 0) break;
      if (performance.now() - t0 > 5000) throw new Error(`${name} never answered`);
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
