/**
 * IPv6 headers (RFC 8200) and the extension-header chain.
 *
 *    0                   1                   2                   3
 *   +-------+---------------+---------------------------------------+
 *   |Version| Traffic Class |              Flow Label               |
 *   +-------+---------------+-------+---------------+---------------+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-------------------------------+---------------+---------------+
 *   |                  Source Address (16 bytes)                    |
 *   |               Destination Address (16 bytes)                  |
 *
 * `walkExtensions` follows Hop-by-Hop, Routing, Fragment, Destination
 * Options, AH and the other RFC 8200 §4 / RFC 7045 headers to the
 * upper-layer protocol, with a bound (MAX_EXTENSION_HEADERS) so a packet
 * of chained empty headers cannot make the walk long. ESP and "No Next
 * Header" (59) end the walk: what follows is opaque.
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { setU16, u16, u32 } from './bytes.js';
import { formatIPv6, writeIPv6 } from './ip.js';
import { IPV6_HEADER_LENGTH } from './fields.js';
import {
  IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HIP, IPPROTO_HOPOPTS, IPPROTO_MH, IPPROTO_ROUTING, IPPROTO_SHIM6,
} from './numbers.js';

export const HEADER_LENGTH = IPV6_HEADER_LENGTH;
/** RFC 8200 §4.1 allows each header once (Destination Options twice): 8 covers a legal chain. */
export const MAX_EXTENSION_HEADERS = 8;

/** The extension headers walkExtensions follows (ESP and No Next Header end the walk). */
const EXTENSION_NAMES: Record<number, string> = {
  [IPPROTO_HOPOPTS]: 'hop-by-hop', [IPPROTO_ROUTING]: 'routing', [IPPROTO_FRAGMENT]: 'fragment', [IPPROTO_AH]: 'ah',
  [IPPROTO_DSTOPTS]: 'destination-options', [IPPROTO_MH]: 'mobility', [IPPROTO_HIP]: 'hip', [IPPROTO_SHIM6]: 'shim6',
};

export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  /** The first next-header value (an extension header or the upper layer). */
  nextHeader: number;
  hopLimit: number;
  source: string;
  destination: string;
  /** Everything after the fixed header, extension headers included. */
  payload: Uint8Array;
}

export class Ipv6View {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('ipv6', offset, r);
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
  get trafficClass(): number {
    return (u16(this.bytes, this.offset) >> 4) & 0xff;
  }
  get flowLabel(): number {
    return u32(this.bytes, this.offset) & 0xfffff;
  }
  get payloadLength(): number {
    return u16(this.bytes, this.offset + 4);
  }
  get nextHeader(): number {
    return this.bytes[this.offset + 6]!;
  }
  get hopLimit(): number {
    return this.bytes[this.offset + 7]!;
  }
  set hopLimit(v: number) {
    this.bytes[this.offset + 7] = v;
  }
  get source(): Uint8Array {
    return this.bytes.subarray(this.offset + 8, this.offset + 24);
  }
  get destination(): Uint8Array {
    return this.bytes.subarray(this.offset + 24, this.offset + 40);
  }
  get payloadOffset(): number {
    return this.offset + HEADER_LENGTH;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + HEADER_LENGTH + this.payloadLength);
  }
}

/** Version 6 and the whole Payload Length inside `length` (jumbograms are not supported). */
export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  if (bytes[offset]! >> 4 !== 6) return 'bad-version';
  if (HEADER_LENGTH + u16(bytes, offset + 4) > length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): Ipv6Repr {
  const v = new Ipv6View(bytes, offset, length);
  return {
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    nextHeader: v.nextHeader,
    hopLimit: v.hopLimit,
    source: formatIPv6(bytes, offset + 8),
    destination: formatIPv6(bytes, offset + 24),
    payload: v.payload,
  };
}

export function encodingLength(repr: Ipv6Repr): number {
  return HEADER_LENGTH + repr.payload.length;
}

export function encode(repr: Ipv6Repr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  const check8 = (name: string, v: number, max: number) => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidArgumentError(`IPv6 ${name} must be 0..${max}, got ${v}`);
  };
  check8('traffic class', repr.trafficClass, 255);
  check8('flow label', repr.flowLabel, 0xfffff);
  check8('next header', repr.nextHeader, 255);
  check8('hop limit', repr.hopLimit, 255);
  if (repr.payload.length > 0xffff) throw new InvalidArgumentError('IPv6 payload over 65535 bytes needs a jumbogram, which weft does not emit');
  const w0 = ((6 << 28) | (repr.trafficClass << 20) | repr.flowLabel) >>> 0;
  setU16(out, offset, w0 >>> 16);
  setU16(out, offset + 2, w0 & 0xffff);
  setU16(out, offset + 4, repr.payload.length);
  out[offset + 6] = repr.nextHeader;
  out[offset + 7] = repr.hopLimit;
  writeIPv6(repr.source, out, offset + 8);
  writeIPv6(repr.destination, out, offset + 24);
  out.set(repr.payload, offset + HEADER_LENGTH);
  return out;
}

export interface ExtensionInfo {
  type: number;
  name: string;
  offset: number;
  length: number;
}

export interface ExtensionWalk {
  headers: ExtensionInfo[];
  /** Upper-layer protocol number (or 59 / 50 when the walk ended there). */
  protocol: number;
  /** Offset of the upper-layer header. */
  offset: number;
  /** Present when a Fragment header was seen. */
  fragment?: { offset: number; moreFragments: boolean; identification: number };
}

export function isExtensionHeader(type: number): boolean {
  return type in EXTENSION_NAMES;
}

/** Every next-header value the walk treats as an extension header (the BPF prefilter must guess on each). */
export const EXTENSION_HEADER_TYPES: readonly number[] = Object.keys(EXTENSION_NAMES).map(Number).sort((a, b) => a - b);

/**
 * Walks extension headers from `offset` (the first byte after the fixed
 * header) to `end`. Throws DecodeError truncated / too-many-headers.
 */
export function walkExtensions(bytes: Uint8Array, nextHeader: number, offset: number, end: number): ExtensionWalk {
  const headers: ExtensionInfo[] = [];
  let type = nextHeader;
  let o = offset;
  let fragment: ExtensionWalk['fragment'];
  while (isExtensionHeader(type)) {
    if (headers.length === MAX_EXTENSION_HEADERS) throw new DecodeError('ipv6', o, 'too-many-headers');
    if (end - o < 8) throw new DecodeError('ipv6', o, 'truncated', `${EXTENSION_NAMES[type]} header`);
    let len: number;
    if (type === IPPROTO_FRAGMENT) {
      len = 8;
      const fo = u16(bytes, o + 2);
      fragment = { offset: fo & 0xfff8, moreFragments: (fo & 1) === 1, identification: u32(bytes, o + 4) };
    } else if (type === IPPROTO_AH) {
      len = (bytes[o + 1]! + 2) * 4; // RFC 4302: length in 4-byte units, minus 2
    } else {
      len = (bytes[o + 1]! + 1) * 8; // RFC 8200: length in 8-byte units, not counting the first 8
    }
    if (end - o < len) throw new DecodeError('ipv6', o, 'truncated', `${EXTENSION_NAMES[type]} header of ${len} bytes`);
    headers.push({ type, name: EXTENSION_NAMES[type]!, offset: o, length: len });
    type = bytes[o]!;
    o += len;
    // A non-first fragment carries no upper-layer header: stop here.
    if (fragment && fragment.offset !== 0) break;
  }
  return fragment ? { headers, protocol: type, offset: o, fragment } : { headers, protocol: type, offset: o };
}
