/**
 * IPv4 headers (RFC 791; DSCP/ECN per RFC 2474 / RFC 3168).
 *
 *    0                   1                   2                   3
 *   +-------+-------+-----------+---+-------------------------------+
 *   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 *   +-------+-------+-----------+---+-----+-------------------------+
 *   |         Identification        |Flags|     Fragment Offset     |
 *   +---------------+---------------+-----+-------------------------+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +---------------+---------------+-------------------------------+
 *   |                       Source Address                          |
 *   |                    Destination Address                        |
 *   |                    Options (IHL > 5)  ...                     |
 *
 * Options are not interpreted, only skipped by IHL (which the check bounds
 * to the buffer). Fragments are recognised: `fragmentOffset > 0` means the
 * payload does not start with an upper-layer header. Bytes after Total
 * Length (Ethernet padding) are not payload.
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { internetChecksum, setU16, u16, u32 } from './bytes.js';
import { formatIPv4, writeIPv4 } from './ip.js';
import { IPV4_MAX_HEADER_LENGTH, IPV4_MIN_HEADER_LENGTH } from './fields.js';
import {
  IPPROTO_AH, IPPROTO_ESP, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IGMP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_SCTP, IPPROTO_TCP,
  IPPROTO_UDP,
} from './numbers.js';

export const MIN_HEADER_LENGTH = IPV4_MIN_HEADER_LENGTH;
export const MAX_HEADER_LENGTH = IPV4_MAX_HEADER_LENGTH;

const NAMES: Record<number, string> = {
  [IPPROTO_ICMP]: 'icmp', [IPPROTO_IGMP]: 'igmp', [IPPROTO_IPIP]: 'ipip', [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_IPV6]: 'ipv6',
  [IPPROTO_GRE]: 'gre', [IPPROTO_ESP]: 'esp', [IPPROTO_AH]: 'ah', [IPPROTO_ICMPV6]: 'icmpv6', [IPPROTO_SCTP]: 'sctp',
};

/** A label for an IP protocol / next-header number; unknown values print as unknown(N). */
export function protocolName(p: number): string {
  return NAMES[p] ?? `unknown(${p})`;
}

export interface Ipv4Repr {
  dscp: number;
  ecn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes (a multiple of 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  source: string;
  destination: string;
  /** Raw option bytes (a multiple of 4, at most 40); empty when IHL is 5. */
  options: Uint8Array;
  payload: Uint8Array;
}

export class Ipv4View {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('ipv4', offset, r);
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

  get version(): number {
    return this.bytes[this.offset]! >> 4;
  }
  /** Header length in bytes (IHL * 4). */
  get headerLength(): number {
    return (this.bytes[this.offset]! & 0x0f) * 4;
  }
  get dscp(): number {
    return this.bytes[this.offset + 1]! >> 2;
  }
  get ecn(): number {
    return this.bytes[this.offset + 1]! & 3;
  }
  get totalLength(): number {
    return u16(this.bytes, this.offset + 2);
  }
  get identification(): number {
    return u16(this.bytes, this.offset + 4);
  }
  get dontFragment(): boolean {
    return (this.bytes[this.offset + 6]! & 0x40) !== 0;
  }
  get moreFragments(): boolean {
    return (this.bytes[this.offset + 6]! & 0x20) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (u16(this.bytes, this.offset + 6) & 0x1fff) * 8;
  }
  /** Part of a fragmented datagram (first, middle or last piece). */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }
  get ttl(): number {
    return this.bytes[this.offset + 8]!;
  }
  set ttl(v: number) {
    this.bytes[this.offset + 8] = v;
  }
  get protocol(): number {
    return this.bytes[this.offset + 9]!;
  }
  get checksum(): number {
    return u16(this.bytes, this.offset + 10);
  }
  /** Source address as u32 (no string). */
  get sourceU32(): number {
    return u32(this.bytes, this.offset + 12);
  }
  get destinationU32(): number {
    return u32(this.bytes, this.offset + 16);
  }
  get source(): Uint8Array {
    return this.bytes.subarray(this.offset + 12, this.offset + 16);
  }
  get destination(): Uint8Array {
    return this.bytes.subarray(this.offset + 16, this.offset + 20);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadOffset, this.offset + this.totalLength);
  }
  get checksumValid(): boolean {
    return internetChecksum(this.bytes, this.offset, this.headerLength) === 0;
  }
  /** Recomputes the header checksum in place (after changing TTL, addresses ...). */
  fillChecksum(): void {
    setU16(this.bytes, this.offset + 10, 0);
    setU16(this.bytes, this.offset + 10, internetChecksum(this.bytes, this.offset, this.headerLength));
  }
}

/** Version 4, IHL >= 5, header and Total Length inside `length`. */
export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < MIN_HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  const b0 = bytes[offset]!;
  if (b0 >> 4 !== 4) return 'bad-version';
  const ihl = (b0 & 0x0f) * 4;
  if (ihl < MIN_HEADER_LENGTH) return 'bad-length';
  const total = u16(bytes, offset + 2);
  if (total < ihl) return 'bad-length';
  if (total > length) return 'truncated';
  return null;
}

export interface DecodeOptions {
  /** Throw DecodeError('bad-checksum') when the header checksum is wrong. */
  verifyChecksum?: boolean;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset, opts: DecodeOptions = {}): Ipv4Repr {
  const v = new Ipv4View(bytes, offset, length);
  if (opts.verifyChecksum && !v.checksumValid) throw new DecodeError('ipv4', offset + 10, 'bad-checksum');
  return {
    dscp: v.dscp,
    ecn: v.ecn,
    identification: v.identification,
    dontFragment: v.dontFragment,
    moreFragments: v.moreFragments,
    fragmentOffset: v.fragmentOffset,
    ttl: v.ttl,
    protocol: v.protocol,
    source: formatIPv4(bytes, offset + 12),
    destination: formatIPv4(bytes, offset + 16),
    options: bytes.subarray(offset + MIN_HEADER_LENGTH, offset + v.headerLength),
    payload: v.payload,
  };
}

export function encodingLength(repr: Ipv4Repr): number {
  return MIN_HEADER_LENGTH + repr.options.length + repr.payload.length;
}

function field(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidArgumentError(`IPv4 ${name} must be 0..${max}, got ${v}`);
  return v;
}

/** Writes header (with checksum), options and payload. */
export function encode(repr: Ipv4Repr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  const optLen = repr.options.length;
  if (optLen % 4 !== 0 || optLen > 40) throw new InvalidArgumentError(`IPv4 options must be a multiple of 4 bytes, at most 40; got ${optLen}`);
  const hl = MIN_HEADER_LENGTH + optLen;
  const total = hl + repr.payload.length;
  if (total > 0xffff) throw new InvalidArgumentError(`IPv4 packet of ${total} bytes exceeds 65535`);
  if (repr.fragmentOffset % 8 !== 0) throw new InvalidArgumentError('IPv4 fragment offset must be a multiple of 8');
  out[offset] = 0x40 | (hl / 4);
  out[offset + 1] = (field('DSCP', repr.dscp, 63) << 2) | field('ECN', repr.ecn, 3);
  setU16(out, offset + 2, total);
  setU16(out, offset + 4, field('identification', repr.identification, 0xffff));
  setU16(out, offset + 6, (repr.dontFragment ? 0x4000 : 0) | (repr.moreFragments ? 0x2000 : 0) | field('fragment offset', repr.fragmentOffset / 8, 0x1fff));
  out[offset + 8] = field('TTL', repr.ttl, 255);
  out[offset + 9] = field('protocol', repr.protocol, 255);
  setU16(out, offset + 10, 0);
  writeIPv4(repr.source, out, offset + 12);
  writeIPv4(repr.destination, out, offset + 16);
  out.set(repr.options, offset + MIN_HEADER_LENGTH);
  setU16(out, offset + 10, internetChecksum(out, offset, hl));
  out.set(repr.payload, offset + hl);
  return out;
}
