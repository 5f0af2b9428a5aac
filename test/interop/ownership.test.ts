// Keys own what they register (issue 14, finding 3), as users see it: one
// daemon serving a.example. and b.example., key-a limited to a.example.,
// key-b to both, an --admin-key; nsupdate registers and attacks, dig tells
// what is served. Every refusal is REFUSED and leaves dig's answers as they were.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatKeyFile, generateKey } from "../../src/update/keys.js";
import { dig } from "../lab/dig.js";
import { startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";

const dir = mkdtempSync(join(tmpdir(), "ringdns-owner-"));
const keys = { a: generateKey("key-a"), b: generateKey("key-b"), admin: generateKey("admin-key") };
const keyFile = join(dir, "keys.conf");
writeFileSync(keyFile, Object.values(keys).map(formatKeyFile).join("\n"));
const dataDir = join(dir, "data");
const TOKEN = "ownership-test-token-0123456789";
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, TOKEN);
const args = [
  "--http",
  "127.0.0.1:0",
  "--http-token-file",
  tokenFile,
  "--domain",
  "a.example.",
  "--domain",
  "b.example.",
  "--key-file",
  keyFile,
  "--key-zone",
  "key-a=a.example.",
  "--key-zone",
  "key-b=a.example.,b.example.",
  "--admin-key",
  "admin-key",
  "--data-dir",
  dataDir,
];

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon(args);
});
afterAll(() => d?.stop());

/** nsupdate with `who`'s key (none: unsigned, from loopback); returns what it printed and its exit status. */
function nsupdate(who: keyof typeof keys | "unsigned", script: string) {
  const key =
    who === "unsigned" ? [] : ["-y", `hmac-sha256:${keys[who].name.join(".")}:${keys[who].secret.toString("base64")}`];
  const r = spawnSync("nsupdate", key, {
    input: `server 127.0.0.1 ${d.port}\n${script}\nsend\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}
const short = (name: string, type: string) =>
  dig("dig", "127.0.0.1", d.port, [name, type, "+short"]).raw.trim().split("\n").filter(Boolean).sort();
const register = (zone: string, inst: string, port: number, addr: string) => `zone ${zone}
update add _kv._tcp.${zone} 60 PTR ${inst}._kv._tcp.${zone}
update add ${inst}._kv._tcp.${zone} 60 SRV 0 1 ${port} ${inst}.${zone}
update add ${inst}.${zone} 60 A ${addr}`;

describe.skipIf(missingTool("nsupdate", "dig"))("ownership with nsupdate and dig", () => {
  it("the same name in a.example. and b.example. is two registrations, answered separately (each with its own _hash ring)", () => {
    expect(nsupdate("b", register("b.example.", "web", 80, "192.0.2.2")).status).toBe(0);
    expect(nsupdate("a", register("a.example.", "web", 81, "192.0.2.1")).status).toBe(0);
    expect(short("web._kv._tcp.a.example.", "SRV")).toEqual(["0 1 81 web.a.example."]);
    expect(short("web._kv._tcp.b.example.", "SRV")).toEqual(["0 1 80 web.b.example."]);
    expect(short("web.a.example.", "A")).toEqual(["192.0.2.1"]);
    expect(short("web.b.example.", "A")).toEqual(["192.0.2.2"]);
    expect(short("user42._hash._kv._tcp.a.example.", "A")).toEqual(["192.0.2.1"]);
    expect(short("user42._hash._kv._tcp.b.example.", "A")).toEqual(["192.0.2.2"]);
    expect(short("_kv._tcp.local.", "PTR")).toEqual([]); // registered in neither
  });

  it("the HTTP API shows each registration's owner and domain; its token (the operator's) deletes one where it was registered", async () => {
    const list = (await (await fetch(`http://127.0.0.1:${d.httpPort}/v1/types/_kv._tcp/instances`)).json()) as {
      instances: { name: string; port: number; domain?: string; owner?: unknown; key?: string }[];
    };
    expect(
      list.instances
        .map(({ port, domain, owner, key }) => ({ port, domain, owner, key }))
        .sort((x, y) => x.port - y.port),
    ).toEqual([
      { port: 80, domain: "b.example.", owner: { kind: "key", name: "key-b." }, key: "key-b." },
      { port: 81, domain: "a.example.", owner: { kind: "key", name: "key-a." }, key: "key-a." },
    ]);
    expect(nsupdate("a", register("a.example.", "solo", 82, "192.0.2.4")).status).toBe(0);
    const r = await fetch(`http://127.0.0.1:${d.httpPort}/v1/types/_kv._tcp/instances/solo`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(r.status).toBe(204);
    expect(dig("dig", "127.0.0.1", d.port, ["solo._kv._tcp.a.example.", "SRV"]).status).toBe("NXDOMAIN");
  });

  it("?domain= picks a served domain's registrations and ring over HTTP: owner?key= agrees with dig's _hash there; unknown domains are 400", async () => {
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${d.httpPort}${path}`);
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const owner = async (domain: string) =>
      ((await get(`/v1/types/_kv._tcp/owner?key=user42&domain=${domain}`)).body.owner as { port: number } | null)?.port;
    expect(await owner("a.example.")).toBe(81);
    expect(await owner("B.EXAMPLE")).toBe(80);
    expect(await owner("local.")).toBeUndefined(); // nothing of _kv._tcp is served under local.
    expect(short("user42._hash._kv._tcp.b.example.", "SRV")).toEqual(["0 1 80 web.b.example."]);
    const ring = await get("/v1/types/_kv._tcp/ring?slices=4&domain=a.example.");
    expect(ring.body.slices).toEqual(["web", "web", "web", "web"]);
    const one = await get("/v1/types/_kv._tcp/instances/web?domain=b.example.");
    expect(one.body).toMatchObject({ port: 80, domain: "b.example." });
    // one name in two domains: paging one at a time shows both (the cursor is name and domain)
    const all = (await get("/v1/types/_kv._tcp/instances")).body as {
      total: number;
      instances: { name: string; domain?: string }[];
    };
    const paged: string[] = [];
    for (let after = "", i = 0; i < 20; i++) {
      const p = (await get(`/v1/types/_kv._tcp/instances?limit=1${after ? `&after=${encodeURIComponent(after)}` : ""}`))
        .body as { total: number; instances: { name: string; domain?: string }[]; next?: string };
      expect(p.total).toBe(all.total);
      paged.push(...p.instances.map((x) => `${x.name}@${x.domain}`));
      if (!p.next) break;
      after = p.next;
    }
    expect(paged).toEqual(all.instances.map((x) => `${x.name}@${x.domain}`));
    expect(paged.filter((x) => x.startsWith("web@"))).toHaveLength(2);
    const bad = await get("/v1/types/_kv._tcp/instances?domain=c.example.");
    expect(bad.status).toBe(400);
    expect(String(bad.body.error)).toMatch(
      /"c\.example\." is not a served domain \(served: local\., default\.service\.arpa\., a\.example\., b\.example\.\)/,
    );
  });

  it("key-a cannot delete, repoint or readdress key-b's registration in the same zone: REFUSED, the reply says whose by kind", () => {
    expect(nsupdate("b", register("a.example.", "api", 90, "192.0.2.3")).status).toBe(0);
    const attacks = [
      `zone a.example.\nupdate delete api._kv._tcp.a.example. ANY\nupdate delete _kv._tcp.a.example. PTR api._kv._tcp.a.example.`,
      `zone a.example.\nupdate delete api._kv._tcp.a.example. SRV\nupdate add api._kv._tcp.a.example. 60 SRV 0 1 90 evil.a.example.`,
      `zone a.example.\nupdate delete api.a.example. A\nupdate add api.a.example. 60 A 203.0.113.66`,
    ];
    for (const attack of attacks) {
      const r = nsupdate("a", attack);
      expect(r.status, r.out).not.toBe(0);
      expect(r.out).toMatch(/REFUSED/);
    }
    expect(short("api._kv._tcp.a.example.", "SRV")).toEqual(["0 1 90 api.a.example."]);
    expect(short("api.a.example.", "A")).toEqual(["192.0.2.3"]);
  });

  it("the refusal's Extended DNS Error names the owner's kind only (dnspython, EDNS)", () => {
    const py = `
import dns.update, dns.query, dns.tsigkeyring, dns.tsig, sys
u = dns.update.UpdateMessage("a.example.", keyring=dns.tsigkeyring.from_text({"key-a.": "${keys.a.secret.toString("base64")}"}), keyname="key-a.", keyalgorithm=dns.tsig.HMAC_SHA256)
u.use_edns(0)
u.delete("api._kv._tcp.a.example.")
r = dns.query.udp(u, "127.0.0.1", port=${d.port}, timeout=3)
print(r.rcode(), [(int(o.code), o.text) for o in r.options if o.otype == 15])`;
    const r = spawnSync("/usr/bin/python3", ["-c", py], { encoding: "utf8", timeout: 20_000 });
    expect(r.stdout, r.stderr).toMatch(
      /^5 \[\(18, 'api\._kv\._tcp\.a\.example\. is registered by another TSIG key; only its owner \(or an --admin-key\) may change it'\)\]/,
    );
    expect(r.stdout).not.toMatch(/key-b/);
  });

  it("key-a cannot touch b.example.: not with zone b.example., not with names in b.example. under zone a.example.", () => {
    for (const zone of ["b.example.", "a.example."]) {
      const r = nsupdate(
        "a",
        `zone ${zone}\nupdate delete web._kv._tcp.b.example. ANY\nupdate delete _kv._tcp.b.example. PTR web._kv._tcp.b.example.`,
      );
      expect(r.status, r.out).not.toBe(0);
    }
    expect(short("web._kv._tcp.b.example.", "SRV")).toEqual(["0 1 80 web.b.example."]);
  });

  it("an unsigned update from loopback cannot delete or repoint a key's instance, nor change its host", () => {
    for (const attack of [
      `zone a.example.\nupdate delete api._kv._tcp.a.example. ANY\nupdate delete _kv._tcp.a.example. PTR api._kv._tcp.a.example.`,
      `zone a.example.\nupdate delete api._kv._tcp.a.example. SRV\nupdate add api._kv._tcp.a.example. 60 SRV 0 1 90 evil.a.example.`,
      `zone b.example.\nupdate add web.b.example. 60 A 203.0.113.67`,
    ]) {
      const r = nsupdate("unsigned", attack);
      expect(r.out).toMatch(/REFUSED/);
    }
    expect(short("api._kv._tcp.a.example.", "SRV")).toEqual(["0 1 90 api.a.example."]);
    expect(short("web.b.example.", "A")).toEqual(["192.0.2.2"]);
  });

  it("owners survive a restart (stored with the registration); the --admin-key may change anyone's", async () => {
    await d.stop();
    d = await startDaemon(args);
    expect(
      nsupdate(
        "a",
        `zone a.example.\nupdate delete api._kv._tcp.a.example. ANY\nupdate delete _kv._tcp.a.example. PTR api._kv._tcp.a.example.`,
      ).out,
    ).toMatch(/REFUSED/);
    const r = nsupdate(
      "admin",
      `zone a.example.\nupdate delete api._kv._tcp.a.example. ANY\nupdate delete _kv._tcp.a.example. PTR api._kv._tcp.a.example.\nupdate delete api.a.example. A`,
    );
    expect(r.status, r.out).toBe(0);
    expect(dig("dig", "127.0.0.1", d.port, ["api._kv._tcp.a.example.", "SRV"]).status).toBe("NXDOMAIN");
    expect(short("web._kv._tcp.a.example.", "SRV")).toEqual(["0 1 81 web.a.example."]);
  });

  it("an --admin-key that no --key-file holds stops the daemon with one line", async () => {
    await expect(startDaemon(["--key-file", keyFile, "--admin-key", "no-such-key"])).rejects.toThrow(
      /--admin-key: key no-such-key\. is not in any --key-file \(loaded: /,
    );
  });
});
