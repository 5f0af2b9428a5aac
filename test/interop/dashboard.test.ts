// The dashboard in a real browser (Debian's chromium, driven by
// puppeteer-core; nothing is downloaded): it shows what nsupdate registers,
// redraws the ring, agrees with dig on a key's owner, and drops what is
// deregistered, all live from the event stream without a reload.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { subscribe } from "../../src/client/push.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { missingTool, requireTool } from "../lab/tools.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = missingTool("chromium", "nsupdate", "dig", "openssl");
if (!skip) requireTool("chromium");

describe.skipIf(skip)("the dashboard in chromium", () => {
  let d: RunningDaemon;
  let browser: Browser;
  let page: Page;
  let headers: Record<string, string> = {};
  const violations: string[] = [];
  const nsupdate = (lines: string) => {
    const r = spawnSync("nsupdate", [], {
      input: `server 127.0.0.1 ${d.port}\nzone local.\n${lines}\nsend\n`,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
  };
  const register = (name: string, port: number) =>
    nsupdate(
      `update add _dash._tcp.local. 60 PTR ${name}._dash._tcp.local.\nupdate add ${name}._dash._tcp.local. 60 SRV 0 1 ${port} ${name}.local.\nupdate add ${name}.local. 60 A 192.0.2.${port % 250}`,
    );
  const owners = () =>
    page.$$eval("#ring path", (ps) => [...new Set(ps.map((p) => p.getAttribute("data-owner")))].sort());
  const rows = () => page.$$eval("#instances tr", (rs) => rs.map((r) => r.getAttribute("data-instance")));

  beforeAll(async () => {
    d = await startDaemon(["--http", "127.0.0.1:0"]);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    page = await browser.newPage();
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => failed.push(String(e)));
    // what the Content-Security-Policy blocks, Chromium reports on the console ("Refused to …")
    page.on("console", (m) => void (/Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text())));
    const res = await page.goto(`http://127.0.0.1:${d.httpPort}/`, { waitUntil: "load" });
    headers = res!.headers();
    expect(failed).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
  });

  it("says there is nothing yet, then shows an nsupdate registration and draws its ring", async () => {
    await page.waitForSelector("#no-types:not([hidden])");
    register("d1", 7101);
    await page.waitForSelector('#types button[data-type="_dash._tcp"]', { timeout: 5000 });
    await page.waitForFunction(() => document.querySelectorAll('#instances tr[data-instance="d1"]').length === 1, {
      timeout: 5000,
    });
    await page.waitForFunction(() => document.querySelectorAll("#ring path").length > 0, { timeout: 5000 });
    expect(await owners()).toEqual(["d1"]);
    expect(await page.$eval("#legend", (l) => l.textContent)).toMatch(/d1: 100\.0 %/);
  });

  it("redraws the ring when a second instance joins, shares summing to 100 %", async () => {
    register("d2", 7102);
    await page.waitForFunction(
      () => new Set([...document.querySelectorAll("#ring path")].map((p) => p.getAttribute("data-owner"))).size === 2,
      { timeout: 5000 },
    );
    expect(await owners()).toEqual(["d1", "d2"]);
    expect(await rows()).toEqual(["d1", "d2"]);
    const shares = await page.$$eval("#legend li", (ls) =>
      ls.map((l) => Number(/([\d.]+) %/.exec(l.textContent ?? "")![1])),
    );
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  });

  it("the search box finds instances by name (a type may hold more than one page)", async () => {
    await page.type("#instance-search", "2");
    await page.waitForFunction(() => document.querySelectorAll("#instances tr").length === 1, { timeout: 5000 });
    expect(await rows()).toEqual(["d2"]);
    expect(await page.$eval("#instances-count", (c) => c.textContent)).toBe("(1)");
    await page.$eval("#instance-search", (i) => ((i as HTMLInputElement).value = ""));
    await page.type("#instance-search", " "); // an input event with nothing to search for: all again
    await page.waitForFunction(() => document.querySelectorAll("#instances tr").length === 2, { timeout: 5000 });
  });

  it("the key box names the owner dig finds on the _hash name", async () => {
    for (const key of ["user:42", "order-9", "k"]) {
      await page.$eval("#key", (i) => ((i as HTMLInputElement).value = ""));
      await page.type("#key", key);
      await page.click("#key-form button");
      await page.waitForFunction(
        (k) => document.getElementById("owner")!.textContent!.startsWith(`${k} →`),
        { timeout: 5000 },
        key,
      );
      const shown = await page.$eval("#owner", (o) => (o as HTMLElement).dataset.owner);
      const target = dig("dig", "127.0.0.1", d.port, [`${key}._hash._dash._tcp.local`, "SRV"]).answer[0]!.rdata.split(
        " ",
      )[3]!;
      expect(`${shown}.local.`).toBe(target);
    }
  });

  it("runs under its strict Content-Security-Policy: nothing refused, swatches coloured; nosniff, never framed", async () => {
    expect(headers["content-security-policy"]).toMatch(/default-src 'none'/);
    expect(headers["content-security-policy"]).toMatch(/frame-ancestors 'none'/);
    expect(headers["content-security-policy"]).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["x-frame-options"]).toBe("DENY");
    const colours = await page.$$eval("#legend .swatch", (ss) => ss.map((s) => getComputedStyle(s).backgroundColor));
    expect(colours.length).toBeGreaterThan(0);
    expect(colours.every((c) => c !== "rgba(0, 0, 0, 0)")).toBe(true);
    expect(await page.$eval("#health", (h) => h.textContent)).toMatch(/healthy/);
    expect(violations).toEqual([]);
  });

  it("drops a deregistered instance and its arcs, and lists what happened in the events pane", async () => {
    nsupdate("update delete d1._dash._tcp.local. ANY\nupdate delete _dash._tcp.local. PTR d1._dash._tcp.local.");
    await page.waitForFunction(() => document.querySelectorAll('#instances tr[data-instance="d1"]').length === 0, {
      timeout: 5000,
    });
    await page.waitForFunction(
      () => new Set([...document.querySelectorAll("#ring path")].map((p) => p.getAttribute("data-owner"))).size === 1,
      { timeout: 5000 },
    );
    expect(await owners()).toEqual(["d2"]);
    const events = await page.$$eval("#events li", (ls) => ls.map((l) => l.textContent ?? ""));
    expect(events.some((e) => /remove d1 \(_dash\._tcp, update\)/.test(e))).toBe(true);
    expect(events.some((e) => /add d2 \(_dash\._tcp, update\)/.test(e))).toBe(true);
  });

  it("lists DNS Push subscriptions (--dns-tls) with their client and records held, and hides the section when none is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringdns-dash-tls-"));
    const made = spawnSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"],
        ...["-subj", "/CN=dash", "-addext", "subjectAltName=IP:127.0.0.1"],
        ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const tls = await startDaemon([
      ...["--http", "127.0.0.1:0", "--dns-tls", "127.0.0.1:0"],
      ...["--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")],
    ]);
    const other = await browser.newPage();
    const abort = new AbortController();
    try {
      await other.goto(`http://127.0.0.1:${tls.httpPort}/`, { waitUntil: "load" });
      expect(await other.$eval("#push-view", (v) => (v as HTMLElement).hidden)).toBe(true);
      const seen: unknown[] = [];
      const following = (async () => {
        for await (const c of subscribe({
          server: { host: "127.0.0.1", port: tls.tlsPort! },
          name: "_dash._tcp.local.",
          type: "PTR",
          ca: readFileSync(join(dir, "cert.pem")),
          signal: abort.signal,
        }))
          seen.push(c);
      })();
      // refreshed every 5 s
      await other.waitForFunction(() => document.querySelectorAll("#push tr").length === 1, { timeout: 15_000 });
      const cells = await other.$$eval("#push td", (ts) => ts.map((t) => t.textContent));
      expect(cells[0]).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(cells.slice(2)).toEqual(["_dash._tcp.local.", "PTR", "0", "0"]);
      expect(await other.$eval("#push-count", (c) => c.textContent)).toBe("(1 in 1 session)");
      abort.abort();
      await following;
      await other.waitForSelector("#push-view[hidden]", { timeout: 15_000 });
    } finally {
      abort.abort();
      await other.close();
      await tls.stop();
    }
  }, 60_000);
});
