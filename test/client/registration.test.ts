// The client library against a real daemon: renewal, re-registration after
// the server lost the registration, deregistration on close, and the example.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { browse, LookupError, ownerOf, register, resolve, type Registration } from "../../src/client/index.js";
import { startDaemon } from "../lab/daemon.js";

const service = {
  instance: "lib-1",
  type: "_lib._tcp",
  host: "lib-1",
  addresses: ["192.0.2.90"],
  port: 9000,
  txt: { v: "1" },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("client library", () => {
  it("renews a lease before it ends, and deregisters on close()", async () => {
    const d = await startDaemon(["--lease-min", "1"]);
    const server = { host: "127.0.0.1", port: d.port };
    try {
      const reg = await register(service, { server, lease: 1 });
      let renewals = 0;
      reg.on("renewed", () => renewals++);
      expect(reg.lease).toBe(1);
      await sleep(2200); // two lease lengths: only renewals keep it
      expect(renewals).toBeGreaterThanOrEqual(2);
      expect((await resolve("_lib._tcp", "lib-1", { server }))?.addresses).toEqual(["192.0.2.90"]);
      await reg.close();
      expect(await resolve("_lib._tcp", "lib-1", { server })).toBeUndefined(); // nothing there: a result, not an error
    } finally {
      await d.stop();
    }
  });

  it("registers again when the server lost a permanent registration", async () => {
    const first = await startDaemon(["--store", "memory"]);
    const port = first.port;
    const server = { host: "127.0.0.1", port };
    let reg: Registration;
    try {
      reg = await register(service, { server, checkIntervalMs: 200 });
    } finally {
      await first.stop(); // a memory store: the registration is gone
    }
    const back = new Promise<void>((resolve) => reg.once("reregistered", () => resolve()));
    const second = await startDaemon(["--store", "memory"], { port });
    try {
      await back;
      expect((await resolve("_lib._tcp", "lib-1", { server }))?.port).toBe(9000);
      await reg.close();
    } finally {
      await second.stop();
    }
  });

  it("browse and ownerOf agree with the ring", async () => {
    const d = await startDaemon([]);
    const server = { host: "127.0.0.1", port: d.port };
    try {
      const regs = await Promise.all(
        ["a", "b", "c"].map((n, i) =>
          register({ ...service, instance: `node-${n}`, host: `node-${n}`, port: 9100 + i }, { server }),
        ),
      );
      expect((await browse("_lib._tcp", { server })).map((s) => s.instance).sort()).toEqual([
        "node-a",
        "node-b",
        "node-c",
      ]);
      const owner = await ownerOf("_lib._tcp", "user42", { server });
      expect(["node-a", "node-b", "node-c"]).toContain(owner?.instance);
      expect(owner?.query).toBe("user42._hash._lib._tcp.local.");
      await Promise.all(regs.map((r) => r.close()));
      // the last instance gone, and a type never registered: empty lists, not errors
      expect(await browse("_lib._tcp", { server })).toEqual([]);
      expect(await browse("_never._tcp", { server })).toEqual([]);
      expect(await browse("_lib._tcp", { server, subtype: "_eu" })).toEqual([]);
      expect(await ownerOf("_lib._tcp", "user42", { server })).toBeUndefined();
      // a domain the server does not serve is still an error (REFUSED)
      await expect(browse("_lib._tcp", { server, domain: "elsewhere.example." })).rejects.toMatchObject({
        rcode: "REFUSED",
      });
      await expect(resolve("_lib._tcp", "node-a", { server, domain: "elsewhere.example." })).rejects.toBeInstanceOf(
        LookupError,
      );
    } finally {
      await d.stop();
    }
  });

  it("examples/client.mjs runs against a daemon", async () => {
    const d = await startDaemon(["--data-dir", mkdtempSync(join(tmpdir(), "ringdns-ex-"))]);
    try {
      const out = execFileSync(process.execPath, ["examples/client.mjs", `127.0.0.1:${d.port}`], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(out).toMatch(/registered 2 instances, lease 30s/);
      expect(out).toMatch(/key user:42 -> cache-[ab]/);
      expect(out).toMatch(/deregistered/);
    } finally {
      await d.stop();
    }
  });
});
