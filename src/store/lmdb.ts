// The embedded, crash-safe default store: LMDB (via the lmdb package). Each
// commit is one LMDB write transaction, fsynced before its promise resolves,
// so an acknowledged update survives kill -9 and power loss.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
// a turn of the event loop for others (queries) between two slices of a long read
import { setImmediate as nextTurn } from "node:timers/promises";
import { open, type RootDatabase } from "lmdb";
import { RingdnsError } from "../errors.js";
import { BASE_FORMAT, decodeEntry, encodeEntry, FORMAT_VERSION } from "./codec.js";
import {
  CommitStore,
  JOURNAL_PREFIX,
  JOURNAL_SALT_KEY,
  journalKey,
  parseJournalKey,
  type JournalEntry,
  type JournalStore,
  type StoreEntry,
  type StoreOp,
  type StoreStatus,
} from "./store.js";

const META_KEY = "meta/format";
/** Just past every key under JOURNAL_PREFIX, and past every key under `meta/`. */
const JOURNAL_END = "meta/journal0";
const META_END = "meta0";
/** Journal entries (steps of up to ~100 records) decoded per turn of the event loop. */
const JOURNAL_SLICE = 50;

export class LmdbStore extends CommitStore {
  readonly kind = "lmdb";

  private constructor(
    private db: RootDatabase,
    readonly path: string,
  ) {
    super();
  }

  private static openDb(path: string): RootDatabase {
    // encoding json: plain records any tool can read back; noSync stays false (fsync on commit)
    return open({ path, encoding: "json", noSync: false, compression: false });
  }

  /** Open (creating) the store in `dir`; fails clearly on a store it cannot read. */
  static async open(dir: string): Promise<LmdbStore> {
    const path = join(dir, "registry.mdb");
    let db: RootDatabase;
    try {
      mkdirSync(dir, { recursive: true });
      db = LmdbStore.openDb(path);
    } catch (e) {
      throw new RingdnsError("RINGDNS_E_STORE", `cannot open the store in ${dir}: ${(e as Error).message}`);
    }
    const format = db.get(META_KEY) as number | undefined;
    if (format === undefined) await db.put(META_KEY, BASE_FORMAT);
    else if (format > FORMAT_VERSION) {
      await db.close();
      throw new RingdnsError(
        "RINGDNS_E_STORE",
        `${path} was written by a newer ringdns (store format ${format}; this version reads ${FORMAT_VERSION}): upgrade ringdns or use another --data-dir`,
      );
    }
    return new LmdbStore(db, path);
  }

  status(): StoreStatus {
    return { healthy: true, location: this.path };
  }

  async load(): Promise<Map<string, StoreEntry>> {
    const out = new Map<string, StoreEntry>();
    // around meta/, not through it: a full journal is never read (nor decoded) with the registrations
    for (const range of [{ end: "meta/" }, { start: META_END }])
      for (const { key, value } of this.db.getRange(range)) {
        const k = String(key);
        try {
          out.set(k, decodeEntry(value, `${this.path}: ${k}`));
        } catch (e) {
          throw new RingdnsError("RINGDNS_E_STORE", (e as Error).message);
        }
      }
    // the read left every page of the file mapped and counted in this process's RSS (~600 B per
    // registration, the whole file); opened anew, only the pages later reads and writes touch are
    await this.db.close();
    this.db = LmdbStore.openDb(this.path);
    return out;
  }

  async commit(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return;
    await this.db.transaction(() => {
      for (const o of ops) {
        if (o.op === "put") this.db.put(o.key, encodeEntry(o.entry));
        else this.db.remove(o.key);
      }
    });
  }

  readonly journal: JournalStore = {
    shared: false,
    salt: async () => {
      const held = this.db.get(JOURNAL_SALT_KEY);
      if (typeof held === "string") return held;
      const made = randomBytes(16).toString("hex");
      await this.db.transaction(() => {
        if (typeof this.db.get(JOURNAL_SALT_KEY) !== "string") this.db.put(JOURNAL_SALT_KEY, made);
      });
      return this.db.get(JOURNAL_SALT_KEY) as string;
    },
    loadJournal: async () => {
      const out: JournalEntry[] = [];
      for (const { key, value } of this.db.getRange({ start: JOURNAL_PREFIX, end: JOURNAL_END })) {
        const at = parseJournalKey(String(key));
        if (at) out.push({ ...at, value });
        // a full journal is ~10 MB of JSON: decoded a slice per turn of the event loop, between queries
        if (out.length % JOURNAL_SLICE === 0) await nextTurn();
      }
      return out;
    },
    writeJournal: async (put, remove) => {
      if (put.length === 0 && remove.length === 0) return;
      await this.db.transaction(() => {
        for (const r of remove) this.db.remove(journalKey(r.zone, r.id));
        for (const e of put) this.db.put(journalKey(e.zone, e.id), e.value);
      });
    },
  };

  /** One process owns an LMDB store: nobody else writes to it. */
  watch(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
