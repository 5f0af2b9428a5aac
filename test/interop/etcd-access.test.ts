// A secured etcd, as production clusters run it: TLS with client
// certificates, and etcd's user/password auth. The daemon reaches it with the
// --etcd-* flags, and says in one line what is wrong when it cannot.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registrationUpdate } from "../../src/client/registration.js";
import { sendUpdate } from "../../src/client/update-client.js";
import { parseName } from "../../src/names.js";
import { run, runCli, startDaemon } from "../lab/daemon.js";
import { dig } from "../lab/dig.js";
import { etcdctlTlsArgs, makeEtcdTls, startEtcd, type EtcdTls, type RunningEtcd } from "../lab/etcd.js";
import { missingTool } from "../lab/tools.js";

const zone = parseName("svc.example.");
const hostPort = (url: string) => url.replace(/^https?:\/\//, "");

async function registersAndAnswers(args: string[]): Promise<void> {
  const d = await startDaemon(["--domain", "svc.example.", ...args]);
  try {
    const ops = registrationUpdate(
      { instance: "secure", type: "_s._tcp", host: "secure", port: 443, addresses: ["192.0.2.44"] },
      zone,
    );
    expect((await sendUpdate({ host: "127.0.0.1", port: d.port }, zone, ops)).rcode).toBe("NOERROR");
    expect(dig("dig", "127.0.0.1", d.port, ["secure._s._tcp.svc.example", "SRV"]).answer.map((a) => a.rdata)).toEqual([
      "0 1 443 secure.svc.example.",
    ]);
  } finally {
    await d.stop();
  }
}

describe.skipIf(missingTool("etcd", "etcdctl", "openssl", "dig"))("etcd over TLS with client certificates", () => {
  let tls: EtcdTls;
  let etcd: RunningEtcd;
  beforeAll(async () => {
    tls = makeEtcdTls();
    etcd = await startEtcd(undefined, tls);
  }, 60_000);
  afterAll(() => etcd?.stop());

  it("--etcd-ca, --etcd-cert and --etcd-key: registrations are stored in the secured etcd", async () => {
    await registersAndAnswers([
      "--store",
      `etcd://${hostPort(etcd.url)}/tls-${process.pid}/`,
      "--etcd-ca",
      tls.ca,
      "--etcd-cert",
      tls.clientCert,
      "--etcd-key",
      tls.clientKey,
    ]);
    const keys = run("etcdctl", [
      "--endpoints",
      etcd.url,
      ...etcdctlTlsArgs(tls),
      "get",
      "--prefix",
      "--keys-only",
      `/tls-${process.pid}/instance`,
    ]);
    expect(keys.trim()).toBe(`/tls-${process.pid}/instance@svc.example./_s._tcp/secure`);
  });

  it("without a client certificate the daemon stops with one line naming etcd", () => {
    const r = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      `etcd://${hostPort(etcd.url)}/tls-${process.pid}/`,
      "--etcd-ca",
      tls.ca,
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^ringdns: etcd at https:\/\/127\.0\.0\.1:\d+: /);
  });

  it("half a client certificate, or one without a CA, is refused before anything starts", () => {
    expect(
      runCli(["serve", "--store", "etcd://127.0.0.1:1", "--etcd-ca", tls.ca, "--etcd-cert", tls.clientCert]).stderr,
    ).toBe("ringdns: --etcd-cert: needs --etcd-cert and --etcd-key together\n");
    expect(
      runCli(["serve", "--store", "etcd://127.0.0.1:1", "--etcd-cert", tls.clientCert, "--etcd-key", tls.clientKey])
        .stderr,
    ).toBe("ringdns: --etcd-cert: needs --etcd-ca (a client certificate is only sent over TLS)\n");
    expect(runCli(["serve", "--etcd-ca", tls.ca]).stderr).toBe(
      "ringdns: --etcd-ca: has no use without --store etcd://…\n",
    );
    expect(runCli(["serve", "--store", "etcd://127.0.0.1:1", "--etcd-ca", "/nonexistent/ca.pem"]).stderr).toBe(
      "ringdns: --etcd-ca: cannot read /nonexistent/ca.pem: ENOENT\n",
    );
  });
});

describe.skipIf(missingTool("etcd", "etcdctl", "dig"))("etcd with user/password auth", () => {
  let etcd: RunningEtcd;
  const dir = mkdtempSync(join(tmpdir(), "ringdns-etcd-auth-"));
  const password = join(dir, "password");
  const wrong = join(dir, "wrong");
  writeFileSync(password, "s3cret-test-pw\n", { mode: 0o600 });
  writeFileSync(wrong, "not-it\n", { mode: 0o600 });
  beforeAll(async () => {
    etcd = await startEtcd();
    const ctl = (...args: string[]) => run("etcdctl", ["--endpoints", etcd.url, ...args]);
    ctl("user", "add", "root:s3cret-test-pw");
    ctl("user", "grant-role", "root", "root");
    ctl("auth", "enable");
  }, 60_000);
  afterAll(() => etcd?.stop());

  it("--etcd-user and --etcd-password-file: registrations are stored", async () => {
    await registersAndAnswers([
      "--store",
      `etcd://${hostPort(etcd.url)}/auth-${process.pid}/`,
      "--etcd-user",
      "root",
      "--etcd-password-file",
      password,
      "--etcd-insecure",
    ]);
    const keys = run("etcdctl", [
      "--endpoints",
      etcd.url,
      "--user",
      "root:s3cret-test-pw",
      "get",
      "--prefix",
      "--keys-only",
      `/auth-${process.pid}/instance`,
    ]);
    expect(keys.trim()).toBe(`/auth-${process.pid}/instance@svc.example./_s._tcp/secure`);
  });

  it("a password without TLS stops the daemon with one line, unless --etcd-insecure says it may cross in clear text", () => {
    const r = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      `etcd://${hostPort(etcd.url)}/auth-${process.pid}/`,
      "--etcd-user",
      "root",
      "--etcd-password-file",
      password,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "ringdns: --etcd-user: sends the etcd password in clear text without TLS: add --etcd-ca (and https:// endpoints on etcd), or --etcd-insecure to accept that\n",
    );
  });

  it("a wrong password stops the daemon with one line naming etcd", () => {
    const r = runCli([
      "serve",
      "--dns",
      "127.0.0.1:0",
      "--store",
      `etcd://${hostPort(etcd.url)}/auth-${process.pid}/`,
      "--etcd-user",
      "root",
      "--etcd-password-file",
      wrong,
      "--etcd-insecure",
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(
      /^ringdns: etcd at http:\/\/127\.0\.0\.1:\d+: .*(auth|password|credential)/i,
    );
  });
});
