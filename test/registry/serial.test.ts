// SOA serial arithmetic (RFC 1982) and the serial's keeping across restarts.
import { describe, expect, it } from "vitest";
import { onInternalError } from "../../src/guard.js";
import { ManualClock } from "../../src/clock.js";
import { Registry } from "../../src/registry/registry.js";
import {
  addSerial,
  compareSerial,
  nextSerial,
  SERIAL_RESERVATION,
  type SerialKeeper,
} from "../../src/registry/serial.js";
import { MemoryStore } from "../../src/store/memory.js";

describe("RFC 1982 serial arithmetic", () => {
  it("compares across the wrap, and 2^31 apart is not comparable", () => {
    expect(compareSerial(1, 2)).toBe(-1);
    expect(compareSerial(2, 1)).toBe(1);
    expect(compareSerial(7, 7)).toBe(0);
    expect(compareSerial(0xffffffff, 0)).toBe(-1); // 0 is after the wrap
    expect(compareSerial(0, 0xffffffff)).toBe(1);
    expect(compareSerial(0, 2 ** 31 - 1)).toBe(-1);
    expect(compareSerial(0, 2 ** 31)).toBeUndefined();
    expect(compareSerial(2 ** 31, 0)).toBeUndefined();
  });

  it("adds with wrap; the next serial is one more, or the clock when it is ahead", () => {
    expect(addSerial(0xffffffff, 1)).toBe(0);
    expect(addSerial(10, 5)).toBe(15);
    expect(nextSerial(100, 50)).toBe(101);
    expect(nextSerial(100, 500)).toBe(500);
    expect(nextSerial(0xffffffff, 3)).toBe(3); // 3 is ahead of 0 (the next) after the wrap
  });
});

/** A keeper in memory: what the data directory's file would hold. */
function keeper(floor?: number): SerialKeeper & { reserved: number[] } {
  const reserved: number[] = [];
  return { floor, reserved, reserve: (n) => reserved.push(n) };
}

const instance = (name: string) => ({
  name,
  type: { service: "_x", proto: "_tcp" as const },
  subtypes: [],
  host: ["h"],
  port: 1,
  priority: 0,
  weight: 1,
  txt: [],
  source: "update" as const,
});

describe("Registry serial with a SerialKeeper", () => {
  it("starts above the kept floor even when the clock is behind it, and reserves before serving past it", async () => {
    const clock = new ManualClock(1_000_000_000_000); // serial 1,000,000,000 by the clock
    const k = keeper(1_000_500_000);
    const r = new Registry({ clock, store: new MemoryStore(), serials: k });
    expect(r.serial()).toBe(1_000_500_001);
    expect(k.reserved).toEqual([1_000_500_001 + SERIAL_RESERVATION]);
    await r.open();
    for (let i = 0; i < SERIAL_RESERVATION; i++) await r.register(instance(`i${i % 50}-${i}`));
    expect(r.serial()).toBe(1_000_500_001 + SERIAL_RESERVATION);
    // the block ran out at its last serial: the next one was reserved before that serial was served
    expect(k.reserved).toEqual([1_000_500_001 + SERIAL_RESERVATION, 1_000_500_001 + 2 * SERIAL_RESERVATION]);
    // a restart starts above every serial served
    const again = new Registry({ clock, store: new MemoryStore(), serials: keeper(k.reserved.at(-1)) });
    expect(compareSerial(again.serial(), r.serial())).toBe(1);
  });

  it("a reservation that cannot be written (a full disk) is logged and tried again; the change stands and every listener hears it", async () => {
    const clock = new ManualClock(1_800_000_000_000);
    let failing = true;
    const written: number[] = [];
    const k = {
      floor: undefined,
      reserve(upTo: number) {
        if (failing) throw new Error("ENOSPC: no space left on device");
        written.push(upTo);
      },
    };
    const faults: string[] = [];
    const restore = onInternalError((where) => faults.push(where));
    try {
      const r = new Registry({ clock, store: new MemoryStore(), serials: k });
      await r.open();
      const heard: string[] = [];
      r.onChange((c) => heard.push(c.kind));
      await r.register(instance("a"));
      expect(heard).toEqual(["instance"]);
      expect(faults).toContain("SOA serial reservation");
      failing = false;
      await r.register(instance("b"));
      expect(written).toEqual([r.serial() + SERIAL_RESERVATION]);
    } finally {
      onInternalError(restore);
    }
  });

  it("without a floor, or with one behind the clock, starts at the clock", () => {
    const clock = new ManualClock(1_800_000_000_000);
    expect(new Registry({ clock, store: new MemoryStore(), serials: keeper() }).serial()).toBe(1_800_000_000);
    expect(new Registry({ clock, store: new MemoryStore(), serials: keeper(5) }).serial()).toBe(1_800_000_000);
  });
});

/** A memory store with revisions, as etcd has: each commit (or a peer's write) is one revision. */
class RevisionStore extends MemoryStore {
  revision = 100;
  override async commit(ops: Parameters<MemoryStore["commit"]>[0]): Promise<void> {
    await super.commit(ops);
    this.revision++;
  }
  changeRevision(): number {
    return this.revision;
  }
}

describe("Registry serial on a store with revisions (etcd)", () => {
  it("is the revision of the state taken in, one commit's changes sharing it, plus the changes made outside the store", async () => {
    const store = new RevisionStore();
    const r = new Registry({ clock: new ManualClock(1_800_000_000_000), store });
    await r.open();
    expect(r.serial()).toBe(100);
    await r.register(instance("a"), [{ name: "h", addresses: ["192.0.2.1"], source: "update" }]);
    expect(r.serial()).toBe(101); // two changes, one commit
    // a peer's write, delivered by the watch
    await store.inject([{ op: "put", key: "instance/_x._tcp/b", entry: { kind: "instance", value: instance("b") } }]);
    expect(r.serial()).toBe(102);
    r.loadStatic([instance("static")], []);
    expect(r.serial()).toBe(103); // revision 102 + one change of our own
    await r.register(instance("c"));
    expect(r.serial()).toBe(104); // revision 103 + 1
    // a second daemon on the same store, with the same static registration, says the same
    const peer = new Registry({ clock: new ManualClock(1_800_000_000_000), store });
    await peer.open();
    peer.loadStatic([instance("static")], []);
    expect(peer.serial()).toBe(r.serial());
  });
});
