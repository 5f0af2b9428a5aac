// The replay guard for signed UPDATEs (RFC 8945 §5.2.3): what it refuses, what
// it still lets through (clients that sign several updates at once), and that
// its memory stays bounded without reopening what it forgot.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REPLAY_LIMITS, TsigReplayGuard } from "../../src/update/tsig-replay.js";

const T = 1_800_000_000;
const mac = (n: number) => Buffer.from(n.toString(16).padStart(64, "0"), "hex");

describe("TsigReplayGuard", () => {
  it("the same signed message twice: the second is refused, for as long as its time would be accepted", () => {
    const g = new TsigReplayGuard();
    expect(g.admit("k.", T, mac(1), T)).toEqual({ ok: true });
    expect(g.admit("k.", T, mac(1), T)).toMatchObject({ ok: false, rule: "same-mac" });
    expect(g.admit("k.", T, mac(1), T + REPLAY_LIMITS.windowSeconds)).toMatchObject({ ok: false });
    // another key's message with the same bytes is its own
    expect(g.admit("other.", T, mac(1), T)).toEqual({ ok: true });
  });

  it("a message signed well before the key's latest is refused (registration replayed after its deregistration)", () => {
    const g = new TsigReplayGuard();
    expect(g.admit("k.", T, mac(1), T)).toEqual({ ok: true }); // register
    expect(g.admit("k.", T + 60, mac(2), T + 60)).toEqual({ ok: true }); // deregister
    // a new capture-free message signed 61 s ago (never seen) is refused by time order alone
    expect(g.admit("k.", T - 1, mac(3), T + 60)).toMatchObject({ ok: false, rule: "older-than-latest" });
    expect(g.admit("k.", T, mac(1), T + 60)).toMatchObject({ ok: false });
  });

  it("updates signed at once and arriving out of order, and several in one second, all pass", () => {
    const g = new TsigReplayGuard();
    expect(g.admit("k.", T + 1, mac(1), T + 1)).toEqual({ ok: true });
    expect(g.admit("k.", T, mac(2), T + 1)).toEqual({ ok: true }); // signed a second earlier, arrived later
    for (let i = 3; i < 50; i++) expect(g.admit("k.", T + 1, mac(i), T + 1)).toEqual({ ok: true });
    expect(g.admit("k.", T + 1 - REPLAY_LIMITS.toleranceSeconds, mac(99), T + 1)).toEqual({ ok: true });
    expect(g.admit("k.", T - REPLAY_LIMITS.toleranceSeconds, mac(100), T + 1)).toMatchObject({
      ok: false,
      rule: "older-than-latest",
    });
  });

  it("holders of one key whose clocks differ by half a minute all get through", () => {
    const g = new TsigReplayGuard();
    for (let i = 0; i < 20; i++) {
      expect(g.admit("k.", T + i, mac(2 * i), T + i)).toEqual({ ok: true }); // on time
      expect(g.admit("k.", T + i - 30, mac(2 * i + 1), T + i)).toEqual({ ok: true }); // 30 s slow
    }
  });

  it("a client whose clock runs ahead does not lock out the others sharing its key", () => {
    const g = new TsigReplayGuard();
    expect(g.admit("k.", T + 200, mac(1), T)).toEqual({ ok: true }); // 200 s ahead, within the fudge
    expect(g.admit("k.", T, mac(2), T)).toEqual({ ok: true });
    expect(g.admit("k.", T + 200, mac(1), T + 250)).toMatchObject({ ok: false, rule: "same-mac" }); // its replay is still caught
  });

  it("memory stays bounded; what it forgets, it refuses (the floor)", () => {
    const g = new TsigReplayGuard({ ...REPLAY_LIMITS, maxPerKey: 10 });
    for (let i = 0; i < 10; i++) expect(g.admit("k.", T, mac(i), T)).toEqual({ ok: true });
    expect(g.admit("k.", T + 1, mac(10), T + 1)).toEqual({ ok: true }); // forgets mac(0), signed at T
    expect(g.size()).toBe(10);
    expect(g.admit("k.", T, mac(0), T + 1)).toMatchObject({ ok: false, rule: "below-floor" });
    expect(g.admit("k.", T + 1, mac(11), T + 1)).toEqual({ ok: true }); // newer messages still pass
    // later, only what the tolerance needs is kept
    expect(
      g.admit("k.", T + 1 + REPLAY_LIMITS.toleranceSeconds + 1, mac(12), T + 1 + REPLAY_LIMITS.toleranceSeconds + 1),
    ).toEqual({ ok: true });
    expect(g.size()).toBe(1);
    // keys idle past the window are dropped
    expect(g.admit("j.", T + 1000, mac(1), T + 1000)).toEqual({ ok: true });
    expect(g.size()).toBe(1);
  });

  it("property: whatever order messages come in, an accepted MAC is never accepted again while its time is valid", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.integer({ min: 0, max: 40 }),
            signedAgo: fc.integer({ min: -300, max: 300 }),
            step: fc.integer({ min: 0, max: 30 }),
          }),
          { maxLength: 200 },
        ),
        fc.integer({ min: 2, max: 50 }),
        (events, cap) => {
          const g = new TsigReplayGuard({ ...REPLAY_LIMITS, maxPerKey: cap });
          const signedAt = new Map<number, number>(); // a MAC always belongs to one message, signed once
          const accepted = new Set<number>();
          let now = T;
          for (const e of events) {
            now += e.step;
            const at = signedAt.get(e.id) ?? now - e.signedAgo;
            signedAt.set(e.id, at);
            if (Math.abs(now - at) > REPLAY_LIMITS.windowSeconds) continue; // the TSIG time check refuses it first
            const ok = g.admit("k.", at, mac(e.id), now).ok;
            if (accepted.has(e.id)) expect(ok).toBe(false);
            if (ok) accepted.add(e.id);
          }
          expect(g.size()).toBeLessThanOrEqual(cap);
        },
      ),
      { numRuns: 300 },
    );
  });
});
