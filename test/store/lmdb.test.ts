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

  it("refuses a store written by a newer format, saying so", async () => {
    const dir = freshDir();
    const db = open({ path: join(dir, "registry.mdb"), encoding: "json" });
    await db.put("meta/format", 99);
    await db.close();
    await expect(LmdbStore.open(dir)).rejects.toThrow(
      /written by a newer ringdns \(store format 99; this version reads 1\)/,
    );
  });
});
