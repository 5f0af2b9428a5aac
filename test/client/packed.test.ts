// The client library as a user gets it: `npm pack`, installed into an empty
// project (offline, from the npm cache `npm ci` filled), its types checked by
// tsc and its results used against a daemon: "nothing there" is [] or
// undefined, not an exception.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";

const root = resolvePath(import.meta.dirname, "../..");
const project = mkdtempSync(join(tmpdir(), "ringdns-user-"));
let d: RunningDaemon;

beforeAll(async () => {
  execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", project], {
    cwd: root,
    stdio: "ignore",
  });
  const tarball = readdirSync(project).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user", private: true, type: "module" }));
  execFileSync(
    "npm",
    ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--silent", `./${tarball}`],
    { cwd: project, stdio: "ignore" },
  );
  d = await startDaemon([]);
}, 120_000);
afterAll(() => d?.stop());

describe("the packed client library", () => {
  it("type-checks as the README uses it", () => {
    writeFileSync(
      join(project, "use.ts"),
      `import { browse, resolve, ownerOf, register, LookupError, type ResolvedInstance } from "ringdns";
const server = { host: "127.0.0.1", port: 8053 };
const all: ResolvedInstance[] = await browse("_cache._tcp", { server });
const one: ResolvedInstance | undefined = await resolve("_cache._tcp", "cache-a", { server });
// @ts-expect-error: resolve gives undefined when there is no such instance, and the types say so
const sure: ResolvedInstance = await resolve("_cache._tcp", "cache-a", { server });
const owner = await ownerOf("_cache._tcp", "user:42", { server });
const query: string | undefined = owner?.query;
const reg = await register({ instance: "a", type: "_cache._tcp", host: "a", addresses: ["192.0.2.1"], port: 1 }, { server, lease: 30 });
await reg.close();
export const seen = [all.length, one?.port, sure.port, query, LookupError.name];
`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["use.ts"],
      }),
    );
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", project], {
      cwd: project,
      encoding: "utf8",
    });
  });

  it("gives results for nothing there, and the registration while it is there", () => {
    writeFileSync(
      join(project, "run.mjs"),
      `import { browse, resolve, ownerOf, register } from "ringdns";
const server = { host: "127.0.0.1", port: Number(process.argv[2]) };
const out = {};
const reg = await register({ instance: "packed-a", type: "_packed._tcp", host: "packed-a", addresses: ["192.0.2.61"], port: 7001 }, { server, lease: 30 });
out.browse = (await browse("_packed._tcp", { server })).map((i) => i.instance);
out.resolve = (await resolve("_packed._tcp", "packed-a", { server }))?.addresses;
out.owner = (await ownerOf("_packed._tcp", "k1", { server }))?.instance;
await reg.close();
out.browseAfter = await browse("_packed._tcp", { server });
out.resolveAfter = (await resolve("_packed._tcp", "packed-a", { server })) ?? null;
out.ownerAfter = (await ownerOf("_packed._tcp", "k1", { server })) ?? null;
console.log(JSON.stringify(out));
`,
    );
    const out = JSON.parse(
      execFileSync(process.execPath, ["run.mjs", String(d.port)], { cwd: project, encoding: "utf8", timeout: 20_000 }),
    );
    expect(out).toEqual({
      browse: ["packed-a"],
      resolve: ["192.0.2.61"],
      owner: "packed-a",
      browseAfter: [],
      resolveAfter: null,
      ownerAfter: null,
    });
  });
});
