// A network lab for mDNS tests: hosts in their own network namespaces, each
// with an eth0 on one bridge, so multicast crosses real (virtual) interfaces
// between hosts and nothing reaches the machine's real network. Needs root
// (or it is skipped outside CI). Addresses are from 203.0.113.0/24 (TEST-NET-3).
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";

export interface LabHost {
  name: string;
  /** The namespace, for `ip netns exec`. */
  ns: string;
  /** eth0's IPv4 address. */
  address: string;
  /** Run a command to completion inside the host. */
  run(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  /** Start a long-running command inside the host; ended by the lab's teardown if still running. */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
}

export interface Lab {
  hosts: LabHost[];
  destroy(): Promise<void>;
}

let labCounter = 0;

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}

export function canBuildLab(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).status === 0;
}

/** Hosts h0..h(n-1) joined by one bridge. */
export function createLab(count: number): Lab {
  const prefix = `rdl${process.pid % 100000}x${labCounter++}`;
  const bridgeNs = `${prefix}-br`;
  const namespaces = [bridgeNs];
  const children = new Set<ChildProcess>();
  const destroy = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
    for (const ns of namespaces) spawnSync("ip", ["netns", "del", ns]);
  };
  try {
    ip(["netns", "add", bridgeNs]);
    ip(["-n", bridgeNs, "link", "add", "br0", "type", "bridge"]);
    ip(["-n", bridgeNs, "link", "set", "br0", "up"]);
    const hosts: LabHost[] = [];
    for (let i = 0; i < count; i++) {
      const ns = `${prefix}-h${i}`;
      namespaces.push(ns);
      ip(["netns", "add", ns]);
      ip(["-n", bridgeNs, "link", "add", `vh${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      ip(["-n", bridgeNs, "link", "set", `vh${i}`, "master", "br0", "up"]);
      spawnSync("ip", [
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.eth0.accept_dad=0",
      ]);
      const address = `203.0.113.${10 + i}`;
      ip(["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
      ip(["-n", ns, "link", "set", "lo", "up"]);
      ip(["-n", ns, "link", "set", "eth0", "up", "multicast", "on"]);
      ip(["-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
      hosts.push({
        name: `h${i}`,
        ns,
        address,
        run(cmd, args, input) {
          const r = spawnSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8", input, timeout: 30_000 });
          return { status: r.status, stdout: r.stdout, stderr: r.stderr };
        },
        spawn(cmd, args, options = {}) {
          const c = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], ...options });
          children.add(c);
          c.once("exit", () => children.delete(c));
          return c;
        },
      });
    }
    return { hosts, destroy };
  } catch (e) {
    void destroy();
    throw e;
  }
}

let backboneCounter = 0;

/**
 * A point-to-point link between two hosts of different labs (a "backbone":
 * two LANs whose daemons share an etcd). `a` gets 198.51.100.1/30 on bb0, `b`
 * .2; the link goes away with the labs' namespaces.
 */
export function linkHosts(a: LabHost, b: LabHost): { a: string; b: string } {
  const n = backboneCounter++;
  const base = 4 * (n % 64);
  const [addrA, addrB] = [`198.51.100.${base + 1}`, `198.51.100.${base + 2}`];
  ip(["-n", a.ns, "link", "add", "bb0", "type", "veth", "peer", "name", "bb0", "netns", b.ns]);
  ip(["-n", a.ns, "addr", "add", `${addrA}/30`, "dev", "bb0"]);
  ip(["-n", b.ns, "addr", "add", `${addrB}/30`, "dev", "bb0"]);
  ip(["-n", a.ns, "link", "set", "bb0", "up"]);
  ip(["-n", b.ns, "link", "set", "bb0", "up"]);
  return { a: addrA, b: addrB };
}
