/**
 * ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861) messages.
 *
 *   +--------+--------+-----------------+
 *   |  Type  |  Code  |    Checksum     |   checksum over an IPv6
 *   +--------+--------+-----------------+   pseudo-header (RFC 8200 §8.1)
 *   |   message body ...                |
 *
 * NDP bodies after the 4-byte header:
 *   RS  (133): reserved(4)                                   options
 *   RA  (134): hop limit, M|O flags, router lifetime(2),
 *              reachable time(4), retrans timer(4)           options
 *   NS  (135): reserved(4), target address(16)               options
 *   NA  (136): R|S|O flags + reserved(4), target address(16) options
 * Options are TLVs whose length counts 8-byte units; a zero length is
 * invalid (RFC 4861 §4.6) and ends decoding with 'bad-option'. The walk
 * is bounded by the message length and by MAX_OPTIONS.
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { foldChecksum, macToString, onesSum, pseudoHeaderSum, setU16, setU32, u16, u32, writeMac } from './bytes.js';
import { formatIPv6, ipBytes, writeIPv6 } from './ip.js';
import { ICMP_COMMON_LENGTH } from './fields.js';
import { IPPROTO_ICMPV6 } from './numbers.js';

export const HEADER_LENGTH = ICMP_COMMON_LENGTH;
/** A 1280-byte minimum-MTU message holds at most 155 8-byte options; 64 is plenty for real NDP. */
export const MAX_OPTIONS = 64;

export interface Icmpv6Repr {
  type: number;
  code: number;
  /** Everything after type, code and checksum. */
  body: Uint8Array;
}

export class Icmpv6View {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('icmpv6', offset, r);
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
  get body(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + this.length);
  }
  checksumValid(source: Uint8Array, destination: Uint8Array): boolean {
    return foldChecksum(onesSum(this.bytes, this.offset, this.length, pseudoHeaderSum(source, destination, IPPROTO_ICMPV6, this.length))) === 0;
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): Icmpv6Repr {
  const v = new Icmpv6View(bytes, offset, length);
  return { type: v.type, code: v.code, body: v.body };
}

export function encodingLength(repr: Icmpv6Repr): number {
  return HEADER_LENGTH + repr.body.length;
}

/** Writes the message; the checksum needs the IPv6 source and destination. */
export function encode(repr: Icmpv6Repr, pseudo: { source: string | Uint8Array; destination: string | Uint8Array }, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  if (!Number.isInteger(repr.type) || repr.type < 0 || repr.type > 255 || !Number.isInteger(repr.code) || repr.code < 0 || repr.code > 255) {
    throw new InvalidArgumentError(`ICMPv6 type/code must be 0..255, got ${repr.type}/${repr.code}`);
  }
  const len = encodingLength(repr);
  out[offset] = repr.type;
  out[offset + 1] = repr.code;
  setU16(out, offset + 2, 0);
  out.set(repr.body, offset + HEADER_LENGTH);
  const s = typeof pseudo.source === 'string' ? ipBytes(pseudo.source) : pseudo.source;
  const d = typeof pseudo.destination === 'string' ? ipBytes(pseudo.destination) : pseudo.destination;
  setU16(out, offset + 2, foldChecksum(onesSum(out, offset, len, pseudoHeaderSum(s, d, IPPROTO_ICMPV6, len))));
  return out;
}

// --- Neighbor Discovery -----------------------------------------------------


export type NdpOption =
  | { type: 1 | 2; linkLayerAddress: string }
  | { type: 3; prefixLength: number; onLink: boolean; autonomous: boolean; validLifetime: number; preferredLifetime: number; prefix: string }
  | { type: 5; mtu: number }
  | { type: number; data: Uint8Array };

export type NdpMessage =
  | { kind: 'router-solicitation'; options: NdpOption[] }
  | { kind: 'router-advertisement'; curHopLimit: number; managed: boolean; other: boolean; routerLifetime: number; reachableTime: number; retransTimer: number; options: NdpOption[] }
  | { kind: 'neighbor-solicitation'; target: string; options: NdpOption[] }
  | { kind: 'neighbor-advertisement'; router: boolean; solicited: boolean; override: boolean; target: string; options: NdpOption[] };

/** Fixed body bytes before the options, per NDP type. */
const FIXED: Record<number, number> = { 133: 4, 134: 12, 135: 20, 136: 20 };

export function isNdp(type: number): boolean {
  return type in FIXED;
}

/**
 * Decodes the NDP body of an ICMPv6 message (`body` = Icmpv6Repr.body).
 * Throws DecodeError for short bodies and malformed options; returns
 * undefined for types that are not RS/RA/NS/NA.
 */
export function decodeNdp(type: number, body: Uint8Array, bodyOffset = 0): NdpMessage | undefined {
  const fixed = FIXED[type];
  if (fixed === undefined) return undefined;
  if (body.length < fixed) throw new DecodeError('ndp', bodyOffset, 'truncated');
  const options = decodeNdpOptions(body, fixed, bodyOffset);
  switch (type) {
    case 133:
      return { kind: 'router-solicitation', options };
    case 134:
      return {
        kind: 'router-advertisement',
        curHopLimit: body[0]!,
        managed: (body[1]! & 0x80) !== 0,
        other: (body[1]! & 0x40) !== 0,
        routerLifetime: u16(body, 2),
        reachableTime: u32(body, 4),
        retransTimer: u32(body, 8),
        options,
      };
    case 135:
      return { kind: 'neighbor-solicitation', target: formatIPv6(body, 4), options };
    default:
      return {
        kind: 'neighbor-advertisement',
        router: (body[0]! & 0x80) !== 0,
        solicited: (body[0]! & 0x40) !== 0,
        override: (body[0]! & 0x20) !== 0,
        target: formatIPv6(body, 4),
        options,
      };
  }
}

function decodeNdpOptions(b: Uint8Array, start: number, base: number): NdpOption[] {
  const out: NdpOption[] = [];
  let o = start;
  while (o < b.length) {
    if (out.length === MAX_OPTIONS) throw new DecodeError('ndp', base + o, 'too-many-headers');
    if (b.length - o < 2) throw new DecodeError('ndp', base + o, 'truncated');
    const type = b[o]!;
    const len = b[o + 1]! * 8;
    if (len === 0) throw new DecodeError('ndp', base + o, 'bad-option', 'zero-length option');
    if (o + len > b.length) throw new DecodeError('ndp', base + o, 'truncated');
    if ((type === 1 || type === 2) && len === 8) {
      out.push({ type, linkLayerAddress: macToString(b, o + 2) });
    } else if (type === 3 && len === 32) {
      out.push({
        type,
        prefixLength: b[o + 2]!,
        onLink: (b[o + 3]! & 0x80) !== 0,
        autonomous: (b[o + 3]! & 0x40) !== 0,
        validLifetime: u32(b, o + 4),
        preferredLifetime: u32(b, o + 8),
        prefix: formatIPv6(b, o + 16),
      });
    } else if (type === 5 && len === 8) {
      out.push({ type, mtu: u32(b, o + 4) });
    } else {
      out.push({ type, data: b.subarray(o + 2, o + len) });
    }
    o += len;
  }
  return out;
}

function optionLength(opt: NdpOption): number {
  if ('linkLayerAddress' in opt) return 8;
  if ('prefix' in opt) return 32;
  if ('mtu' in opt) return 8;
  const n = 2 + opt.data.length;
  return Math.ceil(n / 8) * 8;
}

/** Length of the NDP body (what goes in Icmpv6Repr.body). */
export function ndpEncodingLength(msg: NdpMessage): number {
  const fixed = msg.kind === 'router-solicitation' ? 4 : msg.kind === 'router-advertisement' ? 12 : 20;
  return msg.options.reduce((n, o) => n + optionLength(o), fixed);
}

/** Encodes an NDP body; returns { type, code: 0, body } ready for encode(). */
export function encodeNdp(msg: NdpMessage): Icmpv6Repr {
  const body = new Uint8Array(ndpEncodingLength(msg));
  let type: number;
  let o: number;
  switch (msg.kind) {
    case 'router-solicitation':
      type = 133;
      o = 4;
      break;
    case 'router-advertisement':
      type = 134;
      body[0] = msg.curHopLimit & 0xff;
      body[1] = (msg.managed ? 0x80 : 0) | (msg.other ? 0x40 : 0);
      setU16(body, 2, msg.routerLifetime);
      setU32(body, 4, msg.reachableTime);
      setU32(body, 8, msg.retransTimer);
      o = 12;
      break;
    case 'neighbor-solicitation':
      type = 135;
      writeIPv6(msg.target, body, 4);
      o = 20;
      break;
    case 'neighbor-advertisement':
      type = 136;
      body[0] = (msg.router ? 0x80 : 0) | (msg.solicited ? 0x40 : 0) | (msg.override ? 0x20 : 0);
      writeIPv6(msg.target, body, 4);
      o = 20;
      break;
  }
  for (const opt of msg.options) {
    const len = optionLength(opt);
    if (len > 255 * 8) throw new InvalidArgumentError('NDP option too long');
    body[o] = opt.type;
    body[o + 1] = len / 8;
    if ('linkLayerAddress' in opt) writeMac(opt.linkLayerAddress, body, o + 2);
    else if ('prefix' in opt) {
      body[o + 2] = opt.prefixLength;
      body[o + 3] = (opt.onLink ? 0x80 : 0) | (opt.autonomous ? 0x40 : 0);
      setU32(body, o + 4, opt.validLifetime);
      setU32(body, o + 8, opt.preferredLifetime);
      writeIPv6(opt.prefix, body, o + 16);
    } else if ('mtu' in opt) setU32(body, o + 4, opt.mtu);
    else body.set(opt.data, o + 2);
    o += len;
  }
  return { type, code: 0, body };
}
