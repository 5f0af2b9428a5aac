// Store entries as plain JSON-able records, versioned, so every backend
// writes the same bytes and a newer format is refused with a clear message.
import { compactHost, compactInstance } from "../registry/compact.js";
import type { Claim, Host, Instance } from "../registry/types.js";
import type { StoreEntry } from "./store.js";

/** The newest format read; claims (SRP, format 2) are written as 2, the rest as 1, which older daemons read. */
export const FORMAT_VERSION = 2;
/** The format a new store is marked with: what every entry but a claim is written in. */
export const BASE_FORMAT = 1;

interface Wire {
  v: number;
  kind: "instance" | "host" | "claim";
  value: Record<string, unknown>;
}

/** What a backend serializes at once (JSON): hosts and claims as they are, no copy. */
export function encodeEntry(e: StoreEntry): Wire {
  if (e.kind === "host") return { v: BASE_FORMAT, kind: "host", value: e.value as unknown as Record<string, unknown> };
  if (e.kind === "claim") return { v: 2, kind: "claim", value: e.value as unknown as Record<string, unknown> };
  const { txt, ...rest } = e.value;
  return {
    v: BASE_FORMAT,
    kind: "instance",
    value: { ...rest, txt: txt.map((t) => Buffer.from(t).toString("base64")) },
  };
}

export function decodeEntry(raw: unknown, where: string): StoreEntry {
  const w = raw as Wire;
  if (!w || typeof w !== "object" || typeof w.v !== "number") throw new Error(`${where}: not a ringdns store entry`);
  if (w.v > FORMAT_VERSION)
    throw new Error(`${where}: written by a newer ringdns (format ${w.v}, this one reads up to ${FORMAT_VERSION})`);
  // kept as the registry keeps them (compact.ts): a store of 100,000 is decoded once, not copied again
  if (w.kind === "host") return { kind: "host", value: compactHost(w.value as unknown as Host) };
  if (w.kind === "claim") return { kind: "claim", value: w.value as unknown as Claim };
  const v = w.value as unknown as Omit<Instance, "txt"> & { txt: string[] };
  return { kind: "instance", value: compactInstance({ ...v, txt: v.txt.map((t) => Buffer.from(t, "base64")) }) };
}
