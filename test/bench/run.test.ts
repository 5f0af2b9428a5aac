// The bench installs nothing: without its tools it names the Debian packages and fails.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("npm run bench", () => {
  it("names the missing tools and their Debian packages, and exits non-zero", () => {
    const emptyPath = mkdtempSync(join(tmpdir(), "ringdns-nopath-"));
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick"], {
      encoding: "utf8",
      env: { ...process.env, PATH: emptyPath },
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^bench: missing dnsperf \(Debian package dnsperf\), knotd \(Debian package knot\), dnsmasq \(Debian package dnsmasq\)/,
    );
    expect(r.stderr).toMatch(/apt-get install dnsperf knot dnsmasq/);
  });
});
