// What the registry needs of a store, and so the one interface every
// persistence backend implements (src/store: memory, the embedded LMDB file,
// etcd). Data only: a store knows keys and entries, never the registry's rules.
import type { Claim, Host, Instance } from "./types.js";

export type StoreEntry =
  | { kind: "instance"; value: Instance }
  | { kind: "host"; value: Host }
  | { kind: "claim"; value: Claim };

/**
 * One write. `expect`, on an SRP claim's key: the value this replica held for
 * the key when the write was planned (null: none); a shared store commits
 * only if the key still holds it (first come, first served across daemons).
 * `mine`, on a watched op: this daemon's own commit, delivered before the
 * commit's reply (whose step in IXFR's journal this daemon writes).
 */
export type StoreOp =
  | { op: "put"; key: string; entry: StoreEntry; expect?: StoreEntry["value"] | null; mine?: true }
  | { op: "delete"; key: string; expect?: StoreEntry["value"] | null; mine?: true };

export interface StoreStatus {
  /** False when writes would fail now (etcd out of reach): reads come from a possibly stale replica. */
  healthy: boolean;
  /** Why not healthy (etcd out of reach, a full read under way). */
  reason?: string;
  /** Where: a path, or etcd endpoints and prefix. */
  location: string;
  /** This daemon's name in a shared store (what it writes as `writer`). */
  node?: string;
  /** The shared store's revision this replica has seen (etcd). */
  revision?: string;
  /** When this replica last heard of a change, ms since the epoch (etcd). */
  lastEventAt?: number;
  /**
   * How far behind the shared store this replica runs: the time from writing a
   * heartbeat to etcd until this replica's watch delivers it, or, while one is
   * outstanding, how long it has been on its way (etcd).
   */
  lagMs?: number;
}

/**
 * IXFR's journal as a store keeps it (src/answer/journal.ts): derived data
 * beside the registrations, under `meta/journal/` (which older versions skip
 * when they load or watch), never handed to the registry. Values are JSON the
 * journal versions itself; the store knows only their zone and id.
 */
export interface JournalEntry {
  /** The zone's domainKey. */
  zone: string;
  /** Unique in the zone: a step's serial (8 hex digits), or a marker's name. */
  id: string;
  value: unknown;
}

export interface JournalStore {
  /** Shared by several daemons (etcd): written by each, read by all. */
  readonly shared: boolean;
  /** Every zone's entries; a store written before journals existed has none. */
  loadJournal(): Promise<JournalEntry[]>;
  /** Put and remove entries in one commit, durable when it resolves. */
  writeJournal(put: readonly JournalEntry[], remove: readonly { zone: string; id: string }[]): Promise<void>;
  /**
   * The secret the journal's digests are keyed with: made at random the first
   * time, kept in the store (`meta/journal-salt`), the same for every daemon
   * sharing it. Those who can register cannot compute a digest, so cannot
   * make a zone that passes for another.
   */
  salt(): Promise<string>;
}

export interface Store {
  /** Backend name for logs and status ("memory", "lmdb", "etcd"). */
  readonly kind: string;
  /** The most ops one commit should carry (etcd: under its transaction limit); unset when the backend has none. */
  readonly maxCommitOps?: number;
  status(): StoreStatus;
  /** Everything stored, keyed by entry key. */
  load(): Promise<Map<string, StoreEntry>>;
  put(key: string, entry: StoreEntry): Promise<void>;
  delete(key: string): Promise<void>;
  /** Apply all ops or none; resolves only once they are durable in this backend. */
  commit(ops: readonly StoreOp[]): Promise<void>;
  /**
   * A shared store's revision of the state the registry is taking in now: what
   * `load` read, the last commit, or the watched change being delivered
   * (etcd). The SOA serial follows it, so every daemon of a cluster gives the
   * same serial to the same state. Undefined for a store without revisions.
   */
  changeRevision?(): number | undefined;
  /** Where IXFR's journal is kept; none (a query worker's replica): in memory only. */
  readonly journal?: JournalStore;
  /** Changes written by someone else (another daemon sharing the backend). Returns an unsubscribe. */
  watch(listener: (ops: readonly StoreOp[]) => void): () => void;
  close(): Promise<void>;
}

/**
 * A commit refused because a shared store changed under it: another daemon
 * wrote an SRP claim this commit's plan read as it was (etcd compares each
 * claim's revision). Nothing was written; planned again once this replica has
 * heard of the change, the write sees the other daemon's claim.
 */
export class StoreConflict extends Error {}
