import { describe, expect, it } from "vitest";
import { answerDso, DEFAULT_DSO_POLICY } from "../../src/frontends/dso-session.js";
import { Rcode } from "../../src/wire/constants.js";
import {
  decodeDso,
  DsoType,
  DSOTYPENI,
  encodeDso,
  keepaliveTlv,
  parseKeepalive,
  type DsoTlv,
} from "../../src/wire/dso.js";

const request = (id: number, tlvs: DsoTlv[]) => encodeDso({ id, response: false, rcode: 0, tlvs });
const padding = (n: number): DsoTlv => ({ type: DsoType.ENCRYPTION_PADDING, data: Buffer.alloc(n) });
const replyOf = (o: ReturnType<typeof answerDso>) => {
  if (o.kind === "none" || !o.reply) throw new Error(`no reply: ${JSON.stringify(o)}`);
  return decodeDso(o.reply);
};

describe("DSO sessions (RFC 8490)", () => {
  it("a Keepalive request establishes the session: the reply carries the server's timers, the interval raised to 10 s", () => {
    const o = answerDso(request(7, [keepaliveTlv({ inactivityMs: 5000, keepaliveMs: 1000 }), padding(13)]), {
      tls: true,
    });
    expect(o).toMatchObject({ kind: "reply", session: { inactivityMs: 15_000, keepaliveMs: 10_000 } });
    const r = replyOf(o);
    expect(r).toMatchObject({ id: 7, response: true, rcode: Rcode.NOERROR });
    expect(r.tlvs).toHaveLength(1);
    expect(parseKeepalive(r.tlvs[0]!)).toEqual({ inactivityMs: DEFAULT_DSO_POLICY.inactivityMs, keepaliveMs: 10_000 });
    const longer = answerDso(request(8, [keepaliveTlv({ inactivityMs: 0, keepaliveMs: 60_000 })]), { tls: true });
    expect(longer).toMatchObject({ session: { keepaliveMs: 60_000 } });
  });

  it("on plain TCP, and for operations not implemented, a request gets DSOTYPENI and the connection stays", () => {
    const ka = request(9, [keepaliveTlv({ inactivityMs: 15_000, keepaliveMs: 15_000 })]);
    expect(answerDso(ka, { tls: false })).toMatchObject({ kind: "reply" });
    expect(replyOf(answerDso(ka, { tls: false })).rcode).toBe(DSOTYPENI);
    const unknown = answerDso(request(10, [{ type: 0xf901, data: Buffer.from("x") }]), { tls: true });
    expect(unknown.kind).toBe("reply");
    expect(replyOf(unknown)).toMatchObject({ id: 10, rcode: DSOTYPENI });
  });

  it("malformed requests get FORMERR and the connection closes; responses and unidirectional Keepalives from a client close it", () => {
    const overrun = request(11, [keepaliveTlv({ inactivityMs: 1, keepaliveMs: 1 })]);
    overrun.writeUInt16BE(200, 14); // the TLV claims more than the message holds
    const o = answerDso(overrun, { tls: true });
    expect(o.kind).toBe("close");
    expect(replyOf(o)).toMatchObject({ id: 11, rcode: Rcode.FORMERR });
    const counts = request(12, [keepaliveTlv({ inactivityMs: 1, keepaliveMs: 1 })]);
    counts.writeUInt16BE(1, 4); // a question count
    expect(replyOf(answerDso(counts, { tls: true })).rcode).toBe(Rcode.FORMERR);
    const shortKa = answerDso(request(13, [{ type: DsoType.KEEPALIVE, data: Buffer.alloc(4) }]), { tls: true });
    expect(shortKa.kind).toBe("close");
    expect(replyOf(shortKa).rcode).toBe(Rcode.FORMERR);
    expect(answerDso(request(14, [padding(8)]), { tls: true }).kind).toBe("close");
    expect(answerDso(request(15, []), { tls: true }).kind).toBe("close");
    const resp = encodeDso({ id: 16, response: true, rcode: 0, tlvs: [] });
    expect(answerDso(resp, { tls: true })).toMatchObject({ kind: "close" });
    expect(answerDso(request(0, [keepaliveTlv({ inactivityMs: 1, keepaliveMs: 1 })]), { tls: true }).kind).toBe(
      "close",
    );
    expect(answerDso(request(0, [{ type: 0xf902, data: Buffer.alloc(0) }]), { tls: true }).kind).toBe("none");
  });

  it("UNSUBSCRIBE (unidirectional) names the subscription to end; a PUSH from a client closes; the keepalive interval is at most an hour", () => {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(0x5151, 0);
    expect(answerDso(request(0, [{ type: DsoType.UNSUBSCRIBE, data: id }]), { tls: true })).toEqual({
      kind: "unsubscribe",
      subscribeId: 0x5151,
    });
    expect(answerDso(request(0, [{ type: DsoType.UNSUBSCRIBE, data: Buffer.alloc(3) }]), { tls: true }).kind).toBe(
      "close",
    );
    expect(answerDso(request(0, [{ type: DsoType.PUSH, data: Buffer.alloc(0) }]), { tls: true }).kind).toBe("close");
    const long = answerDso(request(9, [keepaliveTlv({ inactivityMs: 0, keepaliveMs: 0xffffffff })]), { tls: true });
    expect(long).toMatchObject({ kind: "reply", session: { keepaliveMs: 3_600_000 } });
  });

  it("any bytes: an outcome, never a throw", () => {
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(12 + (i % 40));
      for (let j = 0; j < b.length; j++) b[j] = (i * 7919 + j * 104_729) & 0xff;
      b[2] = (b[2]! & 0x87) | (6 << 3);
      expect(() => answerDso(b, { tls: i % 2 === 0 })).not.toThrow();
    }
  });
});
