// The ring's hash functions, specified in docs/hash.md so clients in any
// language compute the same owners: SHA-256 seeds (its first two 32-bit words)
// and the sequence of 32-bit positions each seed starts.
import { hash } from "node:crypto";

/** The first 8 bytes of a SHA-256 digest, as two big-endian 32-bit words. */
export interface Seed {
  hi: number; // bytes 0..4
  lo: number; // bytes 4..8
}

const utf8 = new TextEncoder();

export function sha256(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer");
}

/** The seed of a key's probes: the first 8 bytes of SHA-256(key). */
export function keySeed(key: Uint8Array | string): Seed {
  const n = typeof key === "string" ? stringIntoBlock(key) : bytesIntoBlock(key);
  if (n >= 0) return compressOneBlock(n);
  const d = sha256(typeof key === "string" ? utf8.encode(key) : key);
  return { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) };
}

/** SHA-256 of a message of at most 55 bytes (one block): the first 8 bytes of the digest. */
export function sha256OneBlockFirst8(msg: Uint8Array): Seed {
  const n = bytesIntoBlock(msg);
  if (n < 0) throw new RangeError("more than one block");
  return compressOneBlock(n);
}

// SHA-256 (FIPS 180-4) of a message that fits one block, computed here: for the
// short keys of _hash queries this is several times faster than a call into
// node:crypto, whose per-call cost dominates, and the key is written straight
// into the block (no encoding allocation). Same function, so positions do not
// change; the test vectors and a property test against node:crypto keep it so.
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Int32Array(64);
const block = new Uint8Array(64);
const blockWords = new DataView(block.buffer);
const MAX_ONE_BLOCK = 55;

/** The key's UTF-8 bytes into `block`: their count, or -1 when they do not fit one block. */
function stringIntoBlock(key: string): number {
  const n = key.length;
  if (n > MAX_ONE_BLOCK) return -1;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) {
      const r = utf8.encodeInto(key, block.subarray(0, MAX_ONE_BLOCK + 1));
      return r.read === n && r.written <= MAX_ONE_BLOCK ? r.written : -1;
    }
    block[i] = c;
  }
  return n;
}

function bytesIntoBlock(msg: Uint8Array): number {
  if (msg.length > MAX_ONE_BLOCK) return -1;
  block.set(msg);
  return msg.length;
}

/** Pad the `n` message bytes in `block` and compress them. */
function compressOneBlock(n: number): Seed {
  block.fill(0, n);
  block[n] = 0x80;
  block[62] = (n * 8) >>> 8;
  block[63] = (n * 8) & 0xff;
  for (let i = 0; i < 16; i++) W[i] = blockWords.getInt32(i * 4);
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = 0x6a09e667 | 0, b = 0xbb67ae85 | 0, c = 0x3c6ef372 | 0, d = 0xa54ff53a | 0;
  let e = 0x510e527f | 0, f = 0x9b05688c | 0, g = 0x1f83d9ab | 0, h = 0x5be0cd19 | 0;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + (g ^ (e & (f ^ g))) + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  return { hi: (0x6a09e667 + a) >>> 0, lo: (0xbb67ae85 + b) >>> 0 };
}

/** Identity bytes of an instance on the ring: its instance label, ASCII lower-cased, UTF-8. */
export function identityBytes(identity: string): Uint8Array {
  return utf8.encode(identity);
}

/** The MurmurHash3 32-bit finalizer: a bijection on 32-bit integers with full avalanche. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Position j of the sequence a digest starts (docs/hash.md): mix(a + j × b), b = digest word 1 made odd. */
export function sequenceAt(seed: Seed, j: number): number {
  return mix32((seed.hi + Math.imul(j, seed.lo | 1)) | 0);
}

/** The seed an instance's points come from: the first 8 bytes of SHA-256(identity ‖ 0x00). */
export function instanceSeed(identity: string): Seed {
  const id = identityBytes(identity);
  const input = new Uint8Array(id.length + 1);
  input.set(id, 0);
  if (input.length <= MAX_ONE_BLOCK) return sha256OneBlockFirst8(input);
  const d = sha256(input);
  return { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) };
}

export function hex32(x: number): string {
  return x.toString(16).padStart(8, "0");
}
