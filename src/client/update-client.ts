// Sending DNS UPDATEs: sign with TSIG, send over UDP (TCP when asked or when
// the update is large), check the signed reply, report rcode and lease.
import { randomInt } from "node:crypto";
import { rcodeName } from "../wire/constants.js";
import { decodeMessage } from "../wire/decode.js";
import { signRequest, verifyReply, type TsigKey } from "../wire/tsig.js";
import { encodeUpdate, UPDATE_LEASE_OPTION, type Prerequisite, type UpdateOp } from "../wire/update.js";
import type { Labels } from "../names.js";
import { exchange, type Server } from "./dns-client.js";

export interface UpdateResult {
  rcode: string;
  /** Lease the server granted, seconds (when one was asked for). */
  lease?: number;
}

export class UpdateError extends Error {
  constructor(
    readonly rcode: string,
    message: string,
  ) {
    super(message);
    this.name = "UpdateError";
  }
}

export interface SendOptions {
  key?: TsigKey;
  tcp?: boolean;
  timeoutMs?: number;
  lease?: number;
  prerequisites?: Prerequisite[];
  /** Clock for TSIG, ms since the epoch (tests move it). */
  now?: () => number;
}

/** Send one UPDATE; resolves with the server's answer, or rejects when the reply cannot be trusted. */
export async function sendUpdate(
  server: Server,
  zone: Labels,
  updates: UpdateOp[],
  options: SendOptions = {},
): Promise<UpdateResult> {
  const msg = encodeUpdate({
    id: randomInt(0, 65536),
    zone,
    updates,
    ...(options.prerequisites ? { prerequisites: options.prerequisites } : {}),
    ...(options.lease !== undefined ? { lease: { lease: options.lease } } : {}),
  });
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const signed = options.key ? signRequest(msg, options.key, now) : undefined;
  const wire = signed?.signed ?? msg;
  const tcp = options.tcp ?? wire.length > 512;
  const replyWire = await exchange(server, wire, {
    tcp,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  const reply = decodeMessage(replyWire);
  if (options.key && signed) {
    const tsigRec = reply.tsig;
    if (tsigRec && tsigRec.error !== 0)
      throw new UpdateError(
        "NOTAUTH",
        `server rejected the signature: TSIG error ${tsigRec.error === 16 ? "BADSIG" : tsigRec.error === 17 ? "BADKEY" : tsigRec.error === 18 ? "BADTIME" : tsigRec.error}`,
      );
    if (!tsigRec || !verifyReply(replyWire, tsigRec, options.key, signed.mac))
      throw new UpdateError(reply.rcodeName, "the reply is not signed with our key");
  }
  const ulOption = reply.edns?.options.find((o) => o.code === UPDATE_LEASE_OPTION);
  const ul = ulOption && ulOption.data.length >= 4 ? Buffer.from(ulOption.data).readUInt32BE(0) : undefined;
  return { rcode: rcodeName(reply.rcode), ...(ul !== undefined ? { lease: ul } : {}) };
}
