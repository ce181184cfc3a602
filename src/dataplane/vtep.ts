/**
 * The userspace VTEP's decisions (pure: bytes and `now` in, an action code
 * out, every drop counted by name). The I/O around it is vtep-runtime.ts.
 *
 * Egress (a frame read from the TAP): a unicast destination MAC goes to
 * the remote VTEP the forwarding table names; a miss is dropped, as
 * Docker's overlay drops on L2 miss (docs/overlay.md). Broadcast,
 * unknown-unicast and multicast ("BUM") frames are dropped by default, or
 * replicated head-end to the flood list at a bounded rate (V15). With
 * proxy on, ARP and Neighbor Solicitations never enter the tunnel: the
 * proxy answers from its table or drops them, like the kernel's `proxy`.
 *
 * Ingress (a UDP datagram): the strict checks of the Linux vxlan receive
 * path, named after its drop reasons (docs/reliability.md V1-V9, V13):
 * header, VNI, sender, inner length, inner source MAC, local MAC, and a
 * source MAC that the table pins to another VTEP (no FDB poisoning).
 */
import { InvalidArgumentError } from '../errors.js';
import { isMulticastMac, isZeroMac } from '../wire/bytes.js';
import { ETH_DESTINATION, ETH_HEADER_LENGTH, ETH_SOURCE, VLAN_TAG_LENGTH } from '../wire/fields.js';
import * as vxlan from '../wire/vxlan.js';
import { macKey, type RemoteVtep, type VtepFdb } from './fdb-table.js';
import { TokenBucket, isNeighbourQuery } from './proxy-arp.js';

export type BumPolicy = 'drop' | 'replicate';

export interface VtepConfig {
  vni: number;
  /** Overlay MTU (the TAP's): inner frames may carry up to mtu + 14 (+4 with an 802.1Q tag). */
  mtu: number;
  bum?: BumPolicy;
  /** Accept datagrams from VTEPs not in the table (default false). */
  acceptUnknownPeers?: boolean;
  /** BUM frames replicated per second (default 1000) and burst (default 200). */
  bumRatePerSecond?: number;
  bumBurst?: number;
}

export const EGRESS_DROP = 0;
export const EGRESS_UNICAST = 1;
export const EGRESS_FLOOD = 2;
/** ARP/NS: hand the frame to the proxy responder. */
export const EGRESS_PROXY = 3;

/**
 * tx_packets/tx_bytes count VXLAN datagrams (TAP super-frames count once
 * per segment); tx_gso counts super-frames segmented, tx_bad_offload
 * frames whose virtio_net_hdr could not be honoured, tx_errors datagrams
 * lost to a send error other than a full buffer. rx_coalesced counts
 * received segments merged into an earlier frame written to the TAP.
 */
export type VtepCounterName =
  // egress (TAP -> underlay)
  | 'tx_packets' | 'tx_bytes' | 'tx_flooded' | 'tx_short' | 'tx_too_big' | 'no_remote' | 'bum_dropped' | 'bum_rate_limited'
  | 'tx_socket_full' | 'tx_errors' | 'tx_gso' | 'tx_bad_offload'
  // ingress (underlay -> TAP)
  | 'rx_packets' | 'rx_bytes' | 'truncated' | 'short_header' | 'invalid_header' | 'vni_not_found' | 'unknown_peer'
  | 'short_inner' | 'jumbo' | 'invalid_src_mac' | 'local_mac' | 'entry_exists' | 'rx_tap_full' | 'rx_coalesced';

export type VtepCounters = Record<VtepCounterName, number>;

export function newVtepCounters(): VtepCounters {
  return {
    tx_packets: 0, tx_bytes: 0, tx_flooded: 0, tx_short: 0, tx_too_big: 0, no_remote: 0, bum_dropped: 0, bum_rate_limited: 0,
    tx_socket_full: 0, tx_errors: 0, tx_gso: 0, tx_bad_offload: 0,
    rx_packets: 0, rx_bytes: 0, truncated: 0, short_header: 0, invalid_header: 0, vni_not_found: 0, unknown_peer: 0,
    short_inner: 0, jumbo: 0, invalid_src_mac: 0, local_mac: 0, entry_exists: 0, rx_tap_full: 0, rx_coalesced: 0,
  };
}

export class VtepEngine {
  readonly counters: VtepCounters = newVtepCounters();
  readonly vni: number;
  readonly mtu: number;
  readonly bum: BumPolicy;
  readonly acceptUnknownPeers: boolean;
  /** Proxy ARP/NDP in front of the tunnel (set by the runtime when it has a responder). */
  proxy = false;
  /** Set by classifyEgress when it returns EGRESS_UNICAST. */
  remote: RemoteVtep | undefined;
  readonly #fdb: VtepFdb;
  readonly #localMacs = new Set<number>();
  readonly #bumBucket: TokenBucket;
  readonly #maxFrame: number;

  constructor(cfg: VtepConfig, fdb: VtepFdb) {
    if (!vxlan.validVni(cfg.vni)) throw new InvalidArgumentError(`VNI must be an integer 0..${vxlan.MAX_VNI}, got ${cfg.vni}`);
    if (!Number.isInteger(cfg.mtu) || cfg.mtu < 68 || cfg.mtu > 65000) throw new InvalidArgumentError(`MTU must be 68..65000, got ${cfg.mtu}`);
    const bum = cfg.bum ?? 'drop';
    if (bum !== 'drop' && bum !== 'replicate') throw new InvalidArgumentError(`BUM policy must be drop or replicate, got ${String(bum)}`);
    this.vni = cfg.vni;
    this.mtu = cfg.mtu;
    this.bum = bum;
    this.acceptUnknownPeers = cfg.acceptUnknownPeers ?? false;
    this.#fdb = fdb;
    this.#bumBucket = new TokenBucket(cfg.bumRatePerSecond ?? 1000, cfg.bumBurst ?? 200);
    this.#maxFrame = cfg.mtu + ETH_HEADER_LENGTH + VLAN_TAG_LENGTH;
  }

  get fdb(): VtepFdb {
    return this.#fdb;
  }

  /** The largest inner frame accepted either way (MTU + Ethernet + one VLAN tag). */
  get maxFrame(): number {
    return this.#maxFrame;
  }

  /** MACs that live on this side (the TAP's, local endpoints'): never accepted as inner sources from the tunnel (V7). */
  addLocalMac(mac: Uint8Array): void {
    this.#localMacs.add(macKey(mac, 0));
  }

  /** Classifies a frame read from the TAP; counts drops. */
  classifyEgress(f: Uint8Array, off: number, len: number, now: number): number {
    const c = this.counters;
    if (len < ETH_HEADER_LENGTH) {
      c.tx_short++;
      return EGRESS_DROP;
    }
    if (len > this.#maxFrame) {
      c.tx_too_big++;
      return EGRESS_DROP;
    }
    if (this.proxy && isNeighbourQuery(f, off, len)) return EGRESS_PROXY;
    if (!isMulticastMac(f, off + ETH_DESTINATION)) {
      const r = this.#fdb.lookup(f, off);
      if (r) {
        this.remote = r;
        return EGRESS_UNICAST;
      }
      // Unknown unicast is BUM too, but Docker drops it (no default remote).
      if (this.bum === 'drop' || this.#fdb.floodList.length === 0) {
        c.no_remote++;
        return EGRESS_DROP;
      }
    } else if (this.bum === 'drop' || this.#fdb.floodList.length === 0) {
      c.bum_dropped++;
      return EGRESS_DROP;
    }
    if (!this.#bumBucket.take(now)) {
      c.bum_rate_limited++;
      return EGRESS_DROP;
    }
    return EGRESS_FLOOD;
  }

  /**
   * Checks a received datagram (VXLAN header + inner frame) from `sourceIp`
   * (u32, 0 if not IPv4). Returns true when the inner frame at off + 8 may
   * be written to the TAP; otherwise the reason was counted.
   */
  acceptIngress(d: Uint8Array, off: number, len: number, sourceIp: number, truncated: boolean): boolean {
    const c = this.counters;
    if (truncated) {
      c.truncated++;
      return false;
    }
    const bad = vxlan.check(d, off, len);
    if (bad !== null) {
      c[bad]++;
      return false;
    }
    if (vxlan.vniAt(d, off) !== this.vni) {
      c.vni_not_found++;
      return false;
    }
    if (!this.acceptUnknownPeers && !this.#fdb.isKnownPeer(sourceIp)) {
      c.unknown_peer++;
      return false;
    }
    const inner = off + vxlan.HEADER_LENGTH;
    if (len - vxlan.HEADER_LENGTH > this.#maxFrame) {
      c.jumbo++;
      return false;
    }
    const src = inner + ETH_SOURCE;
    if (isMulticastMac(d, src) || isZeroMac(d, src)) {
      c.invalid_src_mac++;
      return false;
    }
    if (this.#localMacs.size > 0 && this.#localMacs.has(macKey(d, src))) {
      c.local_mac++;
      return false;
    }
    const owner = this.#fdb.lookup(d, src);
    if (owner !== undefined && owner.ip !== sourceIp) {
      c.entry_exists++;
      return false;
    }
    c.rx_packets++;
    c.rx_bytes += len - vxlan.HEADER_LENGTH;
    return true;
  }
}
