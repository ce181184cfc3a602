/**
 * UDP headers (RFC 768; IPv6 checksum rules RFC 8200 §8.1).
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |   Source Port   | Destination Port|
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *
 * Length covers header and data; bytes past it (IP padding) are ignored.
 * The checksum includes a pseudo-header of the IP addresses; a computed 0
 * is sent as 0xffff, and 0 on the wire means "none" (IPv4 only).
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { foldChecksum, onesSum, pseudoHeaderSum, setU16, u16 } from './bytes.js';
import { ipBytes } from './ip.js';
import { UDP_HEADER_LENGTH } from './fields.js';

export const HEADER_LENGTH = UDP_HEADER_LENGTH;
const PROTOCOL = 17;

export interface UdpRepr {
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
}

/** IP addresses for the checksum pseudo-header (text or 4/16 bytes). */
export interface PseudoHeader {
  source: string | Uint8Array;
  destination: string | Uint8Array;
}

export class UdpView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('udp', offset, r);
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }

  reset(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
    const r = check(bytes, offset, length);
    if (r) return r;
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return null;
  }

  get sourcePort(): number {
    return u16(this.bytes, this.offset);
  }
  set sourcePort(v: number) {
    setU16(this.bytes, this.offset, v);
  }
  get destinationPort(): number {
    return u16(this.bytes, this.offset + 2);
  }
  set destinationPort(v: number) {
    setU16(this.bytes, this.offset + 2, v);
  }
  /** The "length" field: header plus data. */
  get datagramLength(): number {
    return u16(this.bytes, this.offset + 4);
  }
  get checksum(): number {
    return u16(this.bytes, this.offset + 6);
  }
  get payloadOffset(): number {
    return this.offset + HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.datagramLength - HEADER_LENGTH;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + this.datagramLength);
  }
  /** Whether the checksum verifies (true when it is 0, "none", which only IPv4 allows). */
  checksumValid(source: Uint8Array, destination: Uint8Array): boolean {
    if (this.checksum === 0) return source.length === 4;
    const len = this.datagramLength;
    return foldChecksum(onesSum(this.bytes, this.offset, len, pseudoHeaderSum(source, destination, PROTOCOL, len))) === 0;
  }
  /** Computes the checksum in place for the given addresses. */
  fillChecksum(source: Uint8Array, destination: Uint8Array): void {
    fill(this.bytes, this.offset, this.datagramLength, source, destination);
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  const l = u16(bytes, offset + 4);
  if (l < HEADER_LENGTH) return 'bad-length';
  if (l > length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): UdpRepr {
  const v = new UdpView(bytes, offset, length);
  return { sourcePort: v.sourcePort, destinationPort: v.destinationPort, payload: v.payload };
}

export function encodingLength(repr: UdpRepr): number {
  return HEADER_LENGTH + repr.payload.length;
}

function fill(b: Uint8Array, o: number, len: number, source: Uint8Array, destination: Uint8Array): void {
  setU16(b, o + 6, 0);
  const c = foldChecksum(onesSum(b, o, len, pseudoHeaderSum(source, destination, PROTOCOL, len)));
  setU16(b, o + 6, c === 0 ? 0xffff : c);
}

/**
 * Writes header and payload; with `pseudo` the checksum is computed,
 * without it the checksum is 0 (IPv4 "no checksum", as VXLAN senders do).
 */
export function encode(repr: UdpRepr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0, pseudo?: PseudoHeader): Uint8Array {
  for (const [name, p] of [['source', repr.sourcePort], ['destination', repr.destinationPort]] as const) {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new InvalidArgumentError(`UDP ${name} port must be 0..65535, got ${p}`);
  }
  const len = HEADER_LENGTH + repr.payload.length;
  if (len > 0xffff) throw new InvalidArgumentError(`UDP datagram of ${len} bytes exceeds 65535`);
  setU16(out, offset, repr.sourcePort);
  setU16(out, offset + 2, repr.destinationPort);
  setU16(out, offset + 4, len);
  setU16(out, offset + 6, 0);
  out.set(repr.payload, offset + HEADER_LENGTH);
  if (pseudo) {
    const s = typeof pseudo.source === 'string' ? ipBytes(pseudo.source) : pseudo.source;
    const d = typeof pseudo.destination === 'string' ? ipBytes(pseudo.destination) : pseudo.destination;
    fill(out, offset, len, s, d);
  }
  return out;
}
