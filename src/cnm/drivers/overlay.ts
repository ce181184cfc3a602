/**
 * `weft.mode=overlay` (the default), Docker's layout (docs/overlay.md):
 * a namespace per network holding br0 and a VXLAN device
 * (learning off, proxy on, MTU 1450), the VXLAN socket left in the host
 * namespace; each endpoint is a veth whose one end Docker moves into the
 * container and whose other end sits on br0. Remote peers (static FDB and
 * neighbour entries) are programmed by the control plane through addPeer.
 */
import { type JoinInfo, type NetworkDriver, gatewayJoinInfo } from '../driver.js';
import { NetworkOptionError } from '../../errors.js';
import { type EndpointRecord, type NetworkRecord, isEncrypted, names, portOf } from '../model.js';
import { deleteNetns, ensureNetns, listNetns } from '../../io/netns.js';
import { replaceNeighbours, deleteNeighbours } from '../../netlink/rtnetlink/neigh.js';
import { fdbBatch } from '../../netlink/rtnetlink/fdb.js';
import { ensureLink } from '../../dataplane/ensure.js';
import { applyEncryptionMark } from '../../dataplane/nft-overlay.js';
import { addLink, setLink } from '../../netlink/rtnetlink/link-ops.js';
import { replaceRoute } from '../../netlink/rtnetlink/route.js';
import { writeSysctls } from '../../io/sysctl.js';
import type { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { ensureAddresses, removeLink } from './links.js';
import type { RtnlHandles } from './rtnl-handles.js';

const bare = (cidr: string | undefined) => cidr?.split('/')[0];
const VXLAN_PORT = 4789;
const EGRESS_INNER = 'eg0';
const EGRESS_METRIC = 1000;

export interface OverlayOptions {
  /** Underlay address VXLAN packets leave from (this host's VTEP). */
  localAddress?: string;
  /** Underlay device, e.g. eth0. */
  underlayDevice?: string;
  /** Qualifies namespace names when several daemons share one machine. */
  instance?: string;
  /**
   * VXLAN admission and encryption (src/control/overlay-security.ts): runs
   * before the VXLAN device exists and throws when it cannot protect the
   * network, so nothing is ever created unprotected.
   */
  security?: OverlaySecurityHook;
}

export interface OverlaySecurityHook {
  ensureNetwork(n: NetworkRecord): Promise<void>;
  removeNetwork(n: NetworkRecord): Promise<void>;
}

/** A remote endpoint: its overlay address and MAC, and the VTEP it sits behind. */
export interface RemotePeer {
  address: string;
  mac: string;
  vtep: string;
}

export class OverlayDriver implements NetworkDriver {
  readonly mode = 'overlay' as const;
  /** `handles`: the rtnetlink handles (rtnl-handles.ts), owned by the caller; the peer programming shares them. */
  constructor(readonly handles: RtnlHandles, private readonly options: OverlayOptions = {}) {}

  #ns(n: NetworkRecord): string {
    return names.overlayNetns(n.id, this.options.instance);
  }

  validate(n: NetworkRecord): void {
    if (n.mtu > 65535 - 50) throw new NetworkOptionError('overlay MTU too large');
  }

  async ensureNetwork(n: NetworkRecord): Promise<void> {
    if (n.vni === undefined) throw new NetworkOptionError(`overlay network ${n.id} has no VNI`);
    const ns = this.#ns(n);
    if (this.options.security) await this.options.security.ensureNetwork(n);
    else if (isEncrypted(n.options)) {
      throw new NetworkOptionError('encrypted overlay needs the daemon\'s overlay security (not configured here)');
    }
    await ensureNetns(ns);
    // Before vxlan0 exists: nothing of an encrypted network leaves unmarked (docs/encryption.md).
    if (isEncrypted(n.options)) await applyEncryptionMark(ns);
    await this.handles.run(ns, async (inner) => {
      await ensureLink(inner, { name: 'br0', kind: 'bridge', mtu: n.mtu, up: true, bridge: { stpState: 0 } });
      await ensureAddresses(inner, 'br0', [...n.ipv4, ...n.ipv6Subnets].map((s) => s.gateway));
      // Created from the host namespace so its UDP socket stays on the underlay.
      const vxlan = {
        name: 'vxlan0', kind: 'vxlan' as const, netns: ns, mtu: n.mtu,
        vxlan: {
          id: n.vni!, port: VXLAN_PORT, learning: false, proxy: true,
          ...(this.options.localAddress ? { local: this.options.localAddress } : {}),
          ...(this.options.underlayDevice ? { dev: this.options.underlayDevice } : {}),
        },
      };
      await this.handles.run(undefined, async (host) => {
        // Two steps: created (or recreated) in the namespace first, then enslaved there.
        const have = (await inner.link('vxlan0')) ?? null;
        const made = await ensureLink(host, vxlan, { target: inner, have });
        await ensureLink(host, { ...vxlan, up: true, master: 'br0' }, { target: inner, ...(made.action === 'unchanged' ? { have } : {}) });
        if (!n.internal) await this.#ensureEgress(n, ns, host, inner);
      });
    });
  }

  /**
   * The network's way out without a second container interface: a veth from
   * the overlay namespace (`eg0`, its default route) to the host (`wfe…`,
   * a route to the subnets). Neither end has an address: each end answers ARP
   * for what it routes (proxy ARP), so no address is taken from any subnet and
   * the gateway stays the overlay's own, on every host. The host masquerades
   * and isolates (drivers/connectivity.ts).
   */
  async #ensureEgress(n: NetworkRecord, ns: string, host: Rtnl, inner: Rtnl): Promise<void> {
    const leg = names.egress(n.id);
    const legSpec = { name: leg, kind: 'veth' as const, mtu: n.mtu, up: true, veth: { peer: { name: EGRESS_INNER, netns: ns, mtu: n.mtu } } };
    const inside = await inner.link(EGRESS_INNER);
    if (inside) {
      await ensureLink(host, legSpec);
      await ensureLink(inner, { name: EGRESS_INNER, kind: 'veth', mtu: n.mtu, up: true }, { have: inside });
    } else {
      await removeLink(host, leg); // a half left by a crash
      await addLink(host, legSpec);
      await setLink(inner, EGRESS_INNER, { up: true });
    }
    await writeSysctls(ns, {
      'net.ipv4.ip_forward': 1,
      [`net.ipv4.conf.${EGRESS_INNER}.proxy_arp`]: 1,
      [`net.ipv4.neigh.${EGRESS_INNER}.proxy_delay`]: 0,
    });
    await writeSysctls(undefined, { [`net.ipv4.conf.${leg}.proxy_arp`]: 1, [`net.ipv4.neigh.${leg}.proxy_delay`]: 0 });
    await replaceRoute(inner, { dst: 'default', dev: EGRESS_INNER, scope: 'link', family: 4 });
    // Above the connected route of an ingress leg (metric 0), which then wins for the host's own traffic.
    for (const s of n.ipv4) await replaceRoute(host, { dst: s.pool, dev: leg, scope: 'link', metric: EGRESS_METRIC });
  }

  async removeNetwork(n: NetworkRecord): Promise<void> {
    // Deleted explicitly: the kernel tears a namespace's links down in the background, after deleteNetns returns.
    await this.handles.run(undefined, (host) => removeLink(host, names.egress(n.id)));
    // An open handle would keep the namespace, and its vxlan0, alive.
    this.handles.forget(this.#ns(n));
    await deleteNetns(this.#ns(n), { ignoreMissing: true });
    await this.options.security?.removeNetwork(n);
  }

  async ensureEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const ns = this.#ns(n);
    await this.handles.run(ns, async (inner) => {
      const port = portOf(ep);
      const have = await inner.link(port);
      if (have) {
        await ensureLink(inner, { name: port, kind: 'veth', mtu: n.mtu, up: true, master: 'br0' }, { have });
        return;
      }
      if (ep.sandboxKey) return; // joined: the pair went away with its sandbox
      // A veth pair is created whole or not at all, so no port means no pair.
      await this.handles.run(undefined, (host) => addLink(host, {
        name: ep.srcName, kind: 'veth', mtu: n.mtu, address: ep.mac,
        veth: { peer: { name: port, netns: ns, mtu: n.mtu } },
      }));
      await setLink(inner, port, { up: true, master: 'br0' });
    });
    if (ep.ingress) {
      // The host keeps this end: an address in the overlay subnet gives the
      // host a route to every endpoint of the network, on any host.
      await this.handles.run(undefined, async (host) => {
        const leg = (await host.link(ep.srcName)) ?? null;
        await ensureLink(host, { name: ep.srcName, kind: 'veth', mtu: n.mtu, up: true }, { have: leg });
        await ensureAddresses(host, leg?.index ?? ep.srcName, [ep.address, ep.addressV6]);
      });
    }
  }

  async removeEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.handles.run(this.#ns(n), (inner) => removeLink(inner, portOf(ep))).catch(() => undefined);
    await this.handles.run(undefined, (host) => removeLink(host, ep.srcName));
  }

  joinInfo(n: NetworkRecord, ep: EndpointRecord): JoinInfo {
    return gatewayJoinInfo(n, ep);
  }

  /**
   * Programs remote endpoints: Docker's two entries per peer
   * (docs/overlay.md), with REPLACE semantics so re-adding is never EEXIST.
   */
  async addPeers(n: NetworkRecord, peers: RemotePeer[]): Promise<void> {
    await this.handles.run(this.#ns(n), async (inner) => {
      await fdbBatch(inner, 'replace', peers.map(fdbEntry));
      await replaceNeighbours(inner, peers.map(neighEntry));
    });
  }

  async removePeers(n: NetworkRecord, peers: RemotePeer[]): Promise<void> {
    await this.handles.run(this.#ns(n), async (inner) => {
      await deleteNeighbours(inner, peers.map(neighEntry), { ignoreMissing: true });
      await fdbBatch(inner, 'del', peers.map(fdbEntry), { ignoreMissing: true });
    });
  }

  async sweepOrphans(networks: NetworkRecord[]): Promise<string[]> {
    const keep = new Set(networks.filter((n) => n.mode === 'overlay').map((n) => this.#ns(n)));
    const mine = names.overlayNetns('', this.options.instance);
    const removed: string[] = [];
    for (const ns of listNetns()) {
      // Only this instance's namespaces: wf-ov-<ID prefix> or wf-ov-<instance>-<ID prefix> (IDs have no '-').
      if (ns.startsWith(mine) && /^[0-9a-zA-Z]{1,12}$/.test(ns.slice(mine.length)) && !keep.has(ns)) {
        this.handles.forget(ns);
        await deleteNetns(ns, { ignoreMissing: true });
        removed.push(ns);
      }
    }
    return removed;
  }
}

const neighEntry = (p: RemotePeer) => ({ dev: 'vxlan0', dst: bare(p.address)!, lladdr: p.mac, state: 'permanent' as const });
const fdbEntry = (p: RemotePeer) => ({ dev: 'vxlan0', mac: p.mac, dst: p.vtep, self: true, state: 'permanent' as const });
