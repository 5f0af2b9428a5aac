import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "lmdb";
import { describe, expect, it } from "vitest";
import { LmdbStore } from "../../src/store/lmdb.js";
import { storeContract } from "./contract.js";

const freshDir = () => mkdtempSync(join(tmpdir(), "ringdns-lmdb-"));

storeContract("lmdb", () => LmdbStore.open(freshDir()));

describe("LmdbStore", () => {
  it("keeps what was committed across close and reopen", async () => {
    const dir = freshDir();
    const a = await LmdbStore.open(dir);
    await a.put("host/h", {
      kind: "host",
      value: { name: "h", addresses: ["192.0.2.1"], source: "update", expiresAt: 5 },
    });
    await a.close();
    const b = await LmdbStore.open(dir);
    expect((await b.load()).get("host/h")).toEqual({
      kind: "host",
      value: { name: "h", addresses: ["192.0.2.1"], source: "update", expiresAt: 5 },
    });
    await b.close();
  });

  it("keeps IXFR's journal across close and reopen; a store written before journals existed opens with none", async () => {
    const dir = freshDir();
    // as the previous version left it: registrations and the format, no journal
    const db = open({ path: join(dir, "registry.mdb"), encoding: "json" });
    await db.put("meta/format", 1);
    await db.put("host/h", { v: 1, kind: "host", value: { name: "h", addresses: ["192.0.2.1"], source: "update" } });
    await db.close();
    const a = await LmdbStore.open(dir);
    expect(await a.journal.loadJournal()).toEqual([]);
    await a.journal.writeJournal([{ zone: "svc.example.", id: "0000000a", value: { v: 1 } }], []);
    const salt = await a.journal.salt();
    await a.close();
    const b = await LmdbStore.open(dir);
    expect(await b.journal.salt()).toBe(salt);
    expect([...(await b.load()).keys()]).toEqual(["host/h"]);
    expect(await b.journal.loadJournal()).toEqual([{ zone: "svc.example.", id: "0000000a", value: { v: 1 } }]);
    await b.close();
  });

  it("refuses a store written by a newer format, saying so", async () => {
    const dir = freshDir();
    const db = open({ path: join(dir, "registry.mdb"), encoding: "json" });
    await db.put("meta/format", 99);
    await db.close();
    await expect(LmdbStore.open(dir)).rejects.toThrow(
      /written by a newer ringdns \(store format 99; this version reads 2\)/,
    );
  });
});

describe("LmdbStore and SRP claims", () => {
  it("keeps a claim across a reopen, and marks a new store with the base format older daemons read", async () => {
    const dir = freshDir();
    const store = await LmdbStore.open(dir);
    const claim = { record: "host@default.service.arpa./printer", key: "13:AAAA", expiresAt: 1_900_000_000_000 };
    await store.commit([{ op: "put", key: `claim/${claim.record}`, entry: { kind: "claim", value: claim } }]);
    await store.close();
    const again = await LmdbStore.open(dir);
    expect((await again.load()).get(`claim/${claim.record}`)).toEqual({ kind: "claim", value: claim });
    await again.close();
    const raw = open({ path: join(dir, "registry.mdb"), encoding: "json" });
    expect(raw.get("meta/format")).toBe(1);
    expect((raw.get(`claim/${claim.record}`) as { v: number }).v).toBe(2);
    await raw.close();
  });
});
