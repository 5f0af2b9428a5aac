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

const core = [
  "src/names.ts",
  ...files("src/ring"),
  ...files("src/registry"),
  ...files("src/answer"),
  ...files("src/wire"),
  ...files("src/api"),
  "src/update/update.ts",
  "src/update/policy.ts",
  "src/update/registration-ops.ts",
  "src/update/srp.ts",
];
const imports = (file: string) => [...readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)].map((m) => m[1]!);

describe("module boundaries", () => {
  it.each(core)("%s imports no frontend, store backend, socket or daemon", (file) => {
    for (const i of imports(file)) {
      expect(i).not.toMatch(/frontends\/|store\/(memory|lmdb|etcd)|node:(dgram|http)|daemon|config/);
    }
    // node:net only for its pure address checks (isIP, isIPv4, isIPv6)
    expect(readFileSync(file, "utf8")).not.toMatch(/createServer|createSocket|\bconnect\(/);
  });

  it.each(core.filter((f) => !f.endsWith("services-file.ts")))(
    "%s never reads the clock or the file system itself",
    (file) => {
      const text = readFileSync(file, "utf8");
      expect(text).not.toMatch(/Date\.now\(|new Date\(|performance\.now\(|setTimeout\(|setInterval\(/);
      expect(imports(file)).not.toContain("node:fs");
    },
  );

  it.each(files("src/registry"))(
    "%s imports nothing from the store backends' folder (the store contract is the registry's own)",
    (file) => {
      for (const i of imports(file)) expect(i).not.toMatch(/\/store\//);
    },
  );

  // one-way layers: the client and the frontends meet only in the core (api/, update/, wire/, names)
  it.each(files("src/client"))(
    "%s (the client library) imports no frontend, store, daemon, config or metrics",
    (file) => {
      for (const i of imports(file)) expect(i).not.toMatch(/frontends\/|\/store\/|daemon|config|metrics|\/cli\//);
    },
  );

  it.each(files("src/frontends"))("%s imports nothing from the client library", (file) => {
    for (const i of imports(file)) expect(i).not.toMatch(/\/client\//);
  });

  it.each(files("src/store"))("%s (a store) imports no frontend, client, daemon, config or metrics", (file) => {
    for (const i of imports(file)) expect(i).not.toMatch(/frontends\/|\/client\/|daemon|config\.js|metrics/);
  });

  it.each(["src/metrics.ts", "src/log.ts", ...files("src/api")])("%s imports no frontend, client or daemon", (file) => {
    for (const i of imports(file)) expect(i).not.toMatch(/frontends\/|\/client\/|daemon|config\.js/);
  });

  it.each(files("src/frontends/workers"))("%s takes no setting type from config.ts", (file) => {
    expect(readFileSync(file, "utf8")).not.toMatch(/import type \{[^}]*\} from "[./]*config\.js"/);
  });

  it("frontends do not import each other", () => {
    for (const f of files("src/frontends")) {
      const own = f.split("/").pop()!.replace(".ts", ".js");
      const peers = imports(f).filter((i) => /^\.\/(udp|tcp)\.js$/.test(i) && !i.endsWith(own));
      expect(peers).toEqual([]);
    }
  });
});

// Issue 14: a fault in a timer or an event callback must never end the daemon.
// Every entry point the event loop calls goes through src/guard.ts, so a raw
// timer or a bare listener in the daemon's code is a bug this test catches.
describe("event-loop entry points are guarded", () => {
  const daemonFiles = files("src").filter((f) => !/^src\/(client|cli)\/|^src\/guard\.ts$/.test(f));
  const line = (text: string, index: number) => text.slice(0, index).split("\n").length;

  it.each(daemonFiles)("%s sets no raw timer (later/every/sleep from guard.ts instead)", (file) => {
    const text = readFileSync(file, "utf8");
    const raw = [
      ...text.matchAll(/(?<![.\w])(setTimeout|setInterval|setImmediate|queueMicrotask)\((?!guarded\()/g),
    ].map((m) => `${m[1]} at line ${line(text, m.index)}`);
    expect(raw).toEqual([]);
  });

  it.each(daemonFiles)(
    "%s adds no event listener or server callback that is not guarded (settling a promise or reporting the fault aside)",
    (file) => {
      const text = readFileSync(file, "utf8");
      const bare = [
        ...text.matchAll(
          /\.(on|once|addListener)\(\s*"([^"]+)",\s*(?=\S)(?!guarded\(|reject\)|resolve\)|\(\)\s*=>\s*resolve\(\)\)|\([^)]*\)\s*=>\s*reject\(|\([^)]*\)\s*=>\s*reportInternalError\()/g,
        ),
      ].map((m) => `.${m[1]}("${m[2]}") at line ${line(text, m.index)}`);
      const servers = [...text.matchAll(/createServer\(\s*(?=\S)(?!guarded\()(?!\{[^}]*\},\s*guarded\()/g)].map(
        (m) => `createServer at line ${line(text, m.index)}`,
      );
      expect([...bare, ...servers]).toEqual([]);
    },
  );
});
