/**
 * Receive-side coalescing for a TAP with IFF_VNET_HDR: consecutive
 * in-order TCP segments of one flow are merged into one super-frame with
 * a GSO virtio_net_hdr, so the kernel takes 64 kB per write(2) instead of
 * one MSS, and its TCP sees what NIC GRO would have given it.
 *
 * The merge rules follow the kernel's tcp_gro_receive: same MACs, IP
 * addresses and ports, identical IP fields (TOS/traffic class, TTL/hop
 * limit, DF), identical TCP header apart from the sequence number and
 * PSH (same ack, window, flags, options), sequence number exactly the
 * next expected one, payload no larger than the first segment's (the
 * gso_size); a shorter segment or PSH ends the super-frame. Only ACK
 * (+PSH) segments with payload are merged. Every merged segment's TCP
 * checksum is verified first, because a NEEDS_CSUM super-frame is
 * trusted by the receiving stack; a segment that fails goes through
 * alone with a zero header, for the kernel to drop and count.
 *
 * A non-mergeable TCP packet of a flow closes that flow's open frame, so
 * nothing of a flow is ever written ahead of an earlier packet of it.
 * Frames are written into preallocated slots; nothing is allocated per
 * packet.
 */
import {
  ETH_HEADER_LENGTH, ETH_TYPE, IPV4_CHECKSUM, IPV4_FRAGMENT, IPV4_FRAGMENT_MASK, IPV4_MIN_HEADER_LENGTH, IPV4_PROTOCOL, IPV4_TOTAL_LENGTH,
  IPV4_TTL, IPV6_HEADER_LENGTH, IPV6_HOP_LIMIT, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LENGTH, TCP_ACKNOWLEDGMENT, TCP_CHECKSUM, TCP_DATA_OFFSET,
  TCP_FLAGS, TCP_MIN_HEADER_LENGTH, TCP_SEQUENCE, TCP_URGENT,
} from '../wire/fields.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_TCP, TCP_ACK, TCP_FLAG_MASK, TCP_PSH } from '../wire/numbers.js';
import * as vnet from '../wire/virtio-net.js';
import { addressesAt, addressesLength, fold, sum16, viewOf } from './gso.js';

/** Open super-frames searched for a merge (as the kernel's GRO keeps 8 per bucket). */
const MAX_OPEN = 8;
const MAX_IP_LENGTH = 65535;

const NOT_TCP = 0;
const TCP_ALONE = 1;
const TCP_MERGEABLE = 2;
/** The smallest TCP segment over IPv4 / IPv6 in an Ethernet frame. */
const MIN_TCP4_FRAME = ETH_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH + TCP_MIN_HEADER_LENGTH;
const MIN_TCP6_FRAME = ETH_HEADER_LENGTH + IPV6_HEADER_LENGTH + TCP_MIN_HEADER_LENGTH;

export class TcpCoalescer {
  readonly buffer: Buffer;
  readonly lengths: Int32Array;
  readonly slotSize: number;
  readonly capacity: number;
  /** Bytes before each frame in its slot (the virtio_net_hdr). */
  readonly headroom: number;
  /** Frames (slots) in use. */
  count = 0;
  /** Segments merged into an earlier frame (total). */
  merged = 0;
  readonly #dv: DataView;
  // Per slot.
  readonly #l3: Int32Array;
  readonly #l4: Int32Array;
  readonly #hdr: Int32Array;
  readonly #gso: Int32Array;
  readonly #segs: Int32Array;
  readonly #next: Uint32Array;
  /** 0 plain, 1 TCP verified, 2 IPv6 TCP verified. */
  readonly #kind: Uint8Array;
  readonly #open = new Int32Array(MAX_OPEN);
  #nOpen = 0;
  // The packet being added.
  #pl3 = 0;
  #pl4 = 0;
  #phdr = 0;
  #plen = 0;
  #pv6 = false;

  constructor(buffer: Buffer, lengths: Int32Array, slotSize: number, capacity: number, headroom = vnet.VNET_HDR_LEN) {
    this.buffer = buffer;
    this.lengths = lengths;
    this.slotSize = slotSize;
    this.capacity = capacity;
    this.headroom = headroom;
    this.#dv = viewOf(buffer);
    this.#l3 = new Int32Array(capacity);
    this.#l4 = new Int32Array(capacity);
    this.#hdr = new Int32Array(capacity);
    this.#gso = new Int32Array(capacity);
    this.#segs = new Int32Array(capacity);
    this.#next = new Uint32Array(capacity);
    this.#kind = new Uint8Array(capacity);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Segments carried by slots [from, to). */
  segmentsIn(from: number, to: number): number {
    let n = 0;
    for (let s = from; s < to; s++) n += this.#segs[s]!;
    return n;
  }

  /** Adds the inner frame src[off, off+len). The caller flushes first when `full`. */
  add(src: Buffer, sdv: DataView, off: number, len: number): void {
    const k = this.#classify(sdv, off, len);
    if (k === TCP_MERGEABLE) {
      for (let i = this.#nOpen - 1; i >= 0; i--) {
        const s = this.#open[i]!;
        if (!this.#sameFlow(s, sdv, off)) continue;
        if (this.#canMerge(s, sdv, off)) {
          this.#append(s, src, sdv, off);
          return;
        }
        this.#close(i);
        break;
      }
      this.#start(src, off, this.#pl3 + this.#plen, this.#pv6 ? 2 : 1);
      return;
    }
    if (k === TCP_ALONE) this.#closeFlow(sdv, off);
    this.#start(src, off, len, 0);
  }

  /** Writes every slot's virtio_net_hdr and fixes merged frames' lengths and checksum fields. */
  finish(): void {
    const dv = this.#dv;
    for (let s = 0; s < this.count; s++) {
      const base = s * this.slotSize;
      const f = base + this.headroom;
      const kind = this.#kind[s]!;
      if (this.#segs[s]! < 2) {
        if (kind === 0) vnet.writeNone(this.buffer, base);
        else vnet.write(this.buffer, base, vnet.F_DATA_VALID, vnet.GSO_NONE, 0, 0, 0, 0);
        continue;
      }
      const l3 = this.#l3[s]!;
      const l4 = this.#l4[s]!;
      const frameLen = this.lengths[s]! - this.headroom;
      const l4Len = frameLen - l4;
      const v6 = kind === 2;
      if (v6) {
        dv.setUint16(f + l3 + IPV6_PAYLOAD_LENGTH, frameLen - l3 - IPV6_HEADER_LENGTH);
      } else {
        dv.setUint16(f + l3 + IPV4_TOTAL_LENGTH, frameLen - l3);
        dv.setUint16(f + l3 + IPV4_CHECKSUM, 0);
        dv.setUint16(f + l3 + IPV4_CHECKSUM, ~fold(sum16(dv, f + l3, l4 - l3, 0)) & 0xffff);
      }
      const pseudo = sum16(dv, f + l3 + addressesAt(v6), addressesLength(v6), IPPROTO_TCP + l4Len);
      // NEEDS_CSUM: the field holds the folded pseudo-header sum, the rest is the receiver's to add.
      dv.setUint16(f + l4 + TCP_CHECKSUM, fold(pseudo));
      vnet.write(this.buffer, base, vnet.F_NEEDS_CSUM, v6 ? vnet.GSO_TCPV6 : vnet.GSO_TCPV4, this.#hdr[s]!, this.#gso[s]!, l4, TCP_CHECKSUM);
    }
  }

  /** Empties the batch (after it was written). */
  reset(): void {
    this.count = 0;
    this.#nOpen = 0;
  }

  /** Parses the packet's L3/L4 headers into #p*; says whether it may be merged. */
  #classify(dv: DataView, off: number, len: number): number {
    if (len < MIN_TCP4_FRAME) return NOT_TCP;
    const type = dv.getUint16(off + ETH_TYPE);
    const l3 = ETH_HEADER_LENGTH;
    let l4: number;
    let ipLen: number;
    if (type === ETHERTYPE_IPV4) {
      const vihl = dv.getUint8(off + l3);
      if (vihl >> 4 !== 4 || dv.getUint8(off + l3 + IPV4_PROTOCOL) !== IPPROTO_TCP) return NOT_TCP;
      l4 = l3 + (vihl & 15) * 4;
      ipLen = dv.getUint16(off + l3 + IPV4_TOTAL_LENGTH);
      if ((vihl & 15) < 5 || ipLen > len - l3 || ipLen < l4 - l3 + TCP_MIN_HEADER_LENGTH) return NOT_TCP;
      if ((dv.getUint16(off + l3 + IPV4_FRAGMENT) & IPV4_FRAGMENT_MASK) !== 0) return NOT_TCP; // a fragment
      this.#pv6 = false;
    } else if (type === ETHERTYPE_IPV6) {
      if (len < MIN_TCP6_FRAME || dv.getUint8(off + l3) >> 4 !== 6 || dv.getUint8(off + l3 + IPV6_NEXT_HEADER) !== IPPROTO_TCP) return NOT_TCP;
      l4 = l3 + IPV6_HEADER_LENGTH;
      ipLen = dv.getUint16(off + l3 + IPV6_PAYLOAD_LENGTH) + IPV6_HEADER_LENGTH;
      if (ipLen > len - l3 || ipLen < IPV6_HEADER_LENGTH + TCP_MIN_HEADER_LENGTH) return NOT_TCP;
      this.#pv6 = true;
    } else {
      return NOT_TCP;
    }
    const hdr = l4 + (dv.getUint8(off + l4 + TCP_DATA_OFFSET) >> 4) * 4;
    this.#pl3 = l3;
    this.#pl4 = l4;
    this.#plen = ipLen;
    if (hdr < l4 + TCP_MIN_HEADER_LENGTH || hdr > l3 + ipLen) return NOT_TCP;
    this.#phdr = hdr;
    // ACK, optionally PSH, nothing else; and some payload.
    const flags = dv.getUint16(off + l4 + TCP_DATA_OFFSET) & TCP_FLAG_MASK;
    if ((flags & ~TCP_PSH) !== TCP_ACK || hdr === l3 + ipLen) return TCP_ALONE;
    const l4Len = l3 + ipLen - l4;
    const pseudo = sum16(dv, off + l3 + addressesAt(this.#pv6), addressesLength(this.#pv6), IPPROTO_TCP + l4Len);
    const s = sum16(dv, off + l4, l4Len, pseudo);
    return fold(s) === 0xffff ? TCP_MERGEABLE : TCP_ALONE;
  }

  /** Same MACs, addresses and ports as slot s's first segment. */
  #sameFlow(s: number, dv: DataView, off: number): boolean {
    const f = s * this.slotSize + this.headroom;
    const d = this.#dv;
    if (this.#l4[s] !== this.#pl4 || (this.#kind[s] === 2) !== this.#pv6) return false;
    for (let i = 0; i < ETH_TYPE; i += 4) if (d.getUint32(f + i) !== dv.getUint32(off + i)) return false;
    const a = this.#pl3 + addressesAt(this.#pv6);
    const n = addressesLength(this.#pv6);
    for (let i = 0; i < n; i += 4) if (d.getUint32(f + a + i) !== dv.getUint32(off + a + i)) return false;
    return d.getUint32(f + this.#pl4) === dv.getUint32(off + this.#pl4);
  }

  /** The rest of tcp_gro_receive's conditions (flow already matched). */
  #canMerge(s: number, dv: DataView, off: number): boolean {
    const f = s * this.slotSize + this.headroom;
    const d = this.#dv;
    const l3 = this.#pl3;
    const l4 = this.#pl4;
    const payload = this.#pl3 + this.#plen - this.#phdr;
    if (this.#hdr[s] !== this.#phdr || payload > this.#gso[s]!) return false;
    if (dv.getUint32(off + l4 + TCP_SEQUENCE) !== this.#next[s]) return false;
    if (this.lengths[s]! - this.headroom - l3 + payload > MAX_IP_LENGTH || this.lengths[s]! + payload > this.slotSize) return false;
    if (this.#pv6) {
      // version, traffic class, flow label; hop limit.
      if (d.getUint32(f + l3) !== dv.getUint32(off + l3) || d.getUint8(f + l3 + IPV6_HOP_LIMIT) !== dv.getUint8(off + l3 + IPV6_HOP_LIMIT)) return false;
    } else {
      // version/IHL/TOS, DF, TTL; and IP options, if any.
      if (d.getUint16(f + l3) !== dv.getUint16(off + l3) || d.getUint16(f + l3 + IPV4_FRAGMENT) !== dv.getUint16(off + l3 + IPV4_FRAGMENT)
        || d.getUint8(f + l3 + IPV4_TTL) !== dv.getUint8(off + l3 + IPV4_TTL)) return false;
      for (let i = l3 + IPV4_MIN_HEADER_LENGTH; i < l4; i += 4) if (d.getUint32(f + i) !== dv.getUint32(off + i)) return false;
    }
    // ack; data offset, flags (PSH aside) and window; urgent pointer; options.
    if (d.getUint32(f + l4 + TCP_ACKNOWLEDGMENT) !== dv.getUint32(off + l4 + TCP_ACKNOWLEDGMENT)) return false;
    if (((d.getUint32(f + l4 + TCP_DATA_OFFSET) ^ dv.getUint32(off + l4 + TCP_DATA_OFFSET)) & ~(TCP_PSH << 16)) !== 0) return false;
    if (d.getUint16(f + l4 + TCP_URGENT) !== dv.getUint16(off + l4 + TCP_URGENT)) return false;
    for (let i = l4 + TCP_MIN_HEADER_LENGTH; i < this.#phdr; i += 4) if (d.getUint32(f + i) !== dv.getUint32(off + i)) return false;
    return true;
  }

  #append(s: number, src: Buffer, dv: DataView, off: number): void {
    const payload = this.#pl3 + this.#plen - this.#phdr;
    const at = s * this.slotSize + this.lengths[s]!;
    src.copy(this.buffer, at, off + this.#phdr, off + this.#phdr + payload);
    this.lengths[s] = this.lengths[s]! + payload;
    this.#next[s] = (this.#next[s]! + payload) >>> 0;
    this.#segs[s] = this.#segs[s]! + 1;
    this.merged++;
    const psh = dv.getUint8(off + this.#pl4 + TCP_FLAGS) & TCP_PSH;
    if (psh !== 0 || payload < this.#gso[s]!) {
      const f = s * this.slotSize + this.headroom + this.#pl4 + TCP_FLAGS;
      this.#dv.setUint8(f, this.#dv.getUint8(f) | psh);
      for (let i = 0; i < this.#nOpen; i++) {
        if (this.#open[i] === s) {
          this.#close(i);
          break;
        }
      }
    }
  }

  /** Copies a frame into a new slot; kind 1/2 (verified TCP with payload) opens it for merging. */
  #start(src: Buffer, off: number, len: number, kind: number): void {
    const s = this.count++;
    const base = s * this.slotSize;
    src.copy(this.buffer, base + this.headroom, off, off + len);
    this.lengths[s] = len + this.headroom;
    this.#segs[s] = 1;
    this.#kind[s] = kind;
    if (kind === 0) return;
    const payload = this.#pl3 + this.#plen - this.#phdr;
    this.#l3[s] = this.#pl3;
    this.#l4[s] = this.#pl4;
    this.#hdr[s] = this.#phdr;
    this.#gso[s] = payload;
    this.#next[s] = (this.#dv.getUint32(base + this.headroom + this.#pl4 + 4) + payload) >>> 0;
    if ((this.#dv.getUint8(base + this.headroom + this.#pl4 + 13) & 0x08) !== 0) return; // PSH ends it
    if (this.#nOpen === MAX_OPEN) this.#close(0);
    this.#open[this.#nOpen++] = s;
  }

  /** Closes the open frame of the packet's flow, if any (keeps per-flow order). */
  #closeFlow(dv: DataView, off: number): void {
    for (let i = this.#nOpen - 1; i >= 0; i--) {
      if (this.#sameFlow(this.#open[i]!, dv, off)) {
        this.#close(i);
        return;
      }
    }
  }

  #close(i: number): void {
    this.#open.copyWithin(i, i + 1, this.#nOpen);
    this.#nOpen--;
  }
}
