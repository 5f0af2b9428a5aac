// What every persistence backend builds on. The interface itself is the
// registry's (src/registry/store-contract.ts: the core says what it needs, the
// backends implement it); here, the part every backend shares.
import type {
  JournalEntry,
  JournalStore,
  Store,
  StoreEntry,
  StoreOp,
  StoreStatus,
} from "../registry/store-contract.js";

export type { JournalEntry, JournalStore, Store, StoreEntry, StoreOp, StoreStatus };

/** IXFR's journal in a keyed store: `meta/journal/<zone, URI-encoded>/<id>`, which the registrations' load and watch skip (all of meta/). */
export const JOURNAL_PREFIX = "meta/journal/";
/** The journal digests' secret (outside JOURNAL_PREFIX: "-" sorts before "/"). */
export const JOURNAL_SALT_KEY = "meta/journal-salt";

/** A journal entry's key, below the store's own prefix. */
export function journalKey(zone: string, id: string): string {
  return `${JOURNAL_PREFIX}${encodeURIComponent(zone)}/${id}`;
}

/** The zone and id of a journal key (below the store's own prefix); undefined when it names neither. */
export function parseJournalKey(key: string): { zone: string; id: string } | undefined {
  const [zone, id] = key.slice(JOURNAL_PREFIX.length).split("/");
  return zone === undefined || id === undefined ? undefined : { zone: decodeURIComponent(zone), id };
}

/** put and delete as one-op commits: what every backend does, written once. */
export abstract class CommitStore implements Store {
  abstract readonly kind: string;
  abstract status(): StoreStatus;
  abstract load(): Promise<Map<string, StoreEntry>>;
  abstract commit(ops: readonly StoreOp[]): Promise<void>;
  abstract watch(listener: (ops: readonly StoreOp[]) => void): () => void;
  abstract close(): Promise<void>;

  put(key: string, entry: StoreEntry): Promise<void> {
    return this.commit([{ op: "put", key, entry }]);
  }

  delete(key: string): Promise<void> {
    return this.commit([{ op: "delete", key }]);
  }
}
