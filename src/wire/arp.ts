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
import { hex, macToString, setU16, u16, u32, writeMac } from './bytes.js';
import { formatIPv4, writeIPv4 } from './ip.js';
import {
  ARP_ETHERNET_IPV4_LENGTH, ARP_FIXED_LENGTH, ARP_HLEN, ARP_HTYPE, ARP_OP, ARP_PLEN, ARP_PTYPE, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, MAC_LENGTH,
} from './fields.js';
import { ARP_HTYPE_ETHERNET, ETHERTYPE_IPV4 } from './numbers.js';

export const FIXED_LENGTH = ARP_FIXED_LENGTH;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ETHERNET_IPV4_LENGTH = ARP_ETHERNET_IPV4_LENGTH;

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
    return u16(this.bytes, this.offset + ARP_PTYPE);
  }
  get hardwareLength(): number {
    return this.bytes[this.offset + ARP_HLEN]!;
  }
  get protocolLength(): number {
    return this.bytes[this.offset + ARP_PLEN]!;
  }
  get operation(): number {
    return u16(this.bytes, this.offset + ARP_OP);
  }
  /** Whether this is the Ethernet/IPv4 shape with a request or reply operation. */
  get isEthernetIPv4(): boolean {
    return this.hardwareType === ARP_HTYPE_ETHERNET && this.protocolType === ETHERTYPE_IPV4 && this.hardwareLength === MAC_LENGTH && this.protocolLength === 4;
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
    return u32(this.bytes, this.senderProtocolOffset);
  }
  get targetIPv4(): number {
    return u32(this.bytes, this.targetProtocolOffset);
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < FIXED_LENGTH || offset + length > bytes.length) return 'truncated';
  const need = FIXED_LENGTH + 2 * (bytes[offset + ARP_HLEN]! + bytes[offset + ARP_PLEN]!);
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
  setU16(out, offset + ARP_HTYPE, repr.hardwareType);
  setU16(out, offset + ARP_PTYPE, repr.protocolType);
  out[offset + ARP_HLEN] = MAC_LENGTH;
  out[offset + ARP_PLEN] = 4;
  setU16(out, offset + ARP_OP, repr.operation);
  writeMac(repr.senderHardwareAddress, out, offset + ARP_SHA);
  writeIPv4(repr.senderProtocolAddress, out, offset + ARP_SPA);
  writeMac(repr.targetHardwareAddress, out, offset + ARP_THA);
  writeIPv4(repr.targetProtocolAddress, out, offset + ARP_TPA);
  return out;
}
