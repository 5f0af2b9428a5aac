// Reading and changing an encoded message in place: what the hot path and the
// answer cache do to bytes, checked against the decoder.
import { describe, expect, it } from "vitest";
import { Opcode, Rcode, Type } from "../../src/wire/constants.js";
import { decodeMessage } from "../../src/wire/decode.js";
import { encodeQuery, encodeResponse } from "../../src/wire/message.js";
import { encodeUpdate } from "../../src/wire/update.js";
import { isTruncated, isUpdateRequest, messageId, replyRcode, withRequestHeader } from "../../src/wire/patch.js";

const reply = (rcode: number, tc = false) => {
  const wire = encodeResponse({
    id: 99,
    opcode: Opcode.QUERY,
    aa: true,
    rd: false,
    cd: false,
    rcode,
    question: { name: ["a", "local"], type: Type.A, class: 1 },
    answers: [],
    authorities: [],
    additionals: [],
  });
  if (tc) wire[2]! |= 0x02;
  return wire;
};

describe("wire/patch", () => {
  it("tells an UPDATE request from a query and from a reply to an UPDATE", () => {
    const update = encodeUpdate({ id: 5, zone: ["local"], updates: [] });
    expect(isUpdateRequest(update)).toBe(true);
    expect(isUpdateRequest(encodeQuery(5, ["a", "local"], Type.A))).toBe(false);
    const answered = Buffer.from(update);
    answered[2]! |= 0x80;
    expect(isUpdateRequest(answered)).toBe(false);
    expect(isUpdateRequest(Buffer.alloc(11))).toBe(false);
  });

  it("reads the ID, the rcode and TC as the decoder does", () => {
    for (const rcode of [Rcode.NOERROR, Rcode.NXDOMAIN, Rcode.REFUSED])
      expect(replyRcode(reply(rcode))).toBe(decodeMessage(reply(rcode)).rcode);
    expect(messageId(reply(0))).toBe(99);
    expect(isTruncated(reply(0, true))).toBe(true);
    expect(isTruncated(reply(0))).toBe(false);
    expect(replyRcode(Buffer.alloc(4))).toBeUndefined();
  });

  it("gives a cached reply a new request's ID, RD and CD, and touches nothing else", () => {
    const wire = reply(Rcode.NXDOMAIN);
    const out = withRequestHeader(wire, 0xbeef, true, true);
    const d = decodeMessage(out);
    expect([d.id, d.flags.rd, d.rcodeName]).toEqual([0xbeef, true, "NXDOMAIN"]);
    expect(out[3]! & 0x10).toBe(0x10); // CD
    expect(out.subarray(4)).toEqual(wire.subarray(4));
    expect(wire.readUInt16BE(0)).toBe(99); // a copy: the cached bytes stay as they were
  });
});
