/**
 * struct virtio_net_hdr (virtio spec §5.1.6, <linux/virtio_net.h>): the
 * 10-byte header a TAP opened with IFF_VNET_HDR puts in front of every
 * frame it hands out and expects in front of every frame written to it.
 * Little-endian (the TAP's default on little-endian hosts; weft never
 * calls TUNSETVNETBE).
 *
 *   u8 flags | u8 gso_type | le16 hdr_len | le16 gso_size
 *   le16 csum_start | le16 csum_offset
 *
 * flags NEEDS_CSUM: the L4 checksum is partial (the field at
 * csum_start + csum_offset holds the pseudo-header sum; the sender must
 * fold in the bytes from csum_start on). gso_type != NONE: the frame is a
 * super-segment to be cut into gso_size-byte L4 payloads.
 */

export const VNET_HDR_LEN = 10;

export const F_NEEDS_CSUM = 1;
export const F_DATA_VALID = 2;

export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
/** Bit or'ed into gso_type: the super-segment carries ECN CWR. */
export const GSO_ECN = 0x80;

export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function flags(b: Uint8Array, o: number): number {
  return b[o]!;
}
export function gsoType(b: Uint8Array, o: number): number {
  return b[o + 1]!;
}
export function hdrLen(b: Uint8Array, o: number): number {
  return b[o + 2]! | (b[o + 3]! << 8);
}
export function gsoSize(b: Uint8Array, o: number): number {
  return b[o + 4]! | (b[o + 5]! << 8);
}
export function csumStart(b: Uint8Array, o: number): number {
  return b[o + 6]! | (b[o + 7]! << 8);
}
export function csumOffset(b: Uint8Array, o: number): number {
  return b[o + 8]! | (b[o + 9]! << 8);
}

/** Writes a header field by field (no object on the hot path). */
export function write(b: Uint8Array, o: number, fl: number, type: number, hdr: number, gso: number, start: number, offset: number): void {
  b[o] = fl;
  b[o + 1] = type;
  b[o + 2] = hdr & 0xff;
  b[o + 3] = hdr >>> 8;
  b[o + 4] = gso & 0xff;
  b[o + 5] = gso >>> 8;
  b[o + 6] = start & 0xff;
  b[o + 7] = start >>> 8;
  b[o + 8] = offset & 0xff;
  b[o + 9] = offset >>> 8;
}

/** The all-zero header: a plain frame, checksums complete (the kernel verifies them). */
export function writeNone(b: Uint8Array, o: number): void {
  b.fill(0, o, o + VNET_HDR_LEN);
}

export function decode(b: Uint8Array, o = 0): VnetHeader {
  return { flags: flags(b, o), gsoType: gsoType(b, o), hdrLen: hdrLen(b, o), gsoSize: gsoSize(b, o), csumStart: csumStart(b, o), csumOffset: csumOffset(b, o) };
}

export function encode(h: VnetHeader, b: Uint8Array = new Uint8Array(VNET_HDR_LEN), o = 0): Uint8Array {
  write(b, o, h.flags, h.gsoType, h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset);
  return b;
}

/**
 * The header with the UDP-tunnel extension (struct
 * virtio_net_hdr_v1_hash_tunnel, Linux 6.17+): the 10 bytes above, le16
 * num_buffers, le32 hash_value, le16 hash_report, le16 padding, then le16
 * outer_th_offset (outer UDP header) and le16 inner_nh_offset (inner IP
 * header), both from the start of the frame. A TAP whose header size is
 * set to this length parses the tunnel fields of frames written to it.
 */
export const VNET_HDR_TUNNEL_LEN = 24;
/** Or'ed into gso_type: the GSO packet is carried in UDP over IPv4 (outer) — VXLAN here. */
export const GSO_UDP_TUNNEL_IPV4 = 0x20;
const OUTER_TH_OFFSET = 20;
const INNER_NH_OFFSET = 22;

/** Writes a tunnel header: the plain fields, zero hash fields, and the two offsets. */
export function writeTunnel(b: Uint8Array, o: number, fl: number, type: number, hdr: number, gso: number, start: number, offset: number, outerTh: number, innerNh: number): void {
  write(b, o, fl, type, hdr, gso, start, offset);
  b.fill(0, o + VNET_HDR_LEN, o + OUTER_TH_OFFSET);
  b[o + OUTER_TH_OFFSET] = outerTh & 0xff;
  b[o + OUTER_TH_OFFSET + 1] = outerTh >>> 8;
  b[o + INNER_NH_OFFSET] = innerNh & 0xff;
  b[o + INNER_NH_OFFSET + 1] = innerNh >>> 8;
}
