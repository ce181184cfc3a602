/**
 * ESP (RFC 4303 §2) as seen on the wire: only the clear header can be
 * decoded, everything after it is ciphertext (for weft's rfc4106(gcm(aes))
 * SAs: an 8-byte IV, the encrypted payload and trailer, a 8-byte ICV).
 *
 *    0                   1                   2                   3
 *   +---------------------------------------------------------------+
 *   |               Security Parameters Index (SPI)                 |
 *   +---------------------------------------------------------------+
 *   |                      Sequence Number                          |
 *   +---------------------------------------------------------------+
 *   |        IV, payload, padding, pad length, next header (opaque) |
 *   |        Integrity Check Value (opaque)                          |
 *
 * SPIs 1-255 are reserved by IANA and 0 is never sent on the wire
 * (RFC 4303 §2.1): such a header is invalid.
 */
import { DecodeError } from '../errors.js';

export const HEADER_LENGTH = 8;

export interface EspRepr {
  spi: number;
  sequence: number;
  /** Everything after the header (IV, ciphertext, ICV). */
  payload: Uint8Array;
}

/** Null when bytes[offset, offset+length) holds a valid ESP header, else the reason. */
export function check(bytes: Uint8Array, offset: number, length: number): 'truncated' | 'invalid-header' | null {
  if (length < HEADER_LENGTH || offset + HEADER_LENGTH > bytes.length) return 'truncated';
  const spi = ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
  return spi < 256 ? 'invalid-header' : null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): EspRepr {
  const r = check(bytes, offset, length);
  if (r) throw new DecodeError('esp', offset, r, r === 'invalid-header' ? 'reserved SPI' : undefined);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_LENGTH);
  return { spi: dv.getUint32(0), sequence: dv.getUint32(4), payload: bytes.subarray(offset + HEADER_LENGTH, offset + length) };
}

export function encode(r: EspRepr): Uint8Array {
  if (!Number.isInteger(r.spi) || r.spi < 256 || r.spi > 0xffffffff) throw new RangeError(`ESP SPI must be 256..2^32-1, got ${r.spi}`);
  if (!Number.isInteger(r.sequence) || r.sequence < 0 || r.sequence > 0xffffffff) throw new RangeError(`ESP sequence must be a u32, got ${r.sequence}`);
  const out = new Uint8Array(HEADER_LENGTH + r.payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, r.spi);
  dv.setUint32(4, r.sequence);
  out.set(r.payload, HEADER_LENGTH);
  return out;
}

/** Tcpdump-style text: `ESP(spi=0x8a3b19c2,seq=0x2a)`. */
export function describe(r: Pick<EspRepr, 'spi' | 'sequence'>): string {
  return `ESP(spi=0x${r.spi.toString(16).padStart(8, '0')},seq=0x${r.sequence.toString(16)})`;
}
