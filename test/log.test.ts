// What the daemon's logger never writes, whoever hands it to a log call.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

it("redacts secrets, passwords, tokens and Authorization headers in log lines", () => {
  const log = join(import.meta.dirname, "../dist/src/log.js");
  const script = `import { makeLogger } from ${JSON.stringify(log)};
    makeLogger("info", "json").info({ key: { name: "k", secret: "S3CRET" }, password: "PASSW0RD", token: "T0KEN", req: { headers: { authorization: "Bearer B3ARER" } } }, "x");`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  const line = JSON.parse(r.stderr);
  expect(line.key).toEqual({ name: "k", secret: "[redacted]" });
  expect(r.stderr).not.toMatch(/S3CRET|PASSW0RD|T0KEN|B3ARER/);
});
