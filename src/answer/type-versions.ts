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

export class TypeVersions {
  private readonly versions = new Map<string, number>();
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

  /** The counter of `key` (see typeKey); 0 until the type first changes after this was made. */
  version(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  private bump(key: string): void {
    this.versions.set(key, this.version(key) + 1);
  }
}

const perRegistry = new WeakMap<Registry, TypeVersions>();

/** The one TypeVersions of `registry`, made on first use (it only listens from then on, and starts at 0). */
export function typeVersionsOf(registry: Registry): TypeVersions {
  let v = perRegistry.get(registry);
  if (!v) perRegistry.set(registry, (v = new TypeVersions(registry)));
  return v;
}
