// Comparing two replies to one query: what the suite calls a difference.
import { Type } from "../../src/wire/constants.js";
import type { Reply, Transport } from "./client.js";

export interface Difference {
  query: string;
  transport: Transport;
  /** What differs: "rcode", "flag AA", "OPT", "OPT DO", "question", "answer <rrset>", "additional partial <rrset>", … */
  what: string;
  ringdns: string;
  knot: string;
}

const SECTIONS = ["answer", "authority", "additional"] as const;
const DNSSD_ADDITIONAL_TYPES = new Set(["SRV", "TXT", "A", "AAAA"]);

/**
 * The differences between ringdns's and knotd's replies to one query. `truth`
 * (canonical RRset key -> RDATA) says what a whole RRset is: a partial one in
 * either reply, outside a TC=1 answer, is a difference of its own.
 * `qtype`: RFC 6763 §12.1 additionals (SRV, TXT, A, AAAA) that ringdns adds to
 * a PTR answer and knotd does not are not compared (they are checked whole).
 */
export function compareReplies(
  query: string,
  transport: Transport,
  qtype: number,
  r: Reply | null,
  k: Reply | null,
  truth: Map<string, string[]>,
): Difference[] {
  const out: Difference[] = [];
  const diff = (what: string, ringdns: unknown, knot: unknown) => {
    const a = String(ringdns);
    const b = String(knot);
    if (a !== b) out.push({ query, transport, what, ringdns: a, knot: b });
  };
  if (!r || !k) {
    diff("reply", r ? "reply" : "no reply", k ? "reply" : "no reply");
    return out;
  }
  diff("rcode", r.rcode, k.rcode);
  diff("opcode", r.opcode, k.opcode);
  for (const f of ["aa", "tc", "rd", "ra", "ad", "cd", "z"] as const)
    diff(`flag ${f.toUpperCase()}`, r.flags[f], k.flags[f]);
  diff("question", r.question, k.question);
  diff("OPT", r.opt ? "present" : "absent", k.opt ? "present" : "absent");
  if (r.opt && k.opt) {
    diff("OPT udp size", r.opt.udpSize, k.opt.udpSize);
    diff("OPT version", r.opt.version, k.opt.version);
    diff("OPT DO", r.opt.do, k.opt.do);
    diff("OPT options", r.opt.codes.join(",") || "none", k.opt.codes.join(",") || "none");
  }
  diff("OPT misplaced", r.misplacedOpt, k.misplacedOpt);
  for (const [s, name] of SECTIONS.entries()) {
    const rs = r.sections[s]!;
    const ks = k.sections[s]!;
    for (const [reply, who] of [
      [r, "ringdns"],
      [k, "knot"],
    ] as const) {
      if (name === "answer" && reply.flags.tc) continue; // a cut answer may be partial (RFC 2181 §9)
      for (const [key, rdata] of reply.sections[s]!) {
        const whole = truth.get(key);
        if (whole && rdata.length < whole.length)
          out.push({
            query,
            transport,
            what: `${name} partial ${key}`,
            ringdns: who === "ringdns" ? `${rdata.length} of ${whole.length}` : "",
            knot: who === "knot" ? `${rdata.length} of ${whole.length}` : "",
          });
      }
    }
    for (const key of new Set([...rs.keys(), ...ks.keys()])) {
      const a = rs.get(key);
      const b = ks.get(key);
      if (
        name === "additional" &&
        qtype === Type.PTR &&
        a &&
        !b &&
        DNSSD_ADDITIONAL_TYPES.has(key.slice(key.lastIndexOf(" ") + 1))
      )
        continue; // RFC 6763 §12.1
      diff(`${name} ${key}`, a ? [...a].sort().join(" | ") : "absent", b ? [...b].sort().join(" | ") : "absent");
    }
  }
  return out;
}

/** One justified (or to-be-fixed) difference: every given field must match. */
export interface KnownDifference {
  query?: RegExp;
  transport?: Transport;
  what?: RegExp;
  ringdns?: RegExp;
  knot?: RegExp;
  why: string;
  rfc: string;
  /** Not justified: a ringdns bug, listed until fixed (the suite fails once nothing matches it). */
  fixBy?: string;
}

export function matches(k: KnownDifference, d: Difference): boolean {
  return (
    (!k.query || k.query.test(d.query)) &&
    (!k.transport || k.transport === d.transport) &&
    (!k.what || k.what.test(d.what)) &&
    (!k.ringdns || k.ringdns.test(d.ringdns)) &&
    (!k.knot || k.knot.test(d.knot))
  );
}

export function formatDifference(d: Difference): string {
  return `${d.query} [${d.transport}] ${d.what}: ringdns ${d.ringdns || "-"} / knot ${d.knot || "-"}`;
}
