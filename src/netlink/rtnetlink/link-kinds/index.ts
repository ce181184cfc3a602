/** Kind data of a decoded link, typed per kind, and its `ip -j -d` info_data. */
import type { Link } from '../link.js';
import { type BridgeInfo, bridgeJson, decodeBridge } from './bridge.js';
import { type MacvlanInfo, decodeMacvlan, macvlanJson } from './macvlan.js';
import { decodeTuntap, tuntapJson } from './tuntap.js';
import { type VlanInfo, decodeVlan, vlanJson } from './vlan.js';
import { type VxlanInfo, decodeVxlan, vxlanJson } from './vxlan.js';

export function vxlanInfo(link: Link): VxlanInfo | undefined {
  return link.kind === 'vxlan' ? decodeVxlan(link.kindData ?? []) : undefined;
}
export function bridgeInfo(link: Link): BridgeInfo | undefined {
  return link.kind === 'bridge' ? decodeBridge(link.kindData ?? []) : undefined;
}
export function macvlanInfo(link: Link): MacvlanInfo | undefined {
  return link.kind === 'macvlan' ? decodeMacvlan(link.kindData ?? []) : undefined;
}
export function vlanInfo(link: Link): VlanInfo | undefined {
  return link.kind === 'vlan' ? decodeVlan(link.kindData ?? []) : undefined;
}

/** `linkinfo.info_data` as `ip -j -d link` prints it, when weft knows the kind. */
export function kindDataJson(link: Link, linkName: (index: number) => string | undefined): Record<string, unknown> | undefined {
  if (!link.kindData) return undefined;
  switch (link.kind) {
    case 'bridge': return bridgeJson(decodeBridge(link.kindData));
    case 'vxlan': return vxlanJson(decodeVxlan(link.kindData), linkName);
    case 'macvlan': return macvlanJson(decodeMacvlan(link.kindData));
    case 'vlan': return vlanJson(decodeVlan(link.kindData));
    case 'tun': return tuntapJson(decodeTuntap(link.kindData));
    default: return undefined;
  }
}
