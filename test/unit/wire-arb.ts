/** fast-check arbitraries shared by the wire codec tests. */
import fc from 'fast-check';
import { macToString } from '../../src/wire/bytes.js';
import { formatIPv4, formatIPv6 } from '../../src/wire/ip.js';

export const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => macToString(b));
export const ipv4Addr = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
export const ipv6Addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
export const u8 = fc.integer({ min: 0, max: 255 });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const bytes = (max = 64, min = 0) => fc.uint8Array({ minLength: min, maxLength: max });

/** Encodes at an offset into a 0xa5-filled buffer and checks the surroundings stay untouched. */
export function encodeAt(encode: (out: Uint8Array, offset: number) => Uint8Array, length: number, pad = 3): Uint8Array {
  const out = new Uint8Array(length + 2 * pad).fill(0xa5);
  encode(out, pad);
  for (let i = 0; i < pad; i++) {
    if (out[i] !== 0xa5 || out[out.length - 1 - i] !== 0xa5) throw new Error('encode wrote outside its range');
  }
  return out.subarray(pad, pad + length);
}
