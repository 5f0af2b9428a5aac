// Sending DNS UPDATEs: sign with TSIG (or SIG(0), as an SRP client), send over
// UDP (TCP when asked or when the update is large), check the signed reply,
// report rcode and leases.
import { randomInt } from "node:crypto";
import { rcodeName } from "../wire/constants.js";
import { decodeMessage } from "../wire/decode.js";
import { signSig0, type Sig0Signer } from "../wire/sig0.js";
import { signRequest, verifyReply, type TsigKey } from "../wire/tsig.js";
import { encodeUpdate, UPDATE_LEASE_OPTION, type Prerequisite, type UpdateOp } from "../wire/update.js";
import type { Labels } from "../names.js";
import { exchange, type Server } from "./dns-client.js";

export interface UpdateResult {
  rcode: string;
  /** Lease the server granted, seconds (when one was asked for). */
  lease?: number;
  /** KEY-LEASE the server granted (SRP), seconds. */
  keyLease?: number;
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
  /** Sign with SIG(0) instead (RFC 2931; SRP clients, RFC 9665). */
  sig0?: Sig0Signer;
  /** KEY-LEASE to ask for with `lease` (SRP). */
  keyLease?: number;
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
    ...(options.lease !== undefined
      ? { lease: { lease: options.lease, ...(options.keyLease !== undefined ? { keyLease: options.keyLease } : {}) } }
      : {}),
  });
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const signed = options.key ? signRequest(msg, options.key, now) : undefined;
  // an SRP server checks the SIG(0) by the KEY in the update itself; its reply is not signed (RFC 9665 §5.1)
  const wire = signed?.signed ?? (options.sig0 ? signSig0(msg, options.sig0, now) : msg);
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
  const data = ulOption ? Buffer.from(ulOption.data) : Buffer.alloc(0);
  return {
    rcode: rcodeName(reply.rcode),
    ...(data.length >= 4 ? { lease: data.readUInt32BE(0) } : {}),
    ...(data.length >= 8 ? { keyLease: data.readUInt32BE(4) } : {}),
  };
}
