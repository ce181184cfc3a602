/**
 * Packet filter expressions, a tcpdump-like subset plus overlay terms:
 *
 *   expr    := or
 *   or      := and (('or' | '||') and)*
 *   and     := unary (('and' | '&&') unary)*
 *   unary   := ('not' | '!') unary | 'inner' unary | '(' expr ')' | term
 *   term    := [src|dst] host ADDR | [src|dst] net CIDR | [src|dst] port N
 *            | [src|dst] ADDR | proto NAME|N | vni N
 *            | ip | ip6 | arp | tcp | udp | icmp | icmp6 | vxlan
 *
 * Terms look at the outer frame; `inner X` looks at the frame inside the
 * VXLAN header (`inner inner X` one further). A bad expression throws
 * FilterSyntaxError naming the 1-based column. Evaluation reads a Facts
 * (facts.ts) and allocates nothing.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { WeftError } from '../errors.js';
import type { Facts, Level } from './facts.js';

export class FilterSyntaxError extends WeftError {
  readonly column: number;
  constructor(message: string, column: number) {
    super('EFILTER', `filter: ${message} at column ${column}`);
    this.column = column;
  }
}

export type Direction = 'src' | 'dst' | 'any';
export type ProtoName = 'ip' | 'ip6' | 'arp' | 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'vxlan' | number;

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not' | 'inner'; operand: FilterNode }
  | { kind: 'host'; dir: Direction; family: 4 | 6; v4: number; v6: Uint8Array }
  | { kind: 'net'; dir: Direction; family: 4 | 6; v4: number; v4mask: number; v6: Uint8Array; prefix: number }
  | { kind: 'port'; dir: Direction; port: number }
  | { kind: 'proto'; proto: ProtoName }
  | { kind: 'vni'; vni: number };

const PROTO_WORDS: Record<string, ProtoName> = {
  ip: 'ip', ip4: 'ip', ipv4: 'ip', ip6: 'ip6', ipv6: 'ip6', arp: 'arp', tcp: 'tcp', udp: 'udp',
  icmp: 'icmp', icmp6: 'icmp6', icmpv6: 'icmp6', vxlan: 'vxlan',
};
const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, icmpv6: 58, sctp: 132, gre: 47 };

interface Token {
  text: string;
  column: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || (c === '!' && src[i + 1] !== '=')) {
      out.push({ text: c, column: i + 1 });
      i++;
      continue;
    }
    if ((c === '&' && src[i + 1] === '&') || (c === '|' && src[i + 1] === '|')) {
      out.push({ text: c + c, column: i + 1 });
      i += 2;
      continue;
    }
    if (/[A-Za-z0-9.:/_-]/.test(c)) {
      const start = i;
      while (i < src.length && /[A-Za-z0-9.:/_-]/.test(src[i]!)) i++;
      out.push({ text: src.slice(start, i), column: start + 1 });
      continue;
    }
    throw new FilterSyntaxError(`unexpected character '${c}'`, i + 1);
  }
  return out;
}

/** Parses an expression; an empty one matches everything (returns null). */
export function parseFilter(src: string): FilterNode | null {
  if (src.length > 4096) throw new FilterSyntaxError('expression longer than 4096 characters', 4097);
  const tokens = tokenize(src);
  if (tokens.length === 0) return null;
  let pos = 0;
  let depth = 0;
  const end = src.length + 1;
  const peek = (): Token | undefined => tokens[pos];
  const col = (): number => tokens[pos]?.column ?? end;
  const word = (): string => (tokens[pos]?.text ?? '').toLowerCase();

  const parseOr = (): FilterNode => {
    let left = parseAnd();
    while (word() === 'or' || word() === '||') {
      pos++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): FilterNode => {
    let left = parseUnary();
    while (word() === 'and' || word() === '&&') {
      pos++;
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): FilterNode => {
    // Nesting is bounded so a hostile expression cannot exhaust the stack.
    if (++depth > 100) throw new FilterSyntaxError('expression nested too deeply', col());
    try {
      const w = word();
      if (w === 'not' || w === '!') {
        pos++;
        return { kind: 'not', operand: parseUnary() };
      }
      if (w === 'inner') {
        pos++;
        return { kind: 'inner', operand: parseUnary() };
      }
      if (w === '(') {
        const open = col();
        pos++;
        const inner = parseOr();
        if (word() !== ')') throw new FilterSyntaxError(peek() ? `expected ')' to close the '(' at column ${open}` : `missing ')' for the '(' at column ${open}`, col());
        pos++;
        return inner;
      }
      return parseTerm();
    } finally {
      depth--;
    }
  };
  const parseTerm = (): FilterNode => {
    const t = peek();
    if (!t) throw new FilterSyntaxError('expected a filter term', end);
    let w = word();
    let dir: Direction = 'any';
    if (w === 'src' || w === 'dst') {
      dir = w;
      pos++;
      w = word();
      if (!peek()) throw new FilterSyntaxError(`expected host, net, port or an address after '${dir}'`, end);
      if (w !== 'host' && w !== 'net' && w !== 'port') return hostTerm(dir, peek()!);
    }
    if (w === 'host') {
      pos++;
      const a = peek();
      if (!a) throw new FilterSyntaxError('expected an address after host', end);
      return hostTerm(dir, a);
    }
    if (w === 'net') {
      pos++;
      const a = peek();
      if (!a) throw new FilterSyntaxError('expected a network (A.B.C.D/N) after net', end);
      pos++;
      return netTerm(dir, a);
    }
    if (w === 'port') {
      pos++;
      const a = peek();
      const n = a && /^\d{1,5}$/.test(a.text) ? Number(a.text) : -1;
      if (n < 0 || n > 65535) throw new FilterSyntaxError(`expected a port number (0-65535)${a ? `, got '${a.text}'` : ''}`, col());
      pos++;
      return { kind: 'port', dir, port: n };
    }
    if (dir !== 'any') throw new FilterSyntaxError(`'${t.text}' cannot follow src/dst`, t.column);
    if (w === 'proto') {
      pos++;
      const a = peek();
      if (!a) throw new FilterSyntaxError('expected a protocol name or number after proto', end);
      pos++;
      const name = a.text.toLowerCase();
      if (/^\d{1,3}$/.test(name) && Number(name) < 256) return { kind: 'proto', proto: Number(name) };
      if (PROTO_WORDS[name] && name !== 'vxlan') return { kind: 'proto', proto: PROTO_WORDS[name]! };
      if (PROTO_NUMBERS[name] !== undefined) return { kind: 'proto', proto: PROTO_NUMBERS[name]! };
      throw new FilterSyntaxError(`unknown protocol '${a.text}'`, a.column);
    }
    if (w === 'vni') {
      pos++;
      const a = peek();
      const n = a && /^\d{1,8}$/.test(a.text) ? Number(a.text) : -1;
      if (n < 0 || n > 0xffffff) throw new FilterSyntaxError(`expected a VNI (0-16777215)${a ? `, got '${a.text}'` : ''}`, col());
      pos++;
      return { kind: 'vni', vni: n };
    }
    if (PROTO_WORDS[w]) {
      pos++;
      return { kind: 'proto', proto: PROTO_WORDS[w]! };
    }
    if (isIPv4(t.text) || isIPv6(t.text)) return hostTerm('any', t);
    if (w === ')' ) throw new FilterSyntaxError(`unexpected ')'`, t.column);
    throw new FilterSyntaxError(`unknown filter term '${t.text}'`, t.column);
  };
  const hostTerm = (dir: Direction, a: Token): FilterNode => {
    pos++;
    if (isIPv4(a.text)) return { kind: 'host', dir, family: 4, v4: v4Number(a.text), v6: EMPTY };
    if (isIPv6(a.text)) return { kind: 'host', dir, family: 6, v4: 0, v6: v6Bytes(a.text) };
    throw new FilterSyntaxError(`'${a.text}' is not an IPv4 or IPv6 address`, a.column);
  };

  const node = parseOr();
  if (pos < tokens.length) {
    const t = tokens[pos]!;
    throw new FilterSyntaxError(t.text === ')' ? `unexpected ')'` : `expected 'and' or 'or' before '${t.text}'`, t.column);
  }
  return node;
}

const EMPTY = new Uint8Array(0);

function netTerm(dir: Direction, a: Token): FilterNode {
  const [addr, len] = a.text.split('/');
  if (addr !== undefined && isIPv4(addr)) {
    const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : -1;
    if (prefix < 0 || prefix > 32) throw new FilterSyntaxError(`bad prefix length in '${a.text}'`, a.column);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const v4 = (v4Number(addr) & mask) >>> 0;
    return { kind: 'net', dir, family: 4, v4, v4mask: mask, v6: EMPTY, prefix };
  }
  if (addr !== undefined && isIPv6(addr)) {
    const prefix = len === undefined ? 128 : /^\d{1,3}$/.test(len) ? Number(len) : -1;
    if (prefix < 0 || prefix > 128) throw new FilterSyntaxError(`bad prefix length in '${a.text}'`, a.column);
    return { kind: 'net', dir, family: 6, v4: 0, v4mask: 0, v6: v6Bytes(addr), prefix };
  }
  throw new FilterSyntaxError(`'${a.text}' is not a network (A.B.C.D/N or X::/N)`, a.column);
}

export function v4Number(text: string): number {
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function v6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const n = v4Number(v4[1]!);
    t = `${t.slice(0, -v4[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = t.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function rd32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function eq16(b: Uint8Array, o: number, want: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== want[i]) return false;
  return true;
}

function prefixMatch(b: Uint8Array, o: number, want: Uint8Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[o + i]! & mask) !== (want[i]! & mask)) return false;
  }
  return true;
}

/** Whether the packet in `facts` matches; `null` (empty filter) matches all. */
export function matchFilter(node: FilterNode | null, facts: Facts, level = 0): boolean {
  if (node === null) return true;
  if (level >= facts.depth) return false;
  const l = facts.levels[level]!;
  switch (node.kind) {
    case 'and':
      return matchFilter(node.left, facts, level) && matchFilter(node.right, facts, level);
    case 'or':
      return matchFilter(node.left, facts, level) || matchFilter(node.right, facts, level);
    case 'not':
      return !matchFilter(node.operand, facts, level);
    case 'inner':
      return level + 1 < facts.depth && matchFilter(node.operand, facts, level + 1);
    case 'host':
      return matchAddress(node.family, node.dir, facts.data, l, (b, o) => node.family === 4 ? rd32(b, o) === node.v4 : eq16(b, o, node.v6));
    case 'net':
      return matchAddress(node.family, node.dir, facts.data, l, (b, o) =>
        node.family === 4 ? (rd32(b, o) & node.v4mask) >>> 0 === node.v4 : prefixMatch(b, o, node.v6, node.prefix));
    case 'port':
      if (l.protocol !== 6 && l.protocol !== 17 && l.protocol !== 132) return false;
      if (l.sourcePort < 0) return false;
      return (node.dir !== 'dst' && l.sourcePort === node.port) || (node.dir !== 'src' && l.destinationPort === node.port);
    case 'proto':
      return matchProto(node.proto, l);
    case 'vni':
      return l.vni === node.vni;
  }
}

function matchAddress(family: 4 | 6, dir: Direction, b: Uint8Array, l: Level, test: (b: Uint8Array, o: number) => boolean): boolean {
  if (family === 4 && l.ipVersion === 4) {
    return (dir !== 'dst' && test(b, l.ipOffset + 12)) || (dir !== 'src' && test(b, l.ipOffset + 16));
  }
  if (family === 6 && l.ipVersion === 6) {
    return (dir !== 'dst' && test(b, l.ipOffset + 8)) || (dir !== 'src' && test(b, l.ipOffset + 24));
  }
  // ARP for Ethernet/IPv4: sender protocol address at 14, target at 24.
  if (family === 4 && l.arpOffset >= 0) {
    return (dir !== 'dst' && test(b, l.arpOffset + 14)) || (dir !== 'src' && test(b, l.arpOffset + 24));
  }
  return false;
}

function matchProto(p: ProtoName, l: Level): boolean {
  switch (p) {
    case 'ip': return l.ipVersion === 4;
    case 'ip6': return l.ipVersion === 6;
    case 'arp': return l.arpOffset >= 0;
    case 'tcp': return l.protocol === 6;
    case 'udp': return l.protocol === 17;
    case 'icmp': return l.protocol === 1 && l.ipVersion === 4;
    case 'icmp6': return l.protocol === 58 && l.ipVersion === 6;
    case 'vxlan': return l.vni >= 0;
    default: return l.protocol === p;
  }
}
