/**
 * `weft.mode=bridge`: one Linux bridge per network on this host, the gateway
 * address on it, a veth per endpoint (docs/overlay.md). --internal
 * gives no gateway route; masquerade (opt-in) NATs traffic leaving the host.
 */
import { type JoinInfo, type NetworkDriver, gatewayJoinInfo } from '../driver.js';
import { type EndpointRecord, type NetworkRecord, NetworkOptionError, names } from '../model.js';
import { ensureMasquerade, removeMasquerade } from './nat.js';
import { ensureLink } from '../../dataplane/ensure.js';
import { ensureAddresses, linksWithPrefix, removeLink, withRtnl } from './links.js';


export class BridgeDriver implements NetworkDriver {
  readonly mode = 'bridge' as const;

  validate(n: NetworkRecord): void {
    if (n.ipv4.length === 0 && n.ipv6Subnets.length === 0) throw new NetworkOptionError('a bridge network needs at least one subnet (use --ipam-driver weft or --subnet)');
  }

  async ensureNetwork(n: NetworkRecord): Promise<void> {
    await withRtnl(undefined, async (rtnl) => {
      const br = names.bridge(n.id);
      await ensureLink(rtnl, { name: br, kind: 'bridge', mtu: n.mtu, up: true, bridge: { stpState: 0 } });
      await ensureAddresses(rtnl, br, [...n.ipv4, ...n.ipv6Subnets].map((s) => s.gateway));
    });
    if (n.masquerade && !n.internal) await ensureMasquerade(n, names.bridge(n.id));
  }

  async removeNetwork(n: NetworkRecord): Promise<void> {
    if (n.masquerade) await removeMasquerade(n);
    await withRtnl(undefined, (rtnl) => removeLink(rtnl, names.bridge(n.id)));
  }

  async ensureEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await withRtnl(undefined, async (rtnl) => {
      const port = names.port(ep.id);
      if (!(await rtnl.link(port)) && ep.sandboxKey) return; // joined and gone with its sandbox
      await ensureLink(rtnl, {
        name: port, kind: 'veth', mtu: n.mtu, up: true, master: names.bridge(n.id),
        veth: { peer: { name: ep.srcName, mtu: n.mtu, address: ep.mac } },
      });
    });
  }

  async removeEndpoint(_n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await withRtnl(undefined, async (rtnl) => {
      await removeLink(rtnl, names.port(ep.id));
      await removeLink(rtnl, ep.srcName);
    });
  }

  joinInfo(n: NetworkRecord, ep: EndpointRecord): JoinInfo {
    return gatewayJoinInfo(n, ep);
  }

  async sweepOrphans(networks: NetworkRecord[], endpoints: EndpointRecord[]): Promise<string[]> {
    const keep = new Set([
      ...networks.filter((n) => n.mode === 'bridge').map((n) => names.bridge(n.id)),
      ...endpoints.flatMap((e) => [names.port(e.id), e.srcName]),
    ]);
    return withRtnl(undefined, async (rtnl) => {
      const removed: string[] = [];
      for (const l of await linksWithPrefix(rtnl, ['wf-br-', 'wfv', 'wfc', 'wfi'])) {
        if (keep.has(l.name)) continue;
        await removeLink(rtnl, l.name);
        removed.push(l.name);
      }
      return removed;
    });
  }
}
