/**
 * Ethernet II frames (IEEE 802.3 with an EtherType, as Linux emits them).
 *
 *    0                   1                   2                   3
 *   +-------------------------------------------------------------+
 *   |              destination MAC (6)   |   source MAC (6)       |
 *   +------------------------------------+------------------------+
 *   |  EtherType (2) |  payload ... (the FCS is not in captures)  |
 *
 * An EtherType of 0x8100 / 0x88a8 / 0x9100 means an 802.1Q tag follows
 * (see vlan.ts); values below 0x0600 are 802.3 lengths, kept as-is.
 */
import { DecodeError, type DecodeReason } from '../errors.js';
import { macToString, setU16, u16, writeMac } from './bytes.js';
import { ETH_HEADER_LENGTH, ETH_SOURCE, ETH_TYPE, MAC_LENGTH } from './fields.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_QINQ_LEGACY, ETHERTYPE_VLAN } from './numbers.js';

export const HEADER_LENGTH = ETH_HEADER_LENGTH;

const NAMES: Record<number, string> = {
  [ETHERTYPE_IPV4]: 'ipv4', [ETHERTYPE_ARP]: 'arp', [ETHERTYPE_VLAN]: 'vlan', [ETHERTYPE_IPV6]: 'ipv6', [ETHERTYPE_QINQ]: 'qinq',
  [ETHERTYPE_QINQ_LEGACY]: 'qinq-legacy',
};

/** A label for an EtherType; unknown values print as unknown(0x....). */
export function etherTypeName(t: number): string {
  return NAMES[t] ?? `unknown(0x${t.toString(16).padStart(4, '0')})`;
}

/** Whether an EtherType announces an 802.1Q / 802.1ad tag. */
export function isVlanTpid(t: number): boolean {
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ || t === ETHERTYPE_QINQ_LEGACY;
}

export interface EthernetRepr {
  destination: string;
  source: string;
  etherType: number;
  payload: Uint8Array;
}

/** Zero-copy view over a frame. The constructor checks the length once. */
export class EthernetView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('ethernet', offset, r);
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }

  /** Re-points the view (hot path: no allocation, no throw); returns the reason on failure. */
  reset(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
    const r = check(bytes, offset, length);
    if (r) return r;
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return null;
  }

  /** The "destination address" bytes (a subarray). */
  get destination(): Uint8Array {
    return this.bytes.subarray(this.offset, this.offset + MAC_LENGTH);
  }
  get source(): Uint8Array {
    return this.bytes.subarray(this.offset + ETH_SOURCE, this.offset + ETH_SOURCE + MAC_LENGTH);
  }
  get etherType(): number {
    return u16(this.bytes, this.offset + ETH_TYPE);
  }
  set etherType(v: number) {
    setU16(this.bytes, this.offset + ETH_TYPE, v);
  }
  get payloadOffset(): number {
    return this.offset + HEADER_LENGTH;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + HEADER_LENGTH, this.offset + this.length);
  }
}

/** null when `length` bytes at `offset` can hold an Ethernet header. */
export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < HEADER_LENGTH || offset + length > bytes.length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): EthernetRepr {
  const v = new EthernetView(bytes, offset, length);
  return { destination: macToString(bytes, offset), source: macToString(bytes, offset + ETH_SOURCE), etherType: v.etherType, payload: v.payload };
}

export function encodingLength(repr: EthernetRepr): number {
  return HEADER_LENGTH + repr.payload.length;
}

/** Writes header and payload at offset (allocating when out is omitted); returns out. */
export function encode(repr: EthernetRepr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  writeMac(repr.destination, out, offset);
  writeMac(repr.source, out, offset + ETH_SOURCE);
  setU16(out, offset + ETH_TYPE, repr.etherType);
  out.set(repr.payload, offset + HEADER_LENGTH);
  return out;
}
