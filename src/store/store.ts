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
