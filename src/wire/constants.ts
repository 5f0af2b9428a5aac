// Numbers from the IANA DNS registries that ringdns uses.
export const Type = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  TXT: 16,
  SIG: 24,
  KEY: 25,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  NSEC: 47,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const Class = { IN: 1, CH: 3, NONE: 254, ANY: 255 } as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16, // extended: needs EDNS
} as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(Type).map(([k, v]) => [v, k]));
const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}

/** Without EDNS a UDP message is at most 512 bytes (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
/** Largest UDP payload we send whatever the client offers (DNS flag day 2020 default). */
export const MAX_UDP_PAYLOAD = 1232;
