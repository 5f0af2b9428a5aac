// `--workers 2`: a second process answers UDP queries from a replica of the
// registry. Real clients must not be able to tell which process answered:
// same answers, same SOA serial, their own registration visible the moment
// it is acknowledged, signed queries and status answered as before, and a
// worker that dies is replaced without a failed query.
import { spawnSync } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { startDaemon, writeServicesFile, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { missingTool } from "../lab/tools.js";
import { writeKeyFile } from "../lab/keys.js";

const zone = "svc.example.";
const { key, file: keyFile } = writeKeyFile("workers-key");

let d: RunningDaemon;
let resolver: Resolver;
beforeAll(async () => {
  d = await startDaemon([
    "--workers",
    "2",
    "--log-level",
    "debug",
    "--domain",
    zone,
    "--key-file",
    keyFile,
    "--services",
    writeServicesFile(50, "_w._tcp"),
  ]);
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${d.port}`]);
});
afterAll(() => d?.stop());

const workerPids = () =>
  spawnSync("pgrep", ["-P", String(d.proc.pid)], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)
    .map(Number);
const queryLines = (worker: boolean) =>
  d.logs.filter((l) => l.includes('"msg":"query"') && l.includes('"worker":1') === worker).length;

/** `n` concurrent SRV lookups of static instances; every one must answer correctly. */
async function srvRound(n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const i = k % 50;
      expect(await resolver.resolveSrv(`node-${i}._w._tcp.${zone}`)).toEqual([
        expect.objectContaining({
          name: `node-${i}.${zone.slice(0, -1)}`,
          port: 10000 + i,
          priority: 0,
          weight: 1 + (i % 3),
        }),
      ]);
    }),
  );
}

describe.skipIf(missingTool("dig", "pgrep"))("query workers", () => {
  it("start as a child process, and both processes answer the same questions", async () => {
    expect(workerPids()).toHaveLength(1);
    for (let round = 0; round < 10; round++) await srvRound(20);
    // which process reads a datagram is the kernel's choice; over 200 queries both get some
    expect(queryLines(true), "queries answered by the worker").toBeGreaterThan(0);
    expect(queryLines(false), "queries answered by the primary").toBeGreaterThan(0);
  });

  it("answer a registration the moment its UPDATE is acknowledged, with one SOA serial", async () => {
    for (let i = 0; i < 10; i++) {
      const ops = registrationUpdate(
        {
          instance: `fresh-${i}`,
          type: "_w._tcp",
          host: `fresh-${i}`,
          port: 7000 + i,
          addresses: [`192.0.2.${i + 1}`],
        },
        parseName(zone),
      );
      expect((await sendUpdate({ host: "127.0.0.1", port: d.port }, parseName(zone), ops)).rcode).toBe("NOERROR");
      const seen = await Promise.all(
        Array.from({ length: 10 }, () => resolver.resolveSrv(`fresh-${i}._w._tcp.${zone}`).then((r) => r[0]?.port)),
      );
      expect(seen).toEqual(Array(10).fill(7000 + i));
    }
    const serials = new Set(
      await Promise.all(Array.from({ length: 20 }, () => resolver.resolveSoa(zone).then((s) => s.serial))),
    );
    expect(serials.size).toBe(1);
  });

  it("hand signed queries and status to the primary, which answers them as a single process would", () => {
    for (let i = 0; i < 10; i++) {
      const r = spawnSync(
        "dig",
        [
          "@127.0.0.1",
          "-p",
          String(d.port),
          "-y",
          `hmac-sha256:workers-key:${key.secret.toString("base64")}`,
          zone,
          "SOA",
        ],
        { encoding: "utf8" },
      );
      expect(r.stdout).toMatch(/status: NOERROR/);
      expect(r.stdout).not.toMatch(/Couldn't verify|tsig verify failure/i);
    }
    for (let i = 0; i < 5; i++)
      expect(dig("dig", "127.0.0.1", d.port, ["status.ringdns", "CH", "TXT"]).answer[0]?.rdata).toMatch(/"workers=2"/);
    expect(d.logs.some((l) => l.includes("handed to the primary"))).toBe(true);
  });

  it("replace a worker killed with SIGKILL while queries go on unanswered by none", async () => {
    const [old] = workerPids();
    process.kill(old!, "SIGKILL");
    const until = Date.now() + 1500;
    while (Date.now() < until) await srvRound(10);
    await d.waitForLog(/query worker exited; starting another/);
    const deadline = Date.now() + 5000;
    while (!(workerPids().length === 1 && workerPids()[0] !== old) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(workerPids()).toHaveLength(1);
    expect(workerPids()[0]).not.toBe(old);
    await srvRound(50);
  });

  it("leave no worker behind when the primary is killed with SIGKILL", async () => {
    const [worker] = workerPids();
    d.proc.kill("SIGKILL");
    const deadline = Date.now() + 5000;
    const alive = () => spawnSync("kill", ["-0", String(worker)]).status === 0;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
