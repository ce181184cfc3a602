/**
 * A running userspace VTEP: a TAP device in a namespace, a UDP socket on
 * the VXLAN port in the same namespace, and the pure decisions of
 * vtep.ts / proxy-arp.ts between them. The runtime only moves bytes:
 * frames are read and datagrams received in batches into buffers made
 * once, encapsulated/decapsulated by copying into send/write slots, and
 * sent/written in batches (sendmmsg on UDP, one write per frame on the
 * TAP, the TAP's only interface). Nothing is allocated per packet.
 *
 * With offloads (the default) the TAP carries a virtio_net_hdr and
 * hands out TCP (and, on 6.2+, UDP) super-frames of up to 64 kB with
 * partial checksums: gso.ts cuts them into wire-sized inner frames with
 * complete checksums, and vtep-tx.ts sends each super-frame's datagrams
 * as one UDP GSO message. The other way, gro.ts merges in-order TCP
 * segments of a flow into one GSO frame per TAP write.
 *
 * The control plane drives `fdb` (forwarding entries, peers, flood list)
 * and `setProxyEntry` / `removeProxyEntry` (owned endpoints); a moved
 * endpoint is announced on the TAP (gratuitous ARP / unsolicited NA).
 */
import { WeftError } from '../errors.js';
import { FrameBatch, MAX_FRAME_SLOT, TapDevice } from '../io/tap.js';
import { UdpSocket, type UdpBatchView } from '../io/udp.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { setLink } from '../netlink/rtnetlink/link-ops.js';
import { addAddress } from '../netlink/rtnetlink/addr.js';
import { macBytes } from '../wire/bytes.js';
import * as vxlan from '../wire/vxlan.js';
import * as vnet from '../wire/virtio-net.js';
import { GSO_OK, GsoFrame, completeChecksum, viewOf } from './gso.js';
import { TcpCoalescer } from './gro.js';
import { VxlanSender } from './vtep-tx.js';
import { VtepFdb, type FdbSnapshot } from './fdb-table.js';
import { NA_LENGTH, ProxyNeighbourTable, ProxyResponder, type ProxyCounters, type ProxySetResult } from './proxy-arp.js';
import { EGRESS_FLOOD, EGRESS_PROXY, EGRESS_UNICAST, VtepEngine, type BumPolicy, type VtepCounters } from './vtep.js';

export interface UserspaceVtepOptions {
  /** Namespace holding both the TAP and the underlay socket (name or path); ours when omitted. */
  netns?: string;
  tap: string;
  vni: number;
  /** Local underlay IPv4 address the socket binds. */
  local: string;
  port?: number;
  /** Overlay MTU set on the TAP (default 1450, as Docker's overlay on a 1500 underlay). */
  mtu?: number;
  /** Address for the TAP (CIDR), e.g. 198.19.0.1/24. */
  address?: string;
  /** TAP MAC (default: the kernel's random one). */
  mac?: string;
  peers?: string[];
  fdb?: { mac: string; remote: string }[];
  /** Head-end replication list (implies bum 'replicate' when given with it). */
  flood?: string[];
  bum?: BumPolicy;
  acceptUnknownPeers?: boolean;
  /** Owned endpoints answered by proxy ARP/NDP on the TAP; omit (or false) to turn the proxy off. */
  proxy?: { ip: string; mac: string }[] | boolean;
  proxyRatePerSecond?: number;
  /** Frames per batch (default 64). */
  batch?: number;
  /** UDP_GRO on the underlay socket (default false: see bench notes). */
  udpGro?: boolean;
  /** TAP offloads: virtio_net_hdr, partial checksums, TSO/USO super-frames (default true). */
  offloads?: boolean;
  /** UDP GSO (UDP_SEGMENT) for the datagrams of one super-frame (default true; off by itself if the kernel refuses). */
  udpGso?: boolean;
  /** Merge received in-order TCP segments into GSO frames on the TAP (default true; needs offloads). */
  coalesce?: boolean;
  /** Socket buffer sizes (default 4 MiB each). */
  socketBufferBytes?: number;
}

export interface VtepStats {
  tap: string;
  vni: number;
  counters: VtepCounters;
  proxy: ProxyCounters;
  fdb: FdbSnapshot;
  /** TUN_F_* granted on the TAP (0: no virtio_net_hdr), and the other offloads in use. */
  offload: { tap: number; udpGso: boolean; udpGro: boolean; coalesce: boolean; lastSendError?: string };
}

const GRO_SLOT = 65535;

interface Offloads {
  tap: number;
  udpGso: boolean;
  udpGro: boolean;
  coalesce: boolean;
}

export class UserspaceVtep {
  readonly engine: VtepEngine;
  readonly fdb: VtepFdb;
  readonly proxyTable: ProxyNeighbourTable;
  readonly responder: ProxyResponder;
  readonly tapName: string;
  readonly tapMac: string;
  readonly #tap: TapDevice;
  readonly #udp: UdpSocket;
  readonly #tx: VxlanSender;
  readonly #tapOut: FrameBatch;
  readonly #co: TcpCoalescer | undefined;
  readonly #scratch: Buffer;
  readonly #scratchDv: DataView;
  readonly #vni: number;
  readonly #gro: boolean;
  readonly #offload: Offloads;
  /** virtio_net_hdr bytes in front of every TAP frame (0 or 10). */
  readonly #hr: number;
  readonly #gso = new GsoFrame();
  #tapInDv: DataView | undefined;
  #rxBuf: Buffer | undefined;
  #rxDv: DataView | undefined;
  #closed = false;

  private constructor(engine: VtepEngine, tap: TapDevice, udp: UdpSocket, tapMac: string, batch: number, offload: Offloads, proxy: ProxyNeighbourTable, responder: ProxyResponder) {
    this.engine = engine;
    this.fdb = engine.fdb;
    this.#tap = tap;
    this.#udp = udp;
    this.tapName = tap.name;
    this.tapMac = tapMac;
    this.#vni = engine.vni;
    this.#gro = offload.udpGro;
    this.#offload = offload;
    this.#hr = tap.vnetHeader ? vnet.VNET_HDR_LEN : 0;
    const slot = engine.maxFrame + vxlan.HEADER_LENGTH;
    this.#tx = new VxlanSender(udp, this.#vni, engine.counters, slot, batch, offload.udpGso);
    if (offload.coalesce) {
      this.#tapOut = new FrameBatch(MAX_FRAME_SLOT, batch);
      this.#co = new TcpCoalescer(this.#tapOut.buffer, this.#tapOut.lengths, this.#tapOut.slotSize, batch, this.#hr);
    } else {
      this.#tapOut = new FrameBatch(Math.max(64, engine.maxFrame + this.#hr), batch);
    }
    this.#scratch = Buffer.alloc(Math.max(NA_LENGTH, slot) + this.#hr);
    this.#scratchDv = viewOf(this.#scratch);
    this.proxyTable = proxy;
    this.responder = responder;
  }

  /** Creates the TAP and the socket, programs the table, and starts forwarding. Undoes everything on failure. */
  static async open(o: UserspaceVtepOptions): Promise<UserspaceVtep> {
    const mtu = o.mtu ?? 1450;
    const fdb = new VtepFdb(o.port ?? vxlan.PORT);
    for (const p of o.peers ?? []) fdb.addPeer(p);
    for (const e of o.fdb ?? []) fdb.addEntry(e.mac, e.remote);
    if (o.flood) fdb.setFloodList(o.flood);
    const engine = new VtepEngine({ vni: o.vni, mtu, bum: o.bum ?? (o.flood?.length ? 'replicate' : 'drop'), acceptUnknownPeers: o.acceptUnknownPeers ?? false }, fdb);
    const table = new ProxyNeighbourTable();
    for (const e of Array.isArray(o.proxy) ? o.proxy : []) table.set(e.ip, e.mac);
    engine.proxy = o.proxy !== undefined && o.proxy !== false;
    const responder = new ProxyResponder(table, o.proxyRatePerSecond !== undefined ? { ratePerSecond: o.proxyRatePerSecond } : {});
    const batch = o.batch ?? 64;
    const offloads = o.offloads ?? true;
    const tap = TapDevice.open({
      name: o.tap, batch, vnetHeader: offloads,
      slotSize: offloads ? MAX_FRAME_SLOT : Math.max(2048, engine.maxFrame + 64),
      ...(o.netns !== undefined ? { netns: o.netns } : {}),
    });
    let udp: UdpSocket | undefined;
    let rtnl: Rtnl | undefined;
    try {
      const tapOffloads = offloads ? tap.enableOffloads() : 0;
      const buf = o.socketBufferBytes ?? 4 << 20;
      udp = UdpSocket.open({
        address: o.local, port: o.port ?? vxlan.PORT, recvBufferBytes: buf, sendBufferBytes: buf, batchSize: batch,
        // Room for frames somewhat over the MTU, so they are counted as jumbo rather than truncated.
        slotSize: o.udpGro ? GRO_SLOT : Math.max(4096, engine.maxFrame + vxlan.HEADER_LENGTH + 64),
        ...(o.netns !== undefined ? { netns: o.netns } : {}),
      });
      if (o.udpGro) udp.setGro(true);
      rtnl = Rtnl.open(o.netns !== undefined ? { netns: o.netns } : {});
      await setLink(rtnl, tap.name, { mtu, ...(o.mac ? { address: o.mac } : {}) });
      if (o.address) await addAddress(rtnl, { dev: tap.name, address: o.address });
      await setLink(rtnl, tap.name, { up: true });
      const link = await rtnl.link(tap.name);
      const mac = link?.address ?? o.mac ?? '00:00:00:00:00:00';
      engine.addLocalMac(macBytes(mac));
      const offload: Offloads = { tap: tapOffloads, udpGso: o.udpGso ?? true, udpGro: o.udpGro ?? false, coalesce: offloads && (o.coalesce ?? true) };
      const v = new UserspaceVtep(engine, tap, udp, mac, batch, offload, table, responder);
      v.#start();
      return v;
    } catch (err) {
      udp?.close();
      tap.close();
      throw err;
    } finally {
      rtnl?.close();
    }
  }

  #start(): void {
    this.#tap.start((b) => this.#egress(b));
    this.#udp.onBatch((v) => this.#ingress(v));
  }

  /** TAP → underlay. */
  #egress(b: FrameBatch): void {
    const now = Date.now();
    const e = this.engine;
    const c = e.counters;
    const tx = this.#tx;
    const g = this.#gso;
    const buf = b.buffer;
    const hr = this.#hr;
    const dv = (this.#tapInDv ??= viewOf(buf));
    for (let i = 0; i < b.count; i++) {
      const base = i * b.slotSize;
      const off = base + hr;
      const len = b.lengths[i]! - hr;
      let super_ = false;
      let classLen = len;
      if (hr !== 0 && len >= 14) {
        const gt = vnet.gsoType(buf, base) & ~vnet.GSO_ECN;
        if (gt !== vnet.GSO_NONE) {
          if (g.parse(dv, off, len, gt, vnet.gsoSize(buf, base), vnet.csumStart(buf, base)) !== GSO_OK) {
            c.tx_bad_offload++;
            continue;
          }
          super_ = true;
          classLen = g.segmentLength(0);
        } else if ((vnet.flags(buf, base) & vnet.F_NEEDS_CSUM) !== 0 && !completeChecksum(dv, off, len, vnet.csumStart(buf, base), vnet.csumOffset(buf, base))) {
          c.tx_bad_offload++;
          continue;
        }
      }
      const action = e.classifyEgress(buf, off, classLen, now);
      if (action === EGRESS_UNICAST) {
        if (super_) {
          if (g.segments > 1) c.tx_gso++;
          tx.segments(buf, off, g, e.remote!);
        } else {
          tx.plain(buf, off, len, e.remote!);
        }
      } else if (action === EGRESS_FLOOD) {
        if (super_) this.#floodSegments(buf, off);
        else this.#flood(buf, off, len);
      } else if (action === EGRESS_PROXY && !super_) {
        const r = this.responder.handle(buf, off, len, now, this.#scratch, hr);
        if (r > 0) this.#tapWriteScratch(r);
      }
    }
    tx.flush();
  }

  /** Writes the frame at scratch[hr, hr + len) to the TAP, behind a zero virtio_net_hdr if the TAP has one. */
  #tapWriteScratch(len: number): void {
    if (this.#hr !== 0) vnet.writeNone(this.#scratch, 0);
    this.#tap.write(this.#scratch, 0, len + this.#hr);
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
    const g = this.#gso;
    for (let j = 0; j < g.segments; j++) {
      vxlan.encodeHeader(this.#vni, this.#scratch, 0);
      const l = g.write(buf, off, j, 1, this.#scratch, this.#scratchDv, vxlan.HEADER_LENGTH, 0);
      this.#floodScratch(l + vxlan.HEADER_LENGTH);
    }
  }

  #floodScratch(len: number): void {
    const c = this.engine.counters;
    for (const r of this.fdb.floodList) {
      if (this.#udp.sendToSockaddr(this.#scratch, 0, len, r.sockaddr)) c.tx_flooded++;
      else c.tx_socket_full++;
    }
  }

  /** Underlay → TAP. */
  #ingress(v: UdpBatchView): void {
    const e = this.engine;
    if (v.buffer !== this.#rxBuf) {
      this.#rxBuf = v.buffer;
      this.#rxDv = viewOf(v.buffer);
    }
    let n = 0;
    for (let i = 0; i < v.count; i++) {
      const off = v.offset(i);
      const len = v.length(i);
      const src = v.sourceIPv4(i);
      const seg = this.#gro ? v.segmentSize(i) : 0;
      if (seg > 0 && len > seg) {
        // A GRO super-datagram: consecutive datagrams of `seg` bytes (the last may be shorter).
        for (let p = off; p < off + len; p += seg) {
          const l = Math.min(seg, off + len - p);
          if (!e.acceptIngress(v.buffer, p, l, src, false)) continue;
          n = this.#queue(v.buffer, p, l, n);
        }
        continue;
      }
      if (!e.acceptIngress(v.buffer, off, len, src, v.truncated(i))) continue;
      n = this.#queue(v.buffer, off, len, n);
    }
    this.#flushTap(n);
  }

  /** Queues the inner frame of the datagram d[off, off+len) for the TAP; returns the frames queued. */
  #queue(d: Buffer, off: number, len: number, n: number): number {
    const inner = len - vxlan.HEADER_LENGTH;
    const co = this.#co;
    if (co !== undefined) {
      if (co.full) this.#flushTap(co.count);
      co.add(d, this.#rxDv!, off + vxlan.HEADER_LENGTH, inner);
      return co.count;
    }
    const out = this.#tapOut;
    const o = n * out.slotSize;
    if (this.#hr !== 0) vnet.writeNone(out.buffer, o);
    d.copy(out.buffer, o + this.#hr, off + vxlan.HEADER_LENGTH, off + len);
    out.lengths[n] = inner + this.#hr;
    n++;
    if (n === out.capacity) {
      this.#flushTap(n);
      return 0;
    }
    return n;
  }

  #flushTap(n: number): void {
    if (n === 0) return;
    const co = this.#co;
    const c = this.engine.counters;
    if (co !== undefined) co.finish();
    const written = this.#tap.writeBatch(this.#tapOut, n);
    if (co !== undefined) {
      c.rx_tap_full += co.segmentsIn(written, n);
      c.rx_coalesced = co.merged;
      co.reset();
    } else {
      c.rx_tap_full += n - written;
    }
  }

  /**
   * Sets an owned endpoint for proxy ARP/NDP. When it is new or moved to
   * another MAC, announces it on the TAP (gratuitous ARP / unsolicited NA).
   */
  setProxyEntry(ip: string, mac: string): ProxySetResult {
    const r = this.proxyTable.set(ip, mac);
    if (r !== 'unchanged' && !this.#closed) {
      this.#tapWriteScratch(this.responder.announce(ip, this.#scratch, this.#hr));
    }
    return r;
  }

  removeProxyEntry(ip: string): boolean {
    return this.proxyTable.delete(ip);
  }

  stats(): VtepStats {
    const offload = { ...this.#offload, udpGso: this.#tx.udpGso, ...(this.#tx.lastError !== undefined ? { lastSendError: this.#tx.lastError } : {}) };
    return { tap: this.tapName, vni: this.#vni, counters: { ...this.engine.counters }, proxy: { ...this.responder.counters }, fdb: this.fdb.snapshot(), offload };
  }

  /** Stops forwarding, closes the socket and the TAP (the kernel removes the interface). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#udp.close();
    this.#tap.close();
  }
}

/** Parses "MAC=ADDR" (an --fdb or --proxy argument). */
export function parsePair(text: string, what: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) throw new WeftError('EINVALARG', `${what} must look like KEY=VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, i), text.slice(i + 1)];
}
