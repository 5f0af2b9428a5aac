// Running dnsperf and reading what it prints.
import { spawnSync } from "node:child_process";

export interface PerfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  meanMs: number;
  /** "NOERROR 1234, REFUSED 5" as dnsperf counted them. */
  rcodes: string;
  p99Ms?: number;
}

export function dnsperf(
  port: number,
  queryFile: string,
  opts: {
    seconds: number;
    runs?: number;
    tcp?: boolean;
    clients?: number;
    outstanding?: number;
    rate?: number;
    verbose?: boolean;
    update?: string;
  },
): PerfResult {
  const args = [
    "-s",
    "127.0.0.1",
    "-p",
    String(port),
    "-d",
    queryFile,
    "-l",
    String(opts.seconds),
    "-c",
    String(opts.clients ?? 10),
    "-q",
    String(opts.outstanding ?? 100),
    "-e",
    "-t",
    "2",
  ];
  if (opts.tcp) args.push("-m", "tcp");
  if (opts.runs) args.push("-n", String(opts.runs));
  if (opts.rate) args.push("-Q", String(opts.rate));
  if (opts.verbose) args.push("-v");
  if (opts.update) args.push("-u", "-y", opts.update);
  const r = spawnSync("dnsperf", args, {
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
    timeout: (opts.seconds + 30) * 1000,
  });
  if (r.status !== 0) throw new Error(`dnsperf failed: ${r.stderr || r.stdout}`);
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const result: PerfResult = {
    qps: num(/(?:Queries|Updates) per second:\s+([\d.]+)/),
    sent: num(/(?:Queries|Updates) sent:\s+(\d+)/),
    completed: num(/(?:Queries|Updates) completed:\s+(\d+)/),
    lost: num(/(?:Queries|Updates) lost:\s+(\d+)/),
    meanMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    rcodes: [...(/Response codes:\s+(.*)$/m.exec(r.stdout)?.[1]?.matchAll(/([A-Z]+) (\d+)/g) ?? [])]
      .map((m) => `${m[1]} ${m[2]}`)
      .join(", "),
  };
  if (opts.verbose) {
    // "> NOERROR name type 0.000123" per reply
    const lat = [...r.stdout.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
    if (lat.length > 0) result.p99Ms = lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]!;
  }
  return result;
}
