// The zone the answer tests serve (svc.example. beside local.) and the
// registrations they put in it.
import type { AnswerOptions } from "../../src/answer/answer.js";
import type { Host, Instance } from "../../src/registry/types.js";

export const zone = ["svc", "example"];

export const options: AnswerOptions = {
  domains: [["local"], zone],
  ttl: 30,
  negativeTtl: 5,
  udpPayloadSize: 1232,
  zoneNs: { host: "ns" },
};

/** An instance of _kv._tcp registered in svc.example. */
export const inst = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  type: { service: "_kv", proto: "_tcp" },
  subtypes: [],
  host: [name],
  port: 80,
  priority: 0,
  weight: 1,
  txt: [Buffer.from("a=1")],
  source: "update",
  domain: "svc.example.",
  ...extra,
});

/** A host registered in svc.example. */
export const host = (name: string, address: string, extra: Partial<Host> = {}): Host => ({
  name,
  addresses: [address],
  source: "update",
  domain: "svc.example.",
  ...extra,
});
