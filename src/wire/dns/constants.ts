/**
 * DNS wire constants (RFC 1035, 3596, 2782, 6891) and the codec's limits,
 * each with where its number comes from.
 */

export const HEADER_SIZE = 12;

/** RR types the codec decodes into fields; anything else stays raw rdata. */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (needs OPT): 16 = BADVERS. */
  BADVERS: 16,
} as const;

export const OPCODE_QUERY = 0;

/** Header flag bits (second 16-bit word). */
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;

/** RFC 1035 §2.3.4: a label is at most 63 octets. */
export const MAX_LABEL = 63;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire, length bytes and root included. */
export const MAX_NAME_WIRE = 255;
/** The classic UDP payload limit without EDNS (RFC 1035 §4.2.1). */
export const UDP_LIMIT_PLAIN = 512;
/** Largest DNS message (TCP length prefix is 16 bits). */
export const MAX_MESSAGE = 65535;
/** Fixed part of an RR after its owner name: type, class, ttl, rdlength. */
export const RR_FIXED = 10;
/** Smallest possible RR: root owner (1 octet) + fixed part. Bounds honest counts. */
export const MIN_RR = 11;
/** Smallest question: root name + type + class. */
export const MIN_QUESTION = 5;
