/**
 * ICMP for IPv4 (RFC 792).
 *
 *   +--------+--------+-----------------+
 *   |  Type  |  Code  |    Checksum     |
 *   +--------+--------+-----------------+
 *   |   rest of header (4 bytes)        |   echo: identifier | sequence
 *   +-----------------------------------+
 *   |   data ...                        |
 *
 * The checksum covers the whole message (no pseudo-header).
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { internetChecksum, setU16, setU32, u16, u32 } from './bytes.js';
import { ICMP_HEADER_LENGTH } from './fields.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from './numbers.js';

export const HEADER_LENGTH = ICMP_HEADER_LENGTH;

export interface Icmpv4Repr {
  type: number;
  code: number;
  /** Bytes 4..7 as a u32: identifier<<16 | sequence for echo, next-hop MTU for frag-needed ... */
  rest: number;
  payload: Uint8Array;
}

export class Icmpv4View {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('icmpv4', offset, r);
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

  get type(): number {
    return this.bytes[this.offset]!;
  }
  get code(): number {
    return this.bytes[this.offset + 1]!;
  }
  get checksum(): number {
    return u16(this.bytes, this.offset + 2);
  }
  get rest(): number {
    return u32(this.bytes, this.offset + 4);
  }
  get isEcho(): boolean {
    return this.type === ICMP_ECHO_REQUEST || this.type === ICMP_ECHO_REPLY;
  }
  /** Echo "identifier" (meaningful for types 0 and 8). */
  get identifier(): number {
    return u16(this.bytes, this.offset + 4);
  }
  /** Echo "sequence number". */
  get sequence(): number {
    return u16(this.bytes, this.offset + 6);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + this.length);
  }
  get checksumValid(): boolean {
    return internetChecksum(this.bytes, this.offset, this.length) === 0;
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): Icmpv4Repr {
  const v = new Icmpv4View(bytes, offset, length);
  return { type: v.type, code: v.code, rest: v.rest, payload: v.payload };
}

export function encodingLength(repr: Icmpv4Repr): number {
  return HEADER_LENGTH + repr.payload.length;
}

/** Writes the message with its checksum. */
export function encode(repr: Icmpv4Repr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  for (const [n, v, max] of [['type', repr.type, 255], ['code', repr.code, 255], ['rest', repr.rest, 0xffffffff]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidArgumentError(`ICMP ${n} must be 0..${max}, got ${v}`);
  }
  out[offset] = repr.type;
  out[offset + 1] = repr.code;
  setU16(out, offset + 2, 0);
  setU32(out, offset + 4, repr.rest);
  out.set(repr.payload, offset + HEADER_LENGTH);
  setU16(out, offset + 2, internetChecksum(out, offset, encodingLength(repr)));
  return out;
}
