/**
 * Evaluates a parsed filter (filter.ts) on a dissected packet (facts.ts)
 * without allocating. Byte-offset loads follow BPF: a load past the
 * captured bytes rejects the whole packet (whatever `not` or `or` around
 * it), a load relative to a header the packet lacks makes that relation
 * false.
 */
import { ARP_ETHERNET_IPV4_LENGTH, ARP_SPA, ARP_TPA, ETH_HEADER_LENGTH, IPV4_DESTINATION, IPV4_SOURCE, IPV6_DESTINATION, IPV6_SOURCE, VLAN_TAG_LENGTH } from '../wire/fields.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_RARP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
} from '../wire/numbers.js';
import type { Facts, Level } from './facts.js';
import type { Arith, Direction, FilterNode, LoadBase, ProtoName } from './filter.js';

/** Set when a load ran past the capture: the packet is rejected. */
let aborted = false;

/** Whether the packet in `facts` matches; `null` (empty filter) matches all. */
export function matchFilter(node: FilterNode | null, facts: Facts, level = 0): boolean {
  if (node === null) return true;
  aborted = false;
  const r = match(node, facts, level);
  return r && !aborted;
}

function match(node: FilterNode, facts: Facts, level: number): boolean {
  if (level >= facts.depth) return false;
  const l = facts.levels[level]!;
  switch (node.kind) {
    case 'and':
      return match(node.left, facts, level) && match(node.right, facts, level);
    case 'or':
      return match(node.left, facts, level) || match(node.right, facts, level);
    case 'not':
      return !match(node.operand, facts, level);
    case 'inner':
      return level + 1 < facts.depth && match(node.operand, facts, level + 1);
    case 'host':
      return node.family === 4 ? matchV4(node.dir, facts, l, node.v4, 0xffffffff) : matchV6(node.dir, facts.data, l, node.v6, 128);
    case 'net':
      return node.family === 4 ? matchV4(node.dir, facts, l, node.v4, node.v4mask) : matchV6(node.dir, facts.data, l, node.v6, node.prefix);
    case 'port': {
      if (l.sourcePort < 0 || (l.protocol !== IPPROTO_TCP && l.protocol !== IPPROTO_UDP && l.protocol !== IPPROTO_SCTP)) return false;
      const s = l.sourcePort >= node.lo && l.sourcePort <= node.hi;
      const d = l.destinationPort >= node.lo && l.destinationPort <= node.hi;
      return either(node.dir, s, d);
    }
    case 'proto':
      return matchProto(node.proto, node.family, l);
    case 'ether': {
      if (l.ethOffset < 0) return false;
      const b = facts.data;
      return either(node.dir, eqMac(b, l.ethOffset + 6, node.mac), eqMac(b, l.ethOffset, node.mac));
    }
    case 'etherProto':
      return l.etherType === node.type;
    case 'etherCast': {
      if (l.ethOffset < 0) return false;
      const b = facts.data;
      const o = l.ethOffset;
      return node.broadcast ? (b[o]! & b[o + 1]! & b[o + 2]! & b[o + 3]! & b[o + 4]! & b[o + 5]!) === 0xff : (b[o]! & 1) === 1;
    }
    case 'vlan':
      if (l.vlanCount <= node.index) return false;
      return node.vid < 0 || (node.index === 0 ? l.vlan : node.index === 1 ? l.vlan2 : -1) === node.vid;
    case 'vni':
      return l.vni === node.vni;
    case 'rel': {
      const a = arith(node.a, facts, l);
      if (a < 0) return false;
      const b = arith(node.b, facts, l);
      if (b < 0) return false;
      switch (node.op) {
        case '<': return a < b;
        case '<=': return a <= b;
        case '>': return a > b;
        case '>=': return a >= b;
        case '==': return a === b;
        case '!=': return a !== b;
      }
    }
  }
}

function either(dir: Direction, s: boolean, d: boolean): boolean {
  return dir === 'src' ? s : dir === 'dst' ? d : dir === 'both' ? s && d : s || d;
}

function rd32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function eqMac(b: Uint8Array, o: number, m: Uint8Array): boolean {
  return b[o] === m[0] && b[o + 1] === m[1] && b[o + 2] === m[2] && b[o + 3] === m[3] && b[o + 4] === m[4] && b[o + 5] === m[5];
}

function matchV4(dir: Direction, f: Facts, l: Level, want: number, mask: number): boolean {
  const b = f.data;
  if (l.ipVersion === 4) {
    const o = l.ipOffset;
    return either(dir, ((rd32(b, o + IPV4_SOURCE) & mask) >>> 0) === want, ((rd32(b, o + IPV4_DESTINATION) & mask) >>> 0) === want);
  }
  // ARP/RARP: sender protocol address at 14, target at 24 (Ethernet/IPv4 layout, as libpcap reads them).
  if (l.arpOffset >= 0 && l.arpOffset + ARP_ETHERNET_IPV4_LENGTH <= f.end) {
    const o = l.arpOffset;
    return either(dir, ((rd32(b, o + ARP_SPA) & mask) >>> 0) === want, ((rd32(b, o + ARP_TPA) & mask) >>> 0) === want);
  }
  return false;
}

function prefixMatch(b: Uint8Array, o: number, want: Uint8Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[o + i]! & mask) !== (want[i]! & mask)) return false;
  }
  return true;
}

function matchV6(dir: Direction, b: Uint8Array, l: Level, want: Uint8Array, prefix: number): boolean {
  if (l.ipVersion !== 6) return false;
  return either(dir, prefixMatch(b, l.ipOffset + IPV6_SOURCE, want, prefix), prefixMatch(b, l.ipOffset + IPV6_DESTINATION, want, prefix));
}

function matchProto(p: ProtoName, family: 0 | 4 | 6, l: Level): boolean {
  switch (p) {
    case 'ip': return l.etherType === ETHERTYPE_IPV4;
    case 'ip6': return l.etherType === ETHERTYPE_IPV6;
    case 'arp': return l.etherType === ETHERTYPE_ARP;
    case 'rarp': return l.etherType === ETHERTYPE_RARP;
    case 'tcp': return l.protocol === IPPROTO_TCP;
    case 'udp': return l.protocol === IPPROTO_UDP;
    case 'icmp': return l.protocol === IPPROTO_ICMP && l.ipVersion === 4;
    case 'icmp6': return l.protocol === IPPROTO_ICMPV6 && l.ipVersion === 6;
    case 'vxlan': return l.vni >= 0;
    default: return l.protocol === p && l.ipVersion !== 0 && (family === 0 || l.ipVersion === family);
  }
}

/** Start of the header a load counts from, or -1 when the packet has none. */
function baseOffset(base: LoadBase, f: Facts, l: Level): number {
  switch (base) {
    case 'link': return l.ethOffset >= 0 ? l.ethOffset : f.start;
    case 'ip': return l.ipVersion === 4 ? l.ipOffset : -1;
    case 'ip6': return l.ipVersion === 6 ? l.ipOffset : -1;
    case 'tcp': return l.protocol === IPPROTO_TCP && !l.fragment ? l.l4Offset : -1;
    case 'udp': return l.protocol === IPPROTO_UDP && !l.fragment ? l.l4Offset : -1;
    case 'sctp': return l.protocol === IPPROTO_SCTP && !l.fragment ? l.l4Offset : -1;
    case 'icmp': return l.protocol === IPPROTO_ICMP && l.ipVersion === 4 && !l.fragment ? l.l4Offset : -1;
    case 'icmp6': return l.protocol === IPPROTO_ICMPV6 && l.ipVersion === 6 && !l.fragment ? l.l4Offset : -1;
    case 'arp': return l.etherType === ETHERTYPE_ARP ? l.arpOffset : -1;
    case 'rarp': return l.etherType === ETHERTYPE_RARP && l.ethOffset >= 0 ? l.ethOffset + ETH_HEADER_LENGTH + VLAN_TAG_LENGTH * l.vlanCount : -1;
  }
}

/** The unsigned 32-bit value of an expression; -1 when a header is missing, -2 after an out-of-capture load (aborts). */
function arith(a: Arith, f: Facts, l: Level): number {
  switch (a.k) {
    case 'num':
      return a.v;
    case 'len':
      return f.origlen;
    case 'neg': {
      const v = arith(a.a, f, l);
      return v < 0 ? v : (-v) >>> 0;
    }
    case 'load': {
      const base = baseOffset(a.base, f, l);
      if (base < 0) return -1;
      const off = arith(a.off, f, l);
      if (off < 0) return off;
      const o = base + off;
      if (o + a.size > f.end) {
        aborted = true;
        return -2;
      }
      const b = f.data;
      return a.size === 1 ? b[o]! : a.size === 2 ? (b[o]! << 8) | b[o + 1]! : rd32(b, o);
    }
    case 'bin': {
      const x = arith(a.a, f, l);
      if (x < 0) return x;
      const y = arith(a.b, f, l);
      if (y < 0) return y;
      switch (a.op) {
        case '+': return (x + y) >>> 0;
        case '-': return (x - y) >>> 0;
        case '*': return Math.imul(x, y) >>> 0;
        case '/': return y === 0 ? abort() : Math.floor(x / y);
        case '%': return y === 0 ? abort() : x % y;
        case '&': return (x & y) >>> 0;
        case '|': return (x | y) >>> 0;
        case '^': return (x ^ y) >>> 0;
        case '<<': return y > 31 ? 0 : (x << y) >>> 0;
        case '>>': return y > 31 ? 0 : x >>> y;
      }
    }
  }
}

/** BPF rejects the packet on division by zero. */
function abort(): number {
  aborted = true;
  return -2;
}
