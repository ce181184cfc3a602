/**
 * Whole DNS messages: decode untrusted bytes into a typed message, encode a
 * message with name compression. Offsets thread through a Cursor (miekg's
 * convention); limits live in constants.ts.
 *
 * Decoding rejects, with a DnsDecodeError: counts that cannot fit in the
 * bytes present (checked before anything is allocated), names per name.ts,
 * rdata whose length disagrees with its type's layout, a second OPT or an
 * OPT outside the additional section, and trailing bytes. Unknown types keep
 * their rdata as raw bytes so a forwarder can relay them unchanged.
 */
import {
  CLASS_IN, FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_SIZE, MAX_MESSAGE,
  MIN_QUESTION, MIN_RR, RR_FIXED, RrType,
} from './constants.js';
import { DnsDecodeError, DnsEncodeError } from '../../errors.js';
import { formatIPv4, formatIPv6, parseIPv4Into, parseIPv6Into } from '../ip.js';
import { nameLabels, readName, type Cursor } from './name.js';

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export type DnsRData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  /** NS, CNAME, PTR. */
  | { kind: 'name'; target: string }
  | { kind: 'mx'; preference: number; exchange: string }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  | { kind: 'txt'; strings: Uint8Array[] }
  | { kind: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: 'raw'; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: DnsRData;
}

export interface DnsEdns {
  /** Requestor's UDP payload size (RFC 6891 §6.2.3). */
  udpSize: number;
  version: number;
  /** The 16 flag bits (DO is 0x8000). */
  flags: number;
  /** Options, raw (code/length/value triples). */
  options: Uint8Array;
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** Full rcode: header 4 bits plus OPT's extended 8 bits when EDNS is present. */
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  edns?: DnsEdns;
}

/** A message with every field at its zero value; spread over it to build one. */
export function emptyMessage(): DnsMessage {
  return {
    id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0,
    questions: [], answers: [], authorities: [], additionals: [],
  };
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Decodes a complete message. Throws DnsDecodeError and nothing else. */
export function decodeMessage(buf: Uint8Array, length = buf.length): DnsMessage {
  const end = Math.min(length, buf.length);
  if (end < HEADER_SIZE) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'message shorter than a header', 0);
  const flags = u16(buf, 2);
  const qd = u16(buf, 4);
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  // Lying counts are caught before any array is sized by them (RFC 9267 §5).
  if (qd * MIN_QUESTION + (an + ns + ar) * MIN_RR > end - HEADER_SIZE) {
    throw new DnsDecodeError('ERR_WEFT_DNS_COUNT', `counts ${qd}/${an}/${ns}/${ar} cannot fit in ${end} bytes`, 4);
  }
  const msg: DnsMessage = {
    id: u16(buf, 0),
    qr: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & FLAG_AA) !== 0,
    tc: (flags & FLAG_TC) !== 0,
    rd: (flags & FLAG_RD) !== 0,
    ra: (flags & FLAG_RA) !== 0,
    ad: (flags & FLAG_AD) !== 0,
    cd: (flags & FLAG_CD) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
  const cur: Cursor = { pos: HEADER_SIZE };
  for (let i = 0; i < qd; i++) {
    const name = readName(buf, end, cur);
    if (cur.pos + 4 > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'question runs past the end', cur.pos);
    msg.questions.push({ name, type: u16(buf, cur.pos), class: u16(buf, cur.pos + 2) });
    cur.pos += 4;
  }
  for (let i = 0; i < an; i++) msg.answers.push(readRecord(buf, end, cur, false, msg));
  for (let i = 0; i < ns; i++) msg.authorities.push(readRecord(buf, end, cur, false, msg));
  for (let i = 0; i < ar; i++) {
    const rr = readRecord(buf, end, cur, true, msg);
    if (rr) msg.additionals.push(rr);
  }
  if (cur.pos !== end) throw new DnsDecodeError('ERR_WEFT_DNS_TRAILING', `${end - cur.pos} bytes after the last record`, cur.pos);
  return msg;
}

function readRecord(buf: Uint8Array, end: number, cur: Cursor, additional: true, msg: DnsMessage): DnsRecord | undefined;
function readRecord(buf: Uint8Array, end: number, cur: Cursor, additional: false, msg: DnsMessage): DnsRecord;
function readRecord(buf: Uint8Array, end: number, cur: Cursor, additional: boolean, msg: DnsMessage): DnsRecord | undefined {
  const start = cur.pos;
  const name = readName(buf, end, cur);
  const p = cur.pos;
  if (p + RR_FIXED > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'record header runs past the end', p);
  const type = u16(buf, p);
  const klass = u16(buf, p + 2);
  const ttl = u32(buf, p + 4);
  const rdlen = u16(buf, p + 8);
  const rd = p + RR_FIXED;
  const rdEnd = rd + rdlen;
  if (rdEnd > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'rdata runs past the end', rd);
  cur.pos = rdEnd;
  if (type === RrType.OPT) {
    if (!additional) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'OPT record outside the additional section', start);
    if (msg.edns) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'second OPT record', start);
    if (name !== '') throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'OPT owner name is not the root', start);
    // Options are code(2) len(2) value; their lengths must tile the rdata.
    for (let o = rd; o < rdEnd; ) {
      if (o + 4 > rdEnd || o + 4 + u16(buf, o + 2) > rdEnd) throw new DnsDecodeError('ERR_WEFT_DNS_OPT', 'OPT option runs past its rdata', o);
      o += 4 + u16(buf, o + 2);
    }
    msg.edns = { udpSize: klass, version: (ttl >>> 16) & 0xff, flags: ttl & 0xffff, options: new Uint8Array(buf.subarray(rd, rdEnd)) };
    msg.rcode |= (ttl >>> 24) << 4;
    return undefined;
  }
  return { name, type, class: klass, ttl, data: readRData(buf, type, rd, rdEnd) };
}

function readRData(buf: Uint8Array, type: number, rd: number, rdEnd: number): DnsRData {
  const len = rdEnd - rd;
  const bad = (what: string) => new DnsDecodeError('ERR_WEFT_DNS_RDATA', `${what} rdata of ${len} bytes`, rd);
  // Names inside rdata may point anywhere earlier in the message but must end at rdEnd.
  const inner: Cursor = { pos: rd };
  const name = () => readName(buf, rdEnd, inner);
  const done = <T extends DnsRData>(v: T): T => {
    if (inner.pos !== rdEnd) throw bad('overlong');
    return v;
  };
  switch (type) {
    case RrType.A:
      if (len !== 4) throw bad('A');
      return { kind: 'a', address: formatIPv4(buf, rd) };
    case RrType.AAAA:
      if (len !== 16) throw bad('AAAA');
      return { kind: 'aaaa', address: formatIPv6(buf, rd) };
    case RrType.NS:
    case RrType.CNAME:
    case RrType.PTR:
      return done({ kind: 'name', target: name() });
    case RrType.MX: {
      if (len < 3) throw bad('MX');
      inner.pos = rd + 2;
      return done({ kind: 'mx', preference: u16(buf, rd), exchange: name() });
    }
    case RrType.SRV: {
      if (len < 7) throw bad('SRV');
      inner.pos = rd + 6;
      return done({ kind: 'srv', priority: u16(buf, rd), weight: u16(buf, rd + 2), port: u16(buf, rd + 4), target: name() });
    }
    case RrType.TXT: {
      const strings: Uint8Array[] = [];
      for (let o = rd; o < rdEnd; ) {
        const n = buf[o]!;
        if (o + 1 + n > rdEnd) throw bad('TXT');
        strings.push(new Uint8Array(buf.subarray(o + 1, o + 1 + n)));
        o += 1 + n;
      }
      if (strings.length === 0) throw bad('empty TXT');
      return { kind: 'txt', strings };
    }
    case RrType.SOA: {
      const mname = name();
      const rname = name();
      if (inner.pos + 20 !== rdEnd) throw bad('SOA');
      const o = inner.pos;
      return {
        kind: 'soa', mname, rname, serial: u32(buf, o), refresh: u32(buf, o + 4), retry: u32(buf, o + 8),
        expire: u32(buf, o + 12), minimum: u32(buf, o + 16),
      };
    }
    default:
      return { kind: 'raw', bytes: new Uint8Array(buf.subarray(rd, rdEnd)) };
  }
}

/** Writes into a caller-owned buffer with RFC 1035 §4.1.4 name compression. */
export class DnsWriter {
  pos = 0;
  #names = new Map<string, number>();

  constructor(readonly buf: Uint8Array, readonly compress = true) {}

  #room(n: number): void {
    if (this.pos + n > this.buf.length) throw new DnsEncodeError(`message longer than ${this.buf.length} bytes`);
  }

  u8(v: number): void {
    this.#room(1);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    this.#room(2);
    this.buf[this.pos++] = (v >> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A name, pointing at an earlier copy of any suffix (same case, so names round-trip exactly). */
  name(text: string): void {
    const labels = nameLabels(text);
    const keys: string[] = [];
    let key = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      key = `${String.fromCharCode(labels[i]!.length)}${Buffer.from(labels[i]!).toString('latin1')}${key}`;
      keys[i] = key;
    }
    for (let i = 0; i < labels.length; i++) {
      const at = this.compress ? this.#names.get(keys[i]!) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.compress && this.pos < 0x4000) this.#names.set(keys[i]!, this.pos);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
}

function flagWord(m: DnsMessage): number {
  return (m.qr ? FLAG_QR : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? FLAG_AA : 0) | (m.tc ? FLAG_TC : 0) |
    (m.rd ? FLAG_RD : 0) | (m.ra ? FLAG_RA : 0) | (m.ad ? FLAG_AD : 0) | (m.cd ? FLAG_CD : 0) | (m.rcode & 0xf);
}

/** Encodes into buf at offset; returns the bytes written. Throws DnsEncodeError if it does not fit. */
export function encodeMessageInto(m: DnsMessage, buf: Uint8Array, offset = 0, compress = true): number {
  if (m.rcode > 15 && !m.edns) throw new DnsEncodeError(`rcode ${m.rcode} needs EDNS`);
  // Pointers are offsets from the message start, so write into a view that begins there.
  const w = new DnsWriter(buf.subarray(offset), compress);
  w.u16(m.id);
  w.u16(flagWord(m));
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authorities.length);
  w.u16(m.additionals.length + (m.edns ? 1 : 0));
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of m.answers) writeRecord(w, rr);
  for (const rr of m.authorities) writeRecord(w, rr);
  for (const rr of m.additionals) writeRecord(w, rr);
  if (m.edns) {
    w.u8(0);
    w.u16(RrType.OPT);
    w.u16(m.edns.udpSize);
    w.u32((((m.rcode >> 4) & 0xff) << 24) | ((m.edns.version & 0xff) << 16) | (m.edns.flags & 0xffff));
    w.u16(m.edns.options.length);
    w.bytes(m.edns.options);
  }
  if (w.pos > MAX_MESSAGE) throw new DnsEncodeError('message longer than 65535 bytes');
  return w.pos;
}

const scratch = new Uint8Array(MAX_MESSAGE);

/** Encodes a message into a new, exactly sized buffer. */
export function encodeMessage(m: DnsMessage, compress = true): Buffer {
  const n = encodeMessageInto(m, scratch, 0, compress);
  return Buffer.from(scratch.subarray(0, n));
}

/** Encoded size of a message (with the same compression as encodeMessage). */
export function encodingLength(m: DnsMessage, compress = true): number {
  return encodeMessageInto(m, scratch, 0, compress);
}

/** Writes one resource record. */
export function writeRecord(w: DnsWriter, rr: DnsRecord): void {
  if (rr.type === RrType.OPT) throw new DnsEncodeError('OPT records go in `edns`, not in a section');
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  const lenAt = w.pos;
  w.u16(0);
  const d = rr.data;
  switch (d.kind) {
    case 'a': {
      const b = new Uint8Array(4);
      if (!parseIPv4Into(d.address, b)) throw new DnsEncodeError(`invalid IPv4 address ${JSON.stringify(d.address)}`);
      w.bytes(b);
      break;
    }
    case 'aaaa': {
      const b = new Uint8Array(16);
      if (!parseIPv6Into(d.address, b)) throw new DnsEncodeError(`invalid IPv6 address ${JSON.stringify(d.address)}`);
      w.bytes(b);
      break;
    }
    case 'name':
      w.name(d.target);
      break;
    case 'mx':
      w.u16(d.preference);
      w.name(d.exchange);
      break;
    case 'srv':
      // RFC 2782: the target must not be compressed.
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      writeUncompressed(w, d.target);
      break;
    case 'txt':
      if (d.strings.length === 0) throw new DnsEncodeError('TXT needs at least one string');
      for (const s of d.strings) {
        if (s.length > 255) throw new DnsEncodeError('TXT string longer than 255 bytes');
        w.u8(s.length);
        w.bytes(s);
      }
      break;
    case 'soa':
      w.name(d.mname);
      w.name(d.rname);
      for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) w.u32(v >>> 0);
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
  }
  const len = w.pos - lenAt - 2;
  if (len > 0xffff) throw new DnsEncodeError('rdata longer than 65535 bytes');
  w.buf[lenAt] = len >> 8;
  w.buf[lenAt + 1] = len & 0xff;
}

function writeUncompressed(w: DnsWriter, name: string): void {
  for (const l of nameLabels(name)) {
    w.u8(l.length);
    w.bytes(l);
  }
  w.u8(0);
}

/** A question record for building queries. */
export function question(name: string, type: number, klass = CLASS_IN): DnsQuestion {
  return { name, type, class: klass };
}
