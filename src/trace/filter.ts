/**
 * Packet filter expressions: tcpdump's language (pcap-filter(7)) plus
 * overlay terms.
 *
 *   expr     := and (('or' | '||') and)*
 *   and      := unary (('and' | '&&') unary)*
 *   unary    := ('not' | '!') unary | 'inner' unary | '(' expr ')' | relation | term
 *   relation := arith ('<'|'<='|'>'|'>='|'='|'=='|'!=') arith
 *   arith    := numbers, len, constants (tcpflags, tcp-syn, icmptype ...), PROTO '[' arith [':' 1|2|4] ']'
 *               with | ^ & << >> + - * / % and parentheses (C precedence, unsigned 32 bits)
 *   term     := [PROTO] [src|dst|src or dst|src and dst] (host ADDR | net NET [mask M] | port N | portrange A-B)
 *             | ether [src|dst] host MAC | ether proto N | ether broadcast | ether multicast
 *             | [ip|ip6] proto N | vlan [ID] | vni N | less N | greater N
 *             | ip | ip6 | arp | rarp | tcp | udp | sctp | icmp | icmp6 | igmp | gre | esp | ah | vxlan | ADDR
 *   A bare ID after and/or takes the qualifiers of the term before it (`port 53 or 80`).
 *
 * Terms look at the outer frame; `inner X` looks at the frame inside the
 * VXLAN header (`inner inner X` one further). Deliberate differences from
 * tcpdump (README.md): terms see through VLAN tags without a `vlan` before
 * them, protocol terms and ports follow IPv6 extension headers, and
 * transport byte offsets (tcp[13]) work over IPv6 too. A bad expression
 * throws FilterSyntaxError naming the 1-based column.
 */
import { FilterSyntaxError } from '../errors.js';
import { isIPv4, isIPv6 } from '../wire/ip.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_LLDP, ETHERTYPE_MPLS, ETHERTYPE_RARP, ETHERTYPE_VLAN, IPPROTO_AH, IPPROTO_ESP,
  IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IGMP, IPPROTO_PIM, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_VRRP,
} from '../wire/numbers.js';

export { matchFilter } from './filter-match.js';

export type Direction = 'src' | 'dst' | 'any' | 'both';
export type ProtoName = 'ip' | 'ip6' | 'arp' | 'rarp' | 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'vxlan' | number;
/** Where a byte offset counts from. */
export type LoadBase = 'link' | 'ip' | 'ip6' | 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmp6' | 'arp' | 'rarp';
export type RelOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';

export type Arith =
  | { k: 'num'; v: number }
  | { k: 'len' }
  | { k: 'load'; base: LoadBase; off: Arith; size: 1 | 2 | 4 }
  | { k: 'bin'; op: ArithOp; a: Arith; b: Arith }
  | { k: 'neg'; a: Arith };

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not' | 'inner'; operand: FilterNode }
  | { kind: 'host'; dir: Direction; family: 4 | 6; v4: number; v6: Uint8Array }
  | { kind: 'net'; dir: Direction; family: 4 | 6; v4: number; v4mask: number; v6: Uint8Array; prefix: number }
  | { kind: 'port'; dir: Direction; lo: number; hi: number }
  | { kind: 'proto'; proto: ProtoName; family: 0 | 4 | 6 }
  | { kind: 'ether'; dir: Direction; mac: Uint8Array }
  | { kind: 'etherProto'; type: number }
  | { kind: 'etherCast'; broadcast: boolean }
  | { kind: 'vlan'; index: number; vid: number }
  | { kind: 'vni'; vni: number }
  | { kind: 'rel'; op: RelOp; a: Arith; b: Arith };

const PROTO_WORDS: Record<string, ProtoName> = {
  ip: 'ip', ip4: 'ip', ipv4: 'ip', ip6: 'ip6', ipv6: 'ip6', arp: 'arp', rarp: 'rarp', tcp: 'tcp', udp: 'udp',
  icmp: 'icmp', icmp6: 'icmp6', icmpv6: 'icmp6', vxlan: 'vxlan', sctp: IPPROTO_SCTP, igmp: IPPROTO_IGMP, gre: IPPROTO_GRE, esp: IPPROTO_ESP,
  ah: IPPROTO_AH, pim: IPPROTO_PIM, vrrp: IPPROTO_VRRP,
};
const PROTO_NUMBERS: Record<string, number> = {
  icmp: IPPROTO_ICMP, igmp: IPPROTO_IGMP, tcp: IPPROTO_TCP, udp: IPPROTO_UDP, gre: IPPROTO_GRE, esp: IPPROTO_ESP, ah: IPPROTO_AH,
  icmp6: IPPROTO_ICMPV6, icmpv6: IPPROTO_ICMPV6, pim: IPPROTO_PIM, vrrp: IPPROTO_VRRP, sctp: IPPROTO_SCTP,
};
const ETHER_TYPES: Record<string, number> = {
  ip: ETHERTYPE_IPV4, ip6: ETHERTYPE_IPV6, arp: ETHERTYPE_ARP, rarp: ETHERTYPE_RARP, lldp: ETHERTYPE_LLDP, vlan: ETHERTYPE_VLAN, mpls: ETHERTYPE_MPLS,
};
/** Protocols that may qualify host/net/port: `udp port 4789`, `ip host X`, `arp net N`. */
const QUALIFIERS = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'ether']);
const LOAD_BASES: Record<string, LoadBase> = {
  ether: 'link', link: 'link', ip: 'ip', ip6: 'ip6', tcp: 'tcp', udp: 'udp', sctp: 'sctp', icmp: 'icmp', icmp6: 'icmp6', arp: 'arp', rarp: 'rarp',
};
/** pcap-filter(7)'s named offsets and field values. */
const CONSTANTS: Record<string, number> = {
  tcpflags: 13, 'tcp-fin': 0x01, 'tcp-syn': 0x02, 'tcp-rst': 0x04, 'tcp-push': 0x08, 'tcp-ack': 0x10, 'tcp-urg': 0x20, 'tcp-ece': 0x40, 'tcp-cwr': 0x80,
  icmptype: 0, icmpcode: 1, 'icmp-echoreply': 0, 'icmp-unreach': 3, 'icmp-sourcequench': 4, 'icmp-redirect': 5, 'icmp-echo': 8,
  'icmp-routeradvert': 9, 'icmp-routersolicit': 10, 'icmp-timxceed': 11, 'icmp-paramprob': 12, 'icmp-tstamp': 13, 'icmp-tstampreply': 14,
  'icmp-ireq': 15, 'icmp-ireqreply': 16, 'icmp-maskreq': 17, 'icmp-maskreply': 18,
  icmp6type: 0, icmp6code: 1, 'icmp6-destinationunreach': 1, 'icmp6-packettoobig': 2, 'icmp6-timeexceeded': 3, 'icmp6-parameterproblem': 4,
  'icmp6-echo': 128, 'icmp6-echoreply': 129, 'icmp6-multicastlistenerquery': 130, 'icmp6-multicastlistenerreportv1': 131,
  'icmp6-multicastlistenerdone': 132, 'icmp6-routersolicit': 133, 'icmp6-routeradvert': 134, 'icmp6-neighborsolicit': 135,
  'icmp6-neighboradvert': 136, 'icmp6-redirect': 137, 'icmp6-multicastlistenerreportv2': 143,
};
const REL_OPS = new Set(['<', '<=', '>', '>=', '=', '==', '!=']);
/** Binary arithmetic operators by precedence level, lowest first. */
const ARITH_LEVELS: ArithOp[][] = [['|', '^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

interface Token {
  text: string;
  column: number;
}

const WORD = /[\\A-Za-z0-9.:/_-]/;
/** Inside brackets ':' separates offset and size, and '-' and '/' are arithmetic. */
const WORD_IN_BRACKETS = /[A-Za-z0-9._]/;
const TWO_CHAR_OPS = new Set(['&&', '||', '<<', '>>', '<=', '>=', '==', '!=']);

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let brackets = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      out.push({ text: two, column: i + 1 });
      i += 2;
      continue;
    }
    if ('()[]!&|^+*%<>='.includes(c) || (brackets > 0 && ':-/'.includes(c))) {
      if (c === '[') brackets++;
      if (c === ']') brackets = Math.max(0, brackets - 1);
      out.push({ text: c, column: i + 1 });
      i++;
      continue;
    }
    const wordChar = brackets > 0 ? WORD_IN_BRACKETS : WORD;
    if (wordChar.test(c)) {
      const start = i;
      while (i < src.length && wordChar.test(src[i]!)) i++;
      out.push({ text: src.slice(start, i), column: start + 1 });
      continue;
    }
    throw new FilterSyntaxError(`unexpected character '${c}'`, i + 1);
  }
  return out;
}

interface Qualifiers {
  proto: string | undefined;
  dir: Direction;
  type: string;
}

/** Parses an expression; an empty one matches everything (returns null). */
export function parseFilter(src: string): FilterNode | null {
  if (src.length > 4096) throw new FilterSyntaxError('expression longer than 4096 characters', 4097);
  const tokens = tokenize(src);
  if (tokens.length === 0) return null;
  let pos = 0;
  let depth = 0;
  let vlans = 0;
  let last: Qualifiers | undefined;
  const end = src.length + 1;
  const peek = (k = 0): Token | undefined => tokens[pos + k];
  const col = (): number => tokens[pos]?.column ?? end;
  const word = (k = 0): string => (tokens[pos + k]?.text ?? '').toLowerCase();
  const fail = (msg: string, at = col()): never => {
    throw new FilterSyntaxError(msg, at);
  };
  const nest = <T>(f: () => T): T => {
    // Nesting is bounded so a hostile expression cannot exhaust the stack.
    if (++depth > 100) fail('expression nested too deeply');
    try {
      return f();
    } finally {
      depth--;
    }
  };

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
  const parseUnary = (): FilterNode => nest(() => {
    const w = word();
    if (w === 'not' || w === '!') {
      pos++;
      return { kind: 'not', operand: parseUnary() };
    }
    if (w === 'inner') {
      pos++;
      return { kind: 'inner', operand: parseUnary() };
    }
    const rel = tryRelation();
    if (rel) return rel;
    if (w === '(') {
      const open = col();
      pos++;
      const inner = parseOr();
      if (word() !== ')') fail(peek() ? `expected ')' to close the '(' at column ${open}` : `missing ')' for the '(' at column ${open}`);
      pos++;
      return inner;
    }
    return parseTerm();
  });

  /** A relation when the tokens here make one, else undefined with nothing consumed. */
  const tryRelation = (): FilterNode | undefined => {
    const w = word();
    const starts = w === '(' || w === '-' || w === 'len' || /^\d/.test(w) || CONSTANTS[w] !== undefined || (LOAD_BASES[w] !== undefined && word(1) === '[');
    if (!starts) return undefined;
    const save = pos;
    const load = LOAD_BASES[w] !== undefined && word(1) === '[';
    try {
      const a = parseArith(0);
      const op = word();
      if (!REL_OPS.has(op)) throw new FilterSyntaxError('expected a comparison (<, <=, >, >=, =, !=)', col());
      pos++;
      const b = parseArith(0);
      return { kind: 'rel', op: op === '=' ? '==' : (op as RelOp), a, b };
    } catch (err) {
      // A load (tcp[13]) can only be a relation: report its error rather than retry as a term.
      if (load) throw err;
      pos = save;
      return undefined;
    }
  };

  const parseArith = (level: number): Arith => nest(() => {
    if (level === ARITH_LEVELS.length) return parsePrimary();
    let a = parseArith(level + 1);
    for (;;) {
      const op = word() as ArithOp;
      if (!ARITH_LEVELS[level]!.includes(op)) return a;
      pos++;
      a = { k: 'bin', op, a, b: parseArith(level + 1) };
    }
  });
  const parsePrimary = (): Arith => nest(() => {
    const t = peek();
    if (!t) return fail('expected a number', end);
    const w = t.text.toLowerCase();
    if (w === '-') {
      pos++;
      return { k: 'neg', a: parsePrimary() };
    }
    if (w === '(') {
      pos++;
      const a = parseArith(0);
      if (word() !== ')') fail("expected ')'");
      pos++;
      return a;
    }
    if (w === 'len') {
      pos++;
      return { k: 'len' };
    }
    const base = LOAD_BASES[w];
    if (base !== undefined && word(1) === '[') {
      pos += 2;
      const off = parseArith(0);
      let size: 1 | 2 | 4 = 1;
      if (word() === ':') {
        pos++;
        const s = word();
        if (s !== '1' && s !== '2' && s !== '4') fail('a load size must be 1, 2 or 4');
        size = Number(s) as 1 | 2 | 4;
        pos++;
      }
      if (word() !== ']') fail("expected ']'");
      pos++;
      return { k: 'load', base, off, size };
    }
    const c = CONSTANTS[w];
    if (c !== undefined) {
      pos++;
      return { k: 'num', v: c };
    }
    const n = parseNumber(w);
    if (n === undefined) return fail(`expected a number, got '${t.text}'`);
    pos++;
    return { k: 'num', v: n };
  });

  const parseTerm = (): FilterNode => {
    const t = peek();
    if (!t) return fail('expected a filter term', end);
    let w = word();
    if (w === ')') fail(`unexpected ')'`);
    if (w === 'vlan') {
      pos++;
      const id = parseNumber(word());
      if (id !== undefined) {
        if (id > 4095) fail(`a VLAN ID is 0-4095, got ${id}`);
        pos++;
      }
      return { kind: 'vlan', index: vlans++, vid: id ?? -1 };
    }
    if (w === 'vni') {
      pos++;
      const n = parseNumber(word());
      if (n === undefined || n > 0xffffff) fail(`expected a VNI (0-16777215)${peek() ? `, got '${peek()!.text}'` : ''}`);
      pos++;
      return { kind: 'vni', vni: n! };
    }
    if (w === 'less' || w === 'greater') {
      pos++;
      const n = parseNumber(word());
      if (n === undefined) fail(`expected a length after ${w}`);
      pos++;
      return { kind: 'rel', op: w === 'less' ? '<=' : '>=', a: { k: 'len' }, b: { k: 'num', v: n! } };
    }
    if (w === 'broadcast' || w === 'multicast') {
      pos++;
      return { kind: 'etherCast', broadcast: w === 'broadcast' };
    }
    // [proto] [dir] [type] id
    let proto: string | undefined;
    if (QUALIFIERS.has(w) && ['src', 'dst', 'host', 'net', 'port', 'portrange', 'proto', 'broadcast', 'multicast'].includes(word(1))) {
      proto = w;
      pos++;
      w = word();
    } else if (w === 'ether') fail("expected host, src, dst, proto, broadcast or multicast after 'ether'", peek(1)?.column ?? end);
    if (w === 'proto') {
      pos++;
      return protoTerm(proto);
    }
    if (w === 'broadcast' || w === 'multicast') {
      pos++;
      return { kind: 'etherCast', broadcast: w === 'broadcast' };
    }
    let dir: Direction = 'any';
    let explicit = false;
    if (w === 'src' || w === 'dst') {
      explicit = true;
      dir = w;
      pos++;
      if ((word() === 'or' || word() === 'and') && (word(1) === 'src' || word(1) === 'dst') && word(1) !== w) {
        dir = word() === 'or' ? 'any' : 'both';
        pos += 2;
      }
      if (!peek()) fail(`expected host, net, port or an address after '${w}'`, end);
      w = word();
    }
    let type = 'host';
    if (['host', 'net', 'port', 'portrange'].includes(w)) {
      type = w;
      explicit = true;
      pos++;
    } else if (!explicit && proto === undefined) {
      // A bare ID: an address, or (after and/or) the previous term's qualifiers again.
      if (isIPv4(t.text) || isIPv6(t.text)) {
        last = { proto: undefined, dir: 'any', type: 'host' };
        return idTerm(last, t);
      }
      if (last && (/^\d/.test(w) || /^[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}$/.test(w))) return idTerm(last, t);
      const pw = PROTO_WORDS[w];
      if (pw !== undefined) {
        pos++;
        return { kind: 'proto', proto: pw, family: 0 };
      }
      fail(`unknown filter term '${t.text}'`, t.column);
    }
    const a = peek();
    if (!a) fail(`expected ${type === 'port' ? 'a port number' : type === 'portrange' ? 'a port range (A-B)' : type === 'net' ? 'a network' : 'an address'} after ${type}`, end);
    last = { proto, dir, type };
    return idTerm(last, a!);
  };

  const protoTerm = (qual: string | undefined): FilterNode => {
    const a = peek();
    if (!a) return fail('expected a protocol name or number after proto', end);
    pos++;
    const name = a.text.toLowerCase().replace(/^\\/, '');
    if (qual === 'ether') {
      const n = parseNumber(name) ?? ETHER_TYPES[name];
      if (n === undefined || n > 0xffff) fail(`unknown EtherType '${a.text}'`, a.column);
      return { kind: 'etherProto', type: n! };
    }
    const family = qual === 'ip' ? 4 : qual === 'ip6' ? 6 : 0;
    if (qual !== undefined && family === 0) fail(`'${qual} proto' is not a filter term`, a.column);
    const n = parseNumber(name);
    if (n !== undefined && n < 256) return { kind: 'proto', proto: n, family };
    const num = PROTO_NUMBERS[name];
    if (num !== undefined) return { kind: 'proto', proto: num, family };
    return fail(`unknown protocol '${a.text}'`, a.column);
  };

  /** The term for ID under qualifiers q, restricted to q.proto. */
  const idTerm = (q: Qualifiers, a: Token): FilterNode => {
    pos++;
    let node: FilterNode;
    if (q.proto === 'ether') {
      const mac = parseMac(a.text);
      if (!mac || q.type !== 'host') fail(`'${a.text}' is not a MAC address (aa:bb:cc:dd:ee:ff)`, a.column);
      return { kind: 'ether', dir: q.dir, mac: mac! };
    }
    if (q.type === 'port') {
      const n = parseNumber(a.text.toLowerCase());
      if (n === undefined || n > 65535) fail(`expected a port number (0-65535), got '${a.text}'`, a.column);
      node = { kind: 'port', dir: q.dir, lo: n!, hi: n! };
    } else if (q.type === 'portrange') {
      const m = /^(\d{1,5})-(\d{1,5})$/.exec(a.text);
      const lo = m ? Number(m[1]) : -1;
      const hi = m ? Number(m[2]) : -1;
      if (!m || lo > 65535 || hi > 65535) fail(`expected a port range (A-B), got '${a.text}'`, a.column);
      node = { kind: 'port', dir: q.dir, lo: Math.min(lo, hi), hi: Math.max(lo, hi) };
    } else if (q.type === 'net') {
      let text = a.text;
      if (word() === 'mask') {
        pos++;
        const m = peek();
        if (!m || !isIPv4(m.text)) fail('expected a netmask (A.B.C.D) after mask');
        pos++;
        const bits = maskBits(v4Number(m!.text));
        if (bits < 0) fail(`'${m!.text}' is not a contiguous netmask`, m!.column);
        text = `${a.text}/${bits}`;
      }
      node = netTerm(q.dir, text, a.column);
    } else {
      if (isIPv4(a.text)) node = { kind: 'host', dir: q.dir, family: 4, v4: v4Number(a.text), v6: EMPTY };
      else if (isIPv6(a.text)) node = { kind: 'host', dir: q.dir, family: 6, v4: 0, v6: v6Bytes(a.text) };
      else return fail(`'${a.text}' is not an IPv4 or IPv6 address`, a.column);
    }
    if (q.proto === undefined) return node;
    const p = PROTO_WORDS[q.proto]!;
    return { kind: 'and', left: { kind: 'proto', proto: p, family: 0 }, right: node };
  };

  const node = parseOr();
  if (pos < tokens.length) {
    const t = tokens[pos]!;
    throw new FilterSyntaxError(t.text === ')' ? `unexpected ')'` : `expected 'and' or 'or' before '${t.text}'`, t.column);
  }
  return node;
}

const EMPTY = new Uint8Array(0);

/** Decimal, 0x hex or 0-prefixed octal, as pcap-filter(7) reads numbers. */
function parseNumber(w: string): number | undefined {
  let v: number;
  if (/^0x[0-9a-f]{1,8}$/.test(w)) v = parseInt(w.slice(2), 16);
  else if (/^0[0-7]{1,11}$/.test(w)) v = parseInt(w, 8);
  else if (/^\d{1,10}$/.test(w)) v = Number(w);
  else return undefined;
  return v <= 0xffffffff ? v : undefined;
}

function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:.-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** The prefix length of a contiguous netmask, or -1. */
function maskBits(mask: number): number {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1;
  return inv === 0 ? 32 : Math.clz32(inv);
}

function netTerm(dir: Direction, text: string, column: number): FilterNode {
  const [addr, len] = text.split('/');
  // tcpdump's short forms: "net 10" is 10/8, "net 198.18" 198.18/16.
  const parts = addr?.split('.') ?? [];
  if (len === undefined && parts.length >= 1 && parts.length < 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) {
    return netTerm(dir, `${[...parts, '0', '0', '0'].slice(0, 4).join('.')}/${parts.length * 8}`, column);
  }
  if (addr !== undefined && isIPv4(addr)) {
    const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : -1;
    if (prefix < 0 || prefix > 32) throw new FilterSyntaxError(`bad prefix length in '${text}'`, column);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const v4 = (v4Number(addr) & mask) >>> 0;
    return { kind: 'net', dir, family: 4, v4, v4mask: mask, v6: EMPTY, prefix };
  }
  if (addr !== undefined && isIPv6(addr)) {
    const prefix = len === undefined ? 128 : /^\d{1,3}$/.test(len) ? Number(len) : -1;
    if (prefix < 0 || prefix > 128) throw new FilterSyntaxError(`bad prefix length in '${text}'`, column);
    return { kind: 'net', dir, family: 6, v4: 0, v4mask: 0, v6: v6Bytes(addr), prefix };
  }
  throw new FilterSyntaxError(`'${text}' is not a network (A.B.C.D/N or X::/N)`, column);
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
