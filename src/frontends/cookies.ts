// DNS Cookies (RFC 7873): a client sends its 8-byte client cookie, we answer
// with it and a server cookie bound to the client's address; a client that
// comes back with a server cookie we made has shown it receives our replies at
// that address, so it is not spoofed (RRL lets it through). The server cookie
// has RFC 9018's layout (version 1, reserved, timestamp, 8-byte hash); the
// hash is HMAC-SHA-256 under a secret the daemon's processes share, not
// SipHash, so only ringdns processes of one daemon verify each other's.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { EdnsOption } from "../wire/message.js";

export const COOKIE_OPTION = 10;
/** A server cookie older than this is not accepted (a fresh one is sent). */
const MAX_AGE_SECONDS = 3600;
/** Nor one from further in the future than clock skew explains. */
const MAX_SKEW_SECONDS = 300;

export type ClientCookie =
  | { kind: "none" }
  | { kind: "malformed"; length: number }
  | { kind: "cookie"; client: Buffer; server?: Buffer };

/** The COOKIE option of a request: none, malformed (FORMERR, §5.2.2), or client and maybe server cookie. */
export function readCookie(options: readonly EdnsOption[] | undefined): ClientCookie {
  const o = options?.find((x) => x.code === COOKIE_OPTION);
  if (!o) return { kind: "none" };
  const len = o.data.length;
  if (len !== 8 && (len < 16 || len > 40)) return { kind: "malformed", length: len };
  const data = Buffer.from(o.data);
  return len === 8
    ? { kind: "cookie", client: data }
    : { kind: "cookie", client: data.subarray(0, 8), server: data.subarray(8) };
}

export class CookieJar {
  constructor(readonly secret: Buffer = randomBytes(32)) {}

  private hash(client: Buffer, head: Buffer, address: string): Buffer {
    return createHmac("sha256", this.secret).update(client).update(head).update(address).digest().subarray(0, 8);
  }

  /** A fresh server cookie for this client cookie and address. */
  serverCookie(client: Buffer, address: string, nowSeconds: number): Buffer {
    const head = Buffer.alloc(8);
    head[0] = 1; // version
    head.writeUInt32BE(nowSeconds >>> 0, 4);
    return Buffer.concat([head, this.hash(client, head, address)]);
  }

  /** Did we make `server` for this client cookie and address, recently? */
  verify(client: Buffer, server: Buffer, address: string, nowSeconds: number): boolean {
    if (server.length !== 16 || server[0] !== 1) return false;
    const age = nowSeconds - server.readUInt32BE(4);
    if (age > MAX_AGE_SECONDS || age < -MAX_SKEW_SECONDS) return false;
    return timingSafeEqual(this.hash(client, server.subarray(0, 8), address), server.subarray(8));
  }
}

/** Bytes a COOKIE option with a 16-byte server cookie adds to a reply. */
export const COOKIE_REPLY_BYTES = 4 + 8 + 16;
