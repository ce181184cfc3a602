/**
 * veth kind data: VETH_INFO_PEER holds a whole ifinfomsg plus the peer's
 * attributes. The peer can be created directly in another namespace by
 * passing an open namespace fd (IFLA_NET_NS_FD), named there.
 */
import type { AttrWriter } from '../../attrs.js';
import { IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_NET_NS_FD, IFLA_TXQLEN, VETH_INFO_PEER } from '../constants.js';
import { writeIfinfomsg } from '../link.js';

export interface VethPeer {
  name: string;
  /** Namespace (name or path) to create the peer in; default: the link's. */
  netns?: string;
  mtu?: number;
  /** MAC aa:bb:cc:dd:ee:ff. */
  address?: Buffer;
  txqlen?: number;
}

/** Writes VETH_INFO_PEER; `netnsFd` is the peer namespace's open fd. */
export function encodeVeth(w: AttrWriter, peer: VethPeer, netnsFd: number | undefined): void {
  const p = w.nest(VETH_INFO_PEER, false);
  // Peer flags stay 0: asking for IFF_UP here fails with ENOTCONN; bring it up afterwards.
  writeIfinfomsg(w, {});
  w.string(IFLA_IFNAME, peer.name);
  if (peer.mtu !== undefined) w.u32(IFLA_MTU, peer.mtu);
  if (peer.address) w.binary(IFLA_ADDRESS, peer.address);
  if (peer.txqlen !== undefined) w.u32(IFLA_TXQLEN, peer.txqlen);
  if (netnsFd !== undefined) w.u32(IFLA_NET_NS_FD, netnsFd);
  w.end(p);
}
