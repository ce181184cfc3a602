/**
 * The VTEP's underlay output with UDP-tunnel GSO (Linux 6.17+), the
 * alternative to vtep-tx.ts's UDP socket. A TSO super-frame read from the
 * overlay TAP is not cut into datagrams here: it is written whole, behind
 * outer Ethernet + IPv4 + UDP + VXLAN headers and a virtio_net_hdr of type
 * GSO_*|GSO_UDP_TUNNEL_IPV4, to a second TAP, the underlay TAP. The kernel
 * takes it as one GSO packet arriving on that TAP and routes it out of the
 * underlay (forwarding is switched on for the underlay TAP only). It
 * stays one packet as far as the path takes tunnel GSO (a veth, a NIC with
 * tunnel TSO) and the receiving kernel's vxlan decapsulates it whole, as
 * between two kernel VTEPs; elsewhere the kernel segments it on the way
 * out. Inner checksums stay partial for the kernel to complete, so only
 * headers are written here.
 *
 * Only super-frames take this path. Single frames keep going through the
 * UDP socket, where one sendmmsg carries up to 64 of them (here each would
 * cost a write(2) and a forwarding decision); the data path flushes one
 * path before it queues on the other, so frames leave in the order they
 * were read. A super-frame whose outer IPv4 packet would exceed 65,535
 * bytes is refused (false) and goes the socket way too.
 */
import type { FrameBatch, TapDevice } from '../io/tap.js';
import {
  ETH_HEADER_LENGTH, ETH_TYPE, IPV4_CHECKSUM, IPV4_DESTINATION, IPV4_MIN_HEADER_LENGTH, IPV4_PROTOCOL, IPV4_SOURCE, IPV4_TOTAL_LENGTH, IPV4_TTL, IPV4_VERSION_IHL,
  UDP_DESTINATION_PORT, UDP_HEADER_LENGTH, UDP_LENGTH, UDP_SOURCE_PORT,
} from '../wire/fields.js';
import { ETHERTYPE_IPV4, IPPROTO_UDP } from '../wire/numbers.js';
import * as vnet from '../wire/virtio-net.js';
import * as vxlan from '../wire/vxlan.js';
import type { RemoteVtep } from './fdb-table.js';
import { sum16, viewOf, type GsoFrame } from './gso.js';
import type { VtepCounters } from './vtep.js';

/** Outer headers in front of the inner frame. */
export const TUNNEL_OVERHEAD = ETH_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH + UDP_HEADER_LENGTH + vxlan.HEADER_LENGTH;
const PREFIX = vnet.VNET_HDR_TUNNEL_LEN + TUNNEL_OVERHEAD;
const OUTER_IP = vnet.VNET_HDR_TUNNEL_LEN + ETH_HEADER_LENGTH;
const OUTER_UDP = OUTER_IP + IPV4_MIN_HEADER_LENGTH;
const MAX_IPV4_PACKET = 0xffff;
/** The outer source MAC (locally administered): the underlay TAP only checks the destination. */
const OUTER_SOURCE_MAC = [0x02, 0x77, 0x65, 0x66, 0x74, 0x00];

export class TunnelSender {
  readonly #tap: TapDevice;
  readonly #counters: VtepCounters;
  readonly #out: FrameBatch;
  readonly #outView: DataView;
  readonly #segments: Int32Array;
  #n = 0;
  /** The last write error (for stats), if any. */
  lastError: string | undefined;

  /**
   * `out` is a batch with slots of MAX_FRAME_SLOT bytes; `local` and
   * `port` the underlay source address (host order) and port, those of
   * the VTEP's socket, so every frame of a flow has one outer 5-tuple
   * whichever path it takes (a receiver spreading flows by it keeps them
   * in order); `tapMac` the underlay TAP's MAC (outer destination, so the
   * kernel takes the frame as addressed to it).
   */
  constructor(tap: TapDevice, out: FrameBatch, vni: number, local: number, port: number, tapMac: Uint8Array, counters: VtepCounters) {
    this.#tap = tap;
    this.#out = out;
    this.#outView = viewOf(out.buffer);
    this.#counters = counters;
    this.#segments = new Int32Array(out.capacity);
    // Every slot starts with the constant parts of the headers; queue() fills in the rest.
    const b = out.buffer;
    const dv = this.#outView;
    for (let i = 0; i < out.capacity; i++) {
      const o = i * out.slotSize + vnet.VNET_HDR_TUNNEL_LEN;
      b.set(tapMac, o);
      b.set(OUTER_SOURCE_MAC, o + 6);
      dv.setUint16(o + ETH_TYPE, ETHERTYPE_IPV4);
      const ip = o + ETH_HEADER_LENGTH;
      b[ip + IPV4_VERSION_IHL] = 0x45;
      b[ip + IPV4_TTL] = 64;
      b[ip + IPV4_PROTOCOL] = IPPROTO_UDP;
      dv.setUint32(ip + IPV4_SOURCE, local >>> 0);
      const udp = ip + IPV4_MIN_HEADER_LENGTH;
      dv.setUint16(udp + UDP_SOURCE_PORT, port);
      vxlan.encodeHeader(vni, b, udp + UDP_HEADER_LENGTH);
    }
  }

  /**
   * Queues the super-frame src[off, off+len) that `frame` parsed, whose
   * TAP virtio_net_hdr is at src[hdr..]. False when it does not fit in
   * one outer IPv4 packet (nothing queued).
   */
  queue(src: Buffer, hdr: number, off: number, len: number, frame: GsoFrame, remote: RemoteVtep): boolean {
    const ipLen = TUNNEL_OVERHEAD - ETH_HEADER_LENGTH + len;
    if (ipLen > MAX_IPV4_PACKET) return false;
    if (this.#n === this.#out.capacity) this.flush();
    const out = this.#out;
    const dv = this.#outView;
    const base = this.#n * out.slotSize;
    // A super-frame's L4 checksum is always partial (GsoFrame.parse checked csum_start).
    const type = vnet.gsoType(src, hdr) | vnet.GSO_UDP_TUNNEL_IPV4;
    vnet.writeTunnel(out.buffer, base, vnet.F_NEEDS_CSUM, type, frame.hdrLen + TUNNEL_OVERHEAD, frame.gsoSize, vnet.csumStart(src, hdr) + TUNNEL_OVERHEAD,
      vnet.csumOffset(src, hdr), OUTER_UDP - vnet.VNET_HDR_TUNNEL_LEN, TUNNEL_OVERHEAD + frame.l3);
    const ip = base + OUTER_IP;
    dv.setUint16(ip + IPV4_TOTAL_LENGTH, ipLen);
    dv.setUint32(ip + IPV4_DESTINATION, remote.ip >>> 0);
    dv.setUint16(ip + IPV4_CHECKSUM, 0);
    dv.setUint16(ip + IPV4_CHECKSUM, ~sum16(dv, ip, IPV4_MIN_HEADER_LENGTH, 0) & 0xffff);
    const udp = base + OUTER_UDP;
    // The destination port as the remote's sockaddr_in holds it (network order).
    out.buffer[udp + UDP_DESTINATION_PORT] = remote.sockaddr[2]!;
    out.buffer[udp + UDP_DESTINATION_PORT + 1] = remote.sockaddr[3]!;
    dv.setUint16(udp + UDP_LENGTH, ipLen - IPV4_MIN_HEADER_LENGTH);
    src.copy(out.buffer, base + PREFIX, off, off + len);
    out.lengths[this.#n] = PREFIX + len;
    this.#segments[this.#n++] = frame.segments;
    return true;
  }

  /** Writes what is queued; counts segments sent, refused (tx_errors) and not taken (tx_socket_full). */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    const c = this.#counters;
    let i = 0;
    while (i < n) {
      let written = 0;
      let failed = false;
      try {
        written = this.#tap.writeBatchFrom(this.#out, i, n - i);
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        failed = true;
      }
      for (let k = i; k < i + written; k++) {
        c.tx_packets += this.#segments[k]!;
        c.tx_bytes += this.#out.lengths[k]! - PREFIX;
      }
      i += written;
      if (failed) c.tx_errors += this.#segments[i++]!;
      else if (written === 0) {
        for (; i < n; i++) c.tx_socket_full += this.#segments[i]!;
      }
    }
    this.#n = 0;
  }
}

