/**
 * Software segmentation and checksum completion for frames a TAP hands
 * out with a virtio_net_hdr (TSO/USO super-segments, partial checksums),
 * so the VTEP can read 64 kB per syscall and still emit wire-sized inner
 * frames. Pure: bytes in, bytes out, nothing allocated per frame.
 *
 * A super-frame is Ethernet (optionally one 802.1Q tag) + IPv4 or IPv6
 * (no extension headers) + TCP or UDP + payload. Segment j carries
 * payload bytes [j*gsoSize, (j+1)*gsoSize) behind a copy of the headers,
 * with per-segment fixes as the kernel's own GSO makes them: IPv4 total
 * length, id + j and header checksum; IPv6 payload length; TCP sequence
 * number + j*gsoSize, FIN/PSH only on the last segment, CWR only on the
 * first; UDP length; and a complete L4 checksum (pseudo-header, header,
 * payload), so no segment relies on offload downstream.
 */
import {
  ETH_HEADER_LENGTH, ETH_TYPE, IPV4_CHECKSUM, IPV4_FRAGMENT, IPV4_FRAGMENT_MASK, IPV4_ID, IPV4_MIN_HEADER_LENGTH, IPV4_PROTOCOL, IPV4_SOURCE,
  IPV4_TOTAL_LENGTH, IPV6_ADDRESS_LENGTH, IPV6_HEADER_LENGTH, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LENGTH, IPV6_SOURCE, TCP_CHECKSUM,
  TCP_DATA_OFFSET, TCP_FLAGS, TCP_MIN_HEADER_LENGTH, TCP_SEQUENCE, UDP_CHECKSUM, UDP_HEADER_LENGTH, UDP_LENGTH, VLAN_TAG_LENGTH,
} from '../wire/fields.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IPPROTO_TCP, IPPROTO_UDP, TCP_CWR, TCP_FIN, TCP_PSH } from '../wire/numbers.js';
import * as vnet from '../wire/virtio-net.js';

/** Why a super-frame was refused (counted by the caller). */
export const GSO_OK = 0;
export const GSO_BAD = 1;

/** A DataView over exactly the bytes of `b` (offsets in the view equal offsets in b). */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Ones-complement sum (RFC 1071) of the big-endian 16-bit words of
 * dv[o, o+len), added to `sum` (a small non-negative integer); an odd
 * last byte is padded with zero, so only the last range of a message may
 * have an odd length. Reads 4 bytes at a time (the sum of big-endian
 * 32-bit words folds to the same 16-bit result) and returns the sum
 * folded to 16 bits, so no heap number escapes.
 */
export function sum16(dv: DataView, o: number, len: number, sum: number): number {
  const end = o + len;
  const end8 = o + (len & ~7);
  let i = o;
  let a = 0;
  for (; i < end8; i += 8) {
    sum += dv.getUint32(i);
    a += dv.getUint32(i + 4);
  }
  sum += a;
  for (; i + 1 < end; i += 2) sum += dv.getUint16(i);
  if (i < end) sum += dv.getUint8(i) << 8;
  return fold(sum);
}

/** Folds an unfolded sum to 16 bits (end-around carry). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for a folded-to-be sum: ~fold, with 0 sent as 0xffff (as the kernel's skb_checksum_help). */
export function checksumField(sum: number): number {
  const c = ~fold(sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/**
 * Completes a NEEDS_CSUM frame in place: the field at start + offset
 * holds the pseudo-header sum; the checksum of everything from start on
 * goes there. Returns false (frame untouched) when the offsets do not fit.
 */
export function completeChecksum(dv: DataView, off: number, len: number, start: number, offset: number): boolean {
  if (start < ETH_HEADER_LENGTH || offset + 2 > len - start || (offset & 1) !== 0) return false;
  const s = sum16(dv, off + start, len - start, 0);
  dv.setUint16(off + start + offset, checksumField(s));
  return true;
}

/** Where the source and destination addresses start in an IPv6 or IPv4 header (the pseudo-header's). */
export function addressesAt(v6: boolean): number {
  return v6 ? IPV6_SOURCE : IPV4_SOURCE;
}

/** Bytes of both addresses. */
export function addressesLength(v6: boolean): number {
  return v6 ? 2 * IPV6_ADDRESS_LENGTH : 8;
}

/** Offset of the L3 header: 14, or 18 behind one 802.1Q tag; -1 when the frame is too short. */
function l3Offset(dv: DataView, off: number, len: number): number {
  if (len < ETH_HEADER_LENGTH) return -1;
  const t = dv.getUint16(off + ETH_TYPE);
  if (t !== ETHERTYPE_VLAN) return ETH_HEADER_LENGTH;
  return len < ETH_HEADER_LENGTH + VLAN_TAG_LENGTH ? -1 : ETH_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

/**
 * One parsed super-frame. `parse` fills the fields; `write` emits
 * segments. Reused for every frame (no allocation).
 */
export class GsoFrame {
  /** Offsets relative to the frame start. */
  l3 = 0;
  l4 = 0;
  /** Ethernet + IP + L4 header bytes (the prefix every segment repeats). */
  hdrLen = 0;
  payload = 0;
  gsoSize = 0;
  segments = 0;
  v6 = false;
  tcp = false;
  #pseudo = 0;
  #seq = 0;
  #id = 0;
  #flags = 0;

  /**
   * Parses the super-frame at b[off, off+len) described by a vnet header
   * (gso type without the ECN bit). Returns GSO_OK or GSO_BAD.
   */
  parse(dv: DataView, off: number, len: number, gsoType: number, gsoSize: number, csumStart: number): number {
    const l3 = l3Offset(dv, off, len);
    if (l3 < 0 || gsoSize === 0) return GSO_BAD;
    const ethType = dv.getUint16(off + l3 - 2);
    let l4: number;
    let proto: number;
    if (gsoType === vnet.GSO_TCPV4 || (gsoType === vnet.GSO_UDP_L4 && ethType === ETHERTYPE_IPV4)) {
      if (ethType !== ETHERTYPE_IPV4 || len < l3 + IPV4_MIN_HEADER_LENGTH) return GSO_BAD;
      const vihl = dv.getUint8(off + l3);
      if (vihl >> 4 !== 4 || (vihl & 15) < 5) return GSO_BAD;
      l4 = l3 + (vihl & 15) * 4;
      proto = dv.getUint8(off + l3 + IPV4_PROTOCOL);
      // No fragments: MF and the offset clear.
      if ((dv.getUint16(off + l3 + IPV4_FRAGMENT) & IPV4_FRAGMENT_MASK) !== 0) return GSO_BAD;
      this.v6 = false;
      this.#id = dv.getUint16(off + l3 + IPV4_ID);
    } else if (gsoType === vnet.GSO_TCPV6 || gsoType === vnet.GSO_UDP_L4) {
      if (ethType !== ETHERTYPE_IPV6 || len < l3 + IPV6_HEADER_LENGTH || dv.getUint8(off + l3) >> 4 !== 6) return GSO_BAD;
      l4 = l3 + IPV6_HEADER_LENGTH;
      proto = dv.getUint8(off + l3 + IPV6_NEXT_HEADER);
      this.v6 = true;
    } else {
      return GSO_BAD;
    }
    const tcp = gsoType !== vnet.GSO_UDP_L4;
    if (proto !== (tcp ? IPPROTO_TCP : IPPROTO_UDP) || l4 !== csumStart) return GSO_BAD;
    let hdrLen: number;
    if (tcp) {
      if (len < l4 + TCP_MIN_HEADER_LENGTH) return GSO_BAD;
      const doff = (dv.getUint8(off + l4 + TCP_DATA_OFFSET) >> 4) * 4;
      if (doff < TCP_MIN_HEADER_LENGTH) return GSO_BAD;
      hdrLen = l4 + doff;
      this.#seq = dv.getUint32(off + l4 + TCP_SEQUENCE);
      this.#flags = dv.getUint8(off + l4 + TCP_FLAGS);
    } else {
      hdrLen = l4 + UDP_HEADER_LENGTH;
    }
    if (hdrLen > len) return GSO_BAD;
    // Every byte past the headers is payload (the kernel pads nothing on a super-frame).
    const ipLen = this.v6 ? dv.getUint16(off + l3 + IPV6_PAYLOAD_LENGTH) + IPV6_HEADER_LENGTH : dv.getUint16(off + l3 + IPV4_TOTAL_LENGTH);
    if (ipLen !== len - l3) return GSO_BAD;
    this.l3 = l3;
    this.l4 = l4;
    this.hdrLen = hdrLen;
    this.payload = len - hdrLen;
    this.gsoSize = gsoSize;
    this.segments = this.payload === 0 ? 1 : Math.ceil(this.payload / gsoSize);
    this.tcp = tcp;
    this.#pseudo = sum16(dv, off + l3 + addressesAt(this.v6), addressesLength(this.v6), proto);
    return GSO_OK;
  }

  /** Bytes of segment j's frame. */
  segmentLength(j: number): number {
    const rest = this.payload - j * this.gsoSize;
    return this.hdrLen + (rest < this.gsoSize ? rest : this.gsoSize);
  }

  /**
   * Writes segments first .. first+count-1 of the super-frame src[off..]
   * into dst: segment j's frame starts at dstOff + (j - first) * stride,
   * stride >= hdrLen + gsoSize when count > 1. Returns the last one's
   * frame length.
   *
   * Buffer.copy allocates a view per call (Node 20), so several segments
   * cost two such copies in all: the payload run lands behind the first
   * header and is spread to its places with copyWithin (last segment
   * first, so nothing is overwritten before it moved), then the headers
   * are cloned from the first one inside dst.
   */
  write(src: Buffer, off: number, first: number, count: number, dst: Buffer, ddv: DataView, dstOff: number, stride: number): number {
    const h = this.hdrLen;
    const g = this.gsoSize;
    const pStart = off + h + first * g;
    const run = this.segmentLength(first + count - 1) - h + (count - 1) * g;
    src.copy(dst, dstOff, off, off + h);
    src.copy(dst, dstOff + h, pStart, pStart + run);
    for (let k = count - 1; k > 0; k--) {
      const from = dstOff + h + k * g;
      dst.copyWithin(dstOff + k * stride + h, from, from + (k === count - 1 ? run - k * g : g));
      dst.copyWithin(dstOff + k * stride, dstOff, dstOff + h);
    }
    let flen = 0;
    for (let k = 0; k < count; k++) flen = this.#fix(ddv, dstOff + k * stride, first + k);
    return flen;
  }

  /** Per-segment header fields and checksums of segment j, whose frame is at d. Returns its length. */
  #fix(ddv: DataView, d: number, j: number): number {
    const h = this.hdrLen;
    const l3 = this.l3;
    const l4 = this.l4;
    const segLen = this.segmentLength(j) - h;
    const l4Len = h - l4 + segLen;
    if (this.v6) {
      ddv.setUint16(d + l3 + IPV6_PAYLOAD_LENGTH, h - l3 - IPV6_HEADER_LENGTH + segLen);
    } else {
      ddv.setUint16(d + l3 + IPV4_TOTAL_LENGTH, h - l3 + segLen);
      ddv.setUint16(d + l3 + IPV4_ID, (this.#id + j) & 0xffff);
      ddv.setUint16(d + l3 + IPV4_CHECKSUM, 0);
      ddv.setUint16(d + l3 + IPV4_CHECKSUM, ~sum16(ddv, d + l3, l4 - l3, 0) & 0xffff);
    }
    let csumAt: number;
    if (this.tcp) {
      ddv.setUint32(d + l4 + TCP_SEQUENCE, (this.#seq + j * this.gsoSize) >>> 0);
      let f = this.#flags;
      if (j !== this.segments - 1) f &= ~(TCP_FIN | TCP_PSH);
      if (j !== 0) f &= ~TCP_CWR;
      ddv.setUint8(d + l4 + TCP_FLAGS, f);
      csumAt = d + l4 + TCP_CHECKSUM;
    } else {
      ddv.setUint16(d + l4 + UDP_LENGTH, l4Len);
      csumAt = d + l4 + UDP_CHECKSUM;
    }
    ddv.setUint16(csumAt, 0);
    ddv.setUint16(csumAt, checksumField(sum16(ddv, d + l4, l4Len, this.#pseudo + l4Len)));
    return h + segLen;
  }
}
