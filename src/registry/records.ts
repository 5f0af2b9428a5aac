// Registrations by store key, without keeping a key string per registration
// (~70 B each at 100,000): a store key is a group (`instance/_http._tcp/`,
// `host@a.example/`) followed by the registration's id, and the records are
// held by group, then by id. The id is the name as registered, lower-cased:
// most often the very string the record holds already.

export class Records<T> {
  private readonly groups = new Map<string, Map<string, T>>();
  private count = 0;
  /** Moves on whenever a group is made or dropped: a holder of a group's map knows when to look it up again. */
  groupsVersion = 0;

  /** `groupEnd(key)`: where `key`'s group ends (its id starts), or -1 for a key that has none. */
  constructor(private readonly groupEnd: (key: string) => number) {}

  get size(): number {
    return this.count;
  }

  get(key: string): T | undefined {
    const end = this.groupEnd(key);
    return end < 0 ? undefined : this.groups.get(key.slice(0, end))?.get(key.slice(end));
  }

  /** The records of one group, by id (read now, do not keep). */
  group(group: string): ReadonlyMap<string, T> | undefined {
    return this.groups.get(group);
  }

  /** Put `record` at `group` + `id` (its store key); returns the record it replaces. */
  set(group: string, id: string, record: T): T | undefined {
    let g = this.groups.get(group);
    if (!g) {
      this.groups.set(group, (g = new Map()));
      this.groupsVersion++;
    }
    const before = g.get(id);
    if (before === undefined) this.count++;
    g.set(id, record);
    return before;
  }

  /** Remove the record at `key`; returns it. */
  delete(key: string): T | undefined {
    const end = this.groupEnd(key);
    if (end < 0) return undefined;
    const group = key.slice(0, end);
    const g = this.groups.get(group);
    const id = key.slice(end);
    const before = g?.get(id);
    if (before === undefined) return undefined;
    g!.delete(id);
    if (g!.size === 0) {
      this.groups.delete(group);
      this.groupsVersion++;
    }
    this.count--;
    return before;
  }

  *values(): IterableIterator<T> {
    for (const g of this.groups.values()) yield* g.values();
  }

  /** Every record with its store key (made as it goes). */
  *entries(): IterableIterator<[string, T]> {
    for (const [group, g] of this.groups) for (const [id, r] of g) yield [group + id, r];
  }

  [Symbol.iterator](): IterableIterator<[string, T]> {
    return this.entries();
  }
}
