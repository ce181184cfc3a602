/**
 * TCP headers (RFC 9293), header only: weft never runs TCP itself, it
 * prints and classifies segments.
 *
 *    0                   1                   2                   3
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   |                        Sequence Number                        |
 *   |                    Acknowledgment Number                      |
 *   | Offset| Rsrvd |C|E|U|A|P|R|S|F|            Window             |
 *   |           Checksum            |         Urgent Pointer        |
 *   |                    Options (Offset > 5) ...                   |
 *
 * Options are kept raw; `options()` walks them with TLV bounds.
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { foldChecksum, onesSum, pseudoHeaderSum, setU16, setU32, u16, u32 } from './bytes.js';
import { TCP_MIN_HEADER_LENGTH } from './fields.js';
import { TCP_FLAG_MASK } from './numbers.js';

export const MIN_HEADER_LENGTH = TCP_MIN_HEADER_LENGTH;


export interface TcpRepr {
  sourcePort: number;
  destinationPort: number;
  sequenceNumber: number;
  acknowledgmentNumber: number;
  /** The 9 flag bits (TCP_FIN..TCP_AE in numbers.ts). */
  flags: number;
  window: number;
  urgentPointer: number;
  /** Raw options (a multiple of 4, at most 40 bytes). */
  options: Uint8Array;
  payload: Uint8Array;
}

export class TcpView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('tcp', offset, r);
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
  get destinationPort(): number {
    return u16(this.bytes, this.offset + 2);
  }
  get sequenceNumber(): number {
    return u32(this.bytes, this.offset + 4);
  }
  get acknowledgmentNumber(): number {
    return u32(this.bytes, this.offset + 8);
  }
  get headerLength(): number {
    return (this.bytes[this.offset + 12]! >> 4) * 4;
  }
  get flags(): number {
    return u16(this.bytes, this.offset + 12) & TCP_FLAG_MASK;
  }
  get window(): number {
    return u16(this.bytes, this.offset + 14);
  }
  get checksum(): number {
    return u16(this.bytes, this.offset + 16);
  }
  get urgentPointer(): number {
    return u16(this.bytes, this.offset + 18);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadOffset, this.offset + this.length);
  }
  checksumValid(source: Uint8Array, destination: Uint8Array): boolean {
    return foldChecksum(onesSum(this.bytes, this.offset, this.length, pseudoHeaderSum(source, destination, 6, this.length))) === 0;
  }
}

/** Data offset >= 5 and the header inside `length` (the segment is all of `length`). */
export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < MIN_HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  const hl = (bytes[offset + 12]! >> 4) * 4;
  if (hl < MIN_HEADER_LENGTH) return 'bad-length';
  if (hl > length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): TcpRepr {
  const v = new TcpView(bytes, offset, length);
  return {
    sourcePort: v.sourcePort,
    destinationPort: v.destinationPort,
    sequenceNumber: v.sequenceNumber,
    acknowledgmentNumber: v.acknowledgmentNumber,
    flags: v.flags,
    window: v.window,
    urgentPointer: v.urgentPointer,
    options: bytes.subarray(offset + MIN_HEADER_LENGTH, offset + v.headerLength),
    payload: v.payload,
  };
}

export function encodingLength(repr: TcpRepr): number {
  return MIN_HEADER_LENGTH + repr.options.length + repr.payload.length;
}

/** Writes the segment; with addresses (4 or 16 bytes each) the checksum is filled. */
export function encode(repr: TcpRepr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0, pseudo?: { source: Uint8Array; destination: Uint8Array }): Uint8Array {
  const ol = repr.options.length;
  if (ol % 4 !== 0 || ol > 40) throw new InvalidArgumentError(`TCP options must be a multiple of 4 bytes, at most 40; got ${ol}`);
  const u = (name: string, v: number, max: number) => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidArgumentError(`TCP ${name} must be 0..${max}, got ${v}`);
    return v;
  };
  const hl = MIN_HEADER_LENGTH + ol;
  setU16(out, offset, u('source port', repr.sourcePort, 0xffff));
  setU16(out, offset + 2, u('destination port', repr.destinationPort, 0xffff));
  setU32(out, offset + 4, u('sequence number', repr.sequenceNumber, 0xffffffff));
  setU32(out, offset + 8, u('acknowledgment number', repr.acknowledgmentNumber, 0xffffffff));
  setU16(out, offset + 12, ((hl / 4) << 12) | u('flags', repr.flags, 0x1ff));
  setU16(out, offset + 14, u('window', repr.window, 0xffff));
  setU16(out, offset + 16, 0);
  setU16(out, offset + 18, u('urgent pointer', repr.urgentPointer, 0xffff));
  out.set(repr.options, offset + MIN_HEADER_LENGTH);
  out.set(repr.payload, offset + hl);
  if (pseudo) {
    const len = hl + repr.payload.length;
    setU16(out, offset + 16, foldChecksum(onesSum(out, offset, len, pseudoHeaderSum(pseudo.source, pseudo.destination, 6, len))));
  }
  return out;
}

export interface TcpOption {
  kind: number;
  /** Option data after kind and length (empty for NOP). */
  data: Uint8Array;
}

/**
 * Walks the option TLVs (RFC 9293 §3.2): kind 0 ends the list, kind 1 is
 * a one-byte NOP, others carry a length >= 2 that must stay inside.
 */
export function options(raw: Uint8Array): TcpOption[] {
  const out: TcpOption[] = [];
  let o = 0;
  while (o < raw.length) {
    const kind = raw[o]!;
    if (kind === 0) break;
    if (kind === 1) {
      out.push({ kind, data: raw.subarray(o + 1, o + 1) });
      o++;
      continue;
    }
    if (o + 2 > raw.length) throw new DecodeError('tcp', o, 'bad-option');
    const len = raw[o + 1]!;
    if (len < 2 || o + len > raw.length) throw new DecodeError('tcp', o, 'bad-option');
    out.push({ kind, data: raw.subarray(o + 2, o + len) });
    o += len;
  }
  return out;
}
