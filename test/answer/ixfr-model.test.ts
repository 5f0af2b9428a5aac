// A secondary that applies the IXFR steps to the zone it holds must
// end with the zone an AXFR gives now (RFC 1995). Random registrations,
// removals and lease ends over a small name space, served in the zone or in
// every domain; from every earlier serial the journal still reaches.
import { describe, expect, it } from "vitest";
import { ZoneJournals } from "../../src/answer/journal.js";
import { recordKey, zoneRecords, zoneSnapshot } from "../../src/answer/zone.js";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import type { Host, Instance } from "../../src/registry/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { RegistryOp } from "../../src/registry/pending-view.js";
import { options, zone } from "./fixtures.js";

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

const axfr = (registry: Registry) => {
  const snap = zoneSnapshot(registry, options, zone, { learned: false });
  return new Set([...zoneRecords(snap, options.ttl)].map(recordKey));
};

function firstProblem(
  journals: ZoneJournals,
  history: { serial: number; zone: Set<string> }[],
  registry: Registry,
): string[] {
  const out: string[] = [];
  const finalZone = axfr(registry);
  const h = history[0]!;
  const steps = journals.journal(zone)!.since(h.serial);
  if (!steps) return out;
  const held = new Set(h.zone);
  for (const s of steps) {
    for (const rr of s.removed) if (!held.delete(recordKey(rr))) out.push(`removes not held ${recordKey(rr)}`);
    for (const rr of s.added) {
      if (held.has(recordKey(rr))) out.push(`adds held ${recordKey(rr)}`);
      held.add(recordKey(rr));
    }
  }
  for (const x of finalZone) if (!held.has(x)) out.push(`missing ${x}`);
  for (const x of held) if (!finalZone.has(x)) out.push(`extra ${x}`);
  return out;
}

describe("IXFR steps replayed on an older AXFR give the newest AXFR", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, async () => {
      const clock = new ManualClock(1_800_000_000_000);
      const registry = new Registry({ clock, store: new MemoryStore() });
      await registry.open();
      const journals = new ZoneJournals(
        registry,
        options.domains,
        30,
        { learned: false },
        { maxSteps: 1000, maxRecords: 100000 },
      );
      const r = rng(seed);
      const names = ["a", "b", "c", "A"];
      const types = [
        { service: "_kv", proto: "_tcp" as const },
        { service: "_web", proto: "_tcp" as const },
      ];
      const domains = ["svc.example.", undefined, "local."];
      const history: { serial: number; zone: Set<string> }[] = [{ serial: registry.serial(), zone: axfr(registry) }];
      const problems: string[] = [];
      const opLog: string[] = [];
      for (let step = 0; step < 300; step++) {
        const domain = domains[r(3)];
        const name = names[r(names.length)]!;
        const type = types[r(2)]!;
        const k = r(10);
        let ops: RegistryOp[];
        if (k < 5) {
          const inst: Instance = {
            name,
            type,
            subtypes: r(3) === 0 ? ["_x"] : [],
            host: [name.toLowerCase() + String(r(2))],
            port: 80 + r(2),
            priority: 0,
            weight: 1,
            txt: [Buffer.from(`v=${r(2)}`)],
            source: "update",
            ...(r(3) === 0 ? { expiresAt: clock.now() + 1000 * (1 + r(5)) } : {}),
            ...(domain !== undefined ? { domain } : {}),
          };
          ops = [{ op: "put-instance", instance: inst }];
        } else if (k < 7) {
          const h: Host = {
            name: name.toLowerCase() + String(r(2)),
            addresses: [`192.0.2.${1 + r(3)}`],
            source: "update",
            ...(r(3) === 0 ? { expiresAt: clock.now() + 1000 * (1 + r(5)) } : {}),
            ...(domain !== undefined ? { domain } : {}),
          };
          ops = [{ op: "put-host", host: h }];
        } else if (k < 8) {
          ops = [{ op: "remove-instance", type, name, ...(domain !== undefined ? { domain } : {}) }];
        } else if (k < 9) {
          ops = [
            { op: "remove-host", name: name.toLowerCase() + String(r(2)), ...(domain !== undefined ? { domain } : {}) },
          ];
        } else {
          clock.advance(1000 * (1 + r(3)));
          await registry.expireDue();
          ops = [];
        }
        if (ops.length > 0) {
          try {
            await registry.apply(ops);
          } catch {
            continue;
          }
        }
        history.push({ serial: registry.serial(), zone: axfr(registry) });
        opLog.push(
          JSON.stringify(ops, (_k, v) => (v && v.type === "Buffer" ? Buffer.from(v.data).toString() : v)) +
            (ops.length === 0 ? ` expire@${clock.now()}` : ""),
        );
        if (process.env.REVIEW_DEBUG && firstProblem(journals, history, registry).length > 0) {
          console.log(opLog.slice(-6).join("\n"));
          console.log(firstProblem(journals, history, registry).slice(0, 4).join("\n"));
          break;
        }
      }
      const finalZone = axfr(registry);
      const finalSerial = registry.serial();
      const journal = journals.journal(zone)!;
      for (const h of history) {
        if (h.serial === finalSerial) continue;
        const steps = journal.since(h.serial);
        if (steps === undefined) continue;
        const held = new Set(h.zone);
        for (const s of steps) {
          for (const rr of s.removed) {
            const key = recordKey(rr);
            if (!held.delete(key)) problems.push(`serial ${h.serial}: removes a record not held: ${key}`);
          }
          for (const rr of s.added) {
            const key = recordKey(rr);
            if (held.has(key)) problems.push(`serial ${h.serial}: adds a record held already: ${key}`);
            held.add(key);
          }
        }
        const missing = [...finalZone].filter((x) => !held.has(x));
        const extra = [...held].filter((x) => !finalZone.has(x));
        if (missing.length || extra.length)
          problems.push(
            `serial ${h.serial}: after IXFR missing ${JSON.stringify(missing)} extra ${JSON.stringify(extra)}`,
          );
      }
      journals.close();
      expect(problems.slice(0, 3)).toEqual([]);
    });
  }
});
