// The SOA serial's reservation in the LMDB store's data directory (see
// registry/serial.ts SerialKeeper): one small file, replaced atomically and
// flushed before a serial beyond the last reservation is served, so a
// restarted daemon starts above every serial its secondaries have seen.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { SerialKeeper } from "../registry/serial.js";

export function serialFile(dataDir: string): SerialKeeper {
  const path = join(dataDir, "soa-serial");
  let floor: number | undefined;
  try {
    const text = readFileSync(path, "utf8").trim();
    if (/^\d{1,10}$/.test(text) && Number(text) < 2 ** 32) floor = Number(text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return {
    floor,
    reserve(upTo) {
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, "w", 0o644);
      try {
        writeSync(fd, `${upTo >>> 0}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      // the rename is durable only once the directory is: without this, a power cut could bring the old reservation back
      const dir = openSync(dataDir, "r");
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    },
  };
}
