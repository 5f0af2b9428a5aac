// The HTTP API's JSON shapes (docs/http-api.md, docs/openapi.yaml): what the
// daemon's HTTP frontend sends and what the client library reads. Types only,
// so both sides depend on this and neither on the other.
import type { Change, Host, Instance, Owner } from "../registry/types.js";

export interface InstanceView {
  name: string;
  type: string;
  subtypes: string[];
  /** A host label (served under every domain) or an absolute name ending in ".". */
  host: string;
  port: number;
  priority: number;
  weight: number;
  txt: string[];
  /** static, update, mdns, or cluster when another daemon of the cluster wrote it (then `origin` says who and how). */
  source: Instance["source"];
  origin?: { node: string; source: Instance["source"] };
  /** The TSIG key that registered it, for signed registrations. */
  key?: string;
  /** Who may change it: {kind: "key", name}, "unsigned", "http", "static" or "mdns"; absent for a host stored before owners were recorded. */
  owner?: Owner;
  /** The served domain it was registered in; absent = served under every domain (mDNS-learned: local. only). */
  domain?: string;
  /** Seconds until the lease ends; null for a permanent registration. */
  leaseRemainingSeconds: number | null;
  /** For an SRP registration: its key's tag, and the seconds until the key's claim on the name ends (KEY-LEASE). */
  srp?: SrpView;
  /** Fraction of the type's keys this instance owns; left out while a big ring's shares are still being computed. */
  share?: number;
}

export interface HostView {
  name: string;
  addresses: string[];
  source: Host["source"];
  owner?: Owner;
  domain?: string;
  leaseRemainingSeconds: number | null;
  srp?: SrpView;
}

export interface SrpView {
  keyTag?: number;
  keyLeaseRemainingSeconds: number;
}

/** One event of `/v1/watch` (Server-Sent Events), without its number and time. */
export type EventBody =
  | { event: "instance"; op: Change["op"]; type: string; instance: Omit<InstanceView, "share"> }
  | { event: "host"; op: Change["op"]; host: HostView }
  | { event: "ring"; type: string; instances: number; shares: Record<string, number> };

export type WatchEvent = EventBody & { id: number; time: string };

/** One DNS Push subscription (RFC 8765) as `/v1/subscriptions` lists it. */
export interface PushSubscriptionView {
  name: string;
  type: string;
  /** Records it holds now (what was last pushed). */
  records: number;
  /** PUSH updates sent to it, the first state included when it had records. */
  pushes: number;
}

/** A DSO session on a `--dns-tls` listener that holds subscriptions. */
export interface PushSessionView {
  /** Numbered in order of their first SUBSCRIBE, from 1 (the page cursor). */
  id: number;
  /** The client's address and port. */
  peer: string;
  /** When its first SUBSCRIBE came (ISO 8601). */
  since: string;
  subscriptions: PushSubscriptionView[];
}

/** `GET /v1/subscriptions`: sessions by id, a page at a time; `total` and `subscriptions` count every one. */
export interface PushSessionsPage {
  total: number;
  subscriptions: number;
  sessions: PushSessionView[];
  /** The `after` of the next page; absent on the last. */
  next?: string;
}
