/**
 * Idempotent kernel state: each ensure… creates what is missing, changes
 * what differs and leaves what matches, and says which it did. Address
 * writes use REPLACE, so re-adding after a partial failure or a daemon
 * restart can never fail with EEXIST (docs/overlay.md). Peers' neighbour
 * and FDB entries are written with REPLACE by their callers.
 */
import { LinkConfigError } from '../errors.js';
import type { Rtnl } from '../netlink/rtnetlink/handle.js';
import type { Link } from '../netlink/rtnetlink/link.js';
import { type AddressSpec, listAddresses, replaceAddress } from '../netlink/rtnetlink/addr.js';
import { type LinkChange, type LinkSpec, addLink, deleteLink, linkIndex, setLink } from '../netlink/rtnetlink/link-ops.js';
import { bridgeInfo, macvlanInfo, vlanInfo, vxlanInfo } from '../netlink/rtnetlink/link-kinds/index.js';
import { bridgeDiff } from '../netlink/rtnetlink/link-kinds/bridge.js';
import { vxlanDiff } from '../netlink/rtnetlink/link-kinds/vxlan.js';
import { hex } from '../wire/bytes.js';
import { parseIp, parsePrefix } from '../wire/ip.js';
import { IFF_UP } from '../netlink/rtnetlink/constants.js';

export interface EnsureResult {
  action: 'created' | 'changed' | 'recreated' | 'unchanged';
  /** What differed (field names), for logs. */
  changed: string[];
}

const unchanged: EnsureResult = { action: 'unchanged', changed: [] };

/** The generic settings of `spec` that differ on `have`. */
async function commonChange(rtnl: Rtnl, spec: LinkSpec, have: Link): Promise<LinkChange> {
  const c: LinkChange = {};
  if (spec.mtu !== undefined && spec.mtu !== have.mtu) c.mtu = spec.mtu;
  if (spec.address !== undefined && spec.address.toLowerCase() !== have.address) c.address = spec.address;
  if (spec.txqlen !== undefined && spec.txqlen !== have.txqlen) c.txqlen = spec.txqlen;
  if (spec.master !== undefined) {
    const m = await linkIndex(rtnl, spec.master, 'master', spec.name);
    if (m !== have.master) c.master = m;
  }
  if (spec.up !== undefined && spec.up !== ((have.flags & IFF_UP) !== 0)) c.up = spec.up;
  return c;
}

export interface EnsureLinkOptions {
  /** A handle for `spec.netns`, where the link lives when it is created elsewhere. */
  target?: Rtnl;
  /** The link as the caller just read it (null: it does not exist): no second read. */
  have?: Link | null;
}

/**
 * Makes link `spec.name` exist as specified (in the handle's namespace; for
 * `spec.netns`, pass a handle for that namespace as `target`). A link of
 * another kind with that name is an error, never silently replaced.
 */
export async function ensureLink(rtnl: Rtnl, spec: LinkSpec, opts: EnsureLinkOptions = {}): Promise<EnsureResult> {
  const target = opts.target ?? rtnl;
  const have = opts.have !== undefined ? opts.have : await target.link(spec.name);
  if (!have) {
    await addLink(rtnl, spec);
    return { action: 'created', changed: [] };
  }
  const kind = spec.kind === 'tap' ? 'tun' : spec.kind;
  if (have.kind !== kind) throw new LinkConfigError(spec.name, 'kind', `exists as ${have.kind ?? 'a device without kind'}, wanted ${spec.kind}`);
  const local: LinkSpec = { ...spec };
  delete local.netns;
  const change = await commonChange(target, local, have);
  switch (spec.kind) {
    case 'bridge': {
      const d = bridgeDiff(spec.bridge ?? {}, bridgeInfo(have) ?? {});
      if (Object.keys(d).length) change.bridge = d;
      break;
    }
    case 'vxlan': {
      const want = spec.vxlan!;
      const dev = want.dev !== undefined ? await linkIndex(rtnl, want.dev, 'device', spec.name) : undefined;
      const { change: ch, recreate } = vxlanDiff(want, vxlanInfo(have)!, dev);
      if (recreate.length) {
        await deleteLink(target, have.index);
        await addLink(rtnl, spec);
        return { action: 'recreated', changed: recreate };
      }
      if (ch.length) change.vxlan = Object.fromEntries(ch.map((k) => [k, want[k as keyof typeof want]]));
      break;
    }
    case 'macvlan': {
      const info = macvlanInfo(have)!;
      const parent = await linkIndex(rtnl, spec.parent!, 'parent', spec.name);
      if (have.link !== parent && have.linkNetnsId === undefined) {
        await deleteLink(target, have.index);
        await addLink(rtnl, spec);
        return { action: 'recreated', changed: ['parent'] };
      }
      if ((spec.macvlan?.mode ?? 'bridge') !== info.mode) change.macvlan = { mode: spec.macvlan?.mode ?? 'bridge' };
      break;
    }
    case 'vlan': {
      const info = vlanInfo(have)!;
      const parent = await linkIndex(rtnl, spec.parent!, 'parent', spec.name);
      if (info.id !== spec.vlan!.id || (have.link !== parent && have.linkNetnsId === undefined)
        || (spec.vlan!.protocol !== undefined && spec.vlan!.protocol !== info.protocol)) {
        await deleteLink(target, have.index);
        await addLink(rtnl, spec);
        return { action: 'recreated', changed: ['vlan'] };
      }
      break;
    }
    default:
      break;
  }
  const keys = Object.keys(change);
  if (keys.length === 0) return unchanged;
  await setLink(target, have, change);
  return { action: 'changed', changed: keys };
}

/** Equivalent to `ip addr replace`, but reports whether the address was already there. */
export async function ensureAddress(rtnl: Rtnl, spec: AddressSpec): Promise<EnsureResult> {
  const p = parsePrefix(spec.address, 'address');
  const want = parseIp(spec.address.split('/')[0]!).bytes;
  const have = await listAddresses(rtnl, { dev: spec.dev, family: p.family });
  const found = have.find((a) => a.prefixLength === p.prefixLength && hex(parseIp(a.local).bytes) === hex(want));
  if (found && (spec.label === undefined || found.label === spec.label)) return unchanged;
  await replaceAddress(rtnl, spec);
  return { action: found ? 'changed' : 'created', changed: found ? ['label'] : [] };
}
