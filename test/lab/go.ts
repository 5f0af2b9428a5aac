// Builds the suite's small Go programs offline on Debian's golang-go: no
// module proxy, no toolchain download, a private build cache. Programs that
// use miekg/dns build in GOPATH mode against Debian's
// golang-github-miekg-dns-dev (/usr/share/gocode).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEBIAN_GOPATH = "/usr/share/gocode";

/** Is miekg/dns there for GOPATH builds? In CI its absence fails (see scripts/test-all.sh). */
export function hasMiekgDns(): boolean {
  const there = existsSync(join(DEBIAN_GOPATH, "src/github.com/miekg/dns/msg.go"));
  if (!there && process.env.CI)
    throw new Error("golang-github-miekg-dns-dev is not installed, and CI needs it (see .ci/run)");
  return there;
}

const built = new Map<string, string>();

/** The binary built from the one-package directory `dir` (once per test file). */
export function buildGoProgram(dir: string, name: string): string {
  const done = built.get(dir);
  if (done) return done;
  const out = mkdtempSync(join(tmpdir(), `ringdns-go-${name}-`));
  const r = spawnSync("go", ["build", "-o", join(out, name), "."], {
    cwd: dir,
    encoding: "utf8",
    timeout: 180_000,
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: DEBIAN_GOPATH,
      // one cache for every build of the run (and the next): the packages compile once
      GOCACHE: join(tmpdir(), "ringdns-go-build-cache"),
      GOTOOLCHAIN: "local",
      GOPROXY: "off",
      CGO_ENABLED: "0",
    },
  });
  if (r.status !== 0) throw new Error(`go build in ${dir} failed:\n${r.stdout}${r.stderr}`);
  built.set(dir, join(out, name));
  return join(out, name);
}
