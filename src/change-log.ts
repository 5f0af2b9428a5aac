// One log line per registration change, whatever its source (static entries
// loaded at start are not repeated).
import type { Logger } from "pino";
import { formatServiceType } from "./names.js";
import { hostStoreKey, instanceStoreKey, type Registry } from "./registry/registry.js";
import { sameInstance } from "./registry/types.js";

/** Log the registry's changes from now on; returns a function that stops. */
export function logRegistryChanges(registry: Registry, log: Logger): () => void {
  return registry.onChange((c) => {
    const fields =
      c.kind === "instance"
        ? {
            op: c.op,
            type: formatServiceType(c.instance.type),
            instance: c.instance.name,
            source: c.instance.source,
            key: instanceStoreKey(c.instance),
            ...(c.instance.expiresAt !== undefined ? { leaseEnds: new Date(c.instance.expiresAt).toISOString() } : {}),
          }
        : {
            op: c.op,
            host: c.host.name,
            addresses: c.host.addresses,
            source: c.host.source,
            key: hostStoreKey(c.host),
          };
    // a renewal that changes nothing but the lease end is routine: debug, or mDNS refreshes would fill the log
    const renewal =
      c.op === "update" &&
      c.kind === "instance" &&
      c.previous !== undefined &&
      sameInstance(c.previous, c.instance, Number.POSITIVE_INFINITY);
    if (renewal) log.debug(fields, "registration renewed");
    else log.info(fields, "registration changed");
  });
}
