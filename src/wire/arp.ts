/**
 * ARP (RFC 826) over Ethernet.
 *
 *   +---------------------------+---------------------------+
 *   | hardware type (2)         | protocol type (2)         |
 *   | hw len (1) | proto len (1)| operation (2)             |
 *   | sender hardware address (hlen) | sender protocol address (plen) |
 *   | target hardware address (hlen) | target protocol address (plen) |
 *
 * The view handles any sizes (it makes no judgement, so odd packets can
 * still be printed); the Repr and `isEthernetIPv4` cover the one shape
 * Ethernet/IPv4 hosts use (htype 1, ptype 0x0800, 6/4). Proxy ARP should
 * drop everything else (docs/reliability.md A1).
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { hex, macToString, setU16, u16, writeMac } from './bytes.js';
import { formatIPv4, writeIPv4 } from './ip.js';

export const FIXED_LENGTH = 8;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ETHERNET_IPV4_LENGTH = 28;

export const Operation = { Request: 1, Reply: 2 } as const;

export interface ArpRepr {
  hardwareType: number;
  protocolType: number;
  operation: number;
  senderHardwareAddress: string;
  senderProtocolAddress: string;
  targetHardwareAddress: string;
  targetProtocolAddress: string;
}

export class ArpView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('arp', offset, r);
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

  get hardwareType(): number {
    return u16(this.bytes, this.offset);
  }
  get protocolType(): number {
    return u16(this.bytes, this.offset + 2);
  }
  get hardwareLength(): number {
    return this.bytes[this.offset + 4]!;
  }
  get protocolLength(): number {
    return this.bytes[this.offset + 5]!;
  }
  get operation(): number {
    return u16(this.bytes, this.offset + 6);
  }
  /** Whether this is the Ethernet/IPv4 shape with a request or reply operation. */
  get isEthernetIPv4(): boolean {
    return this.hardwareType === 1 && this.protocolType === 0x0800 && this.hardwareLength === 6 && this.protocolLength === 4;
  }
  /** Offsets of the four address fields (valid for any hlen/plen, checked by the constructor). */
  get senderHardwareOffset(): number {
    return this.offset + FIXED_LENGTH;
  }
  get senderProtocolOffset(): number {
    return this.senderHardwareOffset + this.hardwareLength;
  }
  get targetHardwareOffset(): number {
    return this.senderProtocolOffset + this.protocolLength;
  }
  get targetProtocolOffset(): number {
    return this.targetHardwareOffset + this.hardwareLength;
  }
  /** Sender/target protocol addresses as u32 (Ethernet/IPv4 only). */
  get senderIPv4(): number {
    const o = this.senderProtocolOffset;
    return ((this.bytes[o]! << 24) | (this.bytes[o + 1]! << 16) | (this.bytes[o + 2]! << 8) | this.bytes[o + 3]!) >>> 0;
  }
  get targetIPv4(): number {
    const o = this.targetProtocolOffset;
    return ((this.bytes[o]! << 24) | (this.bytes[o + 1]! << 16) | (this.bytes[o + 2]! << 8) | this.bytes[o + 3]!) >>> 0;
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < FIXED_LENGTH || offset + length > bytes.length) return 'truncated';
  const need = FIXED_LENGTH + 2 * (bytes[offset + 4]! + bytes[offset + 5]!);
  return length < need ? 'truncated' : null;
}

function addressText(b: Uint8Array, o: number, len: number, kind: 'hw' | 'proto'): string {
  if (kind === 'hw' && len === 6) return macToString(b, o);
  if (kind === 'proto' && len === 4) return formatIPv4(b, o);
  return hex(b, o, len, ':');
}

/** Decodes any ARP packet; addresses of unusual sizes come back as colon-separated hex. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): ArpRepr {
  const v = new ArpView(bytes, offset, length);
  const hl = v.hardwareLength;
  const pl = v.protocolLength;
  return {
    hardwareType: v.hardwareType,
    protocolType: v.protocolType,
    operation: v.operation,
    senderHardwareAddress: addressText(bytes, v.senderHardwareOffset, hl, 'hw'),
    senderProtocolAddress: addressText(bytes, v.senderProtocolOffset, pl, 'proto'),
    targetHardwareAddress: addressText(bytes, v.targetHardwareOffset, hl, 'hw'),
    targetProtocolAddress: addressText(bytes, v.targetProtocolOffset, pl, 'proto'),
  };
}

export function encodingLength(_repr: ArpRepr): number {
  return ETHERNET_IPV4_LENGTH;
}

/** Encodes the Ethernet/IPv4 shape (hardware length 6, protocol length 4). */
export function encode(repr: ArpRepr, out: Uint8Array = new Uint8Array(ETHERNET_IPV4_LENGTH), offset = 0): Uint8Array {
  if (!Number.isInteger(repr.operation) || repr.operation < 0 || repr.operation > 0xffff) {
    throw new InvalidArgumentError(`ARP operation must be 0..65535, got ${repr.operation}`);
  }
  setU16(out, offset, repr.hardwareType);
  setU16(out, offset + 2, repr.protocolType);
  out[offset + 4] = 6;
  out[offset + 5] = 4;
  setU16(out, offset + 6, repr.operation);
  writeMac(repr.senderHardwareAddress, out, offset + 8);
  writeIPv4(repr.senderProtocolAddress, out, offset + 14);
  writeMac(repr.targetHardwareAddress, out, offset + 18);
  writeIPv4(repr.targetProtocolAddress, out, offset + 24);
  return out;
}
