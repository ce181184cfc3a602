/**
 * IPv4/IPv6 text <-> rdata bytes for A and AAAA: the shared parsers of
 * wire/bytes, with DNS's own error type (pure; no node:net at runtime).
 */
import { InvalidArgumentError } from '../../errors.js';
import { ipv4ToString, ipv6ToString, writeIPv4 as writeV4, writeIPv6 as writeV6 } from '../bytes.js';
import { DnsEncodeError } from './errors.js';

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4Text(text: string): boolean {
  return V4.test(text);
}

function asDnsError(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new DnsEncodeError(err.message);
    throw err;
  }
}

/** Writes the 4 bytes of a dotted quad at off. */
export function writeIPv4(text: string, out: Uint8Array, off: number): void {
  asDnsError(() => writeV4(text, out, off));
}

export function formatIPv4(b: Uint8Array, off: number): string {
  return ipv4ToString(b, off);
}

/** Writes the 16 bytes of an IPv6 address (with optional embedded IPv4 tail) at off. */
export function writeIPv6(text: string, out: Uint8Array, off: number): void {
  asDnsError(() => writeV6(text, out, off));
}

/** RFC 5952 text of 16 bytes at off. */
export function formatIPv6(b: Uint8Array, off: number): string {
  return ipv6ToString(b, off);
}

/** Canonical text of an IPv6 address (round trip through bytes). */
export function canonicalIPv6(text: string): string {
  const b = new Uint8Array(16);
  writeIPv6(text, b, 0);
  return formatIPv6(b, 0);
}
