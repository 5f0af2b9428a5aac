// Leases and crash safety with the embedded LMDB store: leases are granted,
// clamped, echoed and end on time; 1000 acknowledged updates survive kill -9.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { dig } from "../lab/dig.js";
import { startDaemon } from "../lab/daemon.js";
import { eventually } from "../lab/wait.js";
import { missingTool } from "../lab/tools.js";

const zone = parseName("svc.example.");
const reg = (i: number) =>
  registrationUpdate(
    {
      instance: `svc-${i}`,
      type: "_load._tcp",
      host: `host-${i}`,
      addresses: [`198.51.100.${(i % 250) + 1}`],
      port: 20000 + i,
      txt: { i: String(i) },
    },
    zone,
  );

/** UDP with retries, as real clients do; an UPDATE of this shape is idempotent. */
async function updateWithRetry(port: number, i: number, lease?: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (
        await sendUpdate({ host: "127.0.0.1", port }, zone, reg(i), { timeoutMs: 2000, ...(lease ? { lease } : {}) })
      ).rcode;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
}

describe.skipIf(missingTool("dig"))("leases", () => {
  it("grants, clamps and echoes leases (RFC 9664), and removes instance and host when one ends", async () => {
    const d = await startDaemon(["--domain", "svc.example.", "--lease-min", "1", "--lease-max", "3600"]);
    try {
      const server = { host: "127.0.0.1", port: d.port };
      expect(await sendUpdate(server, zone, reg(1), { lease: 2 })).toEqual({ rcode: "NOERROR", lease: 2 });
      expect(await sendUpdate(server, zone, reg(2), { lease: 999_999 })).toEqual({ rcode: "NOERROR", lease: 3600 });
      expect(await sendUpdate(server, zone, reg(3), { lease: 0 })).toEqual({ rcode: "NOERROR", lease: 1 });
      const srv = dig("dig", "127.0.0.1", d.port, ["svc-1._load._tcp.svc.example", "SRV"]);
      expect(srv.answer).toHaveLength(1);
      expect(srv.answer[0]!.ttl).toBeLessThanOrEqual(2); // TTL never outlives the lease
      await eventually(
        "svc-1 gone when its 2 s lease ends",
        () => dig("dig", "127.0.0.1", d.port, ["svc-1._load._tcp.svc.example", "SRV"]).status === "NXDOMAIN",
        6000,
      );
      expect(dig("dig", "127.0.0.1", d.port, ["host-1.svc.example", "A"]).status).toBe("NXDOMAIN");
      expect(dig("dig", "127.0.0.1", d.port, ["svc-2._load._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
      await d.waitForLog(/leases expired/);
    } finally {
      await d.stop();
    }
  });

  it("--default-lease applies to updates that ask for none", async () => {
    const d = await startDaemon(["--domain", "svc.example.", "--lease-min", "1", "--default-lease", "1"]);
    try {
      expect(await sendUpdate({ host: "127.0.0.1", port: d.port }, zone, reg(7))).toEqual({ rcode: "NOERROR" });
      expect(dig("dig", "127.0.0.1", d.port, ["svc-7._load._tcp.svc.example", "SRV"]).answer).toHaveLength(1);
      await eventually(
        "svc-7 gone when its default 1 s lease ends",
        () => dig("dig", "127.0.0.1", d.port, ["svc-7._load._tcp.svc.example", "SRV"]).status === "NXDOMAIN",
        5000,
      );
    } finally {
      await d.stop();
    }
  });
});

describe.skipIf(missingTool("dig"))("crash safety", () => {
  it("1000 concurrent updates, kill -9 right after the last acknowledgement: all 1000 are there after restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ringdns-crash-"));
    const args = ["--domain", "svc.example.", "--data-dir", dataDir];
    const d = await startDaemon(args);
    let rcodes: string[];
    try {
      rcodes = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => updateWithRetry(d.port, i, i % 2 ? 3600 : undefined)),
      );
    } finally {
      d.proc.kill("SIGKILL");
      await once(d.proc, "exit");
    }
    expect(rcodes.filter((r) => r !== "NOERROR")).toEqual([]);

    const again = await startDaemon(args);
    try {
      const browse = dig("dig", "127.0.0.1", again.port, ["+tcp", "_load._tcp.svc.example", "PTR"]);
      expect(browse.answer).toHaveLength(1000);
      for (const i of [0, 1, 499, 998, 999]) {
        const srv = dig("dig", "127.0.0.1", again.port, [`svc-${i}._load._tcp.svc.example`, "SRV"]);
        expect(srv.answer.map((a) => a.rdata)).toEqual([`0 1 ${20000 + i} host-${i}.svc.example.`]);
        expect(srv.additional.map((a) => a.rdata)).toEqual([`198.51.100.${(i % 250) + 1}`]);
        if (i % 2) expect(srv.answer[0]!.ttl).toBeGreaterThan(0); // leased ones kept their lease
      }
    } finally {
      await again.stop();
    }
  });
});
