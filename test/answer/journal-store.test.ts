// IXFR's journal kept in the store (answer/journal.ts, Store.journal): steps
// written as changes are made, trimmed there as in memory, read back by the
// next start and joined to the steps made since, but only when the zone is as
// the journal left it (its digest); anything else, and the steps are dropped.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type JournalStep, ZoneJournals } from "../../src/answer/journal.js";
import { ManualClock } from "../../src/clock.js";
import { formatName } from "../../src/names.js";
import { Registry } from "../../src/registry/registry.js";
import type { SerialKeeper } from "../../src/registry/serial.js";
import type { JournalStore, Store } from "../../src/registry/store-contract.js";
import { LmdbStore } from "../../src/store/lmdb.js";
import { MemoryStore } from "../../src/store/memory.js";
import { serialFile } from "../../src/store/serial-file.js";
import { Type } from "../../src/wire/constants.js";
import type { ResourceRecord } from "../../src/wire/message.js";
import { host, inst, zone } from "./fixtures.js";

const clock = new ManualClock(1_800_000_000_000);

const line = (r: ResourceRecord) => {
  const d = r.data;
  const rdata =
    d.type === Type.SRV
      ? `SRV ${d.srv.port} ${formatName(d.srv.target)}`
      : d.type === Type.PTR
        ? `PTR ${formatName(d.target)}`
        : d.type === Type.A
          ? `A ${d.address}`
          : d.type === Type.TXT
            ? `TXT ${d.strings.map((s) => Buffer.from(s).toString()).join(" ")}`
            : String(d.type);
  return `${formatName(r.name)} ${rdata}`;
};
const changes = (steps: JournalStep[] | undefined) =>
  steps?.map((s) => ({ removed: s.removed.map(line), added: s.added.map(line) }));

/** A serial keeper in memory: what serial-file.ts keeps in <data-dir>/soa-serial. */
function memoryKeeper(): SerialKeeper {
  let floor: number | undefined;
  return {
    get floor() {
      return floor;
    },
    reserve(upTo) {
      floor = upTo;
    },
  };
}

/** One run of a daemon: its registry on `store`, the journals read back from it. */
async function run(store: Store, serials: SerialKeeper, maxSteps = 10, journal: JournalStore = store.journal!) {
  const registry = new Registry({ clock, store, serials });
  await registry.open();
  const journals = new ZoneJournals(
    registry,
    [zone],
    30,
    { learned: false },
    { maxSteps, maxRecords: 1000 },
    { store: journal, salt: await journal.salt(), settings: "ns" },
  );
  const taken = await journals.restore();
  return { registry, journals, taken, journal: () => journals.journal(zone)! };
}

const stepIds = async (store: Store) =>
  (await store.journal!.loadJournal())
    .map((e) => e.id)
    .filter((id) => id !== "end")
    .sort();

describe("IXFR journal in the store", () => {
  it("a restarted daemon (LMDB) answers IXFR from serials served before its stop, joined to the steps made since", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-journal-"));
    const first = await run(await LmdbStore.open(dir), serialFile(dir));
    const s0 = first.registry.serial();
    await first.registry.register(inst("web-1"), [host("web-1", "192.0.2.1")]);
    const s1 = first.registry.serial();
    await first.registry.register(inst("web-2"));
    const s2 = first.registry.serial();
    const before = changes(first.journal().since(s0));
    await first.journals.close();
    await first.registry.close();
    await (first.registry as unknown as { store: Store }).store.close();

    const store = await LmdbStore.open(dir);
    const second = await run(store, serialFile(dir));
    expect(second.taken).toBe(3); // web-1's host, web-1, web-2: one serial each
    const restart = second.registry.serial();
    expect(restart).toBeGreaterThan(s2);
    // the same changes as before the stop, now leading to the serial after the restart
    expect(changes(second.journal().since(s0))).toEqual(before);
    expect(second.journal().since(s0)!.at(-1)!.to).toBe(restart);
    // a secondary at the last serial before the stop is at the state of the restart: one step that changes nothing
    expect(second.journal().since(s2)).toEqual([{ from: s2, to: restart, removed: [], added: [] }]);
    await second.registry.deregister(inst("web-1").type, "web-1", "svc.example.");
    expect(changes(second.journal().since(s1))).toEqual([
      {
        removed: [],
        added: [
          "_kv._tcp.svc.example. PTR web-2._kv._tcp.svc.example.",
          "web-2._kv._tcp.svc.example. SRV 80 web-2.svc.example.",
          "web-2._kv._tcp.svc.example. TXT a=1",
        ],
      },
      {
        removed: [
          "_kv._tcp.svc.example. PTR web-1._kv._tcp.svc.example.",
          "web-1._kv._tcp.svc.example. SRV 80 web-1.svc.example.",
          "web-1._kv._tcp.svc.example. TXT a=1",
        ],
        added: [],
      },
    ]);
    await second.journals.flushed();
    expect(await stepIds(store)).toHaveLength(4);
    await second.journals.close();
    await store.close();
  });

  it("trims the oldest steps in the store as in memory", async () => {
    const store = new MemoryStore();
    const keeper = memoryKeeper();
    const a = await run(store, keeper, 2);
    for (let i = 0; i < 4; i++) await a.registry.register(inst(`web-${i}`));
    await a.journals.flushed();
    expect(a.journal().size).toBe(2);
    expect(await stepIds(store)).toHaveLength(2);
    await a.journals.close();
    const b = await run(store, keeper, 2);
    expect(b.taken).toBe(2);
  });

  it("takes the marker of a clean stop only in the run right after it: one that crashed in between reserved serials anew", async () => {
    const store = new MemoryStore();
    const keeper = memoryKeeper();
    const a = await run(store, keeper);
    const s0 = a.registry.serial();
    await a.registry.register(inst("web-1"));
    await a.journals.close();
    // a run that started, served, and crashed before reading the journal back (the marker still there)
    const crashed = new Registry({ clock, store, serials: keeper });
    await crashed.open();
    const c = await run(store, keeper);
    expect(c.taken).toBe(0);
    expect(c.journal().since(s0)).toBeUndefined();
  });

  it("takes nothing when the zone changed while no daemon watched (a lease ended, an edit), or after a crash", async () => {
    const store = new MemoryStore();
    const keeper = memoryKeeper();
    const a = await run(store, keeper);
    const s0 = a.registry.serial();
    await a.registry.register(inst("web-1"));
    await a.registry.register(inst("web-2"));
    await a.journals.close();
    // web-2 removed behind the journal's back
    await store.delete("instance@svc.example./_kv._tcp/web-2");
    const b = await run(store, keeper);
    expect(b.taken).toBe(0);
    expect(b.journal().since(s0)).toBeUndefined();
    await b.journals.flushed();
    expect(await stepIds(store)).toEqual([]); // dropped from the store too

    await b.registry.register(inst("web-3"));
    const s3 = b.registry.serial();
    await b.journals.flushed();
    // no clean stop: the serials the last state was served under are not known
    const c = await run(store, keeper);
    expect(c.taken).toBe(0);
    expect(c.journal().since(s3)).toBeUndefined();
  });

  it("a step another daemon wrote is taken in by one sharing the store (etcd); a broken chain is cut there", async () => {
    const store = new MemoryStore();
    const shared: JournalStore = { ...store.journal, shared: true };
    const keeper = memoryKeeper();
    const a = await run(store, keeper, 10, shared);
    const s0 = a.registry.serial();
    await a.registry.register(inst("web-1"));
    await a.registry.register(inst("web-2"));
    await a.journals.flushed();
    // no marker on a shared store: b takes the steps as they chain to the zone it loaded
    const b = await run(store, keeper, 10, shared);
    expect(b.taken).toBe(2);
    expect(changes(b.journal().since(s0))!.map((c) => c.added.length)).toEqual([4, 3]); // the first with the type's _services line
    // a step of the chain missing: the ones before it are left out
    const entries = await store.journal.loadJournal();
    await store.journal.writeJournal([], [{ zone: entries[0]!.zone, id: [...entries.map((e) => e.id)].sort()[1]! }]);
    const c = await run(store, keeper, 10, shared);
    expect(c.taken).toBe(0);
    expect(c.journal().since(s0)).toBeUndefined();
  });

  it("the changes of one commit (a store with revisions, as etcd) are one step in the store too", async () => {
    // a revision per commit, as etcd gives: the serial follows it, and a commit's changes share it
    class RevisionStore extends MemoryStore {
      revision = 100;
      override async commit(ops: Parameters<MemoryStore["commit"]>[0]): Promise<void> {
        await super.commit(ops);
        this.revision++;
      }
      changeRevision(): number {
        return this.revision;
      }
    }
    const store = new RevisionStore();
    const shared: JournalStore = { ...store.journal, shared: true };
    const a = await run(store, memoryKeeper(), 10, shared);
    const s0 = a.registry.serial();
    await a.registry.register(inst("web-1"), [host("web-1", "192.0.2.1")]);
    await a.journals.flushed();
    expect(await stepIds(store)).toHaveLength(1);
    const b = await run(store, memoryKeeper(), 10, shared);
    expect(b.taken).toBe(1);
    expect(changes(b.journal().since(s0))!.map((c) => c.added.length)).toEqual([5]); // A, PTR, SRV, TXT, _services
  });

  it("leaves out entries of a newer format (and removes them), reading the rest", async () => {
    const store = new MemoryStore();
    const keeper = memoryKeeper();
    const a = await run(store, keeper);
    const s0 = a.registry.serial();
    await a.registry.register(inst("web-1"));
    await a.journals.close();
    await store.journal.writeJournal([{ zone: "svc.example.", id: "00000001", value: { v: 99, what: "next" } }], []);
    const b = await run(store, keeper);
    expect(b.taken).toBe(1);
    expect(changes(b.journal().since(s0))).toHaveLength(1);
    await b.journals.flushed();
    expect(await stepIds(store)).not.toContain("00000001");
  });
});
