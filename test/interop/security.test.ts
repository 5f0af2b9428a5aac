// Issue 14's findings that a single daemon on loopback reproduces with real
// clients: cache keys that collide, secrets in logs. (TSIG, ownership, TCP and
// HTTP bounds, and mDNS have test files of their own; docs/security.md maps
// each entry point to its tests.)
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { missingTool } from "../lab/tools.js";

const dir = mkdtempSync(join(tmpdir(), "ringdns-security-"));
const services = join(dir, "services.yaml");
writeFileSync(
  services,
  "services:\n  - {instance: alpha, type: _cache._tcp, host: alpha, addresses: [192.0.2.10], port: 11211}\n",
);
const keyFile = join(dir, "update.key");
let d: RunningDaemon;

beforeAll(async () => {
  expect(runCli(["keygen", "ringdns-key", "--out", keyFile]).status).toBe(0);
  d = await startDaemon(["--services", services, "--key-file", keyFile, "--domain", "svc.example."]);
});
afterAll(() => d?.stop());

describe.skipIf(missingTool("dig"))("the answer cache", () => {
  it("never serves alpha._cache._tcp the reply cached for alpha\\000_cache._tcp (one label holding a zero byte), or the other way round", () => {
    const real = () =>
      dig("dig", "127.0.0.1", d.port, [
        "alpha._cache._tcp.local",
        "SRV",
        "+noall",
        "+comments",
        "+answer",
        "+question",
      ]);
    const zero = () =>
      dig("dig", "127.0.0.1", d.port, [
        "alpha\\000_cache._tcp.local",
        "SRV",
        "+noall",
        "+comments",
        "+answer",
        "+question",
      ]);
    // each pair runs well inside the cache's one second
    for (const [first, second] of [
      [zero, real],
      [real, zero],
    ] as const) {
      for (const r of [first(), second(), first(), second()]) {
        const isReal = !r.raw.includes("\\000");
        expect(r.status).toBe(isReal ? "NOERROR" : "NXDOMAIN");
        expect(r.answer.map((a) => a.rdata)).toEqual(isReal ? ["0 1 11211 alpha.local."] : []);
      }
    }
  });
});

describe("secrets", () => {
  it("a key file broken on SIGHUP fails the reload with a line that names the file and key, not the secret; the loaded key stays", async () => {
    const good = readFileSync(keyFile, "utf8");
    const secret = /secret "([^"]+)"/.exec(good)![1]!;
    writeFileSync(keyFile, `hmac-sha999:ringdns-key:${secret}\n`);
    d.proc.kill("SIGHUP");
    const line = await d.waitForLog(/reload failed/);
    expect(line).toContain(`${keyFile}: key \\"ringdns-key\\": algorithm \\"hmac-sha999\\" is not one of`);
    expect(d.logs.join("\n")).not.toContain(secret.slice(0, 16));
    writeFileSync(keyFile, good);
  });
});
