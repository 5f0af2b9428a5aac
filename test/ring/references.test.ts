// The two reference implementations of docs/hash.md in other languages
// (docs/ring_reference.py, docs/ring-reference-go/) pass the committed vectors,
// agree with each other on 10,000 random keys, and agree with a real daemon's
// _hash answers for 10,000 keys. They are written from the text of
// docs/hash.md only, not from src/ring/.
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base32hexEncode } from "../../src/names.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

const PY = resolve("docs/ring_reference.py");
const GO_DIR = resolve("docs/ring-reference-go");
const OWN_VECTORS = resolve("test/ring/reference-vectors.json");
const VECTORS = resolve("docs/hash-vectors.json");
const noPython = missingTool("python3");
const noGo = missingTool("go");

interface Member {
  id: string;
  weight: number;
}

function runTool(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: 60_000, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stderr.slice(0, 2000)}`);
  return r.stdout;
}

const python = (args: string[], input?: string) => runTool("python3", [PY, ...args], { input });

/** Builds the Go reference once, offline: no module proxy, no toolchain download, a private cache. */
let goBinary: string | undefined;
function buildGo(): string {
  if (goBinary) return goBinary;
  const dir = mkdtempSync(join(tmpdir(), "ring-reference-go-"));
  const env = {
    ...process.env,
    GOTOOLCHAIN: "local",
    GOPROXY: "off",
    GOFLAGS: "-mod=mod",
    GOCACHE: join(dir, "cache"),
    GOPATH: join(dir, "gopath"),
    CGO_ENABLED: "0",
  };
  runTool("go", ["build", "-o", join(dir, "ring-reference"), "."], { cwd: GO_DIR, env });
  return (goBinary = join(dir, "ring-reference"));
}
const go = (args: string[], input?: string) => runTool(buildGo(), args, { input });

/** Owners of `keys` on `members` from one reference's --owners mode. */
function owners(ref: (args: string[], input?: string) => string, members: Member[], keys: string[]): string[] {
  const file = join(mkdtempSync(join(tmpdir(), "ring-members-")), "members.json");
  writeFileSync(file, JSON.stringify(members));
  return ref(["--owners", file], keys.map((k) => `${k}\n`).join(""))
    .split("\n")
    .slice(0, -1);
}

/** The first few keys where two owner lists differ (an empty list when they agree). */
function differences(keys: string[], a: string[], b: string[], names: [string, string]): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${names[0]} gave ${a.length} owners, ${names[1]} ${b.length}`);
  for (let i = 0; i < keys.length && out.length < 5; i++)
    if (a[i] !== b[i]) out.push(`${JSON.stringify(keys[i])}: ${names[0]} ${a[i]}, ${names[1]} ${b[i]}`);
  return out;
}

// a seeded generator, so a failure can be reproduced (the seed is in the test name)
const SEED = Number(process.env.RING_REFERENCES_SEED ?? Date.now() % 1_000_000);
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Keys as they appear left of _hash: mixed case, several labels, non-ASCII, b32- labels in either case. */
function randomKeys(n: number, rnd: () => number): string[] {
  const pick = <T>(s: ArrayLike<T>): T => s[Math.floor(rnd() * s.length)]!;
  const label = (len: number) =>
    Array.from({ length: len }, () => pick("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")).join(
      "",
    );
  const keys = new Set<string>();
  while (keys.size < n) {
    const kind = keys.size % 6;
    if (kind <= 2) {
      keys.add(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => label(1 + Math.floor(rnd() * 20))).join("."));
    } else if (kind === 3) {
      keys.add(`${pick(["Ключ", "ключ", "Ünï", "ünï", "Straße", "日本"])}-${label(4)}`);
    } else {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 36) }, () => Math.floor(rnd() * 256)));
      const b32 = `b32-${base32hexEncode(bytes)}`;
      keys.add(kind === 4 ? b32 : rnd() < 0.5 ? b32.toUpperCase() : `${b32}.${label(3)}`); // the last: two labels, so not a b32- key
    }
  }
  return [...keys];
}

function randomMembers(n: number, rnd: () => number, maxWeight: number): Member[] {
  return Array.from({ length: n }, (_, i) => ({
    id: [`node-${i}`, `Node ${i}`, `svc.${i}.Eu`, `Ünï-${i}`][i % 4]!,
    weight: i === 0 ? 0 : Math.floor(rnd() * (maxWeight + 1)),
  }));
}

describe("docs/hash-vectors.json", () => {
  it.skipIf(noPython)("the Python reference passes every vector", () => {
    expect(python([VECTORS]).trim()).toBe("ok");
  });

  it.skipIf(noGo)("the Go reference builds offline and passes every vector", () => {
    expect(go([VECTORS]).trim()).toBe("ok");
  });
});

describe("the references' own vectors (test/ring/reference-vectors.json, computed by the Python reference)", () => {
  it.skipIf(noPython)("Python passes them", () => {
    expect(python([OWN_VECTORS]).trim()).toBe("ok");
  });

  it.skipIf(noGo)("Go passes them", () => {
    expect(go([OWN_VECTORS]).trim()).toBe("ok");
  });

  it.skipIf(noPython || noGo)("both refuse a vector that is off by one place in a successor list", () => {
    const v = JSON.parse(readFileSync(OWN_VECTORS, "utf8"));
    const lists = v.rings[1].successors as Record<string, string[]>;
    const [key, list] = Object.entries(lists)[0]!;
    lists[key] = [list[0]!, list[2]!, list[1]!, ...list.slice(3)];
    const file = join(mkdtempSync(join(tmpdir(), "ring-vectors-")), "bad.json");
    writeFileSync(file, JSON.stringify(v));
    for (const cmd of [
      ["python3", PY, file],
      [buildGo(), file],
    ]) {
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
      expect([r.status, r.stdout, r.stderr]).toEqual([1, "", expect.stringMatching(/^FAIL .*successors/)]);
    }
  });
});

describe.skipIf(noPython || noGo)(`Python and Go agree (seed ${SEED})`, () => {
  const rnd = prng(SEED);
  const sets: [string, Member[]][] = [
    ["3 members, weights 0..3", randomMembers(3, rnd, 3)],
    ["40 members, weights 0..40", randomMembers(40, rnd, 40)],
    ["300 members, weights 0..8", randomMembers(300, rnd, 8)],
  ];

  it.each(sets)("on the owners of 10,000 random keys: %s", (_, members) => {
    const keys = randomKeys(10_000, rnd);
    expect(differences(keys, owners(python, members, keys), owners(go, members, keys), ["python", "go"])).toEqual([]);
  });

  it("on the successors of 10,000 random keys per member set: Go checks the lists Python computes", () => {
    const keys = randomKeys(10_000, rnd);
    const script = [
      "import json, sys",
      `sys.path.insert(0, ${JSON.stringify(resolve("docs"))})`,
      "import ring_reference as r",
      "sets, keys = json.load(sys.stdin)",
      "print(json.dumps(r.make_vectors([([(m['id'], m['weight']) for m in ms], keys, 6) for ms in sets], [], [], [])))",
    ].join("\n");
    const vectors = runTool("python3", ["-c", script], { input: JSON.stringify([sets.map((s) => s[1]), keys]) });
    const lists = JSON.parse(vectors).rings.map((r: { successors: Record<string, string[]> }) =>
      Object.values(r.successors),
    );
    expect(lists.map((l: string[][]) => [l.length, Math.min(...l.map((s) => s.length))])).toEqual([
      [10_000, 3],
      [10_000, 6],
      [10_000, 6],
    ]);
    const file = join(mkdtempSync(join(tmpdir(), "ring-vectors-")), "successors.json");
    writeFileSync(file, vectors);
    expect(go([file]).trim()).toBe("ok");
  });
});

/** Asks every name's SRV over UDP, a few hundred in flight; returns the SRV target of each answer. */
async function askSrv(port: number, names: string[]): Promise<string[]> {
  const socket = createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  const targets: string[] = new Array(names.length);
  const pending = new Map<number, { index: number; timer: NodeJS.Timeout; tries: number }>();
  let next = 0;
  let done = 0;
  const finished = new Promise<void>((resolve, reject) => {
    const send = (index: number, id: number, tries: number) => {
      const q = dnsPacket.encode({
        type: "query",
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: "SRV", name: names[index]!, class: "IN" }],
      });
      socket.send(q, port, "127.0.0.1");
      const timer = setTimeout(
        () => (tries >= 53 ? reject(new Error(`no answer for ${names[index]}`)) : send(index, id, tries + 1)),
        2000,
      );
      pending.set(id, { index, timer, tries });
    };
    const fill = () => {
      while (pending.size < 300 && next < names.length) send(next, next, 1), next++; // ids < 65536: names.length is 10,000
      if (done === names.length) resolve();
    };
    socket.on("message", (msg) => {
      const reply = dnsPacket.decode(msg);
      const p = pending.get(reply.id!);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(reply.id!);
      // Not Ready (the ring of a fresh daemon is still being built aside): ask again shortly, as a resolver would
      if (reply.rcode === "SERVFAIL" && p.tries < 50)
        return void setTimeout(() => send(p.index, reply.id!, p.tries + 1), 50);
      const srv = (reply.answers ?? []).filter((a) => a.type === "SRV");
      if (reply.rcode !== "NOERROR" || srv.length !== 1)
        return reject(new Error(`${names[p.index]}: ${reply.rcode}, ${srv.length} SRV answers`));
      targets[p.index] = (srv[0]!.data as { target: string }).target.toLowerCase();
      done++;
      fill();
    });
    fill();
  });
  try {
    await finished;
  } finally {
    for (const p of pending.values()) clearTimeout(p.timer);
    socket.close();
  }
  return targets;
}

describe.skipIf(noPython || noGo)(
  `live: the references give the daemon's _hash owner for 10,000 keys (seed ${SEED})`,
  () => {
    let d: RunningDaemon;
    const rnd = prng(SEED + 1);
    // 200 instances: identities with capitals, spaces, dots and non-ASCII; weights 0, 1, 7, 100, 1000 and 1..20
    const special = [0, 1, 7, 100, 1000];
    const members: Member[] = randomMembers(200, rnd, 20).map((m, i) => ({
      ...m,
      weight: i < special.length ? special[i]! : 1 + Math.floor(rnd() * 20),
    }));
    const hostOf = new Map(members.map((m, i) => [`h${i}.local`, m.id]));

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), "ring-live-"));
      const lines = ["services:"];
      members.forEach((m, i) =>
        lines.push(
          `  - {instance: ${JSON.stringify(m.id)}, type: _ref._tcp, host: h${i}, addresses: [198.51.100.${(i % 254) + 1}], port: ${20000 + i}, weight: ${m.weight}}`,
        ),
      );
      writeFileSync(join(dir, "services.yaml"), `${lines.join("\n")}\n`);
      d = await startDaemon(["--services", join(dir, "services.yaml"), "--rrl-rate", "0"]);
    });
    afterAll(() => d?.stop());

    it("Python's and Go's --owners equal the SRV answers", async () => {
      const keys = randomKeys(10_000, rnd);
      const fromDaemon = (
        await askSrv(
          d.port,
          keys.map((k) => `${k}._hash._ref._tcp.local`),
        )
      ).map((t) => hostOf.get(t) ?? `unknown target ${t}`);
      expect(new Set(fromDaemon).size).toBeGreaterThan(150); // spread over the ring
      expect(differences(keys, owners(python, members, keys), fromDaemon, ["python", "daemon"])).toEqual([]);
      expect(differences(keys, owners(go, members, keys), fromDaemon, ["go", "daemon"])).toEqual([]);
    });
  },
);
