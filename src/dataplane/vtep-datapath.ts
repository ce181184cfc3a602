/**
 * One queue of the userspace VTEP's data path: a TAP fd (one queue of a
 * multi-queue TAP, or the whole TAP) and a UDP socket on the VXLAN port,
 * with the pure decisions of vtep.ts / proxy-arp.ts between them. It only
 * moves bytes: frames are read and datagrams received in batches into
 * buffers made once, encapsulated/decapsulated by copying into send/write
 * slots, and sent/written in batches (sendmmsg on UDP, one write per frame
 * on the TAP). Nothing is allocated per packet.
 *
 * With offloads the TAP carries a virtio_net_hdr and hands out TCP (and,
 * on 6.2+, UDP) super-frames of up to 64 kB with partial checksums:
 * gso.ts cuts them into wire-sized inner frames with complete checksums,
 * and vtep-tx.ts sends each super-frame's datagrams as one UDP GSO
 * message. The other way, gro.ts merges in-order TCP segments of a flow
 * into one GSO frame per TAP write.
 *
 * The same class runs on the main thread (one worker) or inside each
 * worker thread (vtep-worker.ts); `publish` then receives the counters
 * after every batch so the main thread can sum them.
 */
import { FrameBatch, MAX_FRAME_SLOT, type TapDevice } from '../io/tap.js';
import type { UdpBatchView, UdpSocket } from '../io/udp.js';
import * as vxlan from '../wire/vxlan.js';
import { ETH_HEADER_LENGTH } from '../wire/fields.js';
import * as vnet from '../wire/virtio-net.js';
import { GSO_OK, GsoFrame, completeChecksum, viewOf } from './gso.js';
import { TcpCoalescer } from './gro.js';
import { VxlanSender } from './vtep-tx.js';
import { TunnelSender } from './vtep-tunnel.js';
import { NA_LENGTH, type ProxyResponder } from './proxy-arp.js';
import { EGRESS_DROP, EGRESS_FLOOD, EGRESS_PROXY, EGRESS_UNICAST, type VtepEngine } from './vtep.js';
import { GSO_SLOT, PROXY_COUNTER_NAMES, VTEP_COUNTER_NAMES } from './vtep-counters.js';

/** Offloads in use on one queue. */
export interface Offloads {
  tap: number;
  udpGso: boolean;
  udpGro: boolean;
  coalesce: boolean;
  /** Unicast super-frames leave through an underlay TAP as UDP-tunnel GSO packets (vtep-tunnel.ts). */
  tunnel: boolean;
}

/** One queue of the underlay TAP, and what the outer headers need. */
export interface UnderlayPort {
  tap: TapDevice;
  /** The underlay TAP's MAC (outer destination). */
  mac: Uint8Array;
  /** The local underlay IPv4 address, host order, and UDP port (outer source: the socket's). */
  local: number;
  port: number;
}

export class VtepDataPath {
  readonly #engine: VtepEngine;
  readonly #responder: ProxyResponder;
  readonly #tap: TapDevice;
  readonly #udp: UdpSocket;
  readonly #sender: VxlanSender;
  readonly #tunnel: TunnelSender | undefined;
  readonly #underlay: TapDevice | undefined;
  readonly #tapOut: FrameBatch;
  readonly #coalescer: TcpCoalescer | undefined;
  readonly #scratch: Buffer;
  readonly #scratchView: DataView;
  readonly #vni: number;
  readonly #udpGro: boolean;
  /** virtio_net_hdr bytes in front of every TAP frame (0 or 10). */
  readonly #vnetHdrLen: number;
  readonly #gso = new GsoFrame();
  readonly #publish: Float64Array | undefined;
  #tapInView: DataView | undefined;
  #rxBuffer: Buffer | undefined;
  #rxView: DataView | undefined;

  constructor(engine: VtepEngine, responder: ProxyResponder, tap: TapDevice, udp: UdpSocket, batch: number, offload: Offloads, underlay?: UnderlayPort, publish?: Float64Array) {
    this.#engine = engine;
    this.#responder = responder;
    this.#tap = tap;
    this.#udp = udp;
    this.#vni = engine.vni;
    this.#udpGro = offload.udpGro;
    this.#vnetHdrLen = tap.vnetHeader ? vnet.VNET_HDR_LEN : 0;
    this.#publish = publish;
    const slot = engine.maxFrame + vxlan.HEADER_LENGTH;
    this.#sender = new VxlanSender(udp, this.#vni, engine.counters, slot, batch, offload.udpGso);
    if (underlay !== undefined) {
      this.#underlay = underlay.tap;
      this.#tunnel = new TunnelSender(underlay.tap, new FrameBatch(MAX_FRAME_SLOT, batch), this.#vni, underlay.local, underlay.port, underlay.mac, engine.counters);
    }
    if (offload.coalesce) {
      this.#tapOut = new FrameBatch(MAX_FRAME_SLOT, batch);
      this.#coalescer = new TcpCoalescer(this.#tapOut.buffer, this.#tapOut.lengths, this.#tapOut.slotSize, batch, this.#vnetHdrLen);
    } else {
      this.#tapOut = new FrameBatch(Math.max(64, engine.maxFrame + this.#vnetHdrLen), batch);
    }
    this.#scratch = Buffer.alloc(Math.max(NA_LENGTH, slot) + this.#vnetHdrLen);
    this.#scratchView = viewOf(this.#scratch);
  }

  /** Whether UDP GSO is still in use, and the last send error. */
  get udpGso(): boolean {
    return this.#sender.udpGso;
  }

  get lastSendError(): string | undefined {
    return this.#tunnel?.lastError ?? this.#sender.lastError;
  }

  start(): void {
    this.#tap.start((b) => this.#egress(b));
    this.#udp.onBatch((v) => this.#ingress(v));
  }

  /** TAP → underlay. */
  #egress(b: FrameBatch): void {
    const now = Date.now();
    const engine = this.#engine;
    const counters = engine.counters;
    const sender = this.#sender;
    const gso = this.#gso;
    const buf = b.buffer;
    const hdrLen = this.#vnetHdrLen;
    const view = (this.#tapInView ??= viewOf(buf));
    const tunnel = this.#tunnel;
    for (let i = 0; i < b.count; i++) {
      const base = i * b.slotSize;
      const off = base + hdrLen;
      const len = b.lengths[i]! - hdrLen;
      let isSuper = false;
      let partial = false;
      let classLen = len;
      if (hdrLen !== 0 && len >= ETH_HEADER_LENGTH) {
        const gsoType = vnet.gsoType(buf, base) & ~vnet.GSO_ECN;
        if (gsoType !== vnet.GSO_NONE) {
          if (gso.parse(view, off, len, gsoType, vnet.gsoSize(buf, base), vnet.csumStart(buf, base)) !== GSO_OK) {
            counters.tx_bad_offload++;
            continue;
          }
          isSuper = true;
          classLen = gso.segmentLength(0);
        } else partial = (vnet.flags(buf, base) & vnet.F_NEEDS_CSUM) !== 0;
      }
      const action = engine.classifyEgress(buf, off, classLen, now);
      if (tunnel !== undefined && action === EGRESS_UNICAST) {
        // One path at a time has frames queued, so they leave in the order they were read.
        if (isSuper) {
          sender.flush();
          if (tunnel.queue(buf, base, off, len, gso, engine.remote!)) {
            if (gso.segments > 1) counters.tx_gso++;
            continue;
          }
        }
        tunnel.flush();
      }
      if (partial && action !== EGRESS_DROP && !completeChecksum(view, off, len, vnet.csumStart(buf, base), vnet.csumOffset(buf, base))) {
        counters.tx_bad_offload++;
        continue;
      }
      if (action === EGRESS_UNICAST) {
        if (isSuper) {
          if (gso.segments > 1) counters.tx_gso++;
          sender.segments(buf, off, gso, engine.remote!);
        } else {
          sender.plain(buf, off, len, engine.remote!);
        }
      } else if (action === EGRESS_FLOOD) {
        if (isSuper) this.#floodSegments(buf, off);
        else this.#flood(buf, off, len);
      } else if (action === EGRESS_PROXY && !isSuper) {
        const r = this.#responder.handle(buf, off, len, now, this.#scratch, hdrLen);
        if (r > 0) this.writeScratch(r);
      }
    }
    tunnel?.flush();
    sender.flush();
    this.#publishCounters();
  }

  /** The scratch buffer announcements are written into (behind room for the virtio_net_hdr). */
  get scratch(): Buffer {
    return this.#scratch;
  }

  get vnetHdrLen(): number {
    return this.#vnetHdrLen;
  }

  /** Writes the frame at scratch[vnetHdrLen, + len) to the TAP, behind a zero virtio_net_hdr if the TAP has one. */
  writeScratch(len: number): void {
    if (this.#vnetHdrLen !== 0) vnet.writeNone(this.#scratch, 0);
    this.#tap.write(this.#scratch, 0, len + this.#vnetHdrLen);
  }

  /** Head-end replication: one datagram per flood-list peer (already rate-limited by the engine). */
  #flood(buf: Buffer, off: number, len: number): void {
    const s = this.#scratch;
    vxlan.encodeHeader(this.#vni, s, 0);
    buf.copy(s, vxlan.HEADER_LENGTH, off, off + len);
    this.#floodScratch(len + vxlan.HEADER_LENGTH);
  }

  /** A super-frame to flood (unknown unicast with replication on): segment by segment. */
  #floodSegments(buf: Buffer, off: number): void {
    const gso = this.#gso;
    for (let j = 0; j < gso.segments; j++) {
      vxlan.encodeHeader(this.#vni, this.#scratch, 0);
      const l = gso.write(buf, off, j, 1, this.#scratch, this.#scratchView, vxlan.HEADER_LENGTH, 0);
      this.#floodScratch(l + vxlan.HEADER_LENGTH);
    }
  }

  #floodScratch(len: number): void {
    const counters = this.#engine.counters;
    for (const r of this.#engine.fdb.floodList) {
      if (this.#udp.sendToSockaddr(this.#scratch, 0, len, r.sockaddr)) counters.tx_flooded++;
      else counters.tx_socket_full++;
    }
  }

  /** Underlay → TAP. */
  #ingress(v: UdpBatchView): void {
    const engine = this.#engine;
    if (v.buffer !== this.#rxBuffer) {
      this.#rxBuffer = v.buffer;
      this.#rxView = viewOf(v.buffer);
    }
    let n = 0;
    for (let i = 0; i < v.count; i++) {
      const off = v.offset(i);
      const len = v.length(i);
      const src = v.sourceIPv4(i);
      const seg = this.#udpGro ? v.segmentSize(i) : 0;
      if (seg > 0 && len > seg) {
        // A GRO super-datagram: consecutive datagrams of `seg` bytes (the last may be shorter).
        for (let p = off; p < off + len; p += seg) {
          const l = Math.min(seg, off + len - p);
          if (!engine.acceptIngress(v.buffer, p, l, src, false)) continue;
          n = this.#queue(v.buffer, p, l, n);
        }
        continue;
      }
      if (!engine.acceptIngress(v.buffer, off, len, src, v.truncated(i))) continue;
      n = this.#queue(v.buffer, off, len, n);
    }
    this.#flushTap(n);
    this.#publishCounters();
  }

  /** Queues the inner frame of the datagram d[off, off+len) for the TAP; returns the frames queued. */
  #queue(d: Buffer, off: number, len: number, n: number): number {
    const inner = len - vxlan.HEADER_LENGTH;
    const coalescer = this.#coalescer;
    if (coalescer !== undefined) {
      if (coalescer.full) this.#flushTap(coalescer.count);
      coalescer.add(d, this.#rxView!, off + vxlan.HEADER_LENGTH, inner);
      return coalescer.count;
    }
    const out = this.#tapOut;
    const o = n * out.slotSize;
    if (this.#vnetHdrLen !== 0) vnet.writeNone(out.buffer, o);
    d.copy(out.buffer, o + this.#vnetHdrLen, off + vxlan.HEADER_LENGTH, off + len);
    out.lengths[n] = inner + this.#vnetHdrLen;
    n++;
    if (n === out.capacity) {
      this.#flushTap(n);
      return 0;
    }
    return n;
  }

  #flushTap(n: number): void {
    if (n === 0) return;
    const coalescer = this.#coalescer;
    const counters = this.#engine.counters;
    if (coalescer !== undefined) coalescer.finish();
    const written = this.#tap.writeBatch(this.#tapOut, n);
    if (coalescer !== undefined) {
      counters.rx_tap_full += coalescer.segmentsIn(written, n);
      counters.rx_coalesced = coalescer.merged;
      coalescer.reset();
    } else {
      counters.rx_tap_full += n - written;
    }
  }

  /** Copies the counters into the shared array (worker threads: the main thread sums them). */
  #publishCounters(): void {
    const out = this.#publish;
    if (out === undefined) return;
    const c = this.#engine.counters;
    for (let i = 0; i < VTEP_COUNTER_NAMES.length; i++) out[i] = c[VTEP_COUNTER_NAMES[i]!];
    const p = this.#responder.counters;
    const base = VTEP_COUNTER_NAMES.length;
    for (let i = 0; i < PROXY_COUNTER_NAMES.length; i++) out[base + i] = p[PROXY_COUNTER_NAMES[i]!];
    out[GSO_SLOT] = this.#sender.udpGso ? 1 : 0;
  }

  /** Publishes once more (after a control-plane announcement). */
  publishNow(): void {
    this.#publishCounters();
  }

  close(): void {
    this.#udp.close();
    this.#tap.close();
    this.#underlay?.close();
  }
}
