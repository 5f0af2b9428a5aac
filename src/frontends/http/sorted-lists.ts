// A type's instances in name order, for the HTTP API's pages: sorted once, in
// steps (sorting 100,000 names at once held the event loop for 90-250 ms),
// then kept in order as registrations change (a binary search and one splice
// per change) instead of sorted again after every change.
import { formatServiceType, type ServiceType } from "../../names.js";
import type { Registry } from "../../registry/registry.js";
import { instanceKey, instanceStoreKey } from "../../registry/registry.js";
import type { Change, Instance } from "../../registry/types.js";
import { sleep } from "../../guard.js";

/** Where an instance sorts in a list: by name, then domain (one name may be registered in several). */
export const listKey = (i: Instance): string => `${i.name}\u0000${i.domain ?? ""}`;

/** Lists kept at once (each ~16 bytes per instance); the least recently read goes first. */
const MAX_LISTS = 8;
/** Comparisons between turns of the event loop while a list is first sorted (~2 ms). */
const SORT_STEP = 16_384;

interface KeptList {
  type: ServiceType;
  domain: string | undefined;
  /** Instances and their keys, in key order. */
  items: Instance[];
  keys: string[];
}

export class SortedInstanceLists {
  private readonly lists = new Map<string, KeptList>();
  private readonly sorting = new Map<string, Promise<KeptList>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly registry: Registry) {
    this.unsubscribe = registry.onChange((c) => this.onChange(c));
  }

  close(): void {
    this.unsubscribe();
    this.lists.clear();
  }

  /** The type's instances answered in `domain` (undefined: every registration), sorted by listKey; keys[i] is items[i]'s. */
  async list(
    type: ServiceType,
    domain: string | undefined,
  ): Promise<{ items: readonly Instance[]; keys: readonly string[] }> {
    const k = `${formatServiceType(type)} ${domain ?? ""}`;
    const kept = this.lists.get(k);
    if (kept) {
      this.lists.delete(k); // to the back: most recently read
      this.lists.set(k, kept);
      return kept;
    }
    let p = this.sorting.get(k);
    if (!p) {
      p = this.sortAside(k, type, domain);
      p.finally(() => this.sorting.delete(k)).catch(() => undefined);
      this.sorting.set(k, p);
    }
    return p;
  }

  /**
   * Sort in steps; the changes made meanwhile are applied to the result once
   * it is in order, and from then on it is kept (in the same turn: no change
   * can fall between the two).
   */
  private async sortAside(k: string, type: ServiceType, domain: string | undefined): Promise<KeptList> {
    const meanwhile: Change[] = [];
    const stop = this.registry.onChange((c) => meanwhile.push(c));
    try {
      const items = this.registry.instances(type, domain);
      const keys = items.map(listKey);
      const order = await sortedOrder(keys);
      const list: KeptList = {
        type,
        domain,
        items: Array.from(order, (i) => items[i]!),
        keys: Array.from(order, (i) => keys[i]!),
      };
      for (const c of meanwhile) this.applyChange(list, c);
      if (this.lists.size >= MAX_LISTS) this.lists.delete(this.lists.keys().next().value!);
      this.lists.set(k, list);
      return list;
    } finally {
      stop();
    }
  }

  private onChange(c: Change): void {
    for (const list of this.lists.values()) this.applyChange(list, c);
  }

  /**
   * Bring `list` up to date with one change: out go the entries the name may
   * have had (the changed record as it was and as it is, and in a domain's
   * list the other record that may have been answering for the name), in
   * comes what answers for it now. O(log n) searches and a splice.
   */
  private applyChange(list: KeptList, c: Change): void {
    if (c.kind !== "instance" || formatServiceType(c.instance.type) !== formatServiceType(list.type)) return;
    const { name, type } = c.instance;
    const was = [c.previous, c.instance];
    if (list.domain !== undefined)
      was.push(
        this.registry.instanceRecord(instanceKey(type, name, list.domain)),
        this.registry.instanceRecord(instanceKey(type, name)),
      );
    for (const r of was) if (r) removeKey(list, listKey(r));
    const now =
      list.domain === undefined
        ? this.registry.instanceRecord(instanceStoreKey(c.instance))
        : this.registry.instance(type, name, list.domain);
    if (now) insert(list, now);
  }
}

function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function removeKey(list: KeptList, key: string): void {
  const at = lowerBound(list.keys, key);
  if (list.keys[at] === key) {
    list.items.splice(at, 1);
    list.keys.splice(at, 1);
  }
}

function insert(list: KeptList, i: Instance): void {
  const key = listKey(i);
  const at = lowerBound(list.keys, key);
  if (list.keys[at] === key) list.items[at] = i;
  else {
    list.items.splice(at, 0, i);
    list.keys.splice(at, 0, key);
  }
}

/**
 * The order that sorts `keys` (UTF-16 code units, as `<` compares): a
 * bottom-up merge sort that gives the event loop a turn every SORT_STEP
 * comparisons.
 */
export async function sortedOrder(keys: readonly string[]): Promise<Int32Array> {
  const n = keys.length;
  let src = new Int32Array(n);
  let dst = new Int32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  let work = 0;
  const turn = async (done: number) => {
    work += done;
    if (work >= SORT_STEP) {
      work = 0;
      await sleep(0);
    }
  };
  // runs of 32 by insertion sort, then merges of runs twice as long each pass
  const RUN = 32;
  for (let a = 0; a < n; a += RUN) {
    const b = Math.min(n, a + RUN);
    for (let i = a + 1; i < b; i++) {
      const x = src[i]!;
      let j = i - 1;
      while (j >= a && keys[src[j]!]! > keys[x]!) {
        src[j + 1] = src[j]!;
        j--;
      }
      src[j + 1] = x;
    }
    await turn(RUN * 4);
  }
  for (let width = RUN; width < n; width *= 2) {
    for (let a = 0; a < n; a += 2 * width) {
      const mid = Math.min(n, a + width);
      const end = Math.min(n, a + 2 * width);
      let i = a;
      let j = mid;
      let o = a;
      while (i < mid && j < end) dst[o++] = keys[src[j]!]! < keys[src[i]!]! ? src[j++]! : src[i++]!;
      while (i < mid) dst[o++] = src[i++]!;
      while (j < end) dst[o++] = src[j++]!;
      await turn(end - a);
    }
    [src, dst] = [dst, src];
  }
  return src;
}
