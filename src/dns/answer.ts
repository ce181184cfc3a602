/**
 * Responses built once and patched per query (docs/performance.md: encoding per query
 * is what held a dns-packet server to 0.68× dnsmasq).
 *
 * A Template is a whole response for one (scope, name, type) with the name
 * in lower case and ID 0. Per query we copy it, put back the client's ID,
 * RD bit and question bytes (so 0x20 case randomisation survives: the
 * question of a query is never compressed, so its bytes have the template's
 * length), rotate the answer records for round robin, and append an OPT
 * when the client sent one, with the client's DO bit (RFC 3225). An answer
 * over the UDP size keeps the whole answer records that fit, with TC=1 when
 * some had to go (as Docker's msg.Truncate does): busybox nslookup never
 * retries over TCP and still gets addresses.
 */
import { CLASS_IN, FLAG_QR, FLAG_RA, FLAG_TC, HEADER_SIZE, RrType } from '../wire/dns/constants.js';
import { EDNS_DO, messageLayout } from '../wire/dns/layout.js';
import { emptyMessage, encodeMessage } from '../wire/dns/message.js';
import type { QueryInfo } from '../wire/dns/query.js';
import type { Resolution } from './resolver.js';

export interface Template {
  bytes: Buffer;
  /** Start, record size and count of the rotatable answer run (count 0: none). */
  rotStart: number;
  rotSize: number;
  rotCount: number;
  /** Round-robin position. */
  turn: number;
  /** End offset of each answer record (truncation cuts after one of them). */
  answerEnds: Int32Array;
}

/** Size of the OPT record we append: root, type, class, ttl, rdlen. */
export const OPT_SIZE = 11;

/** Builds the template for a resolved answer (kind answer or nodata). */
export function buildTemplate(key: string, qtype: number, qclass: number, res: Resolution): Template {
  const answers = res.kind === 'answer' ? res.answers : [];
  const bytes = encodeMessage({
    ...emptyMessage(),
    qr: true,
    ra: true,
    questions: [{ name: key, type: qtype, class: qclass }],
    answers,
    additionals: res.kind === 'answer' ? res.additionals : [],
  });
  const layout = messageLayout(bytes);
  const tpl: Template = { bytes, rotStart: 0, rotSize: 0, rotCount: 0, turn: 0, answerEnds: Int32Array.from(layout.starts.slice(1, 1 + layout.ancount)) };
  // Fixed-size A/AAAA records owned by the question name (pointer 0xC00C) rotate cheaply.
  const size = qtype === RrType.A ? 16 : qtype === RrType.AAAA ? 28 : 0;
  if (size && answers.length > 1 && answers.every((a) => a.type === qtype && a.name === key)) {
    // A/AAAA answers carry no additionals, so the run ends the message.
    const start = bytes.length - answers.length * size;
    if (bytes[start] === 0xc0 && bytes[start + 1] === 0x0c) {
      tpl.rotStart = start;
      tpl.rotSize = size;
      tpl.rotCount = answers.length;
    }
  }
  return tpl;
}

/**
 * Writes the response for the query at query[qoff..] into out at off;
 * returns its length. `limit` is the most bytes the transport allows (UDP
 * size or 65535); `ednsSize` is what we advertise in our OPT. Allocates
 * nothing.
 */
export function writeFromTemplate(tpl: Template, query: Uint8Array, q: QueryInfo, out: Uint8Array, off: number, limit: number, ednsSize: number, qoff = 0): number {
  const src = tpl.bytes;
  const opt = q.hasEdns ? OPT_SIZE : 0;
  if (src.length + opt > limit) return writeTruncated(tpl, query, qoff, q, out, off, limit, ednsSize);
  out.set(src, off);
  out[off] = query[qoff]!;
  out[off + 1] = query[qoff + 1]!;
  out[off + 2] = src[2]! | (query[qoff + 2]! & 0x01); // RD
  out[off + 3] = src[3]! | (query[qoff + 3]! & 0x10); // CD
  copy(query, qoff + HEADER_SIZE, out, off + HEADER_SIZE, q.nameEnd - HEADER_SIZE);
  if (tpl.rotCount > 1) {
    const k = nextTurn(tpl);
    if (k > 0) {
      const s = tpl.rotStart;
      const cut = s + k * tpl.rotSize;
      const end = s + tpl.rotCount * tpl.rotSize;
      copy(src, cut, out, off + s, end - cut);
      copy(src, s, out, off + s + (end - cut), cut - s);
    }
  }
  let len = src.length;
  if (opt) {
    writeOpt(out, off + len, ednsSize, 0, q.ednsFlags);
    len += OPT_SIZE;
    bumpArcount(out, off);
  }
  return len;
}

function nextTurn(tpl: Template): number {
  const k = tpl.turn++ % tpl.rotCount;
  if (tpl.turn >= 0x3fffffff) tpl.turn = 0;
  return k;
}

/** Byte copy without a subarray view (short runs: names, a few records). */
function copy(from: Uint8Array, at: number, to: Uint8Array, dest: number, n: number): void {
  for (let i = 0; i < n; i++) to[dest + i] = from[at + i]!;
}

/** The answer records that fit in `limit` (rotated like a full answer), no additionals; TC when answers were left out. */
function writeTruncated(tpl: Template, query: Uint8Array, qoff: number, q: QueryInfo, out: Uint8Array, off: number, limit: number, ednsSize: number): number {
  const src = tpl.bytes;
  const qe = q.questionEnd;
  const opt = q.hasEdns ? OPT_SIZE : 0;
  const ends = tpl.answerEnds;
  let n = 0;
  while (n < ends.length && ends[n]! + opt <= limit) n++;
  copy(src, 0, out, off, qe);
  out[off] = query[qoff]!;
  out[off + 1] = query[qoff + 1]!;
  out[off + 2] = src[2]! | (query[qoff + 2]! & 0x01) | (n < ends.length ? FLAG_TC >> 8 : 0);
  out[off + 3] = src[3]! | (query[qoff + 3]! & 0x10); // CD
  copy(query, qoff + HEADER_SIZE, out, off + HEADER_SIZE, q.nameEnd - HEADER_SIZE);
  let len = qe;
  if (n > 0 && tpl.rotCount > 1) {
    // Equal-sized records: the n that fit, starting at this turn's first.
    const k = nextTurn(tpl);
    for (let i = 0; i < n; i++) {
      copy(src, tpl.rotStart + ((k + i) % tpl.rotCount) * tpl.rotSize, out, off + len, tpl.rotSize);
      len += tpl.rotSize;
    }
  } else if (n > 0) {
    copy(src, qe, out, off + qe, ends[n - 1]! - qe);
    len = ends[n - 1]!;
  }
  out[off + 6] = n >> 8;
  out[off + 7] = n & 0xff;
  out.fill(0, off + 8, off + 12);
  if (opt) {
    writeOpt(out, off + len, ednsSize, 0, q.ednsFlags);
    out[off + 11] = 1;
    len += OPT_SIZE;
  }
  return len;
}

/**
 * A forwarded reply bigger than `limit`, cut after the last answer record
 * that fits (authority and additional records go; TC=1 when answers had to
 * go too), with our OPT when the client sent one. A reply that does not lay
 * out gets the question only, TC=1.
 */
export function writeTruncatedReply(reply: Uint8Array, query: Uint8Array, shape: QuestionShape, out: Uint8Array, off: number, limit: number, ednsSize: number): number {
  const opt = shape.hasEdns ? OPT_SIZE : 0;
  let starts: number[];
  let ancount: number;
  let extRcode = 0;
  try {
    const l = messageLayout(reply);
    if (l.questionEnd !== shape.questionEnd) throw new RangeError('question differs');
    starts = l.starts;
    ancount = l.ancount;
    if (l.opt >= 0) extRcode = reply[l.opt + 5]!;
  } catch {
    const len = writeError(query, shape, reply[3]! & 0xf, out, off, ednsSize);
    out[off + 2] = out[off + 2]! | (FLAG_TC >> 8);
    return len;
  }
  let n = 0;
  while (n < ancount && starts[n + 1]! + opt <= limit) n++;
  const end = starts[n]!;
  copy(reply, 0, out, off, end);
  if (n < ancount) out[off + 2] = out[off + 2]! | (FLAG_TC >> 8);
  out[off + 6] = n >> 8;
  out[off + 7] = n & 0xff;
  out.fill(0, off + 8, off + 12);
  let len = end;
  if (opt) {
    writeOpt(out, off + len, ednsSize, extRcode, shape.ednsFlags ?? 0);
    out[off + 11] = 1;
    len += OPT_SIZE;
  }
  return len;
}

function bumpArcount(out: Uint8Array, off: number): void {
  const n = ((out[off + 10]! << 8) | out[off + 11]!) + 1;
  out[off + 10] = n >> 8;
  out[off + 11] = n & 0xff;
}

/** Our OPT record: our UDP size, version 0, the query's DO bit copied (RFC 3225 §3), no options. */
function writeOpt(out: Uint8Array, at: number, udpSize: number, extRcode: number, queryFlags: number): void {
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = RrType.OPT;
  out[at + 3] = udpSize >> 8;
  out[at + 4] = udpSize & 0xff;
  out[at + 5] = extRcode;
  out.fill(0, at + 6, at + 11);
  out[at + 7] = (queryFlags & EDNS_DO) >> 8;
}

/** What writeError needs to know about the query (a QueryInfo, or a saved copy). */
export interface QuestionShape {
  qdcount: number;
  questionEnd: number;
  hasEdns: boolean;
  /** The query's EDNS flags (DO is copied); 0 when absent. */
  ednsFlags?: number;
}

/**
 * An error response (FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS). With
 * `withQuestion` false it is the bare header (FORMERR: never larger than the
 * query, never echoing what we could not parse).
 */
export function writeError(query: Uint8Array, q: QuestionShape | undefined, rcode: number, out: Uint8Array, off: number, ednsSize: number, qoff = 0): number {
  const withQuestion = q !== undefined && q.qdcount === 1 && q.questionEnd > HEADER_SIZE;
  out[off] = query[qoff]!;
  out[off + 1] = query[qoff + 1]!;
  // Keep opcode and RD; set QR and RA.
  out[off + 2] = ((FLAG_QR >> 8) | (query[qoff + 2]! & 0x79)) & 0xff;
  out[off + 3] = (FLAG_RA & 0xff) | (rcode & 0xf);
  out.fill(0, off + 4, off + 12);
  let len = HEADER_SIZE;
  if (withQuestion) {
    copy(query, qoff + HEADER_SIZE, out, off + HEADER_SIZE, q.questionEnd - HEADER_SIZE);
    out[off + 5] = 1;
    len = q.questionEnd;
  }
  if (q?.hasEdns && (withQuestion || rcode > 15)) {
    writeOpt(out, off + len, ednsSize, rcode >> 4, q.ednsFlags ?? 0);
    out[off + 11] = 1;
    len += OPT_SIZE;
  }
  return len;
}

export { CLASS_IN };
