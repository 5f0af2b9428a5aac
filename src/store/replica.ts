// A read-only copy of another process's registry (a query worker's). The
// primary owns every write: it sends a starting set of entries, then each
// change as it happens, and this store hands them to the registry as if
// another writer had made them.
import type { StoreEntry, StoreOp, StoreStatus, Store } from "./store.js";

export class ReplicaStore implements Store {
  readonly kind = "replica";
  private readonly listeners = new Set<(ops: readonly StoreOp[]) => void>();

  constructor(private readonly initial: ReadonlyMap<string, StoreEntry>) {}

  status(): StoreStatus {
    return { healthy: true, location: "replica of the primary process" };
  }

  async load(): Promise<Map<string, StoreEntry>> {
    return new Map(this.initial);
  }

  /** The primary expires leases and applies updates; a replica's own writes are the primary's too, so they are dropped. */
  async commit(): Promise<void> {}

  put(): Promise<void> {
    return this.commit();
  }

  delete(): Promise<void> {
    return this.commit();
  }

  watch(listener: (ops: readonly StoreOp[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A change the primary made. */
  follow(ops: readonly StoreOp[]): void {
    for (const l of this.listeners) l(ops);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
