/** Round-trip assertion for fuzz targets: decode(encode(decode(x))) equals decode(x). */
import { deepStrictEqual } from 'node:assert';

export function roundTrip<R>(first: R, encode: (r: R) => Uint8Array, decode: (b: Uint8Array) => R): void {
  deepStrictEqual(normalize(decode(encode(first))), normalize(first));
}

/** Compares byte fields by content (decode returns subarrays of different buffers). */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}
