// Registrations as the registry keeps them, in fewer bytes: at 100,000 every
// small object counts (a V8 object is 24 B and more, an ArrayBuffer of its
// own ~90 B). What many registrations share (the type, the owner, the domain,
// the writer, an empty list) is one object for all of them, and TXT strings
// are views into shared slabs of bytes. The values are the same: only where
// they live changes.
import { formatServiceType, type ServiceType } from "../names.js";
import type { Host, Instance, Owner, Source } from "./types.js";

/** Distinct values kept per table: past it the table starts over (an intern table is a saving, never a leak). */
const INTERN_LIMIT = 10_000;

class Interned<T> {
  private readonly table = new Map<string, T>();
  get(key: string, value: T): T {
    const known = this.table.get(key);
    if (known !== undefined) return known;
    if (this.table.size >= INTERN_LIMIT) this.table.clear();
    this.table.set(key, value);
    return value;
  }
}

const types = new Interned<ServiceType>();
const owners = new Interned<Owner>();
const names = new Interned<string>();

const NO_STRINGS: readonly string[] = Object.freeze([]);
const NO_TXT: readonly Uint8Array[] = Object.freeze([]);
const SOURCES: Record<Source, Source> = {
  static: "static",
  update: "update",
  srp: "srp",
  mdns: "mdns",
  cluster: "cluster",
};

export function sharedType(t: ServiceType): ServiceType {
  return types.get(formatServiceType(t), t);
}

function sharedOwner(o: Owner): Owner {
  return owners.get(o.kind === "key" ? `key:${o.name}` : o.kind === "srp" ? `srp:${o.key}` : o.kind, o);
}

// ---- TXT bytes: copied into slabs of 8 KiB, each string a view (96 B) instead of a buffer of its own (~200 B)
const SLAB = 8192;
/** Longer strings get a buffer of their own: a slab is for the many small ones. */
const OWN_BUFFER_FROM = 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;
/** The slabs' buffers and the big strings' own: bytes already in one are not copied again. */
const keptBuffers = new WeakSet<ArrayBufferLike>([slab.buffer]);

function keptBytes(t: Uint8Array): Uint8Array {
  if (keptBuffers.has(t.buffer)) return t;
  if (t.length >= OWN_BUFFER_FROM) {
    const own = new Uint8Array(t);
    keptBuffers.add(own.buffer);
    return own;
  }
  if (slabUsed + t.length > SLAB) {
    slab = new Uint8Array(SLAB);
    keptBuffers.add(slab.buffer);
    slabUsed = 0;
  }
  const view = slab.subarray(slabUsed, slabUsed + t.length);
  view.set(t);
  slabUsed += t.length;
  return view;
}

function keptTxt(txt: readonly Uint8Array[]): readonly Uint8Array[] {
  if (txt.length === 0) return NO_TXT;
  return txt.every((t) => keptBuffers.has(t.buffer)) ? txt : txt.map(keptBytes);
}

/** `i` as the registry keeps it: `i` itself when it is kept so already. */
export function compactInstance(i: Instance): Instance {
  const type = sharedType(i.type);
  const subtypes = i.subtypes.length === 0 ? NO_STRINGS : i.subtypes;
  const txt = keptTxt(i.txt);
  const source = SOURCES[i.source] ?? i.source;
  const owner = i.owner && sharedOwner(i.owner);
  const domain = i.domain === undefined ? undefined : names.get(i.domain, i.domain);
  const writer = i.writer === undefined ? undefined : names.get(i.writer, i.writer);
  if (
    type === i.type &&
    subtypes === i.subtypes &&
    txt === i.txt &&
    source === i.source &&
    owner === i.owner &&
    domain === i.domain &&
    writer === i.writer
  )
    return i;
  return {
    ...i,
    type,
    subtypes,
    txt,
    source,
    ...(owner !== undefined ? { owner } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(writer !== undefined ? { writer } : {}),
  };
}

/** `h` as the registry keeps it: `h` itself when it is kept so already. */
export function compactHost(h: Host): Host {
  const source = SOURCES[h.source] ?? h.source;
  const owner = h.owner && sharedOwner(h.owner);
  const domain = h.domain === undefined ? undefined : names.get(h.domain, h.domain);
  const writer = h.writer === undefined ? undefined : names.get(h.writer, h.writer);
  if (source === h.source && owner === h.owner && domain === h.domain && writer === h.writer) return h;
  return {
    ...h,
    source,
    ...(owner !== undefined ? { owner } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(writer !== undefined ? { writer } : {}),
  };
}
