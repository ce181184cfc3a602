/**
 * `weft.mode=macvlan`: endpoints are macvlan children of `-o parent=IF`
 * (docs/overlay.md). `parent=eth0.100` creates the 802.1Q
 * sub-interface when it is missing and deletes it with the last network
 * using it, only if weft created it.
 */
import { type JoinInfo, type NetworkDriver, gatewayJoinInfo } from '../driver.js';
import { LinkNotFoundError, NetworkOptionError } from '../../errors.js';
import { type EndpointRecord, HOST_AUX, type NetworkRecord, macvlanHostAddress, names } from '../model.js';
import { IFF_UP } from '../../netlink/rtnetlink/constants.js';
import { setLink } from '../../netlink/rtnetlink/link-ops.js';
import { ensureLink } from '../../dataplane/ensure.js';
import { ensureAddresses, linksWithPrefix, removeLink } from './links.js';
import type { RtnlHandles } from './rtnl-handles.js';

const MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;

/** "eth0.100" -> { base: "eth0", id: 100 }; undefined for a plain name. */
export function vlanParent(parent: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d+)$/.exec(parent);
  return m ? { base: m[1]!, id: Number(m[2]) } : undefined;
}

export class MacvlanDriver implements NetworkDriver {
  readonly mode = 'macvlan' as const;
  /** `handles`: the rtnetlink handles (rtnl-handles.ts), owned by the caller. */
  constructor(private readonly handles: RtnlHandles) {}

  validate(n: NetworkRecord): void {
    if (!n.parent) throw new NetworkOptionError('macvlan needs -o parent=<interface> (e.g. eth0 or eth0.100)');
    if (!/^[^\s/:]{1,15}$/.test(n.parent)) throw new NetworkOptionError(`parent ${JSON.stringify(n.parent)} is not a valid interface name`);
    const vlan = vlanParent(n.parent);
    if (vlan && (vlan.id < 1 || vlan.id > 4094)) throw new NetworkOptionError(`VLAN id ${vlan.id} in parent ${n.parent} must be 1-4094`);
    if (n.macvlanMode && !MODES.includes(n.macvlanMode)) throw new NetworkOptionError(`macvlan_mode must be one of ${MODES.join(', ')}`);
    if (macvlanHostAddress(n) && (n.macvlanMode ?? 'bridge') !== 'bridge') {
      throw new NetworkOptionError(`--aux-address ${HOST_AUX}=… needs macvlan_mode=bridge (the host reaches containers through a sibling macvlan)`);
    }
  }

  async ensureNetwork(n: NetworkRecord): Promise<Partial<NetworkRecord> | void> {
    const changes = await this.#ensureParent(n);
    const address = macvlanHostAddress(n);
    if (address) {
      // The host's leg on the network: a macvlan sibling of the containers (a
      // parent cannot talk to its own macvlans), carrying the reserved address.
      await this.handles.run(undefined, async (rtnl) => {
        const leg = names.macvlanHost(n.id);
        await ensureLink(rtnl, { name: leg, kind: 'macvlan', parent: n.parent!, macvlan: { mode: 'bridge' }, up: true, ...(n.mtu ? { mtu: n.mtu } : {}) });
        await ensureAddresses(rtnl, leg, [address]);
      });
    }
    return changes;
  }

  async #ensureParent(n: NetworkRecord): Promise<Partial<NetworkRecord> | void> {
    return this.handles.run(undefined, async (rtnl) => {
      const parent = n.parent!;
      const existing = await rtnl.link(parent);
      if (existing) {
        if (!(existing.flags & IFF_UP)) await setLink(rtnl, existing, { up: true });
        return;
      }
      const vlan = vlanParent(parent);
      if (!vlan) throw new NetworkOptionError(`parent interface ${parent} does not exist`);
      const base = await rtnl.link(vlan.base);
      if (!base) throw new LinkNotFoundError(vlan.base, 'parent', rtnl.netns, parent);
      await ensureLink(rtnl, { name: parent, kind: 'vlan', parent: base.index, vlan: { id: vlan.id }, up: true }, { have: null });
      return { createdParent: true };
    });
  }

  async removeNetwork(n: NetworkRecord, remaining: NetworkRecord[]): Promise<void> {
    await this.handles.run(undefined, (rtnl) => removeLink(rtnl, names.macvlanHost(n.id)));
    if (!n.createdParent || remaining.some((o) => o.mode === 'macvlan' && o.parent === n.parent)) return;
    await this.handles.run(undefined, (rtnl) => removeLink(rtnl, n.parent!));
  }

  async ensureEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    if (ep.sandboxKey) return; // moved into its sandbox by Docker
    await this.handles.run(undefined, (rtnl) => ensureLink(rtnl, {
      name: ep.srcName, kind: 'macvlan', parent: n.parent!, address: ep.mac,
      macvlan: { mode: n.macvlanMode ?? 'bridge' },
      ...(n.mtu ? { mtu: n.mtu } : {}),
    }));
  }

  async removeEndpoint(_n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.handles.run(undefined, (rtnl) => removeLink(rtnl, ep.srcName));
  }

  joinInfo(n: NetworkRecord, ep: EndpointRecord): JoinInfo {
    return gatewayJoinInfo(n, ep);
  }

  /** Host legs of networks gone; endpoint links are swept by their wfc prefix in the bridge driver's pass. */
  async sweepOrphans(networks: NetworkRecord[]): Promise<string[]> {
    const keep = new Set(networks.filter((n) => n.mode === 'macvlan').map((n) => names.macvlanHost(n.id)));
    return this.handles.run(undefined, async (rtnl) => {
      const removed: string[] = [];
      for (const l of await linksWithPrefix(rtnl, ['wfm'])) {
        if (keep.has(l.name)) continue;
        await removeLink(rtnl, l.name);
        removed.push(l.name);
      }
      return removed;
    });
  }
}
