/**
 * The server's fast path over an incoming query: reads the header, the one
 * question and the OPT record into a reusable QueryInfo without building a
 * message object. Same safety rules as decodeMessage (name.ts pointers,
 * bounds); the acceptance policy (miekg's MsgAcceptFunc) is separate, in
 * `acceptQuery`, so callers see why a query is refused.
 */
import { FLAG_QR, HEADER_SIZE, RR_FIXED, Rcode, RrType } from './constants.js';
import { DnsDecodeError } from './errors.js';
import { readName, skipName, type Cursor } from './name.js';

export class QueryInfo {
  id = 0;
  flags = 0;
  qdcount = 0;
  ancount = 0;
  nscount = 0;
  arcount = 0;
  /** Lower-cased text name of the question (a lookup key). */
  key = '';
  /** Offset just past the question name (question name starts at 12). */
  nameEnd = 0;
  /** Offset just past the question (type and class). */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Number of labels in the question name. */
  labels = 0;
  hasEdns = false;
  udpSize = 0;
  ednsVersion = 0;
  ednsFlags = 0;

  get opcode(): number {
    return (this.flags >> 11) & 0xf;
  }

  get isResponse(): boolean {
    return (this.flags & FLAG_QR) !== 0;
  }
}

const cursor: Cursor = { pos: 0 };

/**
 * Parses buf[off, off+len). The header must already be known to be 12 bytes
 * or more. Throws DnsDecodeError (positions relative to off) on malformed
 * input; counts are not judged here (see acceptQuery).
 */
export function parseQuery(buf: Uint8Array, len: number, q: QueryInfo): void {
  if (len < HEADER_SIZE) throw new DnsDecodeError('EDNS_SHORT', 'message shorter than a header', 0);
  q.id = (buf[0]! << 8) | buf[1]!;
  q.flags = (buf[2]! << 8) | buf[3]!;
  q.qdcount = (buf[4]! << 8) | buf[5]!;
  q.ancount = (buf[6]! << 8) | buf[7]!;
  q.nscount = (buf[8]! << 8) | buf[9]!;
  q.arcount = (buf[10]! << 8) | buf[11]!;
  q.hasEdns = false;
  q.udpSize = 0;
  q.ednsVersion = 0;
  q.ednsFlags = 0;
  q.key = '';
  q.labels = 0;
  if (q.qdcount !== 1) return;
  cursor.pos = HEADER_SIZE;
  q.key = readName(buf, len, cursor, true);
  q.nameEnd = cursor.pos;
  if (cursor.pos + 4 > len) throw new DnsDecodeError('EDNS_SHORT', 'question runs past the end', cursor.pos);
  q.qtype = (buf[cursor.pos]! << 8) | buf[cursor.pos + 1]!;
  q.qclass = (buf[cursor.pos + 2]! << 8) | buf[cursor.pos + 3]!;
  cursor.pos += 4;
  q.questionEnd = cursor.pos;
  q.labels = countLabels(buf, HEADER_SIZE);
  // Only small counts reach here in practice (acceptQuery caps them), but the
  // walk is bounded by the buffer anyway.
  const records = q.ancount + q.nscount + q.arcount;
  for (let i = 0; i < records; i++) {
    const start = cursor.pos;
    skipName(buf, len, cursor);
    const p = cursor.pos;
    if (p + RR_FIXED > len) throw new DnsDecodeError('EDNS_SHORT', 'record runs past the end', p);
    const type = (buf[p]! << 8) | buf[p + 1]!;
    const rdlen = (buf[p + 8]! << 8) | buf[p + 9]!;
    if (p + RR_FIXED + rdlen > len) throw new DnsDecodeError('EDNS_SHORT', 'rdata runs past the end', p);
    cursor.pos = p + RR_FIXED + rdlen;
    if (type !== RrType.OPT) continue;
    if (i < q.ancount + q.nscount) throw new DnsDecodeError('EDNS_OPT', 'OPT record outside the additional section', start);
    if (q.hasEdns) throw new DnsDecodeError('EDNS_OPT', 'second OPT record', start);
    if (p !== start + 1) throw new DnsDecodeError('EDNS_OPT', 'OPT owner name is not the root', start);
    q.hasEdns = true;
    q.udpSize = (buf[p + 2]! << 8) | buf[p + 3]!;
    q.ednsVersion = buf[p + 5]!;
    q.ednsFlags = (buf[p + 6]! << 8) | buf[p + 7]!;
  }
}

/** Labels of an uncompressed name starting at off (the question's, already validated). */
function countLabels(buf: Uint8Array, off: number): number {
  let n = 0;
  for (let p = off; buf[p] !== 0 && (buf[p]! & 0xc0) === 0; p += buf[p]! + 1) n++;
  return n;
}

/** What to do with a query before looking it up (miekg's accept func, reliability D2-D4, D9). */
export const Accept = {
  OK: 0,
  /** Say nothing (responses sent to us: avoids ping-pong loops). */
  IGNORE: 1,
  FORMERR: 2,
  NOTIMP: 3,
  BADVERS: 4,
} as const;
export type AcceptResult = (typeof Accept)[keyof typeof Accept];

/** Judges the header and OPT of a parsed query. */
export function acceptQuery(q: QueryInfo): AcceptResult {
  if (q.isResponse) return Accept.IGNORE;
  if (q.opcode !== 0) return Accept.NOTIMP;
  if (q.qdcount !== 1 || q.ancount > 1 || q.nscount > 1 || q.arcount > 2) return Accept.FORMERR;
  if (q.hasEdns && q.ednsVersion !== 0) return Accept.BADVERS;
  return Accept.OK;
}

/** The UDP payload limit a query allows (512 without EDNS; EDNS sizes below 512 count as 512). */
export function udpLimit(q: QueryInfo, serverMax: number): number {
  const asked = q.hasEdns ? Math.max(512, q.udpSize) : 512;
  return Math.min(asked, serverMax);
}

export { Rcode };
