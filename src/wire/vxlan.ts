/**
 * VXLAN (RFC 7348 §5).
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-----------------------------------------------+
 *   |R|R|R|R|I|R|R|R|            Reserved (24)                      |
 *   +---------------+-----------------------------------------------+
 *   |        VXLAN Network Identifier (VNI, 24)     | Reserved (8)  |
 *   +-----------------------------------------------+---------------+
 *   |        inner Ethernet frame ...                                |
 *
 * Receive policy (docs/reliability.md V2/V3): like the Linux vxlan
 * driver and unlike the RFC's "ignore reserved bits", a header whose I
 * flag is clear or whose other bits are non-zero is invalid. `check`
 * returns the kernel-style drop reason without throwing, for the VTEP hot
 * path; `decode` throws DecodeError. Encoding always writes exactly
 * `08 00 00 00 | VNI << 8` (V17).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';
import {
  ETH_HEADER_LENGTH, ETH_TYPE, IPV4_DESTINATION, IPV4_MIN_HEADER_LENGTH, IPV4_PROTOCOL, IPV4_SOURCE, IPV6_HEADER_LENGTH, IPV6_NEXT_HEADER,
  IPV6_SOURCE, VXLAN_FLAGS, VXLAN_HEADER_LENGTH, VXLAN_VNI,
} from './fields.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './numbers.js';

export const HEADER_LENGTH = VXLAN_HEADER_LENGTH;
/** IANA port (RFC 7348 §5); Linux's legacy default is 8472. */
export const PORT = 4789;
export const LINUX_LEGACY_PORT = 8472;
export const MAX_VNI = 0xffffff;
const FLAG_I = 0x08;

/** Drop reasons, named like docs/reliability.md (V1, V2/V3, V5). */
export type VxlanDropReason = 'short_header' | 'invalid_header' | 'short_inner';

export interface VxlanRepr {
  vni: number;
  /** The inner Ethernet frame. */
  payload: Uint8Array;
}

/**
 * Zero-copy view. The constructor enforces the strict receive policy;
 * `reset` returns a VxlanDropReason instead of throwing.
 */
export class VxlanView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('vxlan', offset, r === 'invalid_header' ? 'invalid-header' : 'truncated', r);
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }

  reset(bytes: Uint8Array, offset: number, length: number): VxlanDropReason | null {
    const r = check(bytes, offset, length);
    if (r) return r;
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return null;
  }

  get flags(): number {
    return this.bytes[this.offset + VXLAN_FLAGS]!;
  }
  get vni(): number {
    return vniAt(this.bytes, this.offset);
  }
  set vni(v: number) {
    writeVni(this.bytes, this.offset, v);
  }
  get payloadOffset(): number {
    return this.offset + HEADER_LENGTH;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + this.length);
  }
}

/**
 * The strict receive check: at least 8 header bytes, I flag set, every
 * reserved bit zero, and an inner frame of more than 14 bytes (an
 * Ethernet header with no payload is useless, V5).
 */
export function check(bytes: Uint8Array, offset: number, length: number): VxlanDropReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'short_header';
  const b = bytes;
  const o = offset;
  if (!validHeader(b, o)) return 'invalid_header';
  if (length - HEADER_LENGTH <= ETH_HEADER_LENGTH) return 'short_inner';
  return null;
}

/** Whether the 8 bytes at b[o..] are a header the strict policy accepts: the I flag alone, reserved bits zero. */
export function validHeader(b: Uint8Array, o: number): boolean {
  return b[o + VXLAN_FLAGS] === FLAG_I && (b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 7]!) === 0;
}

/** The VNI of the header at b[o..] (no checks: hot path). */
export function vniAt(b: Uint8Array, o: number): number {
  return (b[o + VXLAN_VNI]! << 16) | (b[o + VXLAN_VNI + 1]! << 8) | b[o + VXLAN_VNI + 2]!;
}

function writeVni(b: Uint8Array, o: number, vni: number): void {
  b[o + VXLAN_VNI] = (vni >>> 16) & 0xff;
  b[o + VXLAN_VNI + 1] = (vni >>> 8) & 0xff;
  b[o + VXLAN_VNI + 2] = vni & 0xff;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): VxlanRepr {
  const v = new VxlanView(bytes, offset, length);
  return { vni: v.vni, payload: v.payload };
}

export function encodingLength(repr: VxlanRepr): number {
  return HEADER_LENGTH + repr.payload.length;
}

export function validVni(vni: number): boolean {
  return Number.isInteger(vni) && vni >= 0 && vni <= MAX_VNI;
}

/** Writes only the 8 header bytes at offset (hot path: the inner frame is already in place). */
export function encodeHeader(vni: number, out: Uint8Array, offset: number): void {
  if (!validVni(vni)) throw new InvalidArgumentError(`VNI must be an integer 0..${MAX_VNI}, got ${vni}`);
  out[offset + VXLAN_FLAGS] = FLAG_I;
  out[offset + 1] = 0;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  writeVni(out, offset, vni);
  out[offset + 7] = 0;
}

export function encode(repr: VxlanRepr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  encodeHeader(repr.vni, out, offset);
  out.set(repr.payload, offset + HEADER_LENGTH);
  return out;
}

/**
 * The outer UDP source port for an inner frame (RFC 7348 §5: a hash of
 * the inner headers, in the dynamic range 49152-65535 so ECMP spreads
 * flows). Hashes MACs and EtherType, plus IPv4/IPv6 addresses and the
 * first 4 L4 bytes (ports) when present; FNV-1a, no allocation.
 */
export function sourcePort(frame: Uint8Array, offset = 0, length = frame.length - offset): number {
  const end = offset + Math.max(0, Math.min(length, frame.length - offset));
  const ip = offset + ETH_HEADER_LENGTH;
  let h = fnv(frame, offset, Math.min(end, ip), 0x811c9dc5);
  const type = end >= ip ? (frame[offset + ETH_TYPE]! << 8) | frame[offset + ETH_TYPE + 1]! : 0;
  if (type === ETHERTYPE_IPV4 && end >= ip + IPV4_MIN_HEADER_LENGTH) {
    const ihl = (frame[ip]! & 0x0f) * 4;
    h = fnv(frame, ip + IPV4_PROTOCOL, ip + IPV4_PROTOCOL + 1, h);
    h = fnv(frame, ip + IPV4_SOURCE, ip + IPV4_DESTINATION + 4, h);
    if (ihl >= IPV4_MIN_HEADER_LENGTH && end >= ip + ihl + 4) h = fnv(frame, ip + ihl, ip + ihl + 4, h); // ports
  } else if (type === ETHERTYPE_IPV6 && end >= ip + IPV6_HEADER_LENGTH) {
    h = fnv(frame, ip + IPV6_NEXT_HEADER, ip + IPV6_NEXT_HEADER + 1, h);
    h = fnv(frame, ip + IPV6_SOURCE, ip + IPV6_HEADER_LENGTH, h); // addresses
    if (end >= ip + IPV6_HEADER_LENGTH + 4) h = fnv(frame, ip + IPV6_HEADER_LENGTH, ip + IPV6_HEADER_LENGTH + 4, h); // ports
  }
  return 49152 + ((h >>> 0) % 16384);
}

/** FNV-1a over b[from..to), continuing from h (no closure: this runs per packet). */
function fnv(b: Uint8Array, from: number, to: number, h: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h;
}
