/**
 * A running userspace VTEP: a TAP device in a namespace, a UDP socket on
 * the VXLAN port in the same namespace, and the pure decisions of
 * vtep.ts / proxy-arp.ts between them. The runtime only moves bytes:
 * frames are read and datagrams received in batches into buffers made
 * once, encapsulated/decapsulated by copying into send/write slots, and
 * sent/written in batches (sendmmsg on UDP, one write per frame on the
 * TAP, the TAP's only interface). Nothing is allocated per packet.
 *
 * The control plane drives `fdb` (forwarding entries, peers, flood list)
 * and `setProxyEntry` / `removeProxyEntry` (owned endpoints); a moved
 * endpoint is announced on the TAP (gratuitous ARP / unsolicited NA).
 */
import { WeftError } from '../errors.js';
import { FrameBatch, TapDevice } from '../io/tap.js';
import { UdpSendBatch, UdpSocket, type UdpBatchView } from '../io/udp.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { setLink } from '../netlink/rtnetlink/link-ops.js';
import { addAddress } from '../netlink/rtnetlink/addr.js';
import { macBytes } from '../wire/bytes.js';
import * as vxlan from '../wire/vxlan.js';
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
  /** Socket buffer sizes (default 4 MiB each). */
  socketBufferBytes?: number;
}

export interface VtepStats {
  tap: string;
  vni: number;
  counters: VtepCounters;
  proxy: ProxyCounters;
  fdb: FdbSnapshot;
}

const GRO_SLOT = 65535;

export class UserspaceVtep {
  readonly engine: VtepEngine;
  readonly fdb: VtepFdb;
  readonly proxyTable: ProxyNeighbourTable;
  readonly responder: ProxyResponder;
  readonly tapName: string;
  readonly tapMac: string;
  readonly #tap: TapDevice;
  readonly #udp: UdpSocket;
  readonly #send: UdpSendBatch;
  readonly #tapOut: FrameBatch;
  readonly #scratch: Buffer;
  readonly #vni: number;
  readonly #gro: boolean;
  #closed = false;

  private constructor(engine: VtepEngine, tap: TapDevice, udp: UdpSocket, tapMac: string, batch: number, gro: boolean, proxy: ProxyNeighbourTable, responder: ProxyResponder) {
    this.engine = engine;
    this.fdb = engine.fdb;
    this.#tap = tap;
    this.#udp = udp;
    this.tapName = tap.name;
    this.tapMac = tapMac;
    this.#vni = engine.vni;
    this.#gro = gro;
    const slot = engine.maxFrame + vxlan.HEADER_LENGTH;
    this.#send = new UdpSendBatch(slot, batch);
    this.#tapOut = new FrameBatch(Math.max(64, engine.maxFrame), batch);
    this.#scratch = Buffer.alloc(Math.max(NA_LENGTH, slot));
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
    const tap = TapDevice.open({ name: o.tap, batch, slotSize: Math.max(2048, engine.maxFrame + 64), ...(o.netns !== undefined ? { netns: o.netns } : {}) });
    let udp: UdpSocket | undefined;
    let rtnl: Rtnl | undefined;
    try {
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
      const v = new UserspaceVtep(engine, tap, udp, mac, batch, o.udpGro ?? false, table, responder);
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
    const out = this.#send;
    const buf = b.buffer;
    let n = 0;
    for (let i = 0; i < b.count; i++) {
      const off = i * b.slotSize;
      const len = b.lengths[i]!;
      const action = e.classifyEgress(buf, off, len, now);
      if (action === EGRESS_UNICAST) {
        const so = n * out.slotSize;
        vxlan.encodeHeader(this.#vni, out.buffer, so);
        buf.copy(out.buffer, so + vxlan.HEADER_LENGTH, off, off + len);
        out.lengths[n] = len + vxlan.HEADER_LENGTH;
        out.setDestinationSockaddr(n, e.remote!.sockaddr);
        n++;
      } else if (action === EGRESS_FLOOD) {
        this.#flood(buf, off, len);
      } else if (action === EGRESS_PROXY) {
        const r = this.responder.handle(buf, off, len, now, this.#scratch, 0);
        if (r > 0) this.#tap.write(this.#scratch, 0, r);
      }
    }
    if (n === 0) return;
    const sent = this.#udp.sendBatch(out, n);
    c.tx_packets += sent;
    for (let i = 0; i < sent; i++) c.tx_bytes += out.lengths[i]! - vxlan.HEADER_LENGTH;
    c.tx_socket_full += n - sent;
  }

  /** Head-end replication: one datagram per flood-list peer (already rate-limited by the engine). */
  #flood(buf: Buffer, off: number, len: number): void {
    const s = this.#scratch;
    vxlan.encodeHeader(this.#vni, s, 0);
    buf.copy(s, vxlan.HEADER_LENGTH, off, off + len);
    const c = this.engine.counters;
    for (const r of this.fdb.floodList) {
      if (this.#udp.sendToSockaddr(s, 0, len + vxlan.HEADER_LENGTH, r.sockaddr)) c.tx_flooded++;
      else c.tx_socket_full++;
    }
  }

  /** Underlay → TAP. */
  #ingress(v: UdpBatchView): void {
    const e = this.engine;
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

  #queue(d: Buffer, off: number, len: number, n: number): number {
    const out = this.#tapOut;
    const inner = len - vxlan.HEADER_LENGTH;
    d.copy(out.buffer, n * out.slotSize, off + vxlan.HEADER_LENGTH, off + len);
    out.lengths[n] = inner;
    n++;
    if (n === out.capacity) {
      this.#flushTap(n);
      return 0;
    }
    return n;
  }

  #flushTap(n: number): void {
    if (n === 0) return;
    const written = this.#tap.writeBatch(this.#tapOut, n);
    this.engine.counters.rx_tap_full += n - written;
  }

  /**
   * Sets an owned endpoint for proxy ARP/NDP. When it is new or moved to
   * another MAC, announces it on the TAP (gratuitous ARP / unsolicited NA).
   */
  setProxyEntry(ip: string, mac: string): ProxySetResult {
    const r = this.proxyTable.set(ip, mac);
    if (r !== 'unchanged' && !this.#closed) {
      const l = this.responder.announce(ip, this.#scratch, 0);
      this.#tap.write(this.#scratch, 0, l);
    }
    return r;
  }

  removeProxyEntry(ip: string): boolean {
    return this.proxyTable.delete(ip);
  }

  stats(): VtepStats {
    return { tap: this.tapName, vni: this.#vni, counters: { ...this.engine.counters }, proxy: { ...this.responder.counters }, fdb: this.fdb.snapshot() };
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
