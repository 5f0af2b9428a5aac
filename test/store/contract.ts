// The behaviour every Store backend must have. Each backend's test file calls
// storeContract with a factory; later backends (LMDB, etcd) reuse it as is.
import { describe, expect, it } from "vitest";
import type { Store, StoreEntry } from "../../src/store/store.js";

const entry = (name: string, port = 1): StoreEntry => ({
  kind: "instance",
  value: {
    name,
    type: { service: "_x", proto: "_tcp" },
    subtypes: ["_a"],
    host: ["h"],
    port,
    priority: 0,
    weight: 1,
    txt: [Uint8Array.of(0, 255)],
    source: "update",
    expiresAt: 123,
  },
});

export function storeContract(name: string, make: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    it("starts empty, keeps what is put, forgets what is deleted", async () => {
      const s = await make();
      expect((await s.load()).size).toBe(0);
      await s.put("instance/_x._tcp/a", entry("a"));
      await s.put("instance/_x._tcp/b", entry("b"));
      await s.delete("instance/_x._tcp/a");
      const all = await s.load();
      expect([...all.keys()]).toEqual(["instance/_x._tcp/b"]);
      expect(all.get("instance/_x._tcp/b")).toEqual(entry("b"));
      await s.close();
    });

    it("commits a batch in order: the last op on a key wins", async () => {
      const s = await make();
      await s.commit([
        { op: "put", key: "k", entry: entry("a", 1) },
        { op: "put", key: "k", entry: entry("a", 2) },
        { op: "put", key: "gone", entry: entry("g") },
        { op: "delete", key: "gone" },
      ]);
      const all = await s.load();
      expect([...all.keys()]).toEqual(["k"]);
      expect((all.get("k")!.value as { port: number }).port).toBe(2);
      await s.close();
    });

    it("deleting a missing key is not an error", async () => {
      const s = await make();
      await expect(s.delete("nothing")).resolves.toBeUndefined();
      await s.close();
    });

    it("keeps IXFR journal entries apart from the registrations: put, removed, read back; none in a store without them", async () => {
      const s = await make();
      const j = s.journal!;
      expect(await j.loadJournal()).toEqual([]);
      await s.put("instance/_x._tcp/a", entry("a"));
      const step = (id: string) => ({ zone: "svc.example.", id, value: { v: 1, id, records: [{ n: ["a"], t: 30 }] } });
      await j.writeJournal([step("00000001"), step("00000002"), { zone: "a/b.", id: "end", value: { v: 1 } }], []);
      await j.writeJournal([step("00000003")], [{ zone: "svc.example.", id: "00000001" }]);
      const byId = (a: { zone: string; id: string }, b: { zone: string; id: string }) =>
        `${a.zone}/${a.id}`.localeCompare(`${b.zone}/${b.id}`);
      expect((await j.loadJournal()).sort(byId)).toEqual(
        [{ zone: "a/b.", id: "end", value: { v: 1 } }, step("00000002"), step("00000003")].sort(byId),
      );
      // never handed to the registry as registrations
      expect([...(await s.load()).keys()]).toEqual(["instance/_x._tcp/a"]);
      // the digests' key: made once, then the same whoever asks
      const salt = await j.salt();
      expect(salt).toMatch(/^[0-9a-f]{32}$/);
      expect(await j.salt()).toBe(salt);
      expect((await j.loadJournal()).some((e) => e.id === "salt" || e.zone === "")).toBe(false);
      expect([...(await s.load()).keys()]).toEqual(["instance/_x._tcp/a"]);
      await s.close();
    });

    it("watch returns a working unsubscribe", async () => {
      const s = await make();
      const stop = s.watch(() => {});
      expect(typeof stop).toBe("function");
      stop();
      await s.close();
    });
  });
}
