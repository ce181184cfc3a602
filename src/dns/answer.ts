/**
 * Responses built once and patched per query (docs/performance.md: encoding per query
 * is what held a dns-packet server to 0.68× dnsmasq).
 *
 * A Template is a whole response for one (scope, name, type) with the name
 * in lower case and ID 0. Per query we copy it, put back the client's ID,
 * RD bit and question bytes (so 0x20 case randomisation survives: the
 * question of a query is never compressed, so its bytes have the template's
 * length), rotate the answer records for round robin, and append an OPT
 * when the client sent one. Oversized UDP answers become TC=1 with the
 * question only.
 */
import { CLASS_IN, FLAG_QR, FLAG_RA, FLAG_TC, HEADER_SIZE, RrType } from '../wire/dns/constants.js';
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
  const tpl: Template = { bytes, rotStart: 0, rotSize: 0, rotCount: 0, turn: 0 };
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
  if (src.length + opt > limit) return writeTruncated(src, query, qoff, q, out, off, ednsSize);
  out.set(src, off);
  out[off] = query[qoff]!;
  out[off + 1] = query[qoff + 1]!;
  out[off + 2] = src[2]! | (query[qoff + 2]! & 0x01); // RD
  out[off + 3] = src[3]! | (query[qoff + 3]! & 0x10); // CD
  copy(query, qoff + HEADER_SIZE, out, off + HEADER_SIZE, q.nameEnd - HEADER_SIZE);
  if (tpl.rotCount > 1) {
    const k = tpl.turn++ % tpl.rotCount;
    if (tpl.turn >= 0x3fffffff) tpl.turn = 0;
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
    writeOpt(out, off + len, ednsSize, 0);
    len += OPT_SIZE;
    bumpArcount(out, off);
  }
  return len;
}

/** Byte copy without a subarray view (short runs: names, a few records). */
function copy(from: Uint8Array, at: number, to: Uint8Array, dest: number, n: number): void {
  for (let i = 0; i < n; i++) to[dest + i] = from[at + i]!;
}

function writeTruncated(src: Buffer, query: Uint8Array, qoff: number, q: QueryInfo, out: Uint8Array, off: number, ednsSize: number): number {
  copy(src, 0, out, off, q.questionEnd);
  out[off] = query[qoff]!;
  out[off + 1] = query[qoff + 1]!;
  out[off + 2] = src[2]! | (query[qoff + 2]! & 0x01) | (FLAG_TC >> 8);
  copy(query, qoff + HEADER_SIZE, out, off + HEADER_SIZE, q.nameEnd - HEADER_SIZE);
  out.fill(0, off + 6, off + 12);
  let len = q.questionEnd;
  if (q.hasEdns) {
    writeOpt(out, off + len, ednsSize, 0);
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

function writeOpt(out: Uint8Array, at: number, udpSize: number, extRcode: number): void {
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = RrType.OPT;
  out[at + 3] = udpSize >> 8;
  out[at + 4] = udpSize & 0xff;
  out[at + 5] = extRcode;
  out.fill(0, at + 6, at + 11);
}

/** What writeError needs to know about the query (a QueryInfo, or a saved copy). */
export interface QuestionShape {
  qdcount: number;
  questionEnd: number;
  hasEdns: boolean;
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
    writeOpt(out, off + len, ednsSize, rcode >> 4);
    out[off + 11] = 1;
    len += OPT_SIZE;
  }
  return len;
}

export { CLASS_IN };
