/**
 * tun/tap links. The kernel cannot create them over rtnetlink (tun's
 * validate hook answers EOPNOTSUPP), so they are made the way `ip tuntap add`
 * does: open /dev/net/tun with TUNSETIFF (inside the target namespace, by
 * the addon) and mark the device persistent with TUNSETPERSIST, then close
 * (io/tap.ts).
 * Deletion is an ordinary RTM_DELLINK.
 */
import { type Attr, read } from '../../attrs.js';
import { createPersistentTun } from '../../../io/tap.js';

const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_VNET_HDR = 0x4000;

const IFLA_TUN_OWNER = 1;
const IFLA_TUN_GROUP = 2;
const IFLA_TUN_TYPE = 3;
const IFLA_TUN_PI = 4;
const IFLA_TUN_VNET_HDR = 5;
const IFLA_TUN_PERSIST = 6;
const IFLA_TUN_MULTI_QUEUE = 7;

export interface TuntapOptions {
  mode: 'tun' | 'tap';
  /** Keep the packet-information header (default off, as `ip tuntap`). */
  pi?: boolean;
  vnetHdr?: boolean;
  multiQueue?: boolean;
  owner?: number;
  group?: number;
}

export interface TuntapInfo {
  type?: 'tun' | 'tap';
  pi?: boolean;
  vnetHdr?: boolean;
  persist?: boolean;
  multiQueue?: boolean;
  owner?: number;
  group?: number;
}

/** Creates a persistent tun/tap `name` in `netns` (or ours); returns the kernel's name. */
export function createTuntap(name: string, o: TuntapOptions, netns?: string): string {
  let flags = o.mode === 'tap' ? IFF_TAP : IFF_TUN;
  if (!o.pi) flags |= IFF_NO_PI;
  if (o.vnetHdr) flags |= IFF_VNET_HDR;
  if (o.multiQueue) flags |= IFF_MULTI_QUEUE;
  return createPersistentTun(name, flags, netns, o.owner, o.group);
}

export function decodeTuntap(attrs: Attr[]): TuntapInfo {
  const o: TuntapInfo = {};
  for (const { type, data } of attrs) {
    switch (type) {
      case IFLA_TUN_TYPE: o.type = read.u8(data) === IFF_TAP ? 'tap' : 'tun'; break;
      case IFLA_TUN_PI: o.pi = read.u8(data) !== 0; break;
      case IFLA_TUN_VNET_HDR: o.vnetHdr = read.u8(data) !== 0; break;
      case IFLA_TUN_PERSIST: o.persist = read.u8(data) !== 0; break;
      case IFLA_TUN_MULTI_QUEUE: o.multiQueue = read.u8(data) !== 0; break;
      case IFLA_TUN_OWNER: o.owner = read.u32(data); break;
      case IFLA_TUN_GROUP: o.group = read.u32(data); break;
      default: break;
    }
  }
  return o;
}

export function tuntapJson(o: TuntapInfo): Record<string, unknown> {
  const j: Record<string, unknown> = {};
  if (o.type) j.type = o.type;
  if (o.pi !== undefined) j.pi = o.pi;
  if (o.vnetHdr !== undefined) j.vnet_hdr = o.vnetHdr;
  if (o.multiQueue !== undefined) j.multi_queue = o.multiQueue;
  if (o.persist !== undefined) j.persist = o.persist;
  return j;
}
