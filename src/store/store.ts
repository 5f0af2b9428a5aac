// The one interface every persistence backend implements (in-memory here; the
// embedded LMDB store and etcd plug in behind it). Data only: a store knows
// keys and entries, never the registry's rules.
import type { Host, Instance } from "../registry/types.js";

export type StoreEntry = { kind: "instance"; value: Instance } | { kind: "host"; value: Host };

export type StoreOp = { op: "put"; key: string; entry: StoreEntry } | { op: "delete"; key: string };

export interface Store {
  /** Backend name for logs and status ("memory", "lmdb", "etcd"). */
  readonly kind: string;
  /** Everything stored, keyed by entry key. */
  load(): Promise<Map<string, StoreEntry>>;
  put(key: string, entry: StoreEntry): Promise<void>;
  delete(key: string): Promise<void>;
  /** Apply all ops or none; resolves only once they are durable in this backend. */
  commit(ops: readonly StoreOp[]): Promise<void>;
  /** Changes written by someone else (another daemon sharing the backend). Returns an unsubscribe. */
  watch(listener: (ops: readonly StoreOp[]) => void): () => void;
  close(): Promise<void>;
}
