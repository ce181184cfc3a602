/**
 * IP addresses and prefixes: the one place weft turns address text into
 * bytes and back. Every layer (wire, netlink, IPVS, trace, DNS, IPAM) uses
 * these parsers, so they agree on what an address is.
 *
 * Strictness is glibc's `inet_pton` (docs/ip-addresses.md): IPv4 is four
 * decimal octets without leading zeros ("010.0.0.1" is refused: `ip` would
 * read it as octal, the Docker API as decimal); IPv6 is RFC 4291 text with
 * at most one "::", groups of 1-4 hex digits and an optional dotted-quad
 * tail, no zone index. Text out follows `inet_ntop` (RFC 5952: lower case,
 * the first longest run of two or more zero groups as "::", and
 * `::ffff:a.b.c.d` / `::a.b.c.d` for IPv4-mapped and -compatible), which is
 * what `ip`, `tcpdump -n` and Docker print.
 */
import { InvalidArgumentError } from '../errors.js';

/** Address families as the kernel numbers them (linux/socket.h). */
export const AF_INET = 2;
export const AF_INET6 = 10;
export type AddressFamily = typeof AF_INET | typeof AF_INET6;

export interface IpAddress {
  family: AddressFamily;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  prefixLength: number;
}

const CH_0 = 0x30, CH_9 = 0x39, CH_DOT = 0x2e, CH_COLON = 0x3a;

/** Parses a dotted quad into out[o..o+4); false when it is not one (out may be partly written). */
export function parseIPv4Into(text: string, out: Uint8Array, o = 0): boolean {
  const n = text.length;
  if (n < 7 || n > 15) return false;
  let part = 0, value = 0, digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : CH_DOT;
    if (c >= CH_0 && c <= CH_9) {
      if (digits === 1 && value === 0) return false; // leading zero
      value = value * 10 + (c - CH_0);
      if (value > 255) return false;
      digits++;
    } else if (c === CH_DOT) {
      if (digits === 0 || part > 3) return false;
      out[o + part++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

function hexValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Parses IPv6 text into out[o..o+16); false when it is not an address (out may be partly written). */
export function parseIPv6Into(text: string, out: Uint8Array, o = 0): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  const groups = new Uint16Array(8);
  let count = 0, gap = -1, i = 0;
  if (text.charCodeAt(0) === CH_COLON) {
    if (text.charCodeAt(1) !== CH_COLON) return false;
    gap = 0;
    i = 2;
    if (i === n) return fill(groups, count, gap, out, o);
  }
  for (;;) {
    const start = i;
    let value = 0;
    while (i < n && i - start < 5) {
      const v = hexValue(text.charCodeAt(i));
      if (v < 0) break;
      value = (value << 4) | v;
      i++;
    }
    const len = i - start;
    if (i < n && text.charCodeAt(i) === CH_DOT) {
      // A dotted-quad tail takes the last two groups.
      if (count > 6 || !parseIPv4Into(text.slice(start), out, o + 12)) return false;
      groups[count++] = (out[o + 12]! << 8) | out[o + 13]!;
      groups[count++] = (out[o + 14]! << 8) | out[o + 15]!;
      return fill(groups, count, gap, out, o);
    }
    if (len === 0 || len > 4 || count === 8) return false;
    groups[count++] = value;
    if (i === n) return fill(groups, count, gap, out, o);
    if (text.charCodeAt(i) !== CH_COLON) return false;
    i++;
    if (i < n && text.charCodeAt(i) === CH_COLON) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === n) return fill(groups, count, gap, out, o);
    } else if (i === n) {
      return false; // trailing single colon
    }
  }
}

function fill(groups: Uint16Array, count: number, gap: number, out: Uint8Array, o: number): boolean {
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let g = 0, src = 0; g < 8; g++) {
    const v = gap >= 0 && g >= gap && g < gap + zeros ? 0 : groups[src++]!;
    out[o + g * 2] = v >> 8;
    out[o + g * 2 + 1] = v & 0xff;
  }
  return true;
}

export function isIPv4(text: string): boolean {
  return parseIPv4Into(text, SCRATCH);
}

export function isIPv6(text: string): boolean {
  return parseIPv6Into(text, SCRATCH);
}

/** 4 or 6 for address text, undefined for anything else. */
export function ipVersion(text: string): 4 | 6 | undefined {
  if (parseIPv4Into(text, SCRATCH)) return 4;
  return parseIPv6Into(text, SCRATCH) ? 6 : undefined;
}

const SCRATCH = new Uint8Array(16);

function invalid(what: string, text: string, kind = 'IP'): InvalidArgumentError {
  return new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is not an ${kind} address`);
}

/** Writes a dotted quad at o; throws InvalidArgumentError naming `what`. */
export function writeIPv4(text: string, out: Uint8Array, o = 0, what = 'address'): void {
  if (!parseIPv4Into(text, out, o)) throw invalid(what, text, 'IPv4');
}

/** Writes an IPv6 address at o; throws InvalidArgumentError naming `what`. */
export function writeIPv6(text: string, out: Uint8Array, o = 0, what = 'address'): void {
  if (!parseIPv6Into(text, out, o)) throw invalid(what, text, 'IPv6');
}

export function ipv4Bytes(text: string, what?: string): Uint8Array {
  const out = new Uint8Array(4);
  writeIPv4(text, out, 0, what);
  return out;
}

export function ipv6Bytes(text: string, what?: string): Uint8Array {
  const out = new Uint8Array(16);
  writeIPv6(text, out, 0, what);
  return out;
}

/** Parses IPv4 or IPv6 text; throws InvalidArgumentError naming `what`. */
export function parseIp(text: string, what = 'address'): IpAddress {
  const v4 = new Uint8Array(4);
  if (parseIPv4Into(text, v4)) return { family: AF_INET, bytes: v4 };
  const v6 = new Uint8Array(16);
  if (parseIPv6Into(text, v6)) return { family: AF_INET6, bytes: v6 };
  throw invalid(what, text);
}

/** Address text to its 4 or 16 bytes. */
export function ipBytes(text: string, what?: string): Uint8Array {
  return parseIp(text, what).bytes;
}

/** Parses `addr/len`; a missing length is the full width. */
export function parsePrefix(text: string, what = 'prefix'): IpPrefix {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash), what);
  const max = ip.family === AF_INET ? 32 : 128;
  if (slash < 0) return { ...ip, prefixLength: max };
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max) {
    throw new InvalidArgumentError(`${what}: bad prefix length in ${JSON.stringify(text)}`);
  }
  return { ...ip, prefixLength: Number(lenText) };
}

/** The prefix's address with the host bits cleared (a copy). */
export function networkOf(p: IpPrefix): Uint8Array {
  const out = Uint8Array.from(p.bytes);
  for (let bit = p.prefixLength; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

/** Dotted quad of 4 bytes at o. */
export function formatIPv4(b: Uint8Array, o = 0): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** `inet_ntop` text of 16 bytes at o (RFC 5952, embedded IPv4 as glibc prints it). */
export function formatIPv6(b: Uint8Array, o = 0): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (b[o + i * 2]! << 8) | b[o + i * 2 + 1]!;
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) best = -1;
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
    return `::${bestLen === 5 ? 'ffff:' : ''}${formatIPv4(b, o + 12)}`;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** 4 or 16 bytes as address text; any other length as hex (never throws: for decoded replies). */
export function formatIp(b: Uint8Array, o = 0, length = b.length - o): string {
  if (length === 4) return formatIPv4(b, o);
  if (length === 16) return formatIPv6(b, o);
  return Buffer.from(b.buffer, b.byteOffset + o, Math.max(0, length)).toString('hex');
}

/** The 4 bytes at o as an unsigned 32-bit number (host arithmetic on IPv4). */
export function ipv4ToNumber(b: Uint8Array, o = 0): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** A dotted quad as an unsigned 32-bit number; throws InvalidArgumentError. */
export function ipv4TextToNumber(text: string, what?: string): number {
  writeIPv4(text, SCRATCH, 0, what);
  return ipv4ToNumber(SCRATCH);
}

/** An unsigned 32-bit number as a dotted quad. */
export function numberToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** The canonical (`inet_ntop`) text of IPv6 address text; throws InvalidArgumentError. */
export function canonicalIPv6(text: string, what?: string): string {
  return formatIPv6(ipv6Bytes(text, what));
}
