/**
 * Creating, changing and deleting links. Every operation is one RTM_*LINK
 * request (names resolved first), so it either happens whole or not at all;
 * kernel refusals become typed errors that name the link.
 */
import type { AttrWriter } from '../attrs.js';
import type { RequestSpec } from '../client.js';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.js';
import { isErrno, LinkConfigError, LinkExistsError, LinkNotFoundError, NetnsNotFoundError, SysError } from '../../errors.js';
import { closeNetns, openNetns } from '../../io/netns.js';
import {
  IFF_UP, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINK, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU,
  IFLA_GROUP, IFLA_GSO_MAX_SIZE, IFLA_NET_NS_FD, IFLA_TXQLEN, RTM_DELLINK, RTM_NEWLINK,
} from './constants.js';
import type { Rtnl } from './handle.js';
import { type Link, parseMac, writeIfinfomsg } from './link.js';
import { type BridgeOptions, encodeBridge } from './link-kinds/bridge.js';
import { type MacvlanOptions, encodeMacvlan, macvlanModeNumber } from './link-kinds/macvlan.js';
import { type TuntapOptions, createTuntap } from './link-kinds/tuntap.js';
import { encodeVeth } from './link-kinds/veth.js';
import { type VlanOptions, encodeVlan, validateVlan } from './link-kinds/vlan.js';
import { type VxlanOptions, encodeVxlan, validateVxlan } from './link-kinds/vxlan.js';

export type LinkKind = 'bridge' | 'veth' | 'vxlan' | 'macvlan' | 'vlan' | 'tun' | 'tap' | 'dummy';

export interface VethPeerSpec {
  name: string;
  /** Create the peer directly in this namespace (name or path). */
  netns?: string;
  mtu?: number;
  address?: string;
}

/** A link to create. Names (parent, master, vxlan dev) resolve in the handle's namespace. */
export interface LinkSpec {
  name: string;
  kind: LinkKind;
  mtu?: number;
  address?: string;
  up?: boolean;
  txqlen?: number;
  /** Link group (IFLA_GROUP, 1..2^32-1), for deleteLinkGroup. */
  group?: number;
  master?: string | number;
  /** IFLA_LINK: the parent of a macvlan or vlan. */
  parent?: string | number;
  /**
   * Create the link directly in this namespace (IFLA_NET_NS_FD). Like Docker's
   * vxlan, it keeps its underlay (socket, parent) in the handle's namespace.
   * A master cannot be given together with netns (it would be looked up in the wrong one).
   */
  netns?: string;
  bridge?: BridgeOptions;
  vxlan?: VxlanOptions;
  veth?: { peer: VethPeerSpec };
  macvlan?: MacvlanOptions;
  vlan?: VlanOptions;
  tuntap?: Omit<TuntapOptions, 'mode'>;
}

/** Changes to an existing link; what is undefined stays as it is. */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  address?: string;
  txqlen?: number;
  /** Largest GSO packet the kernel hands the device (`ip link set X gso_max_size N`). */
  gsoMaxSize?: number;
  /** A bridge (name or index) or null for `nomaster`. */
  master?: string | number | null;
  /** New name (`ip link set X name Y`); with netns, the name in the new namespace. */
  name?: string;
  /** Move into this namespace (`ip link set X netns NS`). */
  netns?: string;
  bridge?: BridgeOptions;
  /** Only the settings the kernel can change on a live vxlan (learning, proxy, misses, ttl, ageing ...). */
  vxlan?: Partial<VxlanOptions>;
  macvlan?: MacvlanOptions;
}

const MIN_MTU = 68;
const MAX_MTU = 65535;
const NAME_RE = /^[^\s/:]{1,15}$/;

function checkName(name: string, what = 'name'): void {
  if (!NAME_RE.test(name) || name === '.' || name === '..') {
    throw new LinkConfigError(name, what, 'must be 1-15 characters without spaces, "/" or ":"');
  }
}

function checkCommon(name: string, s: { mtu?: number | undefined; address?: string | undefined }): Buffer | undefined {
  if (s.mtu !== undefined && (!Number.isInteger(s.mtu) || s.mtu < MIN_MTU || s.mtu > MAX_MTU)) {
    throw new LinkConfigError(name, 'mtu', `must be between ${MIN_MTU} and ${MAX_MTU}, got ${s.mtu}`);
  }
  if (s.address === undefined) return undefined;
  const mac = parseMac(s.address);
  if (!mac) throw new LinkConfigError(name, 'address', `${JSON.stringify(s.address)} is not a MAC address`);
  return mac;
}

/** Resolves a link reference to its index in the handle's namespace. */
export async function linkIndex(rtnl: Rtnl, ref: string | number, role: LinkNotFoundError['role'] = 'link', subject?: string): Promise<number> {
  if (typeof ref === 'number') return ref;
  const l = await rtnl.link(ref);
  if (!l) throw new LinkNotFoundError(ref, role, rtnl.netns, subject);
  return l.index;
}

/** Maps a kernel refusal of a request about link `name` to a typed error. */
export function linkError(err: unknown, name: string, netns: string | undefined, op: 'create' | 'change' | 'delete', kind?: string, mtu?: number): unknown {
  if (isErrno(err, 'EEXIST') && op !== 'delete') return new LinkExistsError(name, netns);
  if (isErrno(err, 'ENODEV') && op !== 'create') return new LinkNotFoundError(name, 'link', netns);
  if (isErrno(err, 'EOPNOTSUPP') && op === 'create') return new LinkConfigError(name, 'kind', `${kind ?? 'this kind'} is not supported by this kernel${err.extackMessage ? ` (${err.extackMessage})` : ''}`, { cause: err });
  if (isErrno(err, 'EINVAL', 'ERANGE', 'EOPNOTSUPP', 'EBUSY', 'EADDRINUSE')) {
    const text = err.extackMessage ?? err.errno;
    // Without extack text, an EINVAL on a request that sets the MTU is the MTU (out of the device's range).
    const field = /mtu/i.test(text) || (mtu !== undefined && !err.extackMessage) ? 'mtu' : /vni|vxlan/i.test(text) ? 'vxlan' : 'settings';
    return new LinkConfigError(name, field, `${field === 'mtu' && mtu !== undefined ? `${mtu} ` : ''}refused by the kernel: ${text}`, { cause: err });
  }
  return err;
}

interface Resolved {
  parent?: number;
  master?: number;
  vxlanDev?: number;
}

function validateSpec(spec: LinkSpec): Buffer | undefined {
  checkName(spec.name);
  const mac = checkCommon(spec.name, spec);
  if (spec.netns !== undefined && spec.master !== undefined) {
    throw new LinkConfigError(spec.name, 'master', 'cannot be set while creating in another namespace; set it afterwards there');
  }
  switch (spec.kind) {
    case 'vxlan':
      if (!spec.vxlan) throw new LinkConfigError(spec.name, 'vxlan', 'options (at least the VNI) are required');
      validateVxlan(spec.name, spec.vxlan);
      break;
    case 'vlan':
      if (!spec.vlan) throw new LinkConfigError(spec.name, 'vlan id', 'is required');
      validateVlan(spec.name, spec.vlan);
      if (spec.parent === undefined) throw new LinkConfigError(spec.name, 'parent', 'is required for a vlan');
      break;
    case 'macvlan':
      macvlanModeNumber(spec.name, spec.macvlan?.mode ?? 'bridge');
      if (spec.parent === undefined) throw new LinkConfigError(spec.name, 'parent', 'is required for a macvlan');
      break;
    case 'veth':
      if (!spec.veth?.peer) throw new LinkConfigError(spec.name, 'peer', 'is required for a veth pair');
      checkName(spec.veth.peer.name, 'peer name');
      checkCommon(spec.veth.peer.name, spec.veth.peer);
      break;
    default:
      break;
  }
  return mac;
}

async function resolve(rtnl: Rtnl, spec: LinkSpec): Promise<Resolved> {
  const r: Resolved = {};
  if (spec.parent !== undefined) r.parent = await linkIndex(rtnl, spec.parent, 'parent', spec.name);
  if (spec.master !== undefined) r.master = await linkIndex(rtnl, spec.master, 'master', spec.name);
  if (spec.vxlan?.dev !== undefined) r.vxlanDev = await linkIndex(rtnl, spec.vxlan.dev, 'device', spec.name);
  return r;
}

function encodeAdd(w: AttrWriter, spec: LinkSpec, mac: Buffer | undefined, r: Resolved, fds: { own?: number; peer?: number }): void {
  writeIfinfomsg(w, spec.up ? { flags: IFF_UP, change: IFF_UP } : {});
  w.string(IFLA_IFNAME, spec.name);
  if (spec.mtu !== undefined) w.u32(IFLA_MTU, spec.mtu);
  if (mac) w.binary(IFLA_ADDRESS, mac);
  if (spec.txqlen !== undefined) w.u32(IFLA_TXQLEN, spec.txqlen);
  if (spec.group !== undefined) w.u32(IFLA_GROUP, spec.group);
  if (r.master !== undefined) w.u32(IFLA_MASTER, r.master);
  if (r.parent !== undefined) w.u32(IFLA_LINK, r.parent);
  if (fds.own !== undefined) w.u32(IFLA_NET_NS_FD, fds.own);
  const info = w.nest(IFLA_LINKINFO);
  w.string(IFLA_INFO_KIND, spec.kind);
  const data = w.nest(IFLA_INFO_DATA);
  switch (spec.kind) {
    case 'bridge': if (spec.bridge) encodeBridge(w, spec.bridge); break;
    case 'vxlan': encodeVxlan(w, spec.vxlan!, r.vxlanDev, true); break;
    case 'macvlan': encodeMacvlan(w, spec.name, spec.macvlan ?? {}); break;
    case 'vlan': encodeVlan(w, spec.vlan!); break;
    case 'veth': {
      const p = spec.veth!.peer;
      const peerMac = p.address !== undefined ? checkCommon(p.name, p) : undefined;
      encodeVeth(w, { name: p.name, ...(p.mtu !== undefined ? { mtu: p.mtu } : {}), ...(peerMac ? { address: peerMac } : {}) }, fds.peer);
      break;
    }
    default: break;
  }
  w.end(data);
  w.end(info);
}

function openFds(spec: LinkSpec): { own?: number; peer?: number; close(): void } {
  const opened: number[] = [];
  const fds: { own?: number; peer?: number; close(): void } = {
    close: () => { for (const fd of opened) closeNetns(fd); },
  };
  try {
    if (spec.netns !== undefined) opened.push((fds.own = openNetns(spec.netns)));
    const peerNs = spec.veth?.peer.netns;
    if (peerNs !== undefined) opened.push((fds.peer = openNetns(peerNs)));
  } catch (err) {
    fds.close();
    throw err;
  }
  return fds;
}

function addRequest(spec: LinkSpec, mac: Buffer | undefined, r: Resolved, fds: { own?: number; peer?: number }): RequestSpec {
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    what: `create link ${spec.name}`,
    build: (w) => encodeAdd(w, spec, mac, r, fds),
  };
}

/** Creates a link. Equivalent to `ip link add NAME [mtu M] [address A] [master B] type KIND ...`. */
export async function addLink(rtnl: Rtnl, spec: LinkSpec): Promise<void> {
  await addLinks(rtnl, [spec]);
}

/**
 * Creates many links, pipelined (all requests in flight at once). Throws the
 * first failure after every request has settled. Equivalent to `ip -batch`
 * with one `link add` per spec.
 */
export async function addLinks(rtnl: Rtnl, specs: LinkSpec[]): Promise<void> {
  const prepared: { spec: LinkSpec; mac: Buffer | undefined; r: Resolved }[] = [];
  const tuntaps: LinkSpec[] = [];
  for (const spec of specs) {
    const mac = validateSpec(spec);
    if (spec.kind === 'tun' || spec.kind === 'tap') tuntaps.push(spec);
    else prepared.push({ spec, mac, r: await resolve(rtnl, spec) });
  }
  for (const spec of tuntaps) await addTuntap(rtnl, spec);
  const fdSets = prepared.map(({ spec }) => openFds(spec));
  try {
    const results = await rtnl.client.bulk(prepared.map(({ spec, mac, r }, i) => addRequest(spec, mac, r, fdSets[i]!)));
    const failed = results.findIndex((x) => x.status === 'rejected');
    if (failed >= 0) {
      const s = prepared[failed]!.spec;
      const shown = s.kind === 'veth' ? `${s.name} (peer ${s.veth!.peer.name})` : s.name;
      throw linkError((results[failed] as PromiseRejectedResult).reason, shown, s.netns ?? rtnl.netns, 'create', s.kind, s.mtu);
    }
  } finally {
    for (const f of fdSets) f.close();
  }
}

async function addTuntap(rtnl: Rtnl, spec: LinkSpec): Promise<void> {
  const netns = spec.netns ?? rtnl.netns;
  const target = spec.netns === undefined ? rtnl : undefined;
  if (target && (await target.link(spec.name))) throw new LinkExistsError(spec.name, netns);
  try {
    createTuntap(spec.name, { mode: spec.kind as 'tun' | 'tap', ...spec.tuntap }, netns);
  } catch (err) {
    if (err instanceof SysError && (err.syscall === 'open(netns)' || err.syscall === 'setns')) throw new NetnsNotFoundError(netns ?? '?', err.errno, { cause: err });
    if (err instanceof SysError) throw new LinkConfigError(spec.name, spec.kind, `cannot be created: ${err.errno}`, { cause: err });
    throw err;
  }
  // Settings applied afterwards; undo the creation if they fail.
  const change: LinkChange = {};
  if (spec.mtu !== undefined) change.mtu = spec.mtu;
  if (spec.address !== undefined) change.address = spec.address;
  if (spec.master !== undefined) change.master = spec.master;
  if (spec.txqlen !== undefined) change.txqlen = spec.txqlen;
  if (spec.up) change.up = true;
  if (Object.keys(change).length === 0) return;
  if (!target) throw new LinkConfigError(spec.name, 'netns', 'tun/tap settings in another namespace need a handle there');
  try {
    await setLink(rtnl, spec.name, change);
  } catch (err) {
    await deleteLink(rtnl, spec.name).catch(() => undefined);
    throw err;
  }
}

/**
 * Changes an existing link in one request. Equivalent to
 * `ip link set DEV [up|down] [mtu M] [address A] [master B|nomaster] [name N] [netns NS] [type KIND ...]`.
 * `link`: a name, an index, or the Link as the caller just read it. The link
 * is read first only when the request needs what it holds: kind settings
 * (its kind, a vxlan's VNI) or renaming a link given by name.
 */
export async function setLink(rtnl: Rtnl, link: string | number | Link, change: LinkChange): Promise<void> {
  const shown = typeof link === 'object' ? link.name : String(link);
  const mac = checkCommon(shown, change);
  if (change.name !== undefined) checkName(change.name);
  if (change.macvlan?.mode !== undefined) macvlanModeNumber(shown, change.macvlan.mode);
  let current = typeof link === 'object' ? link : undefined;
  if (!current && (hasKindChange(change) || (typeof link === 'string' && change.name !== undefined))) {
    current = await rtnl.link(link as string | number);
    if (!current) throw new LinkNotFoundError(shown, 'link', rtnl.netns);
  }
  if (current?.kind === 'vxlan' && change.vxlan && Object.keys(change.vxlan).length && change.mtu !== undefined) {
    // vxlan's changelink refuses IFLA_MTU next to kind data ("Cannot change mtu"): two requests.
    const { mtu, ...rest } = change;
    await setLink(rtnl, current, { mtu });
    return setLink(rtnl, current, rest);
  }
  const master = change.master === null ? 0 : change.master !== undefined ? await linkIndex(rtnl, change.master, 'master', shown) : undefined;
  // Without an index the kernel finds the link by IFLA_IFNAME.
  const index = current?.index ?? (typeof link === 'number' ? link : 0);
  const fd = change.netns !== undefined ? openNetns(change.netns) : undefined;
  try {
    await rtnl.client.request({
      type: RTM_NEWLINK,
      flags: 0,
      what: `change link ${shown}`,
      build: (w) => {
        const up = change.up === undefined ? {} : { flags: change.up ? IFF_UP : 0, change: IFF_UP };
        writeIfinfomsg(w, { index, ...up });
        if (index === 0) w.string(IFLA_IFNAME, shown);
        else if (change.name !== undefined) w.string(IFLA_IFNAME, change.name);
        if (change.mtu !== undefined) w.u32(IFLA_MTU, change.mtu);
        if (mac) w.binary(IFLA_ADDRESS, mac);
        if (change.txqlen !== undefined) w.u32(IFLA_TXQLEN, change.txqlen);
        if (change.gsoMaxSize !== undefined) w.u32(IFLA_GSO_MAX_SIZE, change.gsoMaxSize);
        if (master !== undefined) w.u32(IFLA_MASTER, master);
        if (fd !== undefined) w.u32(IFLA_NET_NS_FD, fd);
        if (current) encodeKindChange(w, current, change);
      },
    });
  } catch (err) {
    throw linkError(err, shown, rtnl.netns, 'change', current?.kind, change.mtu);
  } finally {
    if (fd !== undefined) closeNetns(fd);
  }
}

function hasKindChange(change: LinkChange): boolean {
  return [change.bridge, change.vxlan, change.macvlan].some((d) => d !== undefined && Object.keys(d).length > 0);
}

function encodeKindChange(w: AttrWriter, current: Link, change: LinkChange): void {
  const kindData = current.kind === 'bridge' ? change.bridge : current.kind === 'vxlan' ? change.vxlan : current.kind === 'macvlan' ? change.macvlan : undefined;
  if (!kindData || Object.keys(kindData).length === 0) return;
  const info = w.nest(IFLA_LINKINFO);
  w.string(IFLA_INFO_KIND, current.kind!);
  const data = w.nest(IFLA_INFO_DATA);
  if (current.kind === 'bridge') encodeBridge(w, change.bridge!);
  else if (current.kind === 'macvlan') encodeMacvlan(w, current.name, change.macvlan!);
  else {
    // The kernel's changelink reads the VNI too; resend the current one.
    const v = change.vxlan!;
    encodeVxlan(w, { ...v, id: v.id ?? vxlanId(current) }, undefined, false);
  }
  w.end(data);
  w.end(info);
}

function vxlanId(l: Link): number {
  const a = l.kindData?.find((x) => x.type === 1);
  return a && a.data.length >= 4 ? a.data.readUInt32LE(0) : 0;
}

/** Deletes a link (a veth takes its peer along). Equivalent to `ip link del DEV`. */
export async function deleteLink(rtnl: Rtnl, nameOrIndex: string | number): Promise<void> {
  await deleteLinks(rtnl, [nameOrIndex]);
}

/** Deletes links, pipelined; throws the first failure after all settled. */
export async function deleteLinks(rtnl: Rtnl, refs: (string | number)[], opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  const results = await rtnl.client.bulk(refs.map((ref) => ({
    type: RTM_DELLINK,
    flags: 0,
    what: `delete link ${ref}`,
    build: (w: AttrWriter) => {
      writeIfinfomsg(w, { index: typeof ref === 'number' ? ref : 0 });
      if (typeof ref === 'string') w.string(IFLA_IFNAME, ref);
    },
  })));
  results.forEach((x, i) => {
    if (x.status === 'fulfilled') return;
    if (opts.ignoreMissing && isErrno(x.reason, 'ENODEV')) return;
    throw linkError(x.reason, String(refs[i]), rtnl.netns, 'delete');
  });
}

/**
 * Deletes every link of a group in one request: the kernel unregisters
 * them together, so this is far faster than one RTM_DELLINK per link
 * (each of those waits ~16 ms in the kernel, docs/netlink.md, Costs). Group 0 (the
 * default group, i.e. everything) is refused. Equivalent to `ip link del group N`.
 */
export async function deleteLinkGroup(rtnl: Rtnl, group: number): Promise<void> {
  if (!Number.isInteger(group) || group < 1 || group > 0xffffffff) {
    throw new LinkConfigError(`group ${group}`, 'group', 'must be between 1 and 4294967295 (0 would delete every link)');
  }
  await rtnl.client.request({
    type: RTM_DELLINK,
    flags: 0,
    what: `delete link group ${group}`,
    build: (w) => {
      writeIfinfomsg(w, {});
      w.u32(IFLA_GROUP, group);
    },
  });
}
