// What the registry holds. Plain data: stores serialize it, answers read it.
import type { Labels, ServiceType } from "../names.js";

/** Where a registration came from. ("cluster" is how the HTTP API shows one another daemon wrote.) */
export type Source = "static" | "update" | "mdns" | "cluster";

export interface Instance {
  /** Instance label as registered (display case, may contain spaces, dots, UTF-8). */
  readonly name: string;
  readonly type: ServiceType;
  /** Subtype labels, lower-case ("_eu"). */
  readonly subtypes: readonly string[];
  /** SRV target: one label means a host under each served domain; more labels are an absolute name. */
  readonly host: Labels;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  /** TXT strings (RFC 6763 §6), raw bytes, in order. */
  readonly txt: readonly Uint8Array[];
  readonly source: Source;
  /** Lease end in ms on the registry's clock; undefined = permanent. */
  readonly expiresAt?: number;
  /** In a cluster: the node (--node-name) whose store write this is; undefined when this daemon made it. */
  readonly writer?: string;
  /** The TSIG key (name, presentation form) whose signed UPDATE registered it. */
  readonly key?: string;
}

export interface Host {
  /** Host label, lower-case. */
  readonly name: string;
  /** IPv4 and IPv6 addresses in text form. */
  readonly addresses: readonly string[];
  readonly source: Source;
  readonly expiresAt?: number;
  readonly writer?: string;
}

export type ChangeOp = "add" | "update" | "remove" | "expire";

export type Change =
  | { op: ChangeOp; kind: "instance"; instance: Instance; previous?: Instance }
  | { op: ChangeOp; kind: "host"; host: Host; previous?: Host };

/** Same registration in every field; lease ends within `expirySlackMs` of each other count as the same. */
export function sameInstance(a: Instance, b: Instance, expirySlackMs = 0): boolean {
  const expiry = a.expiresAt === b.expiresAt || (a.expiresAt !== undefined && b.expiresAt !== undefined && Math.abs(a.expiresAt - b.expiresAt) <= expirySlackMs);
  return (
    a.name === b.name &&
    a.port === b.port &&
    a.priority === b.priority &&
    a.weight === b.weight &&
    a.source === b.source &&
    expiry &&
    a.host.join("\0") === b.host.join("\0") &&
    a.subtypes.join("\0") === b.subtypes.join("\0") &&
    a.txt.length === b.txt.length &&
    a.txt.every((t, i) => Buffer.compare(t, b.txt[i]!) === 0)
  );
}
