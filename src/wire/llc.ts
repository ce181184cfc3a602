/**
 * IEEE 802.2 LLC, as found after an 802.3 length field (EtherType ≤ 1500)
 * or inside 802.11 data frames: SNAP (AA AA 03 + OUI + EtherType) leads
 * back to an EtherType; DSAP/SSAP 0x42 is the spanning tree (802.1D BPDU).
 * Reads in place, allocates nothing.
 */
import { u16 } from './bytes.js';

/** llcPayload's result for a spanning-tree BPDU. */
export const LLC_STP = -2;
/** llcPayload's result for any other LLC frame (or one too short). */
export const LLC_OTHER = -1;

/**
 * For SNAP with an EtherType-carrying OUI (00-00-00 or 00-00-F8): the offset
 * of the payload, whose EtherType is the two bytes before it. Else LLC_STP
 * or LLC_OTHER.
 */
export function llcPayload(b: Uint8Array, o: number, end: number): number {
  if (end - o < 3) return LLC_OTHER;
  const dsap = b[o]!;
  const ssap = b[o + 1]!;
  if (dsap === 0x42 && ssap === 0x42) return LLC_STP;
  if (dsap !== 0xaa || ssap !== 0xaa || b[o + 2] !== 0x03 || end - o < 8) return LLC_OTHER;
  if (b[o + 3] !== 0 || b[o + 4] !== 0 || (b[o + 5] !== 0 && b[o + 5] !== 0xf8)) return LLC_OTHER;
  return o + 8;
}

/** The SNAP EtherType at o (LLC header start), or -1 when the frame is not SNAP. */
export function snapType(b: Uint8Array, o: number, end: number): number {
  if (end - o < 8 || b[o] !== 0xaa || b[o + 1] !== 0xaa || b[o + 2] !== 0x03) return -1;
  return u16(b, o + 6);
}

/** The SNAP OUI at o (LLC header start), or -1. */
export function snapOui(b: Uint8Array, o: number, end: number): number {
  if (end - o < 8 || b[o] !== 0xaa || b[o + 1] !== 0xaa || b[o + 2] !== 0x03) return -1;
  return (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!;
}

/** Spanning tree BPDU kinds at the LLC header o: 'config', 'tcn', 'rstp', 'mstp' or '' when cut. */
export function stpKind(b: Uint8Array, o: number, end: number): '' | 'config' | 'tcn' | 'rstp' | 'mstp' {
  if (end - o < 7) return '';
  const version = b[o + 5]!;
  const type = b[o + 6]!;
  if (type === 0x80) return 'tcn';
  if (type === 0x02) return version >= 3 ? 'mstp' : 'rstp';
  return 'config';
}
