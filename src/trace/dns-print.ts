/**
 * A DNS message as tcpdump prints it without -v (print-domain.c's ns_print):
 *
 *   query:    4660+ [1au] A? example.com. (40)
 *   response: 4660* 2/0/1 A 198.18.1.1, A 198.18.1.2 (72)
 *
 * Flags (+ RD, % CD on queries; * AA, - no RA, | TC, $ AD on responses),
 * section counts as tcpdump shows them ([1au]: one additional record, the
 * EDNS OPT counted as tcpdump and tshark do), every answer, the extended
 * rcode from the OPT record by name (BadVers). Read in place from the
 * bytes, compression pointers followed with a bound; anything cut or
 * malformed ends the text with tcpdump's " [|domain]".
 */
import { u16 } from '../wire/bytes.js';
import { formatIPv6 } from '../wire/ip.js';
import { type TextBuffer } from './text.js';

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 3: 'MD', 4: 'MF', 5: 'CNAME', 6: 'SOA', 7: 'MB', 8: 'MG', 9: 'MR', 10: 'NULL', 11: 'WKS', 12: 'PTR',
  13: 'HINFO', 14: 'MINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB', 19: 'X25', 20: 'ISDN', 21: 'RT', 22: 'NSAP',
  23: 'NSAP_PTR', 24: 'SIG', 25: 'KEY', 26: 'PX', 27: 'GPOS', 28: 'AAAA', 29: 'LOC', 30: 'NXT', 31: 'EID', 32: 'NIMLOC',
  33: 'SRV', 34: 'ATMA', 35: 'NAPTR', 36: 'KX', 37: 'CERT', 38: 'A6', 39: 'DNAME', 40: 'SINK', 41: 'OPT', 42: 'APL',
  43: 'DS', 44: 'SSHFP', 45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 49: 'DHCID', 50: 'NSEC3', 51: 'NSEC3PARAM',
  52: 'TLSA', 53: 'SMIMEA', 55: 'HIP', 59: 'CDS', 60: 'CDNSKEY', 61: 'OPENPGPKEY', 62: 'CSYNC', 63: 'ZONEMD', 64: 'SVCB',
  65: 'HTTPS', 99: 'SPF', 100: 'UINFO', 101: 'UID', 102: 'GID', 103: 'UNSPEC', 104: 'NID', 105: 'L32', 106: 'L64', 107: 'LP',
  108: 'EUI48', 109: 'EUI64', 249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 253: 'MAILB', 254: 'MAILA', 255: 'ANY',
  256: 'URI', 257: 'CAA', 32768: 'TA', 32769: 'DLV',
};
const CLASSES: Record<number, string> = { 3: 'CHAOS', 4: 'HS', 255: 'ANY' };
const OPS = ['', ' inv_q', ' stat', ' op3', ' notify', ' update', ' op6', ' op7', ' op8', ' updateA', ' updateD', ' updateDA', ' updateM', ' updateMA', ' zoneInit', ' zoneRef'];
const RCODES = ['', ' FormErr', ' ServFail', ' NXDomain', ' NotImp', ' Refused', ' YXDomain', ' YXRRSet', ' NXRRSet', ' NotAuth', ' NotZone',
  ' Resp11', ' Resp12', ' Resp13', ' Resp14', ' NoChange', ' BadVers', ' Resp17', ' Resp18', ' Resp19', ' Resp20', ' Resp21', ' Resp22', ' BadCookie'];

/** An rcode's name as tcpdump prints it (with its leading space; '' for NoError). */
export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? ` Resp${rcode}`;
}

const typeName = (t: number): string => TYPES[t] ?? `Type${t}`;
const TRUNC = ' [|domain]';
/** Compression pointers followed per name, at most (a loop must end). */
const MAX_POINTERS = 32;

class Cut extends Error {}
const CUT = new Cut();

/** Skips the name at p within [m, end); returns the offset after it. */
function skipName(b: Uint8Array, p: number, end: number): number {
  for (;;) {
    if (p >= end) throw CUT;
    const n = b[p]!;
    if (n === 0) return p + 1;
    if ((n & 0xc0) === 0xc0) {
      if (p + 2 > end) throw CUT;
      return p + 2;
    }
    if (n & 0xc0) throw CUT;
    p += n + 1;
  }
}

/** Writes the name at p (message starts at m), tcpdump's fqdn_print style. */
function writeName(t: TextBuffer, b: Uint8Array, m: number, p: number, end: number): void {
  let hops = 0;
  let first = true;
  for (;;) {
    if (p >= end) throw CUT;
    const n = b[p]!;
    if (n === 0) break;
    if ((n & 0xc0) === 0xc0) {
      if (p + 2 > end || ++hops > MAX_POINTERS) throw CUT;
      const target = m + (u16(b, p) & 0x3fff);
      if (target >= p) throw CUT;
      p = target;
      continue;
    }
    if (n & 0xc0 || p + 1 + n > end) throw CUT;
    first = false;
    for (let i = p + 1; i <= p + n; i++) {
      const c = b[i]!;
      if (c > 0x20 && c < 0x7f) t.byte(c);
      else t.ascii(`\\${c.toString(8).padStart(3, '0')}`);
    }
    t.byte(46);
    p += n + 1;
  }
  if (first) t.byte(46);
}

function need(p: number, n: number, end: number): void {
  if (p + n > end) throw CUT;
}

/** The question at p: " A? name." */
function question(t: TextBuffer, b: Uint8Array, m: number, p: number, end: number): number {
  const after = skipName(b, p, end);
  need(after, 4, end);
  t.byte(32);
  t.ascii(typeName(u16(b, after)));
  const cls = u16(b, after + 2);
  if (cls !== 1) t.ascii(` ${CLASSES[cls] ?? `(Class ${cls})`}`);
  t.ascii('? ');
  writeName(t, b, m, p, end);
  return after + 4;
}

/** One answer record: " A 1.2.3.4"; returns the offset after it. */
function record(t: TextBuffer, b: Uint8Array, m: number, p: number, end: number): number {
  const after = skipName(b, p, end);
  need(after, 10, end);
  const type = u16(b, after);
  const cls = u16(b, after + 2);
  const rdlen = u16(b, after + 8);
  const rd = after + 10;
  t.byte(32);
  t.ascii(typeName(type));
  if (cls !== 1 && type !== 41) t.ascii(` ${CLASSES[cls] ?? `(Class ${cls})`}`);
  need(rd, rdlen, end);
  switch (type) {
    case 1:
      if (rdlen !== 4) break;
      t.byte(32);
      t.ipv4(b, rd);
      break;
    case 28:
      if (rdlen !== 16) break;
      t.byte(32);
      t.ascii(formatIPv6(b, rd));
      break;
    case 2:
    case 5:
    case 12:
    case 39:
      t.byte(32);
      writeName(t, b, m, rd, rd + rdlen);
      break;
    case 15:
      need(rd, 3, rd + rdlen);
      t.byte(32);
      writeName(t, b, m, rd + 2, rd + rdlen);
      t.byte(32);
      t.dec(u16(b, rd));
      break;
    case 33:
      need(rd, 7, rd + rdlen);
      t.byte(32);
      writeName(t, b, m, rd + 6, rd + rdlen);
      t.ascii(`:${u16(b, rd + 4)} ${u16(b, rd)} ${u16(b, rd + 2)}`);
      break;
    case 16:
      for (let q = rd; q < rd + rdlen; ) {
        const n = b[q]!;
        need(q + 1, n, rd + rdlen);
        t.ascii(' "');
        for (let i = q + 1; i <= q + n; i++) {
          const c = b[i]!;
          if (c >= 0x20 && c < 0x7f) t.byte(c);
          else t.ascii(`\\${c.toString(8).padStart(3, '0')}`);
        }
        t.byte(34);
        q += n + 1;
      }
      break;
    case 41:
      t.ascii(` UDPsize=${cls}`);
      if (b[after + 6]! & 0x80) t.ascii(' DO');
      break;
    default:
      break;
  }
  return rd + rdlen;
}

/** The upper rcode bits from the OPT record's TTL (0 without one, or when the records are cut). */
function optRcode(b: Uint8Array, p: number, end: number, qd: number, skip: number, ar: number): number {
  try {
    for (let i = 0; i < qd; i++) p = skipName(b, p, end) + 4;
    for (let i = 0; i < skip; i++) {
      p = skipName(b, p, end);
      need(p, 10, end);
      p += 10 + u16(b, p + 8);
    }
    for (let i = 0; i < ar; i++) {
      const q = skipName(b, p, end);
      need(q, 10, end);
      if (u16(b, q) === 41) return b[q + 4]!;
      p = q + 10 + u16(b, q + 8);
    }
  } catch (err) {
    if (err !== CUT) throw err;
  }
  return 0;
}

/**
 * Writes the DNS message at b[o, o+captured) whose full length (from the
 * UDP or TCP header) is `length`.
 */
export function writeDns(t: TextBuffer, b: Uint8Array, o: number, captured: number, length: number): void {
  const end = o + Math.max(0, Math.min(captured, length));
  try {
    need(o, 12, end);
    const id = u16(b, o);
    const flags = u16(b, o + 2);
    const qd = u16(b, o + 4);
    const an = u16(b, o + 6);
    const ns = u16(b, o + 8);
    const ar = u16(b, o + 10);
    const op = OPS[(flags >> 11) & 0xf]!;
    t.dec(id);
    if (flags & 0x8000) {
      // The extended rcode's upper 8 bits are in the OPT record's TTL.
      const rcode = (flags & 0xf) | (optRcode(b, o + 12, end, qd, an + ns, ar) << 4);
      t.ascii(op);
      t.ascii(rcodeName(rcode));
      if (flags & 0x0400) t.byte(42);
      if (!(flags & 0x0080)) t.byte(45);
      if (flags & 0x0200) t.byte(124);
      if (flags & 0x0020) t.byte(36);
      if (qd !== 1) t.ascii(` [${qd}q]`);
      let p = o + 12;
      // Like tcpdump, the counts print once the question names are there (type and class may be cut).
      for (let i = 0; i < qd; i++) p = skipName(b, p, end) + 4;
      t.ascii(` ${an}/${ns}/${ar}`);
      for (let i = 0; i < an; i++) {
        if (i > 0) t.byte(44);
        p = record(t, b, o, p, end);
      }
    } else {
      t.ascii(op);
      if (flags & 0x0100) t.byte(43);
      if (flags & 0x0010) t.byte(37);
      if (flags & 0x6cf) t.ascii(` [b2&3=0x${flags.toString(16)}]`);
      if (qd !== 1) t.ascii(` [${qd}q]`);
      if (an) t.ascii(` [${an}a]`);
      if (ns) t.ascii(` [${ns}n]`);
      if (ar) t.ascii(` [${ar}au]`);
      let p = o + 12;
      for (let i = 0; i < qd; i++) p = question(t, b, o, p, end);
    }
    t.ascii(` (${length})`);
  } catch (err) {
    if (err !== CUT) throw err;
    t.ascii(TRUNC);
  }
}
