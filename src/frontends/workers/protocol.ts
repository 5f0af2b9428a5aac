// Messages between the primary process and its query workers (Node IPC with
// "advanced" serialization, so Buffers and Uint8Arrays cross as they are).
import type { AnswerOptions } from "../../answer/answer.js";
import type { LogLevel } from "../../log.js";
import type { ProcessMetrics } from "../../metrics.js";
import type { StoreEntry, StoreOp } from "../../store/store.js";
import type { Transport } from "../dns-handler.js";

export interface WorkerSettings {
  /** 1.. for workers; the primary is 0 in logs. */
  index: number;
  logLevel: LogLevel;
  logFormat: "json" | "pretty";
  queryLogRate: number;
  answer: AnswerOptions;
  maxUdpPayload: number;
  ringPoints: number;
  /** The daemon's cookie secret: a server cookie one process made, the others verify. */
  cookieSecret: Buffer;
  /** This process's share of the rate limit (the kernel spreads datagrams over the processes). */
  rrl: { rate: number; slip: number; exempt: readonly string[] };
  /** Queries the discovery proxy would hold go to the primary, which holds them (dns-handler localProxy). */
  delegateLocalMisses: boolean;
  /** How many sockets follow the start message. */
  sockets: number;
}

export type ToWorker =
  | { t: "start"; settings: WorkerSettings; entries: [string, StoreEntry][]; serial: number }
  /** Sent with a bound UDP socket's native handle (see primary.ts). */
  | { t: "socket"; type: "udp4" | "udp6" }
  | { t: "change"; ops: StoreOp[]; serial: number }
  | { t: "reply"; id: number; reply: Buffer | null }
  /** Answer "synced" once every change sent before this one is applied. */
  | { t: "sync"; id: number }
  | { t: "metrics"; id: number };

export type FromWorker =
  | { t: "ready" }
  /** A message only the primary may answer (UPDATE, signed, CHAOS). */
  | { t: "delegate"; id: number; msg: Buffer; transport: Transport; peer: string }
  | { t: "synced"; id: number }
  /** A `.local` type or subtype query the replica could not answer: the primary's mDNS may ask the LAN. */
  | { t: "metrics"; id: number; metrics: ProcessMetrics };
