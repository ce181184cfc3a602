/**
 * `weft.mode=bridge`: one Linux bridge per network on this host, the gateway
 * address on it, a veth per endpoint (docs/overlay.md). --internal
 * gives no gateway route; masquerade (opt-in) NATs traffic leaving the host.
 */
import { type JoinInfo, type NetworkDriver, gatewayJoinInfo } from '../driver.js';
import { NetworkOptionError } from '../../errors.js';
import { type EndpointRecord, type NetworkRecord, bridgeOf, ownsLinkName, portOf } from '../model.js';
import { ensureMasquerade, removeMasquerade } from './nat.js';
import { ensureLink } from '../../dataplane/ensure.js';
import { ensureAddresses, linksWithPrefix, removeLink } from './links.js';
import type { RtnlHandles } from './rtnl-handles.js';

export class BridgeDriver implements NetworkDriver {
  readonly mode = 'bridge' as const;
  /**
   * `handles`: the rtnetlink handles (rtnl-handles.ts), owned by the caller.
   * `instance`: whose links the orphan sweep may remove (model.ts ownsLinkName).
   */
  constructor(private readonly handles: RtnlHandles, private readonly options: { instance?: string } = {}) {}

  validate(n: NetworkRecord): void {
    if (n.ipv4.length === 0 && n.ipv6Subnets.length === 0) throw new NetworkOptionError('a bridge network needs at least one subnet (use --ipam-driver weft or --subnet)');
  }

  async ensureNetwork(n: NetworkRecord): Promise<void> {
    await this.handles.run(undefined, async (rtnl) => {
      const br = bridgeOf(n);
      await ensureLink(rtnl, { name: br, kind: 'bridge', mtu: n.mtu, up: true, bridge: { stpState: 0 } });
      await ensureAddresses(rtnl, br, [...n.ipv4, ...n.ipv6Subnets].map((s) => s.gateway));
    });
    if (n.masquerade && !n.internal) await ensureMasquerade(n, bridgeOf(n));
  }

  async removeNetwork(n: NetworkRecord): Promise<void> {
    if (n.masquerade) await removeMasquerade(n);
    await this.handles.run(undefined, (rtnl) => removeLink(rtnl, bridgeOf(n)));
  }

  async ensureEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.handles.run(undefined, async (rtnl) => {
      const port = portOf(ep);
      const have = (await rtnl.link(port)) ?? null;
      if (!have && ep.sandboxKey) return; // joined and gone with its sandbox
      await ensureLink(rtnl, {
        name: port, kind: 'veth', mtu: n.mtu, up: true, master: bridgeOf(n),
        veth: { peer: { name: ep.srcName, mtu: n.mtu, address: ep.mac } },
      }, { have });
    });
  }

  async removeEndpoint(_n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.handles.run(undefined, async (rtnl) => {
      await removeLink(rtnl, portOf(ep));
      await removeLink(rtnl, ep.srcName);
    });
  }

  joinInfo(n: NetworkRecord, ep: EndpointRecord): JoinInfo {
    return gatewayJoinInfo(n, ep);
  }

  async sweepOrphans(networks: NetworkRecord[], endpoints: EndpointRecord[]): Promise<string[]> {
    const keep = new Set([
      ...networks.filter((n) => n.mode === 'bridge').map((n) => bridgeOf(n)),
      ...endpoints.flatMap((e) => [portOf(e), e.srcName]),
    ]);
    return this.handles.run(undefined, async (rtnl) => {
      const removed: string[] = [];
      // Only links this instance named: another daemon's (or a foreign tool's) wf* links are never touched.
      for (const l of await linksWithPrefix(rtnl, ['wf'])) {
        if (keep.has(l.name) || !ownsLinkName(l.name, this.options.instance ?? '')) continue;
        await removeLink(rtnl, l.name);
        removed.push(l.name);
      }
      return removed;
    });
  }
}
