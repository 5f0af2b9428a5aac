// Records by store key, held by group then id: the same answers as a map by key.
import { describe, expect, it } from "vitest";
import { Records } from "../../src/registry/records.js";
import { hostGroup, hostIdAt, hostKey, instanceGroup, instanceIdAt, instanceKey } from "../../src/registry/scopes.js";

const type = { service: "_http", proto: "_tcp" as const };

describe("Records", () => {
  it("finds, lists and removes by store key, as a map by key would", () => {
    const r = new Records<string>(instanceIdAt);
    const put = (name: string, domain?: string) =>
      r.set(instanceGroup(type, domain), name.toLowerCase(), `${name}@${domain ?? "*"}`);
    expect(put("a/b c")).toBeUndefined();
    put("X", "a.example.");
    expect(put("a/b c")).toBe("a/b c@*");
    expect(r.size).toBe(2);
    expect(r.get(instanceKey(type, "A/B C"))).toBe("a/b c@*");
    expect(r.get(instanceKey(type, "x", "a.example."))).toBe("X@a.example.");
    expect(r.get(instanceKey(type, "x"))).toBeUndefined();
    expect(r.get("instance")).toBeUndefined();
    expect(new Map(r.entries())).toEqual(
      new Map([
        [instanceKey(type, "a/b c"), "a/b c@*"],
        [instanceKey(type, "x", "a.example."), "X@a.example."],
      ]),
    );
    expect(r.delete(instanceKey(type, "x", "a.example."))).toBe("X@a.example.");
    expect(r.delete(instanceKey(type, "x", "a.example."))).toBeUndefined();
    expect(r.group(instanceGroup(type, "a.example."))).toBeUndefined();
    expect([...r.values()]).toEqual(["a/b c@*"]);
    expect(r.size).toBe(1);
  });

  it("keys hosts by domain and name", () => {
    const r = new Records<number>(hostIdAt);
    r.set(hostGroup(), "web", 1);
    r.set(hostGroup("b.example."), "web", 2);
    expect(r.get(hostKey("WEB"))).toBe(1);
    expect(r.get(hostKey("web", "b.example."))).toBe(2);
    expect([...r.entries()].map(([k]) => k).sort()).toEqual([hostKey("web"), hostKey("web", "b.example.")].sort());
  });
});
