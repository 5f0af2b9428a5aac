// nsupdate (BIND) and knsupdate (Knot) register, renew and remove services;
// dig sees each change at once; refused updates change nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendUpdate } from "../../src/client/update-client.js";
import { registrationUpdate } from "../../src/client/registration.js";
import { parseName } from "../../src/names.js";
import { formatKeyFile, generateKey } from "../../src/update/keys.js";
import { dig } from "../lab/dig.js";
import { runCli, startDaemon, type RunningDaemon } from "../lab/daemon.js";
import { missingTool } from "../lab/tools.js";
import { writeKeyFile } from "../lab/keys.js";

const dir = mkdtempSync(join(tmpdir(), "ringdns-update-"));
const { key, file: keyFile, secret } = writeKeyFile("ringdns-key");
const zone = "svc.example.";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon(["--domain", zone, "--key-file", keyFile]);
});
afterAll(() => d.stop());

function nsupdate(args: string[], script: string) {
  const r = spawnSync("nsupdate", args, {
    input: `server 127.0.0.1 ${d.port}\n${script}\nsend\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}
function knsupdate(args: string[], script: string) {
  const r = spawnSync("knsupdate", args, {
    input: `server 127.0.0.1 ${d.port}\n${script}\nsend\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}
const q = (name: string, type: string) => dig("dig", "127.0.0.1", d.port, [name, type]);
const short = (name: string, type: string) =>
  q(name, type)
    .answer.map((a) => a.rdata)
    .sort();

const register = (inst: string, port: number, addr: string) => `zone ${zone}
update add _kv._tcp.${zone} 60 PTR ${inst}._kv._tcp.${zone}
update add ${inst}._kv._tcp.${zone} 60 SRV 0 1 ${port} ${inst}.${zone}
update add ${inst}._kv._tcp.${zone} 60 TXT "by=${inst}"
update add ${inst}.${zone} 60 A ${addr}`;

describe.skipIf(missingTool("nsupdate", "dig"))("nsupdate", () => {
  it("-k FILE registers; dig sees it in browse, resolve and _hash at once", () => {
    const r = nsupdate(["-k", keyFile], register("web-1", 8080, "192.0.2.51"));
    expect(r.status, r.out).toBe(0);
    expect(short(`_kv._tcp.${zone}`, "PTR")).toEqual([`web-1._kv._tcp.${zone}`]);
    expect(short(`web-1._kv._tcp.${zone}`, "SRV")).toEqual([`0 1 8080 web-1.${zone}`]);
    expect(short(`web-1._kv._tcp.${zone}`, "TXT")).toEqual(['"by=web-1"']);
    expect(short(`web-1.${zone}`, "A")).toEqual(["192.0.2.51"]);
    expect(short(`some-key._hash._kv._tcp.${zone}`, "SRV")).toEqual([`0 1 8080 web-1.${zone}`]);
  });

  it("-y hmac-sha256:NAME:SECRET registers a second instance; the ring now has both", () => {
    const r = nsupdate(["-y", `hmac-sha256:ringdns-key:${secret}`], register("web-2", 8081, "192.0.2.52"));
    expect(r.status, r.out).toBe(0);
    expect(short(`_kv._tcp.${zone}`, "PTR")).toEqual([`web-1._kv._tcp.${zone}`, `web-2._kv._tcp.${zone}`]);
    const owners = new Set(Array.from({ length: 40 }, (_, i) => short(`k${i}._hash._kv._tcp.${zone}`, "SRV")[0]));
    expect(owners).toEqual(new Set([`0 1 8080 web-1.${zone}`, `0 1 8081 web-2.${zone}`]));
  });

  it("deletes without a zone line (zone found by its signed SOA query)", () => {
    const r = nsupdate(
      ["-k", keyFile],
      `update delete web-2._kv._tcp.${zone} ANY\nupdate delete _kv._tcp.${zone} PTR web-2._kv._tcp.${zone}`,
    );
    expect(r.status, r.out).toBe(0);
    expect(short(`_kv._tcp.${zone}`, "PTR")).toEqual([`web-1._kv._tcp.${zone}`]);
    expect(q(`web-2._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });

  it("prerequisites: 'prereq nxdomain' on a name in use fails with YXDOMAIN and changes nothing", () => {
    const r = nsupdate(
      ["-k", keyFile],
      `zone ${zone}\nprereq nxdomain web-1._kv._tcp.${zone}\nupdate delete web-1._kv._tcp.${zone} ANY`,
    );
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/YXDOMAIN/);
    expect(short(`web-1._kv._tcp.${zone}`, "SRV")).toHaveLength(1);
  });

  it("an inconsistent registration (SRV without PTR) is REFUSED, logged, and changes nothing", async () => {
    const r = nsupdate(["-k", keyFile], `zone ${zone}\nupdate add lone._kv._tcp.${zone} 60 SRV 0 1 1 lone.${zone}`);
    expect(r.out).toMatch(/REFUSED/);
    expect(q(`lone._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
    await d.waitForLog(/has an SRV record but no PTR/);
  });

  it("a wrong secret gets NOTAUTH(BADSIG) and changes nothing", () => {
    const r = nsupdate(
      ["-y", `hmac-sha256:ringdns-key:${Buffer.alloc(32, 9).toString("base64")}`],
      register("evil", 1, "192.0.2.66"),
    );
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/BADSIG/);
    expect(q(`evil._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });

  // nsupdate's allocator does not start under libfaketime; Knot's client does
  it.skipIf(missingTool("faketime", "knsupdate"))(
    "a clock 10 minutes slow (knsupdate under faketime) gets NOTAUTH(BADTIME) and changes nothing",
    () => {
      const r = spawnSync("faketime", ["-f", "-600s", "knsupdate", "-y", `hmac-sha256:ringdns-key:${secret}`], {
        input: `server 127.0.0.1 ${d.port}\n${register("late", 1, "192.0.2.67")}\nsend\n`,
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/BADTIME/);
      expect(q(`late._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
    },
  );

  it("registers over TCP (-v) and with hmac-sha512 and hmac-sha1 keys", async () => {
    const r = nsupdate(["-v", "-k", keyFile], register("tcp-1", 7001, "192.0.2.71"));
    expect(r.status, r.out).toBe(0);
    expect(short(`tcp-1._kv._tcp.${zone}`, "SRV")).toEqual([`0 1 7001 tcp-1.${zone}`]);
    for (const algorithm of ["hmac-sha512", "hmac-sha1"] as const) {
      const k = generateKey(`${algorithm}-key`, algorithm);
      const file = join(dir, `${algorithm}.key`);
      writeFileSync(file, formatKeyFile(k));
      const other = await startDaemon(["--domain", zone, "--key-file", file]);
      try {
        const res = spawnSync("nsupdate", ["-k", file], {
          input: `server 127.0.0.1 ${other.port}\n${register("alg", 7002, "192.0.2.72")}\nsend\n`,
          encoding: "utf8",
          timeout: 20_000,
        });
        expect(res.status, res.stdout + res.stderr).toBe(0);
        expect(dig("dig", "127.0.0.1", other.port, [`alg._kv._tcp.${zone}`, "SRV"]).answer).toHaveLength(1);
      } finally {
        await other.stop();
      }
    }
  });

  it("an unknown key gets NOTAUTH(BADKEY) and changes nothing", () => {
    const r = nsupdate(["-y", `hmac-sha256:stranger:${secret}`], register("evil", 1, "192.0.2.66"));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/BADKEY/);
    expect(q(`evil._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });
});

describe.skipIf(missingTool("knsupdate", "dig"))("knsupdate", () => {
  it("registers with -y and removes again", () => {
    const add = knsupdate(["-y", `hmac-sha256:ringdns-key:${secret}`], register("knot-1", 9090, "198.51.100.91"));
    expect(add.status, add.out).toBe(0);
    expect(short(`knot-1._kv._tcp.${zone}`, "SRV")).toEqual([`0 1 9090 knot-1.${zone}`]);
    const del = knsupdate(
      ["-y", `hmac-sha256:ringdns-key:${secret}`],
      `zone ${zone}\nupdate delete knot-1._kv._tcp.${zone}\nupdate delete _kv._tcp.${zone} PTR knot-1._kv._tcp.${zone}`,
    );
    expect(del.status, del.out).toBe(0);
    expect(q(`knot-1._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });
});

describe("TSIG time and unsigned sources", () => {
  it("a request signed 10 minutes ago gets a signed BADTIME and changes nothing", async () => {
    const ops = registrationUpdate({ instance: "stale", type: "_kv._tcp", host: "stale", port: 1 }, parseName(zone));
    const attempt = sendUpdate({ host: "127.0.0.1", port: d.port }, parseName(zone), ops, {
      key,
      now: () => Date.now() - 600_000,
    });
    await expect(attempt).rejects.toThrow(/BADTIME/);
    expect(q(`stale._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });

  it("unsigned updates from loopback are allowed by default, refused with --allow-update none", async () => {
    const ops = registrationUpdate({ instance: "plain", type: "_kv._tcp", host: "plain", port: 2 }, parseName(zone));
    expect((await sendUpdate({ host: "127.0.0.1", port: d.port }, parseName(zone), ops)).rcode).toBe("NOERROR");
    const strict = await startDaemon(["--domain", zone, "--key-file", keyFile, "--allow-update", "none"]);
    try {
      expect((await sendUpdate({ host: "127.0.0.1", port: strict.port }, parseName(zone), ops)).rcode).toBe("REFUSED");
      expect(dig("dig", "127.0.0.1", strict.port, [`plain._kv._tcp.${zone}`, "SRV"]).status).toBe("NXDOMAIN");
      await strict.waitForLog(/unsigned updates are not allowed from 127\.0\.0\.1/);
      // signed still works there
      expect((await sendUpdate({ host: "127.0.0.1", port: strict.port }, parseName(zone), ops, { key })).rcode).toBe(
        "NOERROR",
      );
    } finally {
      await strict.stop();
    }
  });

  it("a key limited to another zone is refused", async () => {
    const limited = await startDaemon([
      "--domain",
      zone,
      "--domain",
      "other.example.",
      "--key-file",
      keyFile,
      "--key-zone",
      "ringdns-key=other.example.",
    ]);
    try {
      const ops = registrationUpdate({ instance: "z", type: "_kv._tcp", host: "z", port: 3 }, parseName(zone));
      expect((await sendUpdate({ host: "127.0.0.1", port: limited.port }, parseName(zone), ops, { key })).rcode).toBe(
        "REFUSED",
      );
    } finally {
      await limited.stop();
    }
  });
});

describe("ringdns register / deregister", () => {
  it("registers once with a key file, and deregisters", () => {
    const server = `127.0.0.1:${d.port}`;
    const r = runCli([
      "register",
      "_kv._tcp",
      "cli-1",
      "--host",
      "cli-1",
      "--address",
      "203.0.113.5",
      "--port",
      "5000",
      "--txt",
      "role=a",
      "--once",
      "--key-file",
      keyFile,
      "--server",
      server,
      "--domain",
      zone,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/registered cli-1\._kv\._tcp\.svc\.example\. \(permanent\)/);
    expect(short(`cli-1._kv._tcp.${zone}`, "SRV")).toEqual([`0 1 5000 cli-1.${zone}`]);
    const del = runCli([
      "deregister",
      "_kv._tcp",
      "cli-1",
      "--key-file",
      keyFile,
      "--server",
      server,
      "--domain",
      zone,
    ]);
    expect(del.status, del.stderr).toBe(0);
    expect(q(`cli-1._kv._tcp.${zone}`, "SRV").status).toBe("NXDOMAIN");
  });
});
