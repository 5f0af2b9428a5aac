// The README's tour shows what dig and the ringdns CLI print against the
// daemon of command 1 (examples/services.yaml). Each example is run here and
// must print what the README says, so the README cannot fall behind the ring
// or the answers (it did once: its `_hash` owner was ring v1's).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

interface Example {
  command: string;
  output: string[];
}

/** `$ command` lines of the README's code blocks, each with the lines it prints (up to a blank line or the next `$`). */
function readmeExamples(): Example[] {
  const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
  const examples: Example[] = [];
  let inBlock = false;
  let current: Example | undefined;
  for (const line of readme.split("\n")) {
    if (line.startsWith("```")) {
      inBlock = !inBlock;
      current = undefined;
    } else if (!inBlock) continue;
    else if (line.startsWith("$ ")) examples.push((current = { command: line.slice(2), output: [] }));
    else if (line.trim() === "") current = undefined;
    else current?.output.push(line);
  }
  return examples;
}

// DNS names are case-insensitive, and dig 9.18 sometimes prints an owner name with a capital it did not
// send or receive (seen on the wire: both lowercase); whitespace is dig's column alignment
const normal = (lines: string[]) => lines.map((l) => l.replace(/\s+/g, " ").trim().toLowerCase());

describe.skipIf(missingTool("dig"))("the README's tour", () => {
  let d: RunningDaemon;
  const examples = readmeExamples();
  // dig with a fixed output (+short, or +noall and sections), and the CLI's answers; not the NXDOMAIN
  // example, whose header carries a random ID and the clock's serial
  const digExamples = examples.filter(
    (e) => e.command.startsWith("dig @127.0.0.1 -p 8053 ") && /\+short|\+noall/.test(e.command),
  );
  const cliExamples = examples.filter((e) => /^npx ringdns (resolve|hash) /.test(e.command));

  beforeAll(async () => {
    d = await startDaemon(["--services", "examples/services.yaml"]);
  });
  afterAll(() => d.stop());

  it("has the examples this test runs", () => {
    expect(digExamples.length).toBeGreaterThanOrEqual(6);
    expect(digExamples.some((e) => e.command.includes("._hash.") && e.command.includes("SRV"))).toBe(true);
    expect(cliExamples.length).toBeGreaterThanOrEqual(3);
  });

  it("dig prints what the README shows", () => {
    for (const e of digExamples) {
      const args = e.command.slice("dig ".length).replace("-p 8053", `-p ${d.port}`).split(" ");
      const printed = execFileSync("dig", args, { encoding: "utf8" }).split("\n").filter(Boolean);
      expect(normal(printed), e.command).toEqual(normal(e.output));
    }
  });

  it("ringdns resolve and ringdns hash print what the README shows", () => {
    for (const e of cliExamples) {
      const args = e.command
        .replace(/#.*$/, "")
        .trim()
        .split(/\s+/)
        .slice(2) // "npx ringdns"
        .concat(e.command.includes(" resolve ") ? ["--server", `127.0.0.1:${d.port}`] : []);
      const r = runCli(args);
      expect(r.status, `${e.command}: ${r.stderr}`).toBe(0);
      expect(normal(r.stdout.split("\n").filter(Boolean)), e.command).toEqual(normal(e.output));
    }
  });
});
