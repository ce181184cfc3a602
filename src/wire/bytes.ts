/**
 * Byte helpers shared by the wire codecs: big-endian integers, MAC text
 * <-> bytes, and the internet checksum (RFC 1071). IP address text lives
 * in ip.ts.
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
