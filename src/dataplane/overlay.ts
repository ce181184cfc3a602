/**
 * One overlay network on one host, built the way Docker's overlay driver
 * builds it (docs/overlay.md), with weft's fixes:
 * - a namespace `<prefix><epoch>-<first 10 chars of the network id>` holding
 *   `br0` (the subnet gateway address, MTU 1450) and `vxlan0`;
 * - `vxlan0` is created from the host namespace directly into the overlay
 *   namespace, so its UDP socket and underlay routing stay in the host
 *   (`link-netnsid 0`); learning off, proxy on, l2miss/l3miss on, ttl auto,
 *   explicit dstport and UDP checksum;
 * - endpoints: a veth whose bridge side is `vethN` on br0 and whose other
 *   side is created directly in the sandbox as `eth0` with MAC 02:42:<ip>;
 * - a remote peer is Docker's two entries on vxlan0, a PERMANENT neighbour
 *   (IP -> MAC, answered by the vxlan proxy) and a `self permanent` FDB
 *   entry (MAC -> VTEP), both written with REPLACE so re-adding never fails.
 * Nothing floods: no all-zeros FDB entry is installed.
 */
import { createNetns, deleteNetns } from '../io/netns.js';
import { ensureAddress, ensureFdbEntries, ensureLink, ensureNeighbours } from './ensure.js';
import { addAddress } from '../netlink/rtnetlink/addr.js';
import { deleteFdb } from '../netlink/rtnetlink/fdb.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { parsePrefix } from '../wire/ip.js';
import { addLink, deleteLink, setLink } from '../netlink/rtnetlink/link-ops.js';
import { deleteNeighbour } from '../netlink/rtnetlink/neigh.js';
import { formatMac } from '../netlink/rtnetlink/link.js';
import { InvalidArgumentError } from '../errors.js';

/** Docker's plain-overlay MTU: 1500 - 50 bytes of VXLAN over IPv4 (§1.3). */
export const OVERLAY_MTU = 1450;
export const VXLAN_ENCAP = 50;

export interface OverlaySpec {
  /** Docker network id (hex); the namespace uses its first 10 characters. */
  networkId: string;
  vni: number;
  /** Gateway address with prefix, put on br0, e.g. 198.19.1.1/24. */
  gateway: string;
  /** The host namespace (where vxlan0's socket lives); default: ours. */
  hostNetns?: string;
  /** This host's VTEP address (IFLA_VXLAN_LOCAL); default: from routing. */
  local?: string;
  /** Underlay device in the host namespace. */
  dev?: string;
  /** Default 4789. */
  port?: number;
  /** Default 1450 (Docker's). */
  mtu?: number;
  /** Namespace name prefix; default `weft-`. Docker's would be empty. */
  prefix?: string;
  epoch?: number;
}

export interface RemotePeer {
  /** Endpoint IP (no prefix, or with one as in Docker's PeerRecord). */
  ip: string;
  mac: string;
  /** The remote host's VTEP address. */
  vtep: string;
}

export interface Endpoint {
  sandbox: string;
  ifname: string;
  /** `ip/len` */
  address: string;
  mac: string;
  /** Bridge-side link in the overlay namespace. */
  port: string;
}

/** Docker's overlay namespace name (`<epoch>-<id[:10]>`) with a prefix. */
export function overlayNetnsName(networkId: string, epoch = 1, prefix = 'weft-'): string {
  if (!/^[0-9a-zA-Z]{10,}$/.test(networkId)) throw new InvalidArgumentError(`network id ${JSON.stringify(networkId)}: need at least 10 alphanumeric characters`);
  return `${prefix}${epoch}-${networkId.slice(0, 10)}`;
}

/** Docker's MAC for an IPv4 endpoint: 02:42 followed by the address (§1.5). */
export function macFromIp(ip: string): string {
  const p = parsePrefix(ip);
  if (p.bytes.length !== 4) throw new InvalidArgumentError(`macFromIp needs IPv4, got ${ip}`);
  return formatMac(Buffer.concat([Buffer.from([0x02, 0x42]), p.bytes]));
}

export class OverlayNetwork {
  readonly spec: OverlaySpec;
  readonly netns: string;
  readonly mtu: number;
  #rtnl: Rtnl;
  #ports = 0;

  private constructor(spec: OverlaySpec, netns: string, rtnl: Rtnl) {
    this.spec = spec;
    this.netns = netns;
    this.mtu = spec.mtu ?? OVERLAY_MTU;
    this.#rtnl = rtnl;
  }

  /**
   * Builds the namespace, br0 and vxlan0. On any failure the namespace is
   * deleted again, so nothing is left half-built. Equivalent to
   * `ip netns add NS; ip -n NS link add br0 mtu 1450 type bridge; ip -n NS addr add GW dev br0;
   *  ip link add vxlan0 netns NS mtu 1450 type vxlan id VNI dstport 4789 nolearning proxy l2miss l3miss ttl auto udpcsum;
   *  ip -n NS link set vxlan0 master br0 up; ip -n NS link set br0 up`.
   */
  static async create(spec: OverlaySpec): Promise<OverlayNetwork> {
    const netns = overlayNetnsName(spec.networkId, spec.epoch ?? 1, spec.prefix ?? 'weft-');
    const mtu = spec.mtu ?? OVERLAY_MTU;
    await createNetns(netns);
    const host = Rtnl.open(spec.hostNetns !== undefined ? { netns: spec.hostNetns } : {});
    const ov = Rtnl.open({ netns });
    try {
      await addLink(ov, { name: 'br0', kind: 'bridge', mtu, bridge: { stpState: 0 } });
      await addAddress(ov, { dev: 'br0', address: spec.gateway });
      await addLink(host, {
        name: 'vxlan0', kind: 'vxlan', mtu, netns,
        vxlan: {
          id: spec.vni, port: spec.port ?? 4789, learning: false, proxy: true, l2miss: true, l3miss: true, ttl: 0, udpCsum: true,
          ...(spec.local !== undefined ? { local: spec.local } : {}), ...(spec.dev !== undefined ? { dev: spec.dev } : {}),
        },
      });
      await setLink(ov, 'vxlan0', { master: 'br0', up: true });
      await setLink(ov, 'br0', { up: true });
    } catch (err) {
      ov.close();
      await deleteNetns(netns, { ignoreMissing: true });
      throw err;
    } finally {
      host.close();
    }
    return new OverlayNetwork(spec, netns, ov);
  }

  /** Re-applies the overlay's own settings (after a restart); nothing changes when all match. */
  async reconcile(): Promise<void> {
    await ensureLink(this.#rtnl, { name: 'br0', kind: 'bridge', mtu: this.mtu, up: true });
    await ensureAddress(this.#rtnl, { dev: 'br0', address: this.spec.gateway });
  }

  /**
   * Connects a sandbox namespace: veth `vethN` on br0 and `ifname` (eth0)
   * created directly in the sandbox with the address, Docker's MAC and the
   * overlay MTU on both ends.
   */
  async attachEndpoint(sandbox: string, opts: { address: string; mac?: string; ifname?: string }): Promise<Endpoint> {
    const p = parsePrefix(opts.address, 'endpoint address');
    const gw = parsePrefix(this.spec.gateway);
    const address = `${opts.address.split('/')[0]}/${opts.address.includes('/') ? p.prefixLength : gw.prefixLength}`;
    const mac = opts.mac ?? macFromIp(opts.address.split('/')[0]!);
    const ifname = opts.ifname ?? 'eth0';
    const port = `veth${this.#ports++}`;
    await addLink(this.#rtnl, {
      name: port, kind: 'veth', mtu: this.mtu, master: 'br0', up: true,
      veth: { peer: { name: ifname, netns: sandbox, mtu: this.mtu, address: mac } },
    });
    const sb = Rtnl.open({ netns: sandbox });
    try {
      await addAddress(sb, { dev: ifname, address });
      await setLink(sb, ifname, { up: true });
    } catch (err) {
      await deleteLink(this.#rtnl, port).catch(() => undefined);
      throw err;
    } finally {
      sb.close();
    }
    return { sandbox, ifname, address, mac, port };
  }

  /** Removes an endpoint's veth (both ends go). */
  async detachEndpoint(ep: Endpoint): Promise<void> {
    await deleteLink(this.#rtnl, ep.port);
  }

  /**
   * Programs remote endpoints: per peer a PERMANENT neighbour and a
   * `self permanent` FDB entry on vxlan0, pipelined, idempotent.
   * Equivalent to `ip neigh replace IP lladdr MAC dev vxlan0 nud permanent;
   * bridge fdb replace MAC dev vxlan0 dst VTEP self permanent` per peer.
   */
  async addRemotePeers(peers: RemotePeer[]): Promise<void> {
    const ip = (p: RemotePeer) => p.ip.split('/')[0]!;
    await ensureNeighbours(this.#rtnl, peers.map((p) => ({ dev: 'vxlan0', dst: ip(p), lladdr: p.mac, state: 'permanent' as const })));
    await ensureFdbEntries(this.#rtnl, peers.map((p) => ({ dev: 'vxlan0', mac: p.mac, dst: p.vtep, self: true, state: 'permanent' as const })));
  }

  addRemotePeer(peer: RemotePeer): Promise<void> {
    return this.addRemotePeers([peer]);
  }

  /**
   * Forgets a remote endpoint: the FDB entry (self), any entry br0 learned
   * for the MAC (master), then the neighbour, each with the family and flags
   * it was added with (moby#50236). Entries already gone are fine.
   */
  async removeRemotePeer(peer: RemotePeer): Promise<void> {
    const r = this.#rtnl;
    await deleteFdb(r, { dev: 'vxlan0', mac: peer.mac, dst: peer.vtep, self: true }, { ignoreMissing: true });
    await deleteFdb(r, { dev: 'vxlan0', mac: peer.mac, master: true }, { ignoreMissing: true }).catch((err: unknown) => {
      // No learned entry on the bridge is the normal case with learning off.
      if ((err as { errno?: string }).errno !== 'EINVAL') throw err;
    });
    await deleteNeighbour(r, { dev: 'vxlan0', dst: peer.ip.split('/')[0]! }, { ignoreMissing: true });
  }

  /** Deletes the whole namespace (br0, vxlan0 and every bridge-side veth). */
  async destroy(): Promise<void> {
    this.#rtnl.close();
    await deleteNetns(this.netns, { ignoreMissing: true });
  }

  /** The handle in the overlay namespace (for inspection). */
  get rtnl(): Rtnl {
    return this.#rtnl;
  }
}
