// Running it for real: SIGHUP picks up an edited services file and key file
// while queries go on without a single failure; SIGTERM finishes the updates
// under way before the store closes; `npm pack` installs globally and serves.
import { spawnSync } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { formatKeyFile, generateKey } from "../../src/update/keys.js";
import { startDaemon } from "../lab/daemon.js";
import { eventually } from "../lab/wait.js";
import { dig } from "../lab/dig.js";
import { missingTool } from "../lab/tools.js";

const zone = parseName("local.");
const services = (entries: [string, number][]) =>
  `services:\n${entries.map(([n, port]) => `  - {instance: ${n}, type: _hup._tcp, host: ${n}, addresses: [192.0.2.9], port: ${port}}`).join("\n")}\n`;

describe.skipIf(missingTool("dig", "nsupdate"))("signals", () => {
  it("SIGHUP reloads the services file and keys while a query loop sees no failure; a bad file changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-hup-"));
    const file = join(dir, "services.yaml");
    const keyFile = join(dir, "update.key");
    const [oldKey, newKey] = [generateKey("hup-key"), generateKey("hup-key")];
    writeFileSync(
      file,
      services([
        ["steady", 1000],
        ["leaving", 2000],
      ]),
    );
    writeFileSync(keyFile, formatKeyFile(oldKey));
    const d = await startDaemon([
      "--services",
      file,
      "--key-file",
      keyFile,
      "--workers",
      "2",
      "--allow-update",
      "none",
    ]);
    try {
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([`127.0.0.1:${d.port}`]);
      let stop = false;
      const failures: string[] = [];
      let answered = 0;
      const loop = async () => {
        while (!stop) {
          try {
            const r = await resolver.resolveSrv("steady._hup._tcp.local");
            if (r.length !== 1 || ![1000, 1001].includes(r[0]!.port)) failures.push(JSON.stringify(r));
            answered++;
          } catch (e) {
            failures.push(String(e));
          }
        }
      };
      const loops = Array.from({ length: 8 }, loop);
      await eventually("queries answered before the reload", () => answered >= 50);

      writeFileSync(
        file,
        services([
          ["steady", 1001],
          ["arriving", 3000],
        ]),
      );
      writeFileSync(keyFile, formatKeyFile(newKey));
      d.proc.kill("SIGHUP");
      await d.waitForLog(/reloaded the services file and keys/);
      const atReload = answered;
      await eventually("queries answered after the reload", () => answered >= atReload + 60);
      stop = true;
      await Promise.all(loops);
      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(100);

      expect(dig("dig", "127.0.0.1", d.port, ["steady._hup._tcp.local", "SRV"]).answer.map((a) => a.rdata)).toEqual([
        "0 1 1001 steady.local.",
      ]);
      expect(dig("dig", "127.0.0.1", d.port, ["arriving._hup._tcp.local", "SRV"]).answer).toHaveLength(1);
      expect(dig("dig", "127.0.0.1", d.port, ["leaving._hup._tcp.local", "SRV"]).status).toBe("NXDOMAIN");
      const reg = registrationUpdate({ instance: "signed", type: "_k._tcp", host: "signed", port: 1 }, zone);
      await expect(sendUpdate({ host: "127.0.0.1", port: d.port }, zone, reg, { key: oldKey })).rejects.toThrow(
        /BADSIG|BADKEY|NOTAUTH/,
      );
      expect((await sendUpdate({ host: "127.0.0.1", port: d.port }, zone, reg, { key: newKey })).rcode).toBe("NOERROR");

      writeFileSync(file, "services:\n  - {instance: broken, port: 99999}\n");
      d.proc.kill("SIGHUP");
      await d.waitForLog(/reload failed: still serving the previous services file and keys/);
      expect(dig("dig", "127.0.0.1", d.port, ["steady._hup._tcp.local", "SRV"]).answer).toHaveLength(1);
    } finally {
      await d.stop();
    }
  });

  it("SIGTERM right after an UPDATE arrives: if it was acknowledged, it is in the store after a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ringdns-drain-"));
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const d = await startDaemon(["--data-dir", dataDir]);
      const name = `drain-${round}`;
      const sent = sendUpdate(
        { host: "127.0.0.1", port: d.port },
        zone,
        registrationUpdate({ instance: name, type: "_drain._tcp", host: name, port: 1 }, zone),
        { timeoutMs: 1500 },
      ).then(
        (r) => r.rcode,
        () => "no answer",
      );
      await new Promise((r) => setTimeout(r, round)); // 0-4 ms: before, during and after the commit
      d.proc.kill("SIGTERM");
      const [rcode, code] = await Promise.all([sent, new Promise((r) => d.proc.once("exit", r))]);
      expect(code).toBe(0);
      const again = await startDaemon(["--data-dir", dataDir]);
      const present = dig("dig", "127.0.0.1", again.port, [`${name}._drain._tcp.local`, "SRV"]).answer.length === 1;
      await again.stop();
      outcomes.push(`${rcode}${present ? " stored" : ""}`);
      if (rcode === "NOERROR") expect(present, `round ${round}: acknowledged but lost`).toBe(true);
      else expect(rcode, `round ${round}`).toBe("no answer"); // dropped while draining, never half-answered
    }
    console.log(`UPDATE then SIGTERM after 0-4 ms: ${outcomes.join(", ")}`);
    // the update that got in before the signal is finished and answered, not cut off
    expect(outcomes).toContain("NOERROR stored");
  });
});

describe.skipIf(missingTool("dig", "npm"))("npm pack", () => {
  it("packs a package that installs globally and serves dig", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-pack-"));
    const root = join(import.meta.dirname, "../..");
    const pack = spawnSync("npm", ["pack", "--pack-destination", dir, "--ignore-scripts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith(".tgz"))!);
    const prefix = join(dir, "global");
    const install = spawnSync(
      "npm",
      ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball],
      { encoding: "utf8", timeout: 240_000 },
    );
    expect(install.status, install.stderr).toBe(0);
    const services = join(dir, "services.yaml");
    writeFileSync(
      services,
      "services:\n  - {instance: packed, type: _pk._tcp, host: packed, addresses: [192.0.2.99], port: 4242}\n",
    );
    const bin = join(prefix, "bin", "ringdns");
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const d = await startDaemon(["--services", services, "--store", "memory", "--http", "127.0.0.1:0"], {
      command: bin,
    });
    try {
      expect(dig("dig", "127.0.0.1", d.port, ["packed._pk._tcp.local", "SRV"]).answer.map((a) => a.rdata)).toEqual([
        "0 1 4242 packed.local.",
      ]);
      const page = await (await fetch(`http://127.0.0.1:${d.httpPort}/`)).text();
      expect(page).toMatch(/<title>ringdns<\/title>/); // the dashboard ships in the package
    } finally {
      await d.stop();
    }
  }, 300_000);
});
