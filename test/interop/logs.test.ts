// What an operator reads: one line per registration change with its source
// and key, queries only when asked (sampled), and readable lines for people.
import { afterEach, describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { spawn } from "node:child_process";
import { CLI, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { missingTool } from "../lab/tools.js";

const zone = parseName("local.");
let d: RunningDaemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
});
const register = (name: string) =>
  sendUpdate(
    { host: "127.0.0.1", port: d!.port },
    zone,
    registrationUpdate({ instance: name, type: "_log._tcp", host: name, port: 1, addresses: ["192.0.2.7"] }, zone),
  );
const json = () => d!.logs.flatMap((l) => (l.startsWith("{") ? [JSON.parse(l) as Record<string, unknown>] : []));

describe.skipIf(missingTool("dig"))("logs", () => {
  it("one JSON line per registration change, with op, source and key; no query lines by default", async () => {
    d = await startDaemon([]);
    await register("alpha");
    for (let i = 0; i < 5; i++) dig("dig", "127.0.0.1", d.port, ["alpha._log._tcp.local", "SRV"]);
    await d.waitForLog(/"instance":"alpha".*"registration changed"/);
    const changes = json().filter((l) => l.msg === "registration changed");
    expect(changes).toEqual([
      expect.objectContaining({ op: "add", host: "alpha", source: "update", key: "host@local./alpha" }),
      expect.objectContaining({
        op: "add",
        type: "_log._tcp",
        instance: "alpha",
        source: "update",
        key: "instance@local./_log._tcp/alpha",
      }),
    ]);
    expect(json().filter((l) => l.msg === "query")).toEqual([]);
  });

  it("--log-queries 1 logs every query; 0.2 about a fifth", async () => {
    d = await startDaemon(["--log-queries", "1"]);
    for (let i = 0; i < 4; i++) dig("dig", "127.0.0.1", d.port, ["nothing.local", "A"]);
    await d.waitForLog(/"msg":"query"/);
    await new Promise((r) => setTimeout(r, 100));
    expect(json().filter((l) => l.msg === "query")).toEqual(
      Array(4).fill(
        expect.objectContaining({ transport: "udp", qname: "nothing.local.", qtype: "A", rcode: "NXDOMAIN" }),
      ),
    );
    await d.stop();
    d = await startDaemon(["--log-queries", "0.2"]);
    // the library's stub sends one datagram per query, so 500 queries take well under a second
    const { queryServer } = await import("../../src/client/dns-client.js");
    for (let i = 0; i < 500; i++)
      await queryServer({ host: "127.0.0.1", port: d.port }, parseName("nothing.local."), 1);
    await new Promise((r) => setTimeout(r, 200));
    const logged = json().filter((l) => l.msg === "query").length;
    expect(logged).toBeGreaterThan(50); // 100 expected; bounds far outside chance
    expect(logged).toBeLessThan(170);
  });

  it("--log-format pretty: one readable line per event", async () => {
    const proc = spawn(
      process.execPath,
      [CLI, "serve", "--dns", "127.0.0.1:0", "--store", "memory", "--log-format", "pretty"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    proc.stderr.on("data", (c) => (err += c));
    try {
      for (let i = 0; i < 200 && !/ringdns listening/.test(err); i++) await new Promise((r) => setTimeout(r, 20));
      const listening = err.split("\n").find((l) => l.includes("ringdns listening"))!;
      expect(listening).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: ringdns listening \{.*"dns":\["127\.0\.0\.1:\d+"\]/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(listening)![1]);
      await sendUpdate(
        { host: "127.0.0.1", port },
        zone,
        registrationUpdate({ instance: "beta", type: "_log._tcp", host: "beta", port: 1 }, zone),
      );
      for (let i = 0; i < 100 && !/registration changed/.test(err); i++) await new Promise((r) => setTimeout(r, 20));
      expect(err.split("\n").filter((l) => l.includes("registration changed"))).toEqual([
        expect.stringMatching(
          /INFO: registration changed \{"op":"add","type":"_log\._tcp","instance":"beta","source":"update","key":"instance@local\.\/_log\._tcp\/beta"\}$/,
        ),
      ]);
    } finally {
      proc.kill();
    }
  });
});
