/**
 * Where the records of an encoded message start and end, without decoding
 * them: what a relay needs to cut a reply at a record boundary (RFC 2181
 * §9 truncation) or to edit its OPT record in place (RFC 6891) while
 * relaying every other byte unchanged. Same bounds checks as parseQuery.
 */
import { HEADER_SIZE, RR_FIXED, RrType } from './constants.js';
import { DnsDecodeError } from '../../errors.js';
import { skipName, type Cursor } from './name.js';

/** EDNS option code of DNS cookies (RFC 7873). */
export const OPTION_COOKIE = 10;
/** The DO bit in the OPT flags (RFC 3225). */
export const EDNS_DO = 0x8000;

export interface MessageLayout {
  /** Offset just past the question section. */
  questionEnd: number;
  /** Start offset of every record, in order (answers, authorities, additionals), and one past the last. */
  starts: number[];
  ancount: number;
  nscount: number;
  /** Offset of the OPT record (its root owner byte), or -1. */
  opt: number;
}

/** Lays out the message at buf[0, len). Throws DnsDecodeError when it is malformed. */
export function messageLayout(buf: Uint8Array, len = buf.length): MessageLayout {
  const end = Math.min(len, buf.length);
  if (end < HEADER_SIZE) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'message shorter than a header', 0);
  const u16 = (o: number) => (buf[o]! << 8) | buf[o + 1]!;
  const qd = u16(4);
  const an = u16(6);
  const ns = u16(8);
  const total = an + ns + u16(10);
  const cur: Cursor = { pos: HEADER_SIZE };
  for (let i = 0; i < qd; i++) {
    skipName(buf, end, cur);
    cur.pos += 4;
    if (cur.pos > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'question runs past the end', cur.pos);
  }
  const out: MessageLayout = { questionEnd: cur.pos, starts: [], ancount: an, nscount: ns, opt: -1 };
  for (let i = 0; i < total; i++) {
    const start = cur.pos;
    out.starts.push(start);
    skipName(buf, end, cur);
    const r = cur.pos;
    if (r + RR_FIXED > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'record runs past the end', r);
    const next = r + RR_FIXED + u16(r + 8);
    if (next > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'rdata runs past the end', r);
    if (u16(r) === RrType.OPT && i >= an + ns && r === start + 1) out.opt = start;
    cur.pos = next;
  }
  out.starts.push(cur.pos);
  return out;
}

/**
 * A copy of the message without EDNS option `code` in its OPT record (the
 * same buffer when it has none). Throws DnsDecodeError when malformed.
 */
export function withoutOption<T extends Uint8Array>(msg: T, code: number): T | Buffer {
  if (msg.length >= HEADER_SIZE && msg[10] === 0 && msg[11] === 0) return msg; // no additional records: no OPT
  const l = messageLayout(msg);
  if (l.opt < 0) return msg;
  const rdlenAt = l.opt + 9;
  const rd = l.opt + 11;
  const rdEnd = rd + ((msg[rdlenAt]! << 8) | msg[rdlenAt + 1]!);
  const keep: Uint8Array[] = [];
  let removed = 0;
  for (let o = rd; o + 4 <= rdEnd;) {
    const n = 4 + ((msg[o + 2]! << 8) | msg[o + 3]!);
    if (o + n > rdEnd) return msg; // options that do not tile the rdata: not ours to repair
    if (((msg[o]! << 8) | msg[o + 1]!) === code) removed += n;
    else keep.push(msg.subarray(o, o + n));
    o += n;
  }
  if (removed === 0) return msg;
  const out = Buffer.concat([msg.subarray(0, rd), ...keep, msg.subarray(rdEnd)]);
  out.writeUInt16BE(rdEnd - rd - removed, rdlenAt);
  return out;
}

/** Sets the UDP payload size the message's OPT record advertises, in place; false when it has none. */
export function setOptUdpSize(msg: Uint8Array, size: number, layout = messageLayout(msg)): boolean {
  if (layout.opt < 0) return false;
  msg[layout.opt + 3] = size >> 8;
  msg[layout.opt + 4] = size & 0xff;
  return true;
}
