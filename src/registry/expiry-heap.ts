// Lease ends in a binary min-heap, so the registry finds the next one in
// O(log n) instead of walking every registration on every change. Entries
// are not removed when a registration changes or goes: a stale entry is
// recognised (its time no longer matches) and dropped when it surfaces.
export interface ExpiryEntry {
  at: number;
  kind: "instance" | "host" | "claim";
  /** The service type's key (instances only; informative) and the registration's store key. */
  typeKey: string;
  id: string;
}

export class ExpiryHeap {
  private readonly items: ExpiryEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(e: ExpiryEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  peek(): ExpiryEntry | undefined {
    return this.items[0];
  }

  pop(): ExpiryEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
