/**
 * Byte helpers shared by the wire codecs: big-endian integers, address
 * text <-> bytes (MAC, IPv4, IPv6), and the internet checksum (RFC 1071).
 * Readers never bounds-check: callers check lengths once, up front.
 * Text parsers throw InvalidArgumentError (they read configuration and
 * reprs, never packets).
 */
import { InvalidArgumentError } from '../errors.js';

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of a byte range, with an optional separator. */
export function hex(b: Uint8Array, o = 0, len = b.length - o, sep = ''): string {
  let s = '';
  for (let i = 0; i < len; i++) s += (i && sep ? sep : '') + HEX[b[o + i]!];
  return s;
}

/** "aa:bb:cc:dd:ee:ff" for six bytes at o. */
export function macToString(b: Uint8Array, o = 0): string {
  return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${HEX[b[o + 5]!]}`;
}

/** Writes a MAC ("aa:bb:cc:dd:ee:ff" or with '-') at o. */
export function writeMac(text: string, out: Uint8Array, o = 0): void {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid MAC address ${JSON.stringify(text)}`);
  for (let i = 0; i < 6; i++) out[o + i] = parseInt(m[i + 1]!, 16);
}

export function macBytes(text: string): Uint8Array {
  const out: Uint8Array = new Uint8Array(6);
  writeMac(text, out);
  return out;
}

/** Group bit of the first octet: multicast and broadcast. */
export function isMulticastMac(b: Uint8Array, o = 0): boolean {
  return (b[o]! & 1) === 1;
}

export function isZeroMac(b: Uint8Array, o = 0): boolean {
  return (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]!) === 0;
}

export function ipv4ToString(b: Uint8Array, o = 0): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** Writes dotted-quad IPv4 text at o (strict: four decimal octets, no leading zeros). */
export function writeIPv4(text: string, out: Uint8Array, o = 0): void {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new InvalidArgumentError(`invalid IPv4 address ${JSON.stringify(text)}`);
  }
  for (let i = 0; i < 4; i++) out[o + i] = Number(parts[i]);
}

export function ipv4Bytes(text: string): Uint8Array {
  const out: Uint8Array = new Uint8Array(4);
  writeIPv4(text, out);
  return out;
}

/** RFC 5952 text for 16 bytes at o (longest zero run of 2+ groups becomes ::). */
export function ipv6ToString(b: Uint8Array, o = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[o + i]! << 8) | b[o + i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const h = g.map((x) => x.toString(16));
  if (bestStart < 0) return h.join(':');
  return `${h.slice(0, bestStart).join(':')}::${h.slice(bestStart + bestLen).join(':')}`;
}

/** Writes IPv6 text (with optional trailing dotted IPv4) at o. */
export function writeIPv6(text: string, out: Uint8Array, o = 0): void {
  const bad = () => new InvalidArgumentError(`invalid IPv6 address ${JSON.stringify(text)}`);
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) throw bad();
  let body = text;
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4) {
    // Rewrite the dotted tail as two hex groups, then parse uniformly.
    const four = new Uint8Array(4);
    writeIPv4(v4[1]!, four);
    body = `${body.slice(0, -v4[1]!.length)}${((four[0]! << 8) | four[1]!).toString(16)}:${((four[2]! << 8) | four[3]!).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) throw bad();
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = [...head, ...rest];
  if (!groups.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x))) throw bad();
  const total = groups.length;
  if (halves.length === 2 ? total > 7 : total !== 8) throw bad();
  const values = [...head.map((x) => parseInt(x, 16)), ...Array(8 - total).fill(0), ...rest.map((x) => parseInt(x, 16))];
  for (let i = 0; i < 8; i++) setU16(out, o + i * 2, values[i]!);
}

export function ipv6Bytes(text: string): Uint8Array {
  const out: Uint8Array = new Uint8Array(16);
  writeIPv6(text, out);
  return out;
}

/**
 * Ones-complement sum of a byte range (RFC 1071), unfolded: add more
 * ranges by passing the result as `sum`, then finish with foldChecksum.
 * An odd final byte is padded with zero, so only the last range of a
 * message may be odd-sized.
 */
export function onesSum(b: Uint8Array, o: number, len: number, sum = 0): number {
  let i = o;
  const end = o + len - 1;
  for (; i < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i === end) sum += b[i]! << 8;
  // Fold early so the sum stays a small integer for any length.
  return (sum & 0xffff) + Math.floor(sum / 0x10000);
}

/** Folds a onesSum to 16 bits and complements it: the checksum field value. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The internet checksum of one range (0 when the range holds a correct checksum). */
export function internetChecksum(b: Uint8Array, o = 0, len = b.length - o): number {
  return foldChecksum(onesSum(b, o, len));
}

/**
 * Sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 768, RFC 8200 §8.1):
 * source and destination addresses (4 or 16 bytes each), protocol and
 * upper-layer length.
 */
export function pseudoHeaderSum(source: Uint8Array, destination: Uint8Array, protocol: number, length: number): number {
  let sum = onesSum(source, 0, source.length);
  sum = onesSum(destination, 0, destination.length, sum);
  return sum + protocol + (length >>> 16) + (length & 0xffff);
}

/** Address text to bytes: IPv4 (4 bytes) or IPv6 (16 bytes) by shape. */
export function ipBytes(text: string): Uint8Array {
  return text.includes(':') ? ipv6Bytes(text) : ipv4Bytes(text);
}
