/**
 * One line per packet, tcpdump-like, from a dissected Facts:
 *
 *   12:00:01.000001 eth0 02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.4789:
 *     VXLAN vni 42: 0a:..:01 > 0a:..:02, IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64
 *
 * (one line in reality). Every level and layer is summarised, VXLAN inner
 * frames recursively, DNS messages by their question/answer counts. The
 * JSON form and the -v tree are in print-layers.ts.
 */
import { isZeroMac, u16 } from '../wire/bytes.js';
import { LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 } from '../wire/capture-common.js';
import { stpKind } from '../wire/llc.js';
import { ARP_FIXED_LENGTH, ARP_HLEN, ARP_SHA, ETH_SOURCE, MAC_LENGTH } from '../wire/fields.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/numbers.js';
import { type Facts, type Level, LINK_LLC, LINK_LLDP, LINK_STP, LINK_UNKNOWN } from './facts.js';
import { writeIp } from './print-ip.js';
import { TextBuffer, lit, putAscii, putByte, putDec, putFixed, putIpv4, putLit, putMac } from './text.js';

const L_COLON = lit(': ');
const L_GT = lit(' > ');
const L_VLAN = lit(' vlan ');
const L_COMMA = lit(', ');
const L_ARP_REQUEST_WHO_HAS = lit('ARP, Request who-has ');
const L_TELL = lit(' tell ');
const L_ARP_REPLY = lit('ARP, Reply ');
const L_IS_AT = lit(' is-at ');
const L_LENGTH = lit(', length ');

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

/** The summary of every layer of the packet (no time, no interface). */
export function summarize(f: Facts): string {
  scratch.pos = 0;
  writeSummary(scratch, f);
  return scratch.toString();
}

/** summarize() into `t`. */
export function writeSummary(t: TextBuffer, f: Facts): void {
  if (f.levels[0]!.link === LINK_UNKNOWN) {
    t.ascii(`link type ${f.linktype} (not decoded), length ${f.origlen}`);
    return;
  }
  if (f.sllPacketType >= 0 && (f.linktype === LINKTYPE_LINUX_SLL || f.linktype === LINKTYPE_LINUX_SLL2)) {
    t.text(`${SLL_TYPES[f.sllPacketType] ?? f.sllPacketType} `);
  }
  for (let i = 0; i < f.depth; i++) {
    if (i > 0) t.lit(L_COLON);
    level(t, f, f.levels[i]!);
  }
}

function level(t: TextBuffer, f: Facts, l: Level): void {
  const b = f.data;
  if (l.ethOffset >= 0) {
    t.room(64);
    const dv = t.dv;
    let p = putMac(dv, t.pos, b, l.ethOffset + ETH_SOURCE);
    p = putLit(dv, p, L_GT);
    p = putMac(dv, p, b, l.ethOffset);
    if (l.vlan >= 0) {
      p = putLit(dv, p, L_VLAN);
      p = putDec(dv, p, l.vlan);
    }
    // 802.3/LLC lines follow the addresses with a space, like tcpdump's.
    t.pos = l.link === LINK_LLC ? putByte(dv, p, 32) : putLit(dv, p, L_COMMA);
    if (l.problem === 'ether' || l.problem === 'vlan') return void t.ascii(` [|${l.problem}]`);
  }
  if (l.ipVersion !== 0) return writeIp(t, f, l);
  switch (l.link) {
    case LINK_STP:
      return stp(t, b, l.linkOffset, f.end, onWire(f, l.linkOffset) - 3);
    case LINK_LLC:
      return llc(t, b, l, f.end, onWire(f, l.linkOffset));
    case LINK_LLDP:
      return void t.ascii(`LLDP, length ${onWire(f, l.linkOffset)}`);
    default:
      break;
  }
  switch (l.etherType) {
    case ETHERTYPE_IPV4:
      return void t.ascii(l.problem === 'ip-length' ? `IP bad-len ${l.ipLength}` : 'IP  [|ip]');
    case ETHERTYPE_IPV6:
      return void t.ascii('IP6  [|ip6]');
    case ETHERTYPE_ARP:
      return arpLine(t, b, l);
    default:
      if (l.ethOffset < 0) return void t.ascii(`ethertype Unknown (0x${hex4(l.etherType)}), length ${f.origlen}`);
      t.ascii(`ethertype Unknown (0x${hex4(l.etherType)}), length ${onWire(f, l.ethOffset)}: `);
  }
}

function hex4(v: number): string {
  return (v < 0 ? 0 : v).toString(16).padStart(4, '0');
}

/** Bytes from o to the end of the packet on the wire (the capture may have cut them). */
function onWire(f: Facts, o: number): number {
  return Math.max(0, f.start + f.origlen - o);
}

/** "ARP, Request who-has A tell B, length 28" for any hardware type with 4-byte protocol addresses. */
function arpLine(t: TextBuffer, b: Uint8Array, l: Level): void {
  if (l.problem) return void t.ascii(' [|arp]');
  const o = l.arpOffset;
  const hln = b[o + ARP_HLEN]!;
  const spa = o + ARP_SHA + hln;
  const tha = spa + 4;
  const tpa = tha + hln;
  const len = ARP_FIXED_LENGTH + 2 * (hln + 4);
  t.room(160);
  const dv = t.dv;
  let p = t.pos;
  if (l.arpOp === ARP_OP_REQUEST) {
    p = putLit(dv, p, L_ARP_REQUEST_WHO_HAS);
    p = putIpv4(dv, p, b, tpa);
    if (hln === MAC_LENGTH && !isZeroMac(b, tha)) {
      p = putAscii(dv, p, ' (');
      p = putMac(dv, p, b, tha);
      p = putByte(dv, p, 41);
    }
    p = putLit(dv, p, L_TELL);
    p = putIpv4(dv, p, b, spa);
  } else if (l.arpOp === ARP_OP_REPLY && hln === MAC_LENGTH) {
    p = putLit(dv, p, L_ARP_REPLY);
    p = putIpv4(dv, p, b, spa);
    p = putLit(dv, p, L_IS_AT);
    p = putMac(dv, p, b, o + ARP_SHA);
  } else {
    p = putAscii(dv, p, `ARP, ${ARP_OPS[l.arpOp] ?? `Unknown (${l.arpOp})`}`);
  }
  p = putLit(dv, p, L_LENGTH);
  t.pos = putDec(dv, p, len);
}

const ARP_OPS: Record<number, string> = { 2: 'Reply', 3: 'Reverse Request', 4: 'Reverse Reply', 8: 'Inverse Request', 9: 'Inverse Reply' };

const STP_FLAGS: [number, string][] = [[0x01, 'Topology change'], [0x02, 'Proposal'], [0x10, 'Learn'], [0x20, 'Forward'], [0x40, 'Agreement'], [0x80, 'Topology change ACK']];

/** "STP 802.1d, Config, Flags [none], bridge-id 8000.02:00:00:00:00:01.8001, length 35" (LLC header at o). */
function stp(t: TextBuffer, b: Uint8Array, o: number, end: number, length: number): void {
  const kind = stpKind(b, o, end);
  const d = o + 3;
  if (kind === '') return void t.ascii('STP  [|stp]');
  if (kind === 'tcn') return void t.ascii('STP 802.1d, Topology Change');
  t.ascii(kind === 'config' ? 'STP 802.1d, Config' : kind === 'rstp' ? 'STP 802.1w, Rapid STP' : 'STP 802.1s, Multiple STP');
  if (end - d < 35) return void t.ascii(' [|stp]');
  const flags = b[d + 4]!;
  const names = STP_FLAGS.filter(([bit]) => flags & bit).map(([, n]) => n);
  t.ascii(`, Flags [${names.length ? names.join(', ') : 'none'}], bridge-id ${hex2(b[d + 17]!)}${hex2(b[d + 18]!)}.`);
  t.mac(b, d + 19);
  t.ascii(`.${hex2(b[d + 25]!)}${hex2(b[d + 26]!)}, length ${length}`);
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

const SAPS: Record<number, string> = {
  0x00: 'Null', 0x02: 'LLC Sublayer Management', 0x04: 'SNA', 0x06: 'IP', 0x08: 'SNA', 0x0c: 'SNA', 0x42: 'STP', 0x4e: 'MMS',
  0x7e: 'X.25 PLP', 0x8e: 'Active Station List Maintenance', 0xaa: 'SNAP', 0xbc: 'Banyan Vines', 0xe0: 'IPX', 0xf0: 'NetBeui',
  0xf4: 'LAN Manager', 0xfe: 'OSI', 0xff: 'Global',
};

/** 802.3/LLC that is neither STP nor SNAP with a known EtherType. The line's MAC pair is already written. */
function llc(t: TextBuffer, b: Uint8Array, l: Level, end: number, length: number): void {
  const o = l.linkOffset;
  if (end - o < 3) return void t.ascii(' [|llc]');
  const dsap = b[o]!;
  const ssap = b[o + 1]!;
  if (dsap === 0xaa && ssap === 0xaa && b[o + 2] === 0x03 && end - o >= 8) {
    return void t.ascii(`SNAP, ethertype Unknown (0x${hex4(u16(b, o + 6))}), length ${Math.max(0, l.etherType - 8)}: `);
  }
  const ctrl = b[o + 2]!;
  const dname = SAPS[dsap & 0xfe];
  const sname = SAPS[ssap & 0xfe];
  if (dsap === ssap && dname) t.ascii(`${dname} `);
  else {
    // tcpdump names each SAP beside its address: rewrite the "src > dst " already written.
    t.pos -= 2 * 17 + 4;
    t.mac(b, l.ethOffset + 6);
    t.ascii(sname ? ` ${sname} > ` : ` Unknown SSAP 0x${hex2(ssap & 0xfe)} > `);
    t.mac(b, l.ethOffset);
    t.ascii(dname ? ` ${dname} ` : ` Unknown DSAP 0x${hex2(dsap & 0xfe)} `);
  }
  if ((ctrl & 3) === 3) t.ascii(`Unnumbered, ${U_FRAMES[ctrl & 0xef] ?? `0x${hex2(ctrl)}`}, Flags [${ssap & 1 ? 'Response' : 'Command'}], length ${length}`);
  else t.ascii(`${ctrl & 1 ? 'Supervisory' : 'Information'}, length ${length}`);
}

const U_FRAMES: Record<number, string> = { 0x03: 'ui', 0x07: 'ui', 0x0f: 'dm', 0x43: 'disc', 0x63: 'ua', 0x6f: 'sabme', 0x87: 'frmr', 0xaf: 'xid', 0xe3: 'test' };
