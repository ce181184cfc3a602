/**
 * One line per packet, tcpdump-like, from a dissected Facts:
 *
 *   12:00:01.000001 eth0 02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.4789:
 *     VXLAN vni 42: 0a:..:01 > 0a:..:02, IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64
 *
 * (one line in reality). Every level and layer is summarised, VXLAN inner
 * frames recursively, DNS messages by their question/answer counts. Also
 * the JSON form (full fields from wire/frame.ts decodeFrame) and the -v tree.
 */
import { u16, u32 } from '../wire/bytes.js';
import { formatIPv6 } from '../wire/ip.js';
import { decodeFrame, type Layer } from '../wire/frame.js';
import { decodeMessage, RrType } from '../wire/dns/index.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 } from '../wire/capture-common.js';
import type { Facts, Level } from './facts.js';
import { type Lit, TextBuffer, lit, putAscii, putByte, putDec, putFixed, putIpv4, putLit, putMac } from './text.js';

const L_COLON = lit(': ');
const L_GT = lit(' > ');
const L_VLAN = lit(' vlan ');
const L_COMMA = lit(', ');
const L_ETHERTYPE = lit('ethertype ');
const L_LENGTH = lit(', length ');
const L_PROBLEM = lit('[|');
const L_IP = lit('IP ');
const L_IP6 = lit('IP6 ');
const L_IP_PROTO = lit('ip-proto-');
const L_FRAGMENT_LENGTH = lit(' fragment, length ');
const L_TCP = lit('TCP ');
const L_TCP_FLAGS = lit('TCP [');
const L_TCP_SEQ = lit('] seq ');
const L_ACK = lit(', ack ');
const L_WIN = lit(', win ');
const L_UDP = lit('UDP ');
const L_VXLAN_VNI = lit('VXLAN vni ');
const L_UDP_LENGTH = lit('UDP, length ');
const L_ESP_SPI = lit('ESP(spi=0x');
const L_ESP_SEQ = lit(',seq=0x');
const L_ICMP = lit('ICMP ');
const L_TYPE = lit('type ');
const L_ID = lit(', id ');
const L_SEQ = lit(', seq ');
const L_CODE = lit(', code ');
const L_ICMP6 = lit('ICMP6 ');
const L_ICMP6_COMMA = lit('ICMP6, ');
const L_ARP_REQUEST_WHO_HAS = lit('ARP, Request who-has ');
const L_TELL = lit(' tell ');
const L_ARP_REPLY = lit('ARP, Reply ');
const L_IS_AT = lit(' is-at ');
const L_ARP_OP = lit('ARP, op ');
const L_LENGTH_28 = lit(', length 28');
const L_WHO_HAS = lit(', who has ');
const L_TGT_IS = lit(', tgt is ');

const PAD2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

/** "HH:MM:SS.ffffff" (UTC) with `digits` fractional digits. */
export function formatTime(sec: number, nsec: number, digits: number): string {
  scratch.pos = 0;
  writeTime(scratch, sec, nsec, digits);
  return scratch.toString();
}

// Captures are time-ordered: the HH:MM:SS part changes at most once a second.
let lastSec = -1;
let lastBase = lit('00:00:00');

/** formatTime() into `t`. */
export function writeTime(t: TextBuffer, sec: number, nsec: number, digits: number): void {
  if (sec !== lastSec) {
    lastBase = lit(timeOfDay(sec));
    lastSec = sec;
  }
  t.room(lastBase.n + 32);
  const dv = t.dv;
  let p = putLit(dv, t.pos, lastBase);
  if (digits > 0) {
    p = putByte(dv, p, 46);
    const v = Math.floor(nsec / FRAC_DIV[digits]!);
    if (v >= 0 && v < FRAC_LIMIT[digits]!) p = putFixed(dv, p, v, digits);
    else {
      const s = String(v);
      p = putAscii(dv, p, s.length >= digits ? s : '000000000'.slice(0, digits - s.length) + s);
    }
  }
  t.pos = p;
}

/** 10^(9-d): the divisor that leaves d fractional digits of a nanosecond count. */
const FRAC_DIV = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1];
const FRAC_LIMIT = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

function timeOfDay(sec: number): string {
  const day = sec % 86400;
  const h = Math.floor(day / 3600);
  const m = Math.floor((day % 3600) / 60);
  const s = day % 60;
  return `${PAD2[h]}:${PAD2[m]}:${PAD2[s]}`;
}

const scratch = new TextBuffer(4096);

const SLL_TYPES = ['In', 'B', 'M', 'P', 'Out'];
const TCP_FLAGS = [70, 83, 82, 80, 85, 69, 87]; // F S R P U E W

/** The summary of every layer of the packet (no time, no interface). */
export function summarize(f: Facts): string {
  scratch.pos = 0;
  writeSummary(scratch, f);
  return scratch.toString();
}

/** summarize() into `t`. */
export function writeSummary(t: TextBuffer, f: Facts): void {
  if (f.sllPacketType >= 0 && (f.linktype === LINKTYPE_LINUX_SLL || f.linktype === LINKTYPE_LINUX_SLL2)) {
    t.text(`${SLL_TYPES[f.sllPacketType] ?? f.sllPacketType} `);
  }
  for (let i = 0; i < f.depth; i++) {
    if (i > 0) t.lit(L_COLON);
    level(t, f, f.levels[i]!);
  }
}

/** Room for everything a level writes except problem text and DNS (those check for themselves). */
const LEVEL_ROOM = 512;

function level(t: TextBuffer, f: Facts, l: Level): void {
  const b = f.data;
  t.room(LEVEL_ROOM);
  const dv = t.dv;
  let p = t.pos;
  if (l.ethOffset >= 0) {
    p = putMac(dv, p, b, l.ethOffset + 6);
    p = putLit(dv, p, L_GT);
    p = putMac(dv, p, b, l.ethOffset);
    if (l.vlan >= 0) {
      p = putLit(dv, p, L_VLAN);
      p = putDec(dv, p, l.vlan);
    }
    p = putLit(dv, p, L_COMMA);
    if (l.etherType < 0) {
      t.pos = p;
      if (l.problem) problem(t, l.problem);
      return;
    }
  }
  if (l.ipVersion !== 0) {
    ip(t, dv, p, f, l);
    return;
  }
  if (l.arpOffset >= 0) {
    t.pos = arpLine(dv, p, b, l);
    return;
  }
  if (l.problem) {
    p = etherName(dv, p, l.etherType);
    t.pos = putByte(dv, p, 32);
    problem(t, l.problem);
    return;
  }
  p = putLit(dv, p, L_ETHERTYPE);
  p = etherName(dv, p, l.etherType);
  p = putLit(dv, p, L_LENGTH);
  t.pos = putDec(dv, p, f.end - (l.ethOffset >= 0 ? l.ethOffset : f.start));
}

/** "[|problem]" */
function problem(t: TextBuffer, p: string): void {
  t.lit(L_PROBLEM);
  t.text(p);
  t.byte(93);
}

const L_IPV4 = lit('IPv4');
const L_IPV6 = lit('IPv6');
const L_ARP = lit('ARP');

function etherName(dv: DataView, p: number, type: number): number {
  switch (type) {
    case 0x0800: return putLit(dv, p, L_IPV4);
    case 0x86dd: return putLit(dv, p, L_IPV6);
    case 0x0806: return putLit(dv, p, L_ARP);
    default: return putAscii(dv, p, `0x${type.toString(16).padStart(4, '0')}`);
  }
}

/** Writes the IP level and everything above it, from p; sets t.pos. */
function ip(t: TextBuffer, dv: DataView, p: number, f: Facts, l: Level): void {
  const b = f.data;
  const isV4 = l.ipVersion === 4;
  const ports = l.sourcePort >= 0;
  if (isV4) {
    p = putLit(dv, p, L_IP);
    p = putIpv4(dv, p, b, l.ipOffset + 12);
  } else {
    p = putLit(dv, p, L_IP6);
    p = putAscii(dv, p, formatIPv6(b, l.ipOffset + 8));
  }
  if (ports) {
    p = putByte(dv, p, 46);
    p = putDec(dv, p, l.sourcePort);
  }
  p = putLit(dv, p, L_GT);
  p = isV4 ? putIpv4(dv, p, b, l.ipOffset + 16) : putAscii(dv, p, formatIPv6(b, l.ipOffset + 24));
  if (ports) {
    p = putByte(dv, p, 46);
    p = putDec(dv, p, l.destinationPort);
  }
  p = putLit(dv, p, L_COLON);
  if (l.fragment) {
    p = putLit(dv, p, L_IP_PROTO);
    p = putDec(dv, p, l.protocol);
    p = putLit(dv, p, L_FRAGMENT_LENGTH);
    t.pos = putDec(dv, p, l.ipLength);
    return;
  }
  const payload = l.l4Offset >= 0 ? l.l4Length : 0;
  switch (l.protocol) {
    case 1:
      if (l.icmpType < 0) break;
      t.pos = icmp4(dv, p, l, payload);
      return;
    case 58:
      if (l.icmpType < 0) break;
      t.pos = icmp6(dv, p, f, l, payload);
      return;
    case 6: {
      if (l.tcpFlags < 0) break;
      p = putLit(dv, p, L_TCP_FLAGS);
      for (let i = 0; i < 7; i++) if (l.tcpFlags & (1 << i)) p = putByte(dv, p, TCP_FLAGS[i]!);
      if (l.tcpFlags & 0x10) p = putByte(dv, p, 46);
      p = putLit(dv, p, L_TCP_SEQ);
      p = putDec(dv, p, l.tcpSeq);
      if (l.tcpFlags & 0x10) {
        p = putLit(dv, p, L_ACK);
        p = putDec(dv, p, l.tcpAck);
      }
      p = putLit(dv, p, L_WIN);
      p = putDec(dv, p, l.tcpWindow);
      p = putLit(dv, p, L_LENGTH);
      t.pos = putDec(dv, p, Math.max(0, payload - (b[l.l4Offset + 12]! >> 4) * 4));
      return;
    }
    case 17: {
      if (l.sourcePort < 0 || (l.vni < 0 && l.problem)) break;
      if (l.vni >= 0) {
        p = putLit(dv, p, L_VXLAN_VNI);
        t.pos = putDec(dv, p, l.vni);
        return;
      }
      const len = Math.max(0, u16(b, l.l4Offset + 4) - 8);
      if (l.sourcePort === 53 || l.destinationPort === 53 || l.sourcePort === 5353 || l.destinationPort === 5353) {
        t.pos = p;
        writeDns(t, b, l.l4Offset + 8, Math.min(len, payload - 8));
        return;
      }
      p = putLit(dv, p, L_UDP_LENGTH);
      t.pos = putDec(dv, p, len);
      return;
    }
    case 50:
      // tcpdump's ESP line: only the clear header (SPI, sequence) is readable.
      if (payload < 8) break;
      p = putHex(dv, putLit(dv, p, L_ESP_SPI), u32(b, l.l4Offset), 8);
      p = putByte(dv, putHex(dv, putLit(dv, p, L_ESP_SEQ), u32(b, l.l4Offset + 4), 1), 41);
      p = putLit(dv, p, L_LENGTH);
      t.pos = putDec(dv, p, payload);
      return;
    default:
      p = putLit(dv, p, L_IP_PROTO);
      p = putDec(dv, p, l.protocol);
      p = putLit(dv, p, L_LENGTH);
      t.pos = putDec(dv, p, payload);
      return;
  }
  // A transport header that did not check out: "ICMP [|icmp: truncated]" ...
  t.pos = putLit(dv, p, l.protocol === 1 ? L_ICMP : l.protocol === 58 ? L_ICMP6 : l.protocol === 6 ? L_TCP : L_UDP);
  problem(t, l.problem);
}

function icmp4(dv: DataView, p: number, l: Level, payload: number): number {
  p = putLit(dv, p, L_ICMP);
  const name = ICMP4[l.icmpType];
  if (name !== undefined) p = putLit(dv, p, name);
  else {
    p = putLit(dv, p, L_TYPE);
    p = putDec(dv, p, l.icmpType);
  }
  if (l.icmpId >= 0) {
    p = putLit(dv, p, L_ID);
    p = putDec(dv, p, l.icmpId);
    p = putLit(dv, p, L_SEQ);
    p = putDec(dv, p, l.icmpSeq);
  } else if (l.icmpType === 3 || l.icmpType === 11) {
    p = putLit(dv, p, L_CODE);
    p = putDec(dv, p, l.icmpCode);
  }
  p = putLit(dv, p, L_LENGTH);
  return putDec(dv, p, payload);
}

const ICMP4 = lits({ 0: 'echo reply', 3: 'unreachable', 5: 'redirect', 8: 'echo request', 11: 'time exceeded', 12: 'parameter problem' });

function lits(names: Record<number, string>): (Lit | undefined)[] {
  const out: (Lit | undefined)[] = new Array<Lit | undefined>(256).fill(undefined);
  for (const [k, v] of Object.entries(names)) out[Number(k)] = lit(v);
  return out;
}

const ICMP6 = lits({
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded', 128: 'echo request', 129: 'echo reply',
  133: 'router solicitation', 134: 'router advertisement', 135: 'neighbor solicitation', 136: 'neighbor advertisement', 143: 'multicast listener report v2',
});

function icmp6(dv: DataView, p: number, f: Facts, l: Level, payload: number): number {
  p = putLit(dv, p, L_ICMP6_COMMA);
  const name = ICMP6[l.icmpType];
  if (name !== undefined) p = putLit(dv, p, name);
  else {
    p = putLit(dv, p, L_TYPE);
    p = putDec(dv, p, l.icmpType);
  }
  if (l.icmpId >= 0) {
    p = putLit(dv, p, L_ID);
    p = putDec(dv, p, l.icmpId);
    p = putLit(dv, p, L_SEQ);
    p = putDec(dv, p, l.icmpSeq);
  } else if ((l.icmpType === 135 || l.icmpType === 136) && payload >= 24) {
    p = putLit(dv, p, l.icmpType === 135 ? L_WHO_HAS : L_TGT_IS);
    p = putAscii(dv, p, formatIPv6(f.data, l.l4Offset + 8));
  }
  p = putLit(dv, p, L_LENGTH);
  return putDec(dv, p, payload);
}

function arpLine(dv: DataView, p: number, b: Uint8Array, l: Level): number {
  const o = l.arpOffset;
  if (l.arpOp === 1) {
    p = putLit(dv, p, L_ARP_REQUEST_WHO_HAS);
    p = putIpv4(dv, p, b, o + 24);
    p = putLit(dv, p, L_TELL);
    p = putIpv4(dv, p, b, o + 14);
  } else if (l.arpOp === 2) {
    p = putLit(dv, p, L_ARP_REPLY);
    p = putIpv4(dv, p, b, o + 14);
    p = putLit(dv, p, L_IS_AT);
    p = putMac(dv, p, b, o + 8);
  } else {
    p = putLit(dv, p, L_ARP_OP);
    p = putDec(dv, p, l.arpOp);
    p = putByte(dv, p, 32);
    p = putIpv4(dv, p, b, o + 14);
    p = putLit(dv, p, L_GT);
    p = putIpv4(dv, p, b, o + 24);
  }
  return putLit(dv, p, L_LENGTH_28);
}

const RR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RrType).map(([k, v]) => [v, k]));
const RCODES = ['NoError', 'FormErr', 'ServFail', 'NXDomain', 'NotImp', 'Refused'];

const RR_LITS = new Map(Object.entries(RR_NAMES).map(([k, v]) => [Number(k), lit(v)]));
const RCODE_LITS = RCODES.map((r) => lit(` ${r}`));
const L_DNS = lit('DNS ');
const L_QUERY_MARK = lit('? ');
const L_NO_RECORDS = lit(' 0/0/0');
const L_OPEN = lit(' (');

function writeDns(t: TextBuffer, b: Uint8Array, o: number, len: number): void {
  if (!dnsQuestionOnly(t, b, o, len)) t.text(dns(b, o, len));
}

/**
 * dns() for the common shape, written directly: exactly one question and
 * no records, a name of plain printable labels. Anything else (or anything
 * decodeMessage would reject) returns false and takes the full decoder.
 */
function dnsQuestionOnly(t: TextBuffer, b: Uint8Array, o: number, len: number): boolean {
  if (len < 17 || u16(b, o + 4) !== 1 || (b[o + 6]! | b[o + 7]! | b[o + 8]! | b[o + 9]! | b[o + 10]! | b[o + 11]!) !== 0) return false;
  const end = o + len;
  let p = o + 12;
  let wire = 1;
  for (;;) {
    if (p >= end) return false;
    const n = b[p]!;
    if (n === 0) break;
    wire += n + 1;
    if (n > 63 || wire > 255 || p + 1 + n > end) return false;
    for (let i = p + 1; i <= p + n; i++) {
      const c = b[i]!;
      if (c < 0x21 || c > 0x7e || c === 0x2e || c === 0x5c) return false;
    }
    p += n + 1;
  }
  if (p + 5 !== end) return false;
  const type = u16(b, p + 1);
  const flags = u16(b, o + 2);
  const qr = (flags & 0x8000) !== 0;
  t.room(wire + 96);
  const dv = t.dv;
  let w = putLit(dv, t.pos, L_DNS);
  w = putDec(dv, w, u16(b, o));
  if (!qr && flags & 0x0100) w = putByte(dv, w, 43);
  const rcode = flags & 0xf;
  if (qr && rcode) {
    const rc = RCODE_LITS[rcode];
    w = rc ? putLit(dv, w, rc) : putAscii(dv, w, ` rcode ${rcode}`);
  }
  w = putByte(dv, w, 32);
  const name = RR_LITS.get(type);
  w = name ? putLit(dv, w, name) : putAscii(dv, w, `TYPE${type}`);
  w = putLit(dv, w, L_QUERY_MARK);
  for (let q = o + 12; q < p; ) {
    const n = b[q]!;
    if (q > o + 12) w = putByte(dv, w, 46);
    for (let i = q + 1; i <= q + n; i++) w = putByte(dv, w, b[i]!);
    q += n + 1;
  }
  w = putByte(dv, w, 46);
  if (qr) w = putLit(dv, w, L_NO_RECORDS);
  w = putLit(dv, w, L_OPEN);
  w = putDec(dv, w, len);
  t.pos = putByte(dv, w, 41);
  return true;
}

/** tcpdump's DNS style: "id+ A? name. (len)" or "id q: A? name. 1/0/0 A 1.2.3.4 (len)". */
function dns(b: Uint8Array, o: number, len: number): string {
  if (len < 12) return `DNS [|dns], length ${Math.max(0, len)}`;
  try {
    const m = decodeMessage(b.subarray(o, o + len));
    const q = m.questions[0];
    const qs = q ? ` ${RR_NAMES[q.type] ?? `TYPE${q.type}`}? ${q.name}${q.name.endsWith('.') ? '' : '.'}` : '';
    if (!m.qr) return `DNS ${m.id}${m.rd ? '+' : ''}${qs} (${len})`;
    const rc = m.rcode ? ` ${RCODES[m.rcode] ?? `rcode ${m.rcode}`}` : '';
    const first = m.answers[0];
    let ans = '';
    if (first) {
      const d = first.data;
      const v = d.kind === 'a' || d.kind === 'aaaa' ? d.address : d.kind === 'name' ? d.target : '';
      ans = ` ${RR_NAMES[first.type] ?? `TYPE${first.type}`}${v ? ` ${v}` : ''}`;
    }
    return `DNS ${m.id}${rc}${qs} ${m.answers.length}/${m.authorities.length}/${m.additionals.length}${ans} (${len})`;
  } catch {
    return `DNS [malformed], length ${len}`;
  }
}

/** Full decode for --json and -v: wire/frame.ts layers, plus the Linux cooked header. */
export function decodeLayers(data: Uint8Array, start: number, end: number, linktype: number): { layers: (Layer | Record<string, unknown>)[]; error?: unknown } {
  const bytes = data.subarray(start, end);
  if (linktype === LINKTYPE_ETHERNET) return decodeFrame(bytes);
  let skip = 0;
  let proto = -1;
  let sll: Record<string, unknown> | undefined;
  if (linktype === LINKTYPE_LINUX_SLL && bytes.length >= 16) {
    skip = 16;
    proto = u16(bytes, 14);
    sll = { layer: 'sll', offset: 0, length: bytes.length, packetType: u16(bytes, 0), hardwareType: u16(bytes, 2), protocol: proto };
  } else if (linktype === LINKTYPE_LINUX_SLL2 && bytes.length >= 20) {
    skip = 20;
    proto = u16(bytes, 0);
    sll = { layer: 'sll2', offset: 0, length: bytes.length, protocol: proto, interfaceIndex: new DataView(bytes.buffer, bytes.byteOffset).getUint32(4), packetType: bytes[10] };
  } else if (linktype === LINKTYPE_LINUX_SLL || linktype === LINKTYPE_LINUX_SLL2) {
    return { layers: [], error: { layer: 'sll', offset: 0, reason: 'truncated' } };
  }
  const inner = bytes.subarray(skip);
  if (sll && proto !== 0x0800 && proto !== 0x86dd) {
    return { layers: [sll, { layer: 'payload', offset: skip, length: inner.length, hint: `ethertype 0x${proto.toString(16)}` }] };
  }
  const d = decodeFrame(inner, { link: 'ip' });
  const shifted = d.layers.map((l) => ({ ...l, offset: l.offset + skip }));
  const out: { layers: (Layer | Record<string, unknown>)[]; error?: unknown } = { layers: sll ? [sll, ...shifted] : shifted };
  if (d.error) out.error = { ...d.error, offset: d.error.offset + skip };
  return out;
}

/** The -v tree: one indented line per layer with its fields. */
export function formatTree(layers: (Layer | Record<string, unknown>)[], error?: unknown): string {
  const lines: string[] = [];
  let depth = 0;
  for (const l of layers) {
    const { layer, offset, length, ...fields } = l as Record<string, unknown>;
    if (layer === 'vxlan') depth++;
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    lines.push(`${'  '.repeat(depth + 1)}${String(layer)} @${String(offset)}+${String(length)}: ${parts.join(' ')}`);
  }
  if (error) lines.push(`    error: ${JSON.stringify(error)}`);
  return lines.join('\n');
}

/** Lower-case hex of a u32, at least `digits` digits (ESP SPI and sequence). */
function putHex(dv: DataView, p: number, v: number, digits: number): number {
  let n = 1;
  while (n < 8 && v >>> (4 * n) !== 0) n++;
  n = Math.max(n, digits);
  for (let i = n - 1; i >= 0; i--) p = putByte(dv, p, '0123456789abcdef'.charCodeAt((v >>> (4 * i)) & 15));
  return p;
}
