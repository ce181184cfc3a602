/**
 * The server's fast path over an incoming query: reads the header, the one
 * question and the OPT record into a reusable QueryInfo without building a
 * message object. Same safety rules as decodeMessage (name.ts pointers,
 * bounds); the acceptance policy (miekg's MsgAcceptFunc) is separate, in
 * `acceptQuery`, so callers see why a query is refused.
 */
import { FLAG_QR, HEADER_SIZE, MAX_NAME_WIRE, RR_FIXED, Rcode, RrType } from './constants.js';
import { DnsDecodeError } from '../../errors.js';
import { readName, skipName, type Cursor } from './name.js';

export class QueryInfo {
  id = 0;
  flags = 0;
  qdcount = 0;
  ancount = 0;
  nscount = 0;
  arcount = 0;
  /** Offset just past the question name (the name starts at 12); message-relative. */
  nameEnd = 0;
  /** Offset just past the question (type and class); message-relative. */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Number of labels in the question name. */
  labels = 0;
  /** FNV-1a over the question name's wire bytes, ASCII lower-cased: a lookup hash built without a string. */
  nameHash = 0;
  hasEdns = false;
  udpSize = 0;
  ednsVersion = 0;
  ednsFlags = 0;
  #buf: Uint8Array | undefined;
  #off = 0;
  #key: string | undefined;

  get opcode(): number {
    return (this.flags >> 11) & 0xf;
  }

  get isResponse(): boolean {
    return (this.flags & FLAG_QR) !== 0;
  }

  /**
   * Lower-cased text name of the question, built on first use (the hot path
   * looks up by nameHash and bytes instead). Reads the parsed buffer, so
   * ask before that buffer is reused.
   */
  get key(): string {
    if (this.#key === undefined) {
      const buf = this.#buf;
      if (buf === undefined || this.qdcount !== 1 || this.nameEnd <= HEADER_SIZE) this.#key = '';
      else {
        cursor.pos = this.#off + HEADER_SIZE;
        // Pointer-free (checked by parseQuery), so no base is needed.
        this.#key = readName(buf, this.#off + this.nameEnd, cursor, true);
      }
    }
    return this.#key;
  }

  /** @internal */
  bind(buf: Uint8Array, off: number): void {
    this.#buf = buf;
    this.#off = off;
    this.#key = undefined;
  }
}

const cursor: Cursor = { pos: 0 };
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * Parses the message at buf[off, off+len) without allocating. The header
 * must already be known to be 12 bytes or more. Throws DnsDecodeError
 * (offsets relative to off) on malformed input; counts are not judged here
 * (see acceptQuery). Offsets stored in q are relative to off.
 */
export function parseQuery(buf: Uint8Array, len: number, q: QueryInfo, off = 0): void {
  if (len < HEADER_SIZE) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'message shorter than a header', 0);
  const end = Math.min(off + len, buf.length);
  q.id = (buf[off]! << 8) | buf[off + 1]!;
  q.flags = (buf[off + 2]! << 8) | buf[off + 3]!;
  q.qdcount = (buf[off + 4]! << 8) | buf[off + 5]!;
  q.ancount = (buf[off + 6]! << 8) | buf[off + 7]!;
  q.nscount = (buf[off + 8]! << 8) | buf[off + 9]!;
  q.arcount = (buf[off + 10]! << 8) | buf[off + 11]!;
  q.hasEdns = false;
  q.udpSize = 0;
  q.ednsVersion = 0;
  q.ednsFlags = 0;
  q.labels = 0;
  q.nameHash = 0;
  q.nameEnd = HEADER_SIZE;
  q.questionEnd = HEADER_SIZE;
  q.bind(buf, off);
  if (q.qdcount !== 1) return;
  // The question comes first, so a compression pointer in its name could
  // only point into the header or forwards: always invalid (RFC 9267 §2).
  let p = off + HEADER_SIZE;
  let h = FNV_OFFSET;
  let wire = 1;
  let labels = 0;
  for (;;) {
    if (p >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'name runs past the end', p - off);
    const l = buf[p]!;
    if (l === 0) {
      p++;
      break;
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'pointer runs past the end', p - off);
      const target = ((l & 0x3f) << 8) | buf[p + 1]!;
      throw new DnsDecodeError('ERR_WEFT_DNS_POINTER', `compression pointer to ${target} is not strictly backwards`, p - off);
    }
    if (kind !== 0) throw new DnsDecodeError('ERR_WEFT_DNS_LABEL', `reserved label type 0x${kind.toString(16)}`, p - off);
    wire += l + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsDecodeError('ERR_WEFT_DNS_NAME_LONG', 'name longer than 255 octets', p - off);
    if (p + 1 + l > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'label runs past the end', p - off);
    h = Math.imul(h ^ l, FNV_PRIME);
    for (let i = p + 1, stop = p + 1 + l; i < stop; i++) {
      let c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    p += 1 + l;
    labels++;
  }
  q.nameHash = h;
  q.labels = labels;
  q.nameEnd = p - off;
  if (p + 4 > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'question runs past the end', p - off);
  q.qtype = (buf[p]! << 8) | buf[p + 1]!;
  q.qclass = (buf[p + 2]! << 8) | buf[p + 3]!;
  p += 4;
  q.questionEnd = p - off;
  cursor.pos = p;
  // Only small counts reach here in practice (acceptQuery caps them), but the
  // walk is bounded by the buffer anyway.
  const records = q.ancount + q.nscount + q.arcount;
  for (let i = 0; i < records; i++) {
    const start = cursor.pos;
    skipName(buf, end, cursor, off);
    const r = cursor.pos;
    if (r + RR_FIXED > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'record runs past the end', r - off);
    const type = (buf[r]! << 8) | buf[r + 1]!;
    const rdlen = (buf[r + 8]! << 8) | buf[r + 9]!;
    if (r + RR_FIXED + rdlen > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'rdata runs past the end', r - off);
    cursor.pos = r + RR_FIXED + rdlen;
    if (type !== RrType.OPT) continue;
    if (i < q.ancount + q.nscount) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'OPT record outside the additional section', start - off);
    if (q.hasEdns) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'second OPT record', start - off);
    if (r !== start + 1) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'OPT owner name is not the root', start - off);
    q.hasEdns = true;
    q.udpSize = (buf[r + 2]! << 8) | buf[r + 3]!;
    q.ednsVersion = buf[r + 5]!;
    q.ednsFlags = (buf[r + 6]! << 8) | buf[r + 7]!;
  }
}

/** Whether the question name at buf[at, at+len) equals `lower` (already lower-cased wire bytes), ignoring ASCII case. */
export function sameNameBytes(buf: Uint8Array, at: number, lower: Uint8Array): boolean {
  const n = lower.length;
  for (let i = 0; i < n; i++) {
    let c = buf[at + i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

/** A lower-cased copy of the wire name at buf[at, at+len) (allocates; for cache inserts). */
export function lowerNameBytes(buf: Uint8Array, at: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const c = buf[at + i]!;
    out[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  return out;
}

/** What to do with a query before looking it up (miekg's accept func, docs/reliability.md D2-D4, D9). */
export const Accept = {
  OK: 0,
  /** Say nothing (responses sent to us: avoids ping-pong loops). */
  IGNORE: 1,
  FORMERR: 2,
  NOTIMP: 3,
  BADVERS: 4,
  /** Zone transfers: weft serves no zone (docs/reliability.md D19). */
  REFUSED: 5,
} as const;

/** RFC 1995 / RFC 5936 query types. */
const IXFR = 251;
const AXFR = 252;
export type AcceptResult = (typeof Accept)[keyof typeof Accept];

/** Judges the header and OPT of a parsed query. */
export function acceptQuery(q: QueryInfo): AcceptResult {
  if (q.isResponse) return Accept.IGNORE;
  if (q.opcode !== 0) return Accept.NOTIMP;
  if (q.qdcount !== 1 || q.ancount > 1 || q.nscount > 1 || q.arcount > 2) return Accept.FORMERR;
  if (q.hasEdns && q.ednsVersion !== 0) return Accept.BADVERS;
  if (q.qtype === AXFR || q.qtype === IXFR) return Accept.REFUSED;
  return Accept.OK;
}

/** The UDP payload limit a query allows (512 without EDNS; EDNS sizes below 512 count as 512). */
export function udpLimit(q: QueryInfo, serverMax: number): number {
  const asked = q.hasEdns ? Math.max(512, q.udpSize) : 512;
  return Math.min(asked, serverMax);
}

export { Rcode };
