/**
 * Just enough of 802.11 (and its radiotap capture header) to reach the
 * network layer of an unprotected data frame: radiotap's own length and
 * FCS flag, the MAC header's variable length (4-address, QoS, HT control)
 * and the LLC/SNAP header after it. Reads in place, allocates nothing.
 */
import { llcPayload } from './llc.js';

function le16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** The radiotap header's length (version 0, fits the capture), or -1. */
export function radiotapLength(b: Uint8Array, o: number, end: number): number {
  if (end - o < 8 || b[o] !== 0) return -1;
  const len = le16(b, o + 2);
  return len < 8 || len > end - o ? -1 : len;
}

/** Whether the radiotap Flags field says the frame ends in a 4-byte FCS. */
export function radiotapHasFcs(b: Uint8Array, o: number, end: number): boolean {
  const len = radiotapLength(b, o, end);
  if (len < 0) return false;
  const present = le32(b, o + 4);
  if ((present & 0x2) === 0) return false;
  // Skip extended presence bitmaps (bit 31 chains another word).
  let p = o + 8;
  for (let w = present; w & 0x80000000; p += 4) {
    if (p + 4 > o + len) return false;
    w = le32(b, p);
  }
  // TSFT (bit 0): 8 bytes aligned to 8 from the header start; Flags (bit 1) follows.
  if (present & 0x1) p = o + (((p - o) + 7) & ~7) + 8;
  return p < o + len && (b[p]! & 0x10) !== 0;
}

/** 802.11 frame-control byte 0: type in bits 2-3 (2 = data), subtype in 4-7. */
const TYPE_DATA = 2;

/**
 * For an unprotected 802.11 data frame at o carrying LLC/SNAP with an
 * EtherType: the payload offset (EtherType in the 2 bytes before it). -1
 * for anything else (management, control, protected, no SNAP, cut).
 */
export function ieee80211Payload(b: Uint8Array, o: number, end: number): number {
  if (end - o < 24) return -1;
  const fc0 = b[o]!;
  const fc1 = b[o + 1]!;
  if (((fc0 >> 2) & 3) !== TYPE_DATA || (fc1 & 0x40) !== 0) return -1;
  const subtype = fc0 >> 4;
  if (subtype & 0x4) return -1; // null-function frames carry nothing
  let hl = 24;
  if ((fc1 & 0x03) === 0x03) hl += 6;
  if (subtype & 0x8) {
    hl += 2;
    if (fc1 & 0x80) hl += 4;
  }
  const r = llcPayload(b, o + hl, end);
  return r >= 0 ? r : -1;
}
