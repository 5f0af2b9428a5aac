// Runs dig or kdig and parses what a user reads off the screen: status, flags,
// and each section's records as "name ttl class type rdata" rows.
import { spawnSync } from "node:child_process";

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  rdata: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  raw: string;
}

export function dig(tool: "dig" | "kdig", server: string, port: number, args: string[]): DigResult {
  const retry = tool === "dig" ? "+tries=1" : "+retry=0";
  const r = spawnSync(tool, [`@${server}`, "-p", String(port), "+time=3", retry, ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.status !== 0 && !r.stdout.includes("status"))
    throw new Error(`${tool} ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  return parseDig(r.stdout);
}

export function parseDig(out: string): DigResult {
  const res: DigResult = { status: "", flags: [], answer: [], authority: [], additional: [], raw: out };
  let section: DigRecord[] | null = null;
  for (const line of out.split("\n")) {
    const status = /status: (\w+)/.exec(line);
    if (status) res.status = status[1]!;
    const flags = /;; flags: ([^;]*);/i.exec(line);
    if (flags) res.flags = flags[1]!.trim().split(/\s+/);
    const sec = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (sec) {
      section = sec[1] === "ANSWER" ? res.answer : sec[1] === "AUTHORITY" ? res.authority : res.additional;
      continue;
    }
    if (line.trim() === "" || line.startsWith(";")) {
      if (line.trim() === "" || /^;; [A-Z]/.test(line)) section = null;
      continue;
    }
    if (section) {
      const m = /^(\S+)\s+(\d+)\s+(?:IN|CH)\s+(\S+)\s+(.*)$/.exec(line);
      if (m) section.push({ name: m[1]!, ttl: Number(m[2]), type: m[3]!, rdata: m[4]!.trim() });
    }
  }
  return res;
}
