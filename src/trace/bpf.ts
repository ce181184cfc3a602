/**
 * Compiles the outer-frame part of a filter to classic BPF for the kernel
 * (SO_ATTACH_FILTER on the AF_PACKET socket, Ethernet link layer), so
 * uninteresting packets never reach userspace.
 *
 * The kernel program is an over-approximation: terms it cannot express
 * (vni, inner ...) become "true" where they count positively and "false"
 * under a `not`, and the exact filter always runs again in userspace on
 * what the kernel passes. So the kernel filter only ever saves work.
 * (One exception: an IP packet too short for its own length field is
 * judged by the kernel on its header, while userspace treats it as
 * malformed, so `not udp` may lose such a broken packet.)
 */
import { u32 } from '../wire/bytes.js';
import {
  ARP_SPA, ARP_TPA, ETH_DESTINATION, ETH_HEADER_LENGTH, ETH_SOURCE, ETH_TYPE, IPV4_DESTINATION, IPV4_FRAGMENT, IPV4_PROTOCOL, IPV4_SOURCE,
  IPV6_DESTINATION, IPV6_HEADER_LENGTH, IPV6_NEXT_HEADER, IPV6_SOURCE, UDP_DESTINATION_PORT, UDP_SOURCE_PORT,
} from '../wire/fields.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MIN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_LEGACY, ETHERTYPE_RARP, ETHERTYPE_VLAN,
  IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
} from '../wire/numbers.js';
import { MAX_TAGS } from '../wire/vlan.js';
import { EXTENSION_HEADER_TYPES } from '../wire/ipv6.js';
import type { FilterNode } from './filter.js';

/** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const LD_W_ABS = 0x20;
const LD_H_ABS = 0x28;
const LD_B_ABS = 0x30;
const LD_H_IND = 0x48;
const LDX_B_MSH = 0xb1;
const LD_W_LEN = 0x80;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const JSET_K = 0x45;
const AND_K = 0x54;
const RET_K = 0x06;

// Absolute packet offsets over an untagged Ethernet frame (the emitter shifts those past the MACs by the tags).
const ETHERTYPE_AT = ETH_TYPE;
const IP_AT = ETH_HEADER_LENGTH;
/** The transport header behind an IPv6 header without extension headers. */
const L4V6_AT = IP_AT + IPV6_HEADER_LENGTH;
const SNAP = 262144;

type Approx = FilterNode | boolean;

/** Replaces what BPF cannot express with a constant that never rejects a match. */
function approximate(n: FilterNode, positive: boolean): Approx {
  switch (n.kind) {
    case 'and':
    case 'or': {
      const l = approximate(n.left, positive);
      const r = approximate(n.right, positive);
      if (n.kind === 'and') {
        if (l === false || r === false) return false;
        if (l === true) return r;
        if (r === true) return l;
      } else {
        if (l === true || r === true) return true;
        if (l === false) return r;
        if (r === false) return l;
      }
      return { kind: n.kind, left: l, right: r };
    }
    case 'not': {
      const o = approximate(n.operand, !positive);
      return typeof o === 'boolean' ? !o : { kind: 'not', operand: o };
    }
    case 'inner':
    case 'vni':
    case 'vlan':
    case 'etherCast':
      return positive;
    case 'rel':
      return isLengthTest(n) ? n : positive;
    case 'proto':
      return n.proto === 'vxlan' ? positive : n;
    default:
      return n;
  }
}

/** `len OP N` (less, greater): the one relation the kernel program expresses. */
function isLengthTest(n: Extract<FilterNode, { kind: 'rel' }>): boolean {
  return n.a.k === 'len' && n.b.k === 'num';
}

interface Label {
  at: number;
}

const LOADS = new Set([LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_H_IND, LDX_B_MSH]);

class Emitter {
  readonly code: { insn: BpfInsn; t?: Label; f?: Label }[] = [];
  /** Bytes of VLAN tags before the EtherType: added to every load from offset 12 on (not to the MAC addresses). */
  shift = 0;
  label(): Label {
    return { at: -1 };
  }
  place(l: Label): void {
    l.at = this.code.length;
  }
  op(code: number, k: number): void {
    if (LOADS.has(code) && k >= ETHERTYPE_AT) k += this.shift;
    this.code.push({ insn: { code, jt: 0, jf: 0, k: k >>> 0 } });
  }
  /** Conditional jump; `undefined` means "fall through to the next instruction". */
  jump(code: number, k: number, t: Label | undefined, f: Label | undefined): void {
    const entry: { insn: BpfInsn; t?: Label; f?: Label } = { insn: { code, jt: 0, jf: 0, k: k >>> 0 } };
    if (t) entry.t = t;
    if (f) entry.f = f;
    this.code.push(entry);
  }
  /** Resolves labels; undefined when a jump would exceed 255 instructions. */
  finish(): BpfInsn[] | undefined {
    const out: BpfInsn[] = [];
    for (let i = 0; i < this.code.length; i++) {
      const e = this.code[i]!;
      const jt = e.t ? e.t.at - i - 1 : 0;
      const jf = e.f ? e.f.at - i - 1 : 0;
      if (jt < 0 || jt > 255 || jf < 0 || jf > 255) return undefined;
      out.push({ ...e.insn, jt, jf });
    }
    return out;
  }
}

/**
 * The kernel program for a filter on an Ethernet interface, or undefined
 * when no kernel filter helps (empty or fully userspace filters).
 */
export function compileBpf(filter: FilterNode | null): BpfInsn[] | undefined {
  if (filter === null) return undefined;
  const a = approximate(filter, true);
  if (a === true) return undefined;
  if (a === false) return [{ code: RET_K, jt: 0, jf: 0, k: 0 }];
  // Like the userspace filter, look through VLAN tags still in the data (not
  // offloaded by the NIC) and SNAP headers: the filter again behind each tag,
  // as many as dissect reads. Long filters look behind fewer tags and keep
  // the rest.
  for (const snap of [true, false]) {
    for (const depth of [MAX_TAGS, 2]) {
      const p = compileTagged(a, depth, snap);
      if (p && p.length <= MAX_TAGGED_LENGTH) return p;
    }
  }
  return compileTagged(a, 0, false);
}

/** Bounds a program with copies behind VLAN tags (the kernel takes up to 4096 instructions). */
const MAX_TAGGED_LENGTH = 1024;

/**
 * The filter for untagged frames and behind 1..`depth` VLAN tags, each copy
 * with its own return instructions so that jumps stay short; frames with
 * more tags are kept for userspace. 802.3 frames whose SNAP header carries
 * IPv4, IPv6 or ARP (as dissect decodes them, src/wire/llc.ts) get the
 * filter again 8 bytes further on with `snap`, and are kept without.
 */
function compileTagged(a: FilterNode, depth: number, snap: boolean): BpfInsn[] | undefined {
  const e = new Emitter();
  const keep = e.label();
  e.op(LD_H_ABS, ETHERTYPE_AT);
  for (let d = 0; d <= depth; d++) {
    e.shift = 4 * d;
    const tagged = d < depth ? e.label() : keep;
    const body = e.label();
    const accept = e.label();
    const reject = e.label();
    e.jump(JEQ_K, ETHERTYPE_VLAN, tagged, undefined);
    e.jump(JEQ_K, ETHERTYPE_QINQ, tagged, undefined);
    e.jump(JEQ_K, ETHERTYPE_QINQ_LEGACY, tagged, undefined);
    e.jump(JGE_K, ETHERTYPE_MIN, body, undefined);
    // 802.3: SNAP (AA AA) may carry IP; other LLC frames are never IP, ARP
    // or IPv6, and their length field stands where the filter reads the EtherType.
    if (snap) genSnap(e, IP_AT + e.shift, body);
    else {
      e.op(LD_H_ABS, IP_AT);
      e.jump(JEQ_K, 0xaaaa, accept, body);
    }
    if (snap) {
      e.shift += 8;
      gen(e, a, accept, reject);
      e.shift -= 8;
    }
    e.place(body);
    gen(e, a, accept, reject);
    e.place(accept);
    e.op(RET_K, SNAP);
    e.place(reject);
    e.op(RET_K, 0);
    if (d < depth) {
      e.place(tagged);
      e.op(LD_H_ABS, 16);
    }
  }
  e.place(keep);
  e.op(RET_K, SNAP);
  return e.finish();
}

/**
 * Falls through when the LLC header at `llc` (unshifted) is SNAP with an
 * EtherType-carrying OUI and the EtherType is IPv4, IPv6 or ARP (what
 * dissect decodes behind it); else goes to `other`. The frame's length is
 * checked first, as a load past the end would reject it in the kernel.
 */
function genSnap(e: Emitter, llc: number, other: Label): void {
  const shift = e.shift;
  e.shift = 0;
  const oui = e.label();
  const inner = e.label();
  e.op(LD_W_LEN, 0);
  e.jump(JGE_K, llc + 8, undefined, other);
  e.op(LD_H_ABS, llc);
  e.jump(JEQ_K, 0xaaaa, undefined, other);
  e.op(LD_B_ABS, llc + 2);
  e.jump(JEQ_K, 0x03, undefined, other);
  e.op(LD_H_ABS, llc + 3);
  e.jump(JEQ_K, 0, undefined, other);
  e.op(LD_B_ABS, llc + 5);
  e.jump(JEQ_K, 0, oui, undefined);
  e.jump(JEQ_K, 0xf8, undefined, other);
  e.place(oui);
  e.op(LD_H_ABS, llc + 6);
  e.jump(JEQ_K, 0x0800, inner, undefined);
  e.jump(JEQ_K, 0x86dd, inner, undefined);
  e.jump(JEQ_K, 0x0806, inner, other);
  e.place(inner);
  e.shift = shift;
}

/**
 * `positive`: whether a true result here makes the whole filter more likely
 * true. Terms the kernel can only guess at (IPv6 extension headers) guess
 * true when positive and false under a `not`, so the program stays an
 * over-approximation of the filter.
 */
function gen(e: Emitter, n: FilterNode, t: Label, f: Label, positive = true): void {
  switch (n.kind) {
    case 'and': {
      const mid = e.label();
      gen(e, n.left, mid, f, positive);
      e.place(mid);
      gen(e, n.right, t, f, positive);
      return;
    }
    case 'or': {
      const mid = e.label();
      gen(e, n.left, t, mid, positive);
      e.place(mid);
      gen(e, n.right, t, f, positive);
      return;
    }
    case 'not':
      gen(e, n.operand, f, t, !positive);
      return;
    case 'host':
    case 'net':
      genAddress(e, n, t, f);
      return;
    case 'port':
      genPort(e, n.dir, n.lo, n.hi, t, f, positive);
      return;
    case 'proto':
      genProto(e, n.proto as Exclude<typeof n.proto, 'vxlan'>, n.family, t, f, positive);
      return;
    case 'ether':
      genEther(e, n.dir, n.mac, t, f);
      return;
    case 'etherProto':
      e.op(LD_H_ABS, ETHERTYPE_AT);
      e.jump(JEQ_K, n.type, t, f);
      return;
    case 'rel': {
      // Only `len OP N` reaches here (approximate()).
      const k = (n.b as { v: number }).v;
      e.op(LD_W_LEN, 0);
      if (n.op === '==' || n.op === '!=') e.jump(JEQ_K, k, n.op === '==' ? t : f, n.op === '==' ? f : t);
      else if (n.op === '>=') e.jump(JGE_K, k, t, f);
      else if (n.op === '>') e.jump(JGT_K, k, t, f);
      else if (n.op === '<=') e.jump(JGT_K, k, f, t);
      else e.jump(JGE_K, k, f, t);
      return;
    }
    default:
      // approximate() removed everything else.
      throw new Error(`unreachable BPF term ${n.kind}`);
  }
}

function genEther(e: Emitter, dir: 'src' | 'dst' | 'any' | 'both', mac: Uint8Array, t: Label, f: Label): void {
  const hi = (mac[0]! << 8) | mac[1]!;
  const lo = u32(mac, 2);
  // One address at `off`: match → yes, else → no.
  const one = (off: number, yes: Label, no: Label): void => {
    e.op(LD_W_ABS, off + 2);
    e.jump(JEQ_K, lo, undefined, no);
    e.op(LD_H_ABS, off);
    e.jump(JEQ_K, hi, yes, no);
  };
  const second = e.label();
  if (dir === 'src') return one(ETH_SOURCE, t, f);
  if (dir === 'dst') return one(ETH_DESTINATION, t, f);
  if (dir === 'both') {
    one(ETH_SOURCE, second, f);
    e.place(second);
    return one(ETH_DESTINATION, t, f);
  }
  one(ETH_SOURCE, t, second);
  e.place(second);
  one(ETH_DESTINATION, t, f);
}

function genAddress(e: Emitter, n: Extract<FilterNode, { kind: 'host' | 'net' }>, t: Label, f: Label): void {
  if (n.family === 4) {
    const v4 = (off: number, next: Label): void => {
      e.op(LD_W_ABS, off);
      if (n.kind === 'net' && n.v4mask !== 0xffffffff) e.op(AND_K, n.v4mask);
      e.jump(JEQ_K, n.v4, t, next);
    };
    const notIp = e.label();
    e.op(LD_H_ABS, ETHERTYPE_AT);
    e.jump(JEQ_K, ETHERTYPE_IPV4, undefined, notIp);
    const ipDst = e.label();
    if (n.dir === 'both') {
      // Source and destination: both must match (rare; the kernel only narrows).
      e.op(LD_H_ABS, ETHERTYPE_AT);
      e.jump(JEQ_K, ETHERTYPE_IPV4, t, undefined);
      e.jump(JEQ_K, ETHERTYPE_ARP, t, f);
      e.place(notIp);
      return;
    }
    if (n.dir !== 'dst') v4(IP_AT + IPV4_SOURCE, n.dir === 'src' ? f : ipDst);
    e.place(ipDst);
    if (n.dir !== 'src') v4(IP_AT + IPV4_DESTINATION, f);
    // ARP (Ethernet/IPv4): sender protocol address at 28, target at 38.
    e.place(notIp);
    e.jump(JEQ_K, ETHERTYPE_ARP, undefined, f);
    const arpDst = e.label();
    if (n.dir !== 'dst') v4(IP_AT + ARP_SPA, n.dir === 'src' ? f : arpDst);
    e.place(arpDst);
    if (n.dir !== 'src') v4(IP_AT + ARP_TPA, f);
    return;
  }
  e.op(LD_H_ABS, ETHERTYPE_AT);
  if (n.dir === 'both') return e.jump(JEQ_K, ETHERTYPE_IPV6, t, f);
  e.jump(JEQ_K, ETHERTYPE_IPV6, undefined, f);
  const bits = n.kind === 'net' ? n.prefix : 128;
  const v6 = (base: number, next: Label): void => {
    for (let w = 0; w < 4 && w * 32 < bits; w++) {
      const left = Math.min(32, bits - w * 32);
      const want = u32(n.v6, w * 4);
      const mask = left === 32 ? 0xffffffff : (0xffffffff << (32 - left)) >>> 0;
      e.op(LD_W_ABS, base + w * 4);
      if (mask !== 0xffffffff) e.op(AND_K, mask);
      const last = w === 3 || (w + 1) * 32 >= bits;
      e.jump(JEQ_K, (want & mask) >>> 0, last ? t : undefined, next);
    }
    if (bits === 0) e.jump(JEQ_K, 0, t, t);
  };
  const dst = e.label();
  if (n.dir !== 'dst') v6(IP_AT + IPV6_SOURCE, n.dir === 'src' ? f : dst);
  e.place(dst);
  if (n.dir !== 'src') v6(IP_AT + IPV6_DESTINATION, f);
}

function genPort(e: Emitter, dir: 'src' | 'dst' | 'any' | 'both', lo: number, hi: number, t: Label, f: Label, positive: boolean): void {
  const range = (yes: Label, no: Label): void => {
    if (lo === hi) return e.jump(JEQ_K, lo, yes, no);
    e.jump(JGE_K, lo, undefined, no);
    e.jump(JGT_K, hi, no, yes);
  };
  /** Source port by `src()`, destination by `dst()`, combined as `dir` says. */
  const ports = (src: () => void, dst: () => void): void => {
    const second = e.label();
    if (dir === 'src' || dir === 'dst') {
      (dir === 'src' ? src : dst)();
      return range(t, f);
    }
    src();
    if (dir === 'both') range(second, f);
    else range(t, second);
    e.place(second);
    dst();
    range(t, f);
  };
  const notV4 = e.label();
  e.op(LD_H_ABS, ETHERTYPE_AT);
  e.jump(JEQ_K, ETHERTYPE_IPV4, undefined, notV4);
  // IPv4: TCP/UDP/SCTP, first fragment only, header length from IHL.
  const isL4 = e.label();
  e.op(LD_B_ABS, IP_AT + IPV4_PROTOCOL);
  e.jump(JEQ_K, IPPROTO_TCP, isL4, undefined);
  e.jump(JEQ_K, IPPROTO_UDP, isL4, undefined);
  e.jump(JEQ_K, IPPROTO_SCTP, isL4, f);
  e.place(isL4);
  e.op(LD_H_ABS, IP_AT + IPV4_FRAGMENT);
  e.jump(JSET_K, 0x1fff, f, undefined);
  e.op(LDX_B_MSH, IP_AT);
  ports(() => e.op(LD_H_IND, IP_AT + UDP_SOURCE_PORT), () => e.op(LD_H_IND, IP_AT + UDP_DESTINATION_PORT));
  // IPv6 without extension headers (the userspace filter sees through them).
  e.place(notV4);
  e.jump(JEQ_K, ETHERTYPE_IPV6, undefined, f);
  const isL4v6 = e.label();
  e.op(LD_B_ABS, IP_AT + IPV6_NEXT_HEADER);
  e.jump(JEQ_K, IPPROTO_TCP, isL4v6, undefined);
  e.jump(JEQ_K, IPPROTO_UDP, isL4v6, undefined);
  e.jump(JEQ_K, IPPROTO_SCTP, isL4v6, undefined);
  genV6Extensions(e, positive ? t : f, f);
  e.place(isL4v6);
  ports(() => e.op(LD_H_ABS, L4V6_AT + UDP_SOURCE_PORT), () => e.op(LD_H_ABS, L4V6_AT + UDP_DESTINATION_PORT));
}

function genProto(e: Emitter, p: 'ip' | 'ip6' | 'arp' | 'rarp' | 'tcp' | 'udp' | 'icmp' | 'icmp6' | number, family: 0 | 4 | 6, t: Label, f: Label, positive: boolean): void {
  const ether = (type: number): void => {
    e.op(LD_H_ABS, ETHERTYPE_AT);
    e.jump(JEQ_K, type, t, f);
  };
  if (p === 'ip') return ether(ETHERTYPE_IPV4);
  if (p === 'ip6') return ether(ETHERTYPE_IPV6);
  if (p === 'arp') return ether(ETHERTYPE_ARP);
  if (p === 'rarp') return ether(ETHERTYPE_RARP);
  const num = p === 'tcp' ? IPPROTO_TCP : p === 'udp' ? IPPROTO_UDP : p === 'icmp' ? IPPROTO_ICMP : p === 'icmp6' ? IPPROTO_ICMPV6 : p;
  const notV4 = e.label();
  e.op(LD_H_ABS, ETHERTYPE_AT);
  if (family === 4) {
    e.jump(JEQ_K, ETHERTYPE_IPV4, undefined, f);
    e.op(LD_B_ABS, IP_AT + IPV4_PROTOCOL);
    return e.jump(JEQ_K, num, t, f);
  }
  if (p === 'icmp6' || family === 6) {
    e.jump(JEQ_K, ETHERTYPE_IPV6, undefined, f);
  } else {
    // ICMP (v4) exists only over IPv4: anything else goes straight to false.
    e.jump(JEQ_K, ETHERTYPE_IPV4, undefined, p === 'icmp' ? f : notV4);
    e.op(LD_B_ABS, IP_AT + IPV4_PROTOCOL);
    e.jump(JEQ_K, num, t, f);
    if (p === 'icmp') return;
    e.place(notV4);
    e.jump(JEQ_K, ETHERTYPE_IPV6, undefined, f);
  }
  // IPv6: next header directly after the fixed header; behind extension
  // headers the kernel cannot tell, so it guesses (see gen).
  e.op(LD_B_ABS, IP_AT + IPV6_NEXT_HEADER);
  e.jump(JEQ_K, num, t, undefined);
  genV6Extensions(e, positive ? t : f, f);
}

/** A holds the IPv6 next header: extension header → `ext`, anything else → `other`. */
function genV6Extensions(e: Emitter, ext: Label, other: Label): void {
  EXTENSION_HEADER_TYPES.forEach((type, i) => e.jump(JEQ_K, type, ext, i === EXTENSION_HEADER_TYPES.length - 1 ? other : undefined));
}

/** The 8-byte sock_filter array SO_ATTACH_FILTER expects (host byte order). */
export function encodeBpf(program: BpfInsn[]): Uint8Array {
  const out = Buffer.alloc(program.length * 8);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  program.forEach((p, i) => {
    if (le) {
      out.writeUInt16LE(p.code, i * 8);
      out.writeUInt32LE(p.k, i * 8 + 4);
    } else {
      out.writeUInt16BE(p.code, i * 8);
      out.writeUInt32BE(p.k, i * 8 + 4);
    }
    out[i * 8 + 2] = p.jt;
    out[i * 8 + 3] = p.jf;
  });
  return out;
}

/** A tiny classic-BPF interpreter for the instructions compileBpf emits (tests). */
export function runBpf(program: BpfInsn[], pkt: Uint8Array, wirelen = pkt.length): number {
  let a = 0;
  let x = 0;
  const w = (o: number): number | undefined => (o + 4 <= pkt.length ? u32(pkt, o) : undefined);
  const h = (o: number): number | undefined => (o + 2 <= pkt.length ? (pkt[o]! << 8) | pkt[o + 1]! : undefined);
  for (let pc = 0; pc < program.length; pc++) {
    const i = program[pc]!;
    let v: number | undefined;
    switch (i.code) {
      case LD_W_ABS: v = w(i.k); if (v === undefined) return 0; a = v; break;
      case LD_H_ABS: v = h(i.k); if (v === undefined) return 0; a = v; break;
      case LD_B_ABS: if (i.k >= pkt.length) return 0; a = pkt[i.k]!; break;
      case LD_H_IND: v = h(x + i.k); if (v === undefined) return 0; a = v; break;
      case LDX_B_MSH: if (i.k >= pkt.length) return 0; x = (pkt[i.k]! & 0xf) * 4; break;
      case AND_K: a = (a & i.k) >>> 0; break;
      case LD_W_LEN: a = wirelen; break;
      case JEQ_K: pc += a === i.k ? i.jt : i.jf; break;
      case JGT_K: pc += a > i.k ? i.jt : i.jf; break;
      case JGE_K: pc += a >= i.k ? i.jt : i.jf; break;
      case JSET_K: pc += (a & i.k) !== 0 ? i.jt : i.jf; break;
      case RET_K: return i.k;
      default: throw new Error(`unknown BPF opcode ${i.code}`);
    }
  }
  return 0;
}

/** A prefilter compiled from a program: (data, offset, caplen, wirelen) → nonzero to keep. */
export type BpfFunction = (b: Uint8Array, o: number, n: number, wirelen: number) => number;

/**
 * Translates a compileBpf program into a JavaScript function (V8 then
 * compiles it like any other), so `trace read` can drop most packets
 * before dissecting them. Unlike the kernel, a load past the captured
 * bytes keeps the packet: the exact filter, which runs next on what this
 * keeps, decides about cut packets.
 *
 * BPF jumps only forward, so the program becomes straight-line code:
 * instruction k follows a block labelled Lk, and a jump to k is `break Lk`
 * (no dispatch loop for V8 to run per instruction).
 */
export function bpfToFunction(program: BpfInsn[]): BpfFunction {
  const targets = new Set<number>();
  program.forEach((i, pc) => {
    if (!isJump(i.code)) return;
    if (i.jt !== 0) targets.add(pc + 1 + i.jt);
    if (i.jf !== 0) targets.add(pc + 1 + i.jf);
  });
  // Each target nests one block deeper; past what V8 parses safely, keep every packet.
  if (targets.size > MAX_NESTED_TARGETS) return () => 1;
  const lines: string[] = ['let A = 0, X = 0;', ...[...targets].sort((x, y) => y - x).map((k) => `L${k}: {`)];
  const jump = (pc: number, cond: string, i: BpfInsn): string => {
    if (i.jt === 0) return i.jf === 0 ? '' : `if (!(${cond})) break L${pc + 1 + i.jf};`;
    return `if (${cond}) break L${pc + 1 + i.jt};${i.jf === 0 ? '' : ` break L${pc + 1 + i.jf};`}`;
  };
  program.forEach((i, pc) => {
    if (targets.has(pc)) lines.push('}');
    switch (i.code) {
      case LD_W_ABS: lines.push(`if (${i.k + 4} > n) return 1; A = ((b[o + ${i.k}] << 24) | (b[o + ${i.k + 1}] << 16) | (b[o + ${i.k + 2}] << 8) | b[o + ${i.k + 3}]) >>> 0;`); break;
      case LD_H_ABS: lines.push(`if (${i.k + 2} > n) return 1; A = (b[o + ${i.k}] << 8) | b[o + ${i.k + 1}];`); break;
      case LD_B_ABS: lines.push(`if (${i.k + 1} > n) return 1; A = b[o + ${i.k}];`); break;
      case LD_H_IND: lines.push(`if (X + ${i.k + 2} > n) return 1; A = (b[o + X + ${i.k}] << 8) | b[o + X + ${i.k + 1}];`); break;
      case LDX_B_MSH: lines.push(`if (${i.k + 1} > n) return 1; X = (b[o + ${i.k}] & 15) * 4;`); break;
      case LD_W_LEN: lines.push('A = wirelen;'); break;
      case AND_K: lines.push(`A = (A & ${i.k}) >>> 0;`); break;
      case JEQ_K: lines.push(jump(pc, `A === ${i.k}`, i)); break;
      case JGT_K: lines.push(jump(pc, `A > ${i.k}`, i)); break;
      case JGE_K: lines.push(jump(pc, `A >= ${i.k}`, i)); break;
      case JSET_K: lines.push(jump(pc, `(A & ${i.k}) !== 0`, i)); break;
      case RET_K: lines.push(`return ${i.k};`); break;
      default: throw new Error(`unknown BPF opcode ${i.code}`);
    }
  });
  lines.push('return 0;');
  return new Function('b', 'o', 'n', 'wirelen', lines.join('\n')) as BpfFunction;
}

const MAX_NESTED_TARGETS = 1500;

function isJump(code: number): boolean {
  return code === JEQ_K || code === JGT_K || code === JGE_K || code === JSET_K;
}
