// In-memory store: nothing survives a restart. For tests and `--store memory:`.
import { randomBytes } from "node:crypto";
import {
  CommitStore,
  type JournalEntry,
  type JournalStore,
  type StoreEntry,
  type StoreOp,
  type StoreStatus,
} from "./store.js";

export class MemoryStore extends CommitStore {
  readonly kind = "memory";
  private readonly data = new Map<string, StoreEntry>();
  private readonly listeners = new Set<(ops: readonly StoreOp[]) => void>();
  private readonly journalEntries = new Map<string, JournalEntry>();
  /** IXFR's journal, kept as long as this object (tests reopen a registry on the same store). */
  private readonly journalSalt = randomBytes(16).toString("hex");
  readonly journal: JournalStore = {
    shared: false,
    salt: async () => this.journalSalt,
    loadJournal: async () => [...this.journalEntries.values()].map((e) => ({ ...e, value: structuredClone(e.value) })),
    writeJournal: async (put, remove) => {
      for (const r of remove) this.journalEntries.delete(`${r.zone}/${r.id}`);
      for (const e of put) this.journalEntries.set(`${e.zone}/${e.id}`, { ...e, value: structuredClone(e.value) });
    },
  };

  status(): StoreStatus {
    return { healthy: true, location: "memory (lost on exit)" };
  }

  async load(): Promise<Map<string, StoreEntry>> {
    return new Map(this.data);
  }

  async commit(ops: readonly StoreOp[]): Promise<void> {
    for (const o of ops) {
      if (o.op === "put") this.data.set(o.key, o.entry);
      else this.data.delete(o.key);
    }
  }

  /** A memory store has no other writers; `inject` lets tests play one. */
  watch(listener: (ops: readonly StoreOp[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Simulate a write by another daemon: stored, then reported to watchers. */
  async inject(ops: readonly StoreOp[]): Promise<void> {
    await this.commit(ops);
    for (const l of this.listeners) l(ops);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
