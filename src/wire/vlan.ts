/**
 * IEEE 802.1Q VLAN tags and 802.1ad QinQ stacking.
 *
 * A tag sits where the EtherType was; the TPID (0x8100 C-tag, 0x88a8
 * S-tag, 0x9100 legacy QinQ) is the outer EtherType, and the tag itself is
 * four bytes: the TCI, then the EtherType of what follows.
 *
 *    0                   1                   2                   3
 *   +-----+-+-----------------------+-------------------------------+
 *   | PCP |D|        VID (12)       |      inner EtherType (16)      |
 *   +-----+-+-----------------------+-------------------------------+
 *
 * This codec covers the four bytes after the TPID. QinQ is two tags in a
 * row; decodeStack walks them with a bound (MAX_TAGS).
 */
import { DecodeError, type DecodeReason, InvalidArgumentError } from '../errors.js';
import { isVlanTpid } from './ethernet.js';
import { setU16, u16 } from './bytes.js';

export const TAG_LENGTH = 4;
/** Real networks stack two tags (QinQ); 8 leaves room for odd labs while bounding the walk. */
export const MAX_TAGS = 8;

export interface VlanRepr {
  /** Priority code point, 0..7. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN identifier, 0..4095 (0: priority tag only, 4095 reserved). */
  vid: number;
  /** EtherType after this tag (another TPID for QinQ). */
  etherType: number;
  payload: Uint8Array;
}

export class VlanView {
  bytes: Uint8Array;
  offset: number;
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    const r = check(bytes, offset, length);
    if (r) throw new DecodeError('vlan', offset, r);
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

  get tci(): number {
    return u16(this.bytes, this.offset);
  }
  get pcp(): number {
    return this.bytes[this.offset]! >> 5;
  }
  get dei(): boolean {
    return (this.bytes[this.offset]! & 0x10) !== 0;
  }
  get vid(): number {
    return this.tci & 0x0fff;
  }
  set vid(v: number) {
    setU16(this.bytes, this.offset, (this.tci & 0xf000) | (v & 0x0fff));
  }
  get etherType(): number {
    return u16(this.bytes, this.offset + 2);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + TAG_LENGTH, this.offset + this.length);
  }
}

export function check(bytes: Uint8Array, offset: number, length: number): DecodeReason | null {
  if (offset < 0 || length < TAG_LENGTH || offset + length > bytes.length) return 'truncated';
  return null;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): VlanRepr {
  const v = new VlanView(bytes, offset, length);
  return { pcp: v.pcp, dei: v.dei, vid: v.vid, etherType: v.etherType, payload: v.payload };
}

export function encodingLength(repr: VlanRepr): number {
  return TAG_LENGTH + repr.payload.length;
}

export function encode(repr: VlanRepr, out: Uint8Array = new Uint8Array(encodingLength(repr)), offset = 0): Uint8Array {
  if (!Number.isInteger(repr.pcp) || repr.pcp < 0 || repr.pcp > 7) throw new InvalidArgumentError(`VLAN PCP must be 0..7, got ${repr.pcp}`);
  if (!Number.isInteger(repr.vid) || repr.vid < 0 || repr.vid > 4095) throw new InvalidArgumentError(`VLAN ID must be 0..4095, got ${repr.vid}`);
  setU16(out, offset, (repr.pcp << 13) | (repr.dei ? 0x1000 : 0) | repr.vid);
  setU16(out, offset + 2, repr.etherType);
  out.set(repr.payload, offset + TAG_LENGTH);
  return out;
}

export interface TagStack {
  /** Outermost first; tpid is the EtherType that announced each tag. */
  tags: { tpid: number; pcp: number; dei: boolean; vid: number }[];
  /** EtherType after the last tag. */
  etherType: number;
  /** Offset of the first byte after the last tag. */
  payloadOffset: number;
}

/**
 * Walks stacked tags starting at `offset` (just after an EtherType equal
 * to `tpid`), bounded by MAX_TAGS.
 */
export function decodeStack(bytes: Uint8Array, tpid: number, offset: number, end = bytes.length): TagStack {
  const tags: TagStack['tags'] = [];
  let type = tpid;
  let o = offset;
  while (isVlanTpid(type)) {
    if (tags.length === MAX_TAGS) throw new DecodeError('vlan', o, 'too-many-headers');
    if (end - o < TAG_LENGTH) throw new DecodeError('vlan', o, 'truncated');
    const tci = u16(bytes, o);
    tags.push({ tpid: type, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    type = u16(bytes, o + 2);
    o += TAG_LENGTH;
  }
  return { tags, etherType: type, payloadOffset: o };
}
