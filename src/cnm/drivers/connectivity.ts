/**
 * The host side of every weft network on this host, from the store's
 * records: published ports, overlay egress (masquerade through the network's
 * leg), and isolation between networks (dataplane/nft-connect.ts). One
 * function of the records, applied whole: after a crash, applying it again
 * is the reconcile.
 */
import { type ConnectNetwork, type ConnectPort, type ConnectState, applyConnect } from '../../dataplane/nft-connect.js';
import { writeSysctls } from '../../io/sysctl.js';
import { type EndpointRecord, type NetworkRecord, bridgeOf, macvlanHostAddress, names } from '../model.js';

/** The host-side link a network's traffic enters the host through, if it has one. */
export function hostLinkOf(n: NetworkRecord): string | undefined {
  if (n.mode === 'bridge') return bridgeOf(n);
  if (n.mode === 'overlay' && !n.internal) return names.egress(n.id);
  if (n.mode === 'macvlan' && macvlanHostAddress(n)) return names.macvlanHost(n.id);
  return undefined;
}

export function connectState(networks: NetworkRecord[], endpoints: EndpointRecord[]): ConnectState {
  const nets: ConnectNetwork[] = [];
  for (const n of networks) {
    const link = hostLinkOf(n);
    if (!link) continue;
    nets.push({
      link, subnets: n.ipv4.map((s) => s.pool), internal: n.internal, masquerade: n.mode === 'overlay',
      // macvlan containers route through the real gateway, not the host: published flows must come from the host's leg.
      masqueradeInbound: n.mode === 'macvlan',
    });
  }
  const ports: ConnectPort[] = [];
  for (const ep of endpoints) {
    const address = ep.address?.split('/')[0];
    if (!address) continue;
    for (const p of ep.ports ?? []) ports.push({ proto: p.proto, ...(p.hostIp ? { hostIp: p.hostIp } : {}), hostPort: p.hostPort, address, port: p.port });
  }
  return { networks: nets, ports };
}

/** Applies the host-side rules for this host's networks and endpoints (serialised by the caller). */
export async function applyConnectivity(networks: NetworkRecord[], endpoints: EndpointRecord[]): Promise<void> {
  const state = connectState(networks, endpoints);
  // Egress and published ports are routed through the host, as with Docker's bridge.
  if (state.ports.length > 0 || state.networks.some((n) => n.masquerade)) await writeSysctls(undefined, { 'net.ipv4.ip_forward': 1 });
  // The host's own 127.0.0.1:PORT leaves toward the container with a loopback source until masqueraded (as Docker's bridge without userland proxy).
  if (state.ports.length > 0) {
    for (const n of state.networks) {
      // A link not there (yet) gets it when its network is next ensured and this runs again.
      await writeSysctls(undefined, { [`net.ipv4.conf.${n.link}.route_localnet`]: 1 }).catch(() => undefined);
    }
  }
  await applyConnect(undefined, state);
}
