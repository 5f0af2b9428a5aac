// The lines the design draws between modules, held by a test: the core never
// touches sockets, frontends, store backends or the system clock; wire format
// lives in src/wire only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const core = ["src/names.ts", ...files("src/ring"), ...files("src/registry"), ...files("src/answer"), ...files("src/wire"), "src/update/update.ts", "src/update/policy.ts"];
const imports = (file: string) => [...readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)].map((m) => m[1]!);

describe("module boundaries", () => {
  it.each(core)("%s imports no frontend, store backend, socket or daemon", (file) => {
    for (const i of imports(file)) {
      expect(i).not.toMatch(/frontends\/|store\/(memory|lmdb|etcd)|node:(dgram|http)|daemon|config/);
    }
    // node:net only for its pure address checks (isIP, isIPv4, isIPv6)
    expect(readFileSync(file, "utf8")).not.toMatch(/createServer|createSocket|\bconnect\(/);
  });

  it.each(core.filter((f) => !f.endsWith("services-file.ts")))("%s never reads the clock or the file system itself", (file) => {
    const text = readFileSync(file, "utf8");
    expect(text).not.toMatch(/Date\.now\(|new Date\(|performance\.now\(|setTimeout\(|setInterval\(/);
    expect(imports(file)).not.toContain("node:fs");
  });

  it("frontends do not import each other", () => {
    for (const f of files("src/frontends")) {
      const own = f.split("/").pop()!.replace(".ts", ".js");
      const peers = imports(f).filter((i) => /^\.\/(udp|tcp)\.js$/.test(i) && !i.endsWith(own));
      expect(peers).toEqual([]);
    }
  });
});
