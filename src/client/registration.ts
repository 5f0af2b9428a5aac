// Registering a service over DNS UPDATE, the way a service registry client
// does it: register (leased, signed), renew before the lease ends, register
// again when the server lost it (restart, expiry: Eureka's re-register on
// NotFound), and deregister on close(). With `srp`, as an SRP client (RFC
// 9665): the update is signed with SIG(0) by the host's own key, in
// default.service.arpa., with LEASE and KEY-LEASE, renewed at 80 % of the lease.
import { EventEmitter } from "node:events";
import { parseName } from "../names.js";
import {
  deregistrationUpdate,
  registrationUpdate,
  srpUpdate,
  type ServiceInstance,
} from "../update/registration-ops.js";
import type { Sig0Signer } from "../wire/sig0.js";
import type { TsigKey } from "../wire/tsig.js";
import type { UpdateOp } from "../wire/update.js";
import { DEFAULT_SERVER, resolve } from "./discovery.js";
import type { Server } from "./dns-client.js";
import { sendUpdate, UpdateError } from "./update-client.js";

export { deregistrationUpdate, registrationUpdate, type ServiceInstance };

export interface RegisterOptions {
  server?: Server;
  /** Zone to register in: "local." by default, "default.service.arpa." for SRP. */
  domain?: string;
  /** TSIG key; without one (or `srp`), the server must allow unsigned updates from us. */
  key?: TsigKey;
  /** Register as an SRP client: the host's key pair (`loadSig0Key`), and the KEY-LEASE to ask for (default 7 days). */
  srp?: { signer: Sig0Signer; keyLease?: number };
  /** Lease to ask for, seconds (RFC 9664); omitted = permanent (SRP: one hour). */
  lease?: number;
  tcp?: boolean;
  timeoutMs?: number;
}

/** Lease an SRP registration asks for unless told otherwise, and its KEY-LEASE. */
export const SRP_CLIENT_LEASE = 3600;
export const SRP_CLIENT_KEY_LEASE = 7 * 86_400;

const domainOf = (o: RegisterOptions) => parseName(o.domain ?? (o.srp ? "default.service.arpa." : "local."));
const leaseOf = (o: RegisterOptions) => o.lease ?? (o.srp ? SRP_CLIENT_LEASE : undefined);

/** The update that registers `service`: the RFC 2136 shape, or SRP's (host description with the key first). */
function registrationOps(service: ServiceInstance, o: RegisterOptions): UpdateOp[] {
  if (!o.srp) return registrationUpdate(service, domainOf(o));
  const host = { host: service.host, key: o.srp.signer.key, addresses: service.addresses ?? [] };
  return srpUpdate(host, [service], domainOf(o));
}

async function send(ops: UpdateOp[], o: RegisterOptions): Promise<number | undefined> {
  if (o.key && o.srp) throw new UpdateError("FORMERR", "sign with a TSIG key or as an SRP client, not both");
  const lease = leaseOf(o);
  const res = await sendUpdate(o.server ?? DEFAULT_SERVER, domainOf(o), ops, {
    ...(o.key ? { key: o.key } : {}),
    ...(o.srp ? { sig0: o.srp.signer, keyLease: o.srp.keyLease ?? SRP_CLIENT_KEY_LEASE } : {}),
    ...(lease !== undefined ? { lease } : {}),
    ...(o.tcp ? { tcp: true } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
  });
  if (res.rcode !== "NOERROR") throw new UpdateError(res.rcode, `update refused: ${res.rcode}`);
  return res.lease;
}

/** Remove an instance now. */
export async function deregister(type: string, instance: string, options: RegisterOptions = {}): Promise<void> {
  const { lease: _ignored, ...rest } = options;
  await send(deregistrationUpdate(type, instance, parseName(options.domain ?? "local.")), rest);
}

/**
 * A live registration. Events: "renewed" (lease seconds), "reregistered"
 * (the server had lost it), "error" (a renewal failed; it is retried).
 */
export class Registration extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Lease granted by the server at the last (re)registration, seconds; undefined = permanent. */
  lease: number | undefined;

  constructor(
    readonly service: ServiceInstance,
    private readonly options: RegisterOptions & { checkIntervalMs?: number },
  ) {
    super();
  }

  /** Send the registration; resolves once the server acknowledged it (durably). */
  async start(): Promise<this> {
    this.lease = await send(registrationOps(this.service, this.options), this.options);
    this.schedule(this.renewDelay());
    return this;
  }

  // renew at 75% of the lease (RFC 9664 suggests before it runs out; SRP clients at 80 %, as OpenThread's);
  // permanent ones are checked for presence
  private renewDelay(): number {
    if (this.lease !== undefined) return Math.max(500, this.lease * (this.options.srp ? 800 : 750));
    return this.options.checkIntervalMs ?? 30_000;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (this.lease === undefined) {
        // permanent: if the server lost it (restart without its store, manual delete), register again
        // a failure (REFUSED, SERVFAIL, no answer) says nothing about presence: reported below, checked again later
        const present = (await resolve(this.service.type, this.service.instance, this.lookupOptions())) !== undefined;
        if (!present && !this.closed) {
          await this.start();
          this.emit("reregistered");
          return;
        }
      } else {
        // renewal is the same update again, so it also restores what a server lost
        this.lease = await send(registrationOps(this.service, this.options), this.options);
        this.emit("renewed", this.lease);
      }
      this.schedule(this.renewDelay());
    } catch (err) {
      if (this.listenerCount("error") > 0) this.emit("error", err);
      this.schedule(Math.min(5_000, this.renewDelay() / 4));
    }
  }

  private lookupOptions() {
    const o = this.options;
    return {
      ...(o.server ? { server: o.server } : {}),
      ...(o.domain ? { domain: o.domain } : {}),
      ...(o.tcp ? { tcp: true } : {}),
    };
  }

  /** Stop renewing and deregister (SRP: this service goes; the host, and the key's claim on the names, stay until their leases end). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const o = this.options;
    if (!o.srp) return deregister(this.service.type, this.service.instance, o);
    const host = { host: this.service.host, key: o.srp.signer.key, addresses: this.service.addresses ?? [] };
    await send(srpUpdate(host, [], domainOf(o), [{ type: this.service.type, instance: this.service.instance }]), o);
  }
}

/** Register `service` and keep it registered until `close()`. */
export function register(
  service: ServiceInstance,
  options: RegisterOptions & { checkIntervalMs?: number } = {},
): Promise<Registration> {
  return new Registration(service, options).start();
}
