/**
 * Prefix arithmetic for IPAM: addresses as bigints so one code path serves
 * IPv4 and IPv6. Text parsing is wire/ip's (inet_pton's strictness).
 */
import { InvalidArgumentError } from '../errors.js';
import { formatIPv4, formatIPv6, ipBytes } from '../wire/ip.js';

export interface Cidr {
  v6: boolean;
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
  /** Bits in the address: 32 or 128. */
  bits: number;
}

export function ipToBigint(text: string, what?: string): { value: bigint; v6: boolean } {
  const b = ipBytes(text, what);
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return { value: v, v6: b.length === 16 };
}

export function bigintToIp(v: bigint, v6: boolean): string {
  const n = v6 ? 16 : 4;
  const b = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return v6 ? formatIPv6(b) : formatIPv4(b);
}

/** Parses "a.b.c.d/n" or "x::/n"; `strict` refuses host bits set. */
export function parseCidr(text: string, strict = true): Cidr & { address: bigint } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid CIDR ${JSON.stringify(text)}`);
  const { value, v6 } = ipToBigint(m[1]!, `invalid CIDR ${JSON.stringify(text)}`);
  const bits = v6 ? 128 : 32;
  const prefix = Number(m[2]);
  if (prefix > bits) throw new InvalidArgumentError(`invalid prefix length in ${text}`);
  const network = value & mask(prefix, bits);
  if (strict && network !== value) throw new InvalidArgumentError(`${text} has host bits set (network is ${bigintToIp(network, v6)}/${prefix})`);
  return { v6, network, prefix, bits, address: value };
}

export function mask(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

export function formatCidr(c: Cidr): string {
  return `${bigintToIp(c.network, c.v6)}/${c.prefix}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(c.bits - c.prefix);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return outer.v6 === inner.v6 && inner.prefix >= outer.prefix && (inner.network & mask(outer.prefix, outer.bits)) === outer.network;
}

export function containsAddress(c: Cidr, v: bigint): boolean {
  return (v & mask(c.prefix, c.bits)) === c.network;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}
