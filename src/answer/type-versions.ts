// A change counter per service type, kept from the registry's change feed.
// A cached reply that depends on one type alone (a browse too large for one
// message: its PTRs and nothing else) stays valid while that type's counter
// does not move, whatever happens to other types; the registry serial moves
// on every change anywhere, so under churn a serial-keyed cache never hits.
import { guarded } from "../guard.js";
import { formatServiceType, lowerAscii, type ServiceType } from "../names.js";
import type { Registry } from "../registry/registry.js";

export function typeKey(type: ServiceType): string {
  return lowerAscii(formatServiceType(type));
}

/** Types whose counters are kept; past this many (types that come and go, learned from a LAN), all start over. */
const MAX_TYPES = 10_000;

export class TypeVersions {
  private readonly versions = new Map<string, number>();
  /** Moves when the counters start over, so no reply kept under an old counter can match a new one. */
  private epoch = 0;
  readonly close: () => void;

  constructor(registry: Registry) {
    this.close = registry.onChange(
      guarded("type versions change", (c) => {
        if (c.kind !== "instance") return; // hosts: a cut browse carries no addresses
        this.bump(typeKey(c.instance.type));
        if (c.previous) this.bump(typeKey(c.previous.type));
      }),
    );
  }

  /** The counter of `key` (see typeKey): it moves whenever the type changes, and never comes back to a value it had. */
  version(key: string): number {
    return this.epoch * 2 ** 32 + (this.versions.get(key) ?? 0);
  }

  private bump(key: string): void {
    if (this.versions.size >= MAX_TYPES && !this.versions.has(key)) {
      this.versions.clear();
      this.epoch++;
    }
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
  }
}

const perRegistry = new WeakMap<Registry, TypeVersions>();

/** The one TypeVersions of `registry`, made on first use (it only listens from then on, and starts at 0). */
export function typeVersionsOf(registry: Registry): TypeVersions {
  let v = perRegistry.get(registry);
  if (!v) perRegistry.set(registry, (v = new TypeVersions(registry)));
  return v;
}
