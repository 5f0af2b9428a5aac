// The instances one served domain answers for one type, read from the
// records as asked instead of a map of their own: that map held every
// registration a second time (37 B each at 100,000 in one type, 46 B in
// types of 10,000, whose maps have more room to spare). In a domain, the
// record registered there wins over one served everywhere (scopes.ts).
import type { Records } from "./records.js";
import { servedIn } from "./scopes.js";
import { LOCAL_DOMAIN, type Instance } from "./types.js";

export class ServedInstances implements ReadonlyMap<string, Instance> {
  /** How many there are: counted by the registry as it places them (a count here would walk both groups). */
  size = 0;
  private seenVersion = -1;
  private own: ReadonlyMap<string, Instance> | undefined;
  private shared: ReadonlyMap<string, Instance> | undefined;
  /** Every record served everywhere is served in local. (the mDNS-learned ones only there): no check needed. */
  private readonly servesAllShared: boolean;

  constructor(
    private readonly records: Records<Instance>,
    private readonly domain: string,
    /** The type's group in the domain, and its group served everywhere (instanceGroup). */
    private readonly ownGroup: string,
    private readonly sharedGroup: string,
  ) {
    this.servesAllShared = domain === LOCAL_DOMAIN;
  }

  /** The two groups' maps, looked up again only when groups came or went. */
  private groups(): void {
    if (this.seenVersion === this.records.groupsVersion) return;
    this.seenVersion = this.records.groupsVersion;
    this.own = this.records.group(this.ownGroup);
    this.shared = this.records.group(this.sharedGroup);
  }

  get(id: string): Instance | undefined {
    this.groups();
    const own = this.own?.get(id);
    if (own !== undefined) return own;
    const shared = this.shared?.get(id);
    return shared !== undefined && (this.servesAllShared || servedIn(shared, this.domain)) ? shared : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  entries(): IterableIterator<[string, Instance]> {
    const one = this.oneGroup();
    return one ? one.entries() : this.both();
  }

  keys(): IterableIterator<string> {
    const one = this.oneGroup();
    if (one) return one.keys();
    return (function* (all) {
      for (const e of all) yield e[0];
    })(this.both());
  }

  values(): IterableIterator<Instance> {
    const one = this.oneGroup();
    if (one) return one.values();
    return (function* (all) {
      for (const e of all) yield e[1];
    })(this.both());
  }

  [Symbol.iterator](): IterableIterator<[string, Instance]> {
    return this.entries();
  }

  /** Most often what is served is one group, all of it: its own iterators then, no generator in between. */
  private oneGroup(): ReadonlyMap<string, Instance> | undefined {
    this.groups();
    if (this.own === undefined && this.servesAllShared) return this.shared ?? EMPTY;
    if (this.shared === undefined) return this.own ?? EMPTY;
    return undefined;
  }

  private *both(): IterableIterator<[string, Instance]> {
    const own = this.own;
    const shared = this.shared!;
    if (own) yield* own;
    for (const e of shared) if (!own?.has(e[0]) && (this.servesAllShared || servedIn(e[1], this.domain))) yield e;
  }

  forEach(f: (value: Instance, key: string, map: ReadonlyMap<string, Instance>) => void): void {
    for (const [id, i] of this.entries()) f(i, id, this);
  }
}

const EMPTY: ReadonlyMap<string, Instance> = new Map();
