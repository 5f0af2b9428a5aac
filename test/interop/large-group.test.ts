// A group of 300 instances: over UDP the browse does not fit and is truncated;
// over TCP every client gets all 300. Node's dns.Resolver (c-ares) must get
// there by itself: it retries truncated answers over TCP.
// The same daemon serves a type of 10,000 instances, too large for any one
// message: over TCP it answers as many PTRs as fit 64 KB with TC=1, over UDP
// TC=1 and none (README, "Large types").
import { execFileSync } from "node:child_process";
import { Resolver } from "node:dns/promises";
import dnsPacket from "dns-packet";
import { exchange } from "../../src/client/dns-client.js";
import { Type } from "../../src/wire/constants.js";
import { encodeQuery } from "../../src/wire/message.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dig } from "../lab/dig.js";
import { startDaemon, writeServicesFile, type RunningDaemon } from "../lab/daemon.js";
import { hasDnspython, missingTool } from "../lab/tools.js";

const HUGE = 10_000;

/** Services-file lines for `n` instances of `_huge._tcp`, appended to the 300 of `_big._tcp`. */
function hugeType(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(
      `  - {instance: huge-${i}, type: _huge._tcp, host: huge-${i}, addresses: [203.0.113.${(i % 254) + 1}], port: ${20000 + i}}`,
    );
  return `${lines.join("\n")}\n`;
}

const HUGE_PTR = /^huge-(\d+)\._huge\._tcp\.local\.$/;

describe.skipIf(missingTool("dig", "kdig"))("a group of 300 instances", () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await startDaemon(["--services", writeServicesFile(300, "_big._tcp", hugeType(HUGE))]);
  });
  afterAll(() => d.stop());

  it("dig over UDP without EDNS: TC=1 and no more than 512 bytes", () => {
    const r = dig("dig", "127.0.0.1", d.port, ["+noedns", "+ignore", "_big._tcp.local", "PTR"]);
    expect(r.flags).toContain("tc");
    expect(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r.raw)![1])).toBeLessThanOrEqual(512);
  });

  it("dig over UDP with EDNS: TC=1 within the 1232-byte size", () => {
    const r = dig("dig", "127.0.0.1", d.port, ["+bufsize=4096", "+ignore", "_big._tcp.local", "PTR"]);
    expect(r.flags).toContain("tc");
    expect(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r.raw)![1])).toBeLessThanOrEqual(1232);
  });

  it("dig falls back to TCP by itself and gets all 300 with their additional records", () => {
    const r = dig("dig", "127.0.0.1", d.port, ["_big._tcp.local", "PTR"]);
    expect(r.raw).toMatch(/Truncated, retrying in TCP mode/);
    expect(r.answer).toHaveLength(300);
    expect(r.additional.filter((a) => a.type === "SRV")).toHaveLength(300);
    expect(r.raw).toMatch(/\(TCP\)/);
  });

  it("kdig over TCP gets all 300", () => {
    const r = dig("kdig", "127.0.0.1", d.port, ["+tcp", "_big._tcp.local", "PTR"]);
    expect(r.answer).toHaveLength(300);
  });

  it.skipIf(missingTool("/usr/bin/python3") || !hasDnspython())(
    "compresses at least as well as dnspython re-encoding the same records",
    async () => {
      const wire = await exchange(
        { host: "127.0.0.1", port: d.port },
        encodeQuery(1, ["_big", "_tcp", "local"], Type.PTR, { udpSize: 1232 }),
        { tcp: true },
      );
      // dnspython decodes our reply and writes it again with its own compression,
      // leaving SRV targets uncompressed as RFC 2782 asks (and Knot does)
      const script = [
        "import sys, dns.message, dns.rdtypes.IN.SRV as S",
        "def srv(self, file, compress=None, origin=None, canonicalize=False):",
        "    file.write(self.priority.to_bytes(2, 'big') + self.weight.to_bytes(2, 'big') + self.port.to_bytes(2, 'big'))",
        "    self.target.to_wire(file, None, origin, canonicalize)",
        "S.SRV._to_wire = srv",
        "m = dns.message.from_wire(bytes.fromhex(sys.stdin.read()))",
        "print(len(m.to_wire(max_size=65535)), len(m.answer[0]), len(m.additional))",
      ].join("\n");
      const [theirs, answers, additionalSets] = execFileSync("/usr/bin/python3", ["-c", script], {
        input: wire.toString("hex"),
        encoding: "utf8",
      })
        .trim()
        .split(" ")
        .map(Number);
      expect(answers).toBe(300);
      expect(additionalSets).toBeGreaterThan(0);
      expect(wire.length).toBeLessThanOrEqual(theirs!);
      // and far below the uncompressed size (dns-packet never compresses)
      expect(wire.length).toBeLessThan(dnsPacket.encode(dnsPacket.decode(wire) as dnsPacket.Packet).length * 0.6);
    },
  );

  it("Node's dns.Resolver gets all 300 (TC -> TCP)", async () => {
    const resolver = new Resolver({ timeout: 3000, tries: 1 });
    resolver.setServers([`127.0.0.1:${d.port}`]);
    const ptrs = await resolver.resolvePtr("_big._tcp.local");
    expect(ptrs).toHaveLength(300);
    expect(new Set(ptrs).size).toBe(300);
  });

  describe("a type of 10,000 instances", () => {
    it("dig +tcp gets TC=1 and as many PTRs as fit 64 KB, each a real instance, and no additional records", () => {
      const r = dig("dig", "127.0.0.1", d.port, ["+tcp", "_huge._tcp.local", "PTR"]);
      expect(r.status).toBe("NOERROR");
      expect(r.flags).toContain("tc");
      expect(r.raw).toMatch(/\(TCP\)/);
      expect(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r.raw)![1])).toBeLessThanOrEqual(65535);
      expect(r.answer.length).toBeGreaterThan(2000);
      expect(r.answer.length).toBeLessThan(HUGE);
      const indexes = r.answer.map((a) => {
        expect(a.type).toBe("PTR");
        const m = HUGE_PTR.exec(a.rdata);
        expect(m, a.rdata).not.toBeNull();
        return Number(m![1]);
      });
      expect(new Set(indexes).size).toBe(indexes.length);
      expect(indexes.every((i) => i < HUGE)).toBe(true);
      // a cut answer leaves no room: the additional section is dropped whole (RFC 2181 §9)
      expect(r.additional).toHaveLength(0);
    });

    it("plain dig is truncated over UDP, retries over TCP by itself and shows the cut answer there", () => {
      const r = dig("dig", "127.0.0.1", d.port, ["_huge._tcp.local", "PTR"]);
      expect(r.raw).toMatch(/Truncated, retrying in TCP mode/);
      expect(r.raw).toMatch(/\(TCP\)/);
      expect(r.flags).toContain("tc");
      expect(r.answer.length).toBeGreaterThan(2000);
    });

    it("kdig +tcp reads the same cut answer", () => {
      const r = dig("kdig", "127.0.0.1", d.port, ["+tcp", "_huge._tcp.local", "PTR"]);
      expect(r.flags).toContain("tc");
      expect(r.answer.length).toBeGreaterThan(2000);
      expect(r.answer.every((a) => HUGE_PTR.test(a.rdata))).toBe(true);
    });

    it("over UDP: TC=1 and no answers, with or without EDNS (like Knot: an RRset whole or not at all)", () => {
      for (const args of [["+bufsize=1232"], ["+noedns"]]) {
        const r = dig("dig", "127.0.0.1", d.port, [...args, "+ignore", "_huge._tcp.local", "PTR"]);
        expect(r.flags).toContain("tc");
        expect(r.answer).toHaveLength(0);
      }
    });

    it("one instance of the huge type still answers its SRV in full, with its address", () => {
      const r = dig("dig", "127.0.0.1", d.port, ["huge-9999._huge._tcp.local", "SRV"]);
      expect(r.answer.map((a) => a.rdata)).toEqual(["0 1 29999 huge-9999.local."]);
      expect(r.additional.map((a) => a.rdata)).toEqual(["203.0.113.94"]);
    });

    it("_hash of the huge type (its ring built in a worker thread): dig gets the owner the ring spec gives, after at most a short Not Ready", async () => {
      const { Ring } = await import("../../dist/src/ring/ring.js");
      const ring = Ring.build(Array.from({ length: HUGE }, (_, i) => ({ id: `huge-${i}`, weight: 1 })));
      for (let k = 0; k < 20; k++) {
        let r = dig("dig", "127.0.0.1", d.port, [`user-${k}._hash._huge._tcp.local`, "SRV"]);
        for (let tries = 0; r.status === "SERVFAIL" && tries < 50; tries++) {
          expect(r.raw).toMatch(/EDE: 14 \(Not Ready\)/);
          await new Promise((res) => setTimeout(res, 100));
          r = dig("dig", "127.0.0.1", d.port, [`user-${k}._hash._huge._tcp.local`, "SRV"]);
        }
        expect(r.status).toBe("NOERROR");
        expect(r.answer.map((a) => a.rdata)).toEqual([
          `0 1 ${20000 + Number(ring.ownerOf(`user-${k}`)!.slice(5))} ${ring.ownerOf(`user-${k}`)}.local.`,
        ]);
      }
    });
  });
});
