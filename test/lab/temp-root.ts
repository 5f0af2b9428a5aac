// vitest globalSetup: every temporary file of a run (daemon stores, key files,
// etcd data, lab scripts' output) goes under one directory, removed at the
// end, so a test run leaves nothing behind in /tmp. Test workers and the
// processes they start inherit TMPDIR, which os.tmpdir() and mktemp read.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "ringdns-tests-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
