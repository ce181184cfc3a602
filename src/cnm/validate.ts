/**
 * Validation at the door: every address, prefix and pool is checked before
 * anything is stored, so a bad value never reaches the journal, the kernel
 * or another host (in etcd mode every host programs neighbours from it).
 * Refused: text that is not an address, loopback, multicast, unspecified,
 * "this network" and reserved (240/4) space, and pools too large to be a
 * container network.
 */
import { InvalidArgumentError } from '../errors.js';
import { type Cidr, containsAddress, parseCidr } from './cidr.js';

/** Smallest prefix length accepted for a pool: a /8 of IPv4, a /32 of IPv6. */
export const MIN_POOL_PREFIX = { v4: 8, v6: 32 } as const;

const FORBIDDEN: { cidr: Cidr; what: string }[] = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['127.0.0.0/8', 'loopback'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['ff00::/8', 'multicast'],
].map(([c, what]) => ({ cidr: parseCidr(c!), what: what! }));

function forbidden(v: bigint, v6: boolean): string | undefined {
  return FORBIDDEN.find((f) => f.cidr.v6 === v6 && containsAddress(f.cidr, v))?.what;
}

function parse(text: string, what: string, strict: boolean): Cidr & { address: bigint } {
  try {
    return parseCidr(text, strict);
  } catch (err) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not valid: ${(err as Error).message}`);
  }
}

/** A pool (subnet or --ip-range): a network address, a sane size, in usable space. */
export function validatePool(text: string, what = 'subnet'): Cidr {
  const c = parse(text, what, true);
  const min = c.v6 ? MIN_POOL_PREFIX.v6 : MIN_POOL_PREFIX.v4;
  if (c.prefix < min) throw new InvalidArgumentError(`${what} ${text} is too large (the shortest prefix weft accepts is /${min})`);
  const bad = forbidden(c.network, c.v6) ?? forbidden(c.network | ((1n << BigInt(c.bits - c.prefix)) - 1n), c.v6);
  if (bad) throw new InvalidArgumentError(`${what} ${text} is ${bad} address space`);
  return c;
}

/** A host address "ip/len" (or a bare ip when `bare`), usable on a link. */
export function validateAddress(text: string, what = 'address', opts: { bare?: boolean } = {}): Cidr & { address: bigint } {
  const c = opts.bare ? parse(`${text}/${text.includes(':') ? 128 : 32}`, what, false) : parse(text, what, false);
  if (!opts.bare && !/\/\d+$/.test(text)) throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} needs a prefix length (a.b.c.d/len)`);
  const bad = forbidden(c.address, c.v6);
  if (bad) throw new InvalidArgumentError(`${what} ${text} is a ${bad} address`);
  return c;
}

/** An endpoint address must also lie inside one of its network's subnets of the same family. */
export function validateEndpointAddress(text: string, subnets: string[], what: string): void {
  const c = validateAddress(text, what);
  const family = subnets.map((text) => ({ text, c: parseCidr(text, false) })).filter((s) => s.c.v6 === c.v6);
  if (family.length && !family.some((s) => containsAddress(s.c, c.address))) {
    throw new InvalidArgumentError(`${what} ${text} is not inside the network's subnets (${family.map((s) => s.text).join(', ')})`);
  }
}
