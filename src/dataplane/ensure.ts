/**
 * Idempotent kernel state: each ensure… creates what is missing, changes
 * what differs and leaves what matches, and says which it did. Neighbour,
 * FDB, address and route writes use REPLACE, so re-adding after a partial
 * failure or a daemon restart can never fail with EEXIST
 * (docs/overlay.md).
 */
import { NTF_MASTER, NTF_SELF, NUD_PERMANENT } from '../netlink/rtnetlink/constants.js';
import { LinkConfigError } from '../netlink/rtnetlink/errors.js';
import { type FdbSpec, ZERO_MAC, fdbBatch, listFdb } from '../netlink/rtnetlink/fdb.js';
import type { Rtnl } from '../netlink/rtnetlink/handle.js';
import type { Link } from '../netlink/rtnetlink/link.js';
import { type AddressSpec, listAddresses, replaceAddress } from '../netlink/rtnetlink/addr.js';
import { type LinkChange, type LinkSpec, addLink, deleteLink, linkIndex, setLink } from '../netlink/rtnetlink/link-ops.js';
import { bridgeInfo, macvlanInfo, vlanInfo, vxlanInfo } from '../netlink/rtnetlink/link-kinds/index.js';
import { bridgeDiff } from '../netlink/rtnetlink/link-kinds/bridge.js';
import { vxlanDiff } from '../netlink/rtnetlink/link-kinds/vxlan.js';
import { type NeighbourSpec, listNeighbours, nudState, replaceNeighbours } from '../netlink/rtnetlink/neigh.js';
import { type RouteSpec, listRoutes, replaceRoute } from '../netlink/rtnetlink/route.js';
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

/**
 * Makes link `spec.name` exist as specified (in the handle's namespace; for
 * `spec.netns`, pass a handle for that namespace as `target`). A link of
 * another kind with that name is an error, never silently replaced.
 */
export async function ensureLink(rtnl: Rtnl, spec: LinkSpec, target: Rtnl = rtnl): Promise<EnsureResult> {
  const have = await target.link(spec.name);
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
  await setLink(target, have.index, change);
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

/** Equivalent to `ip route replace`, reporting whether anything changed. */
export async function ensureRoute(rtnl: Rtnl, spec: RouteSpec): Promise<EnsureResult> {
  const dst = spec.dst === 'default' ? undefined : parsePrefix(spec.dst, 'route destination');
  const family = dst?.family ?? (spec.gateway ? parseIp(spec.gateway).family : spec.family === 6 ? 10 : 2);
  const routes = await listRoutes(rtnl, { family, ...(spec.table !== undefined ? { table: spec.table } : {}) });
  const dstText = spec.dst === 'default' ? 'default' : `${spec.dst.includes('/') ? spec.dst : spec.dst}`;
  const oif = spec.dev !== undefined ? await linkIndex(rtnl, spec.dev, 'device', `route ${spec.dst}`) : undefined;
  const same = routes.find((r) => normDst(r.dst) === normDst(dstText) && (spec.metric === undefined || r.metric === spec.metric)
    && r.gateway === spec.gateway && (oif === undefined || r.oif === oif));
  if (same) return unchanged;
  await replaceRoute(rtnl, spec);
  return { action: 'created', changed: [] };
}

function normDst(d: string): string {
  if (d === 'default') return d;
  const p = parsePrefix(d);
  return `${hex(p.bytes)}/${p.prefixLength}`;
}

/**
 * Makes neighbour entries exist exactly (lladdr and state), pipelined;
 * entries that already match are not rewritten. Equivalent to `ip neigh replace` for each.
 */
export async function ensureNeighbours(rtnl: Rtnl, specs: NeighbourSpec[]): Promise<EnsureResult> {
  if (specs.length === 0) return unchanged;
  const have = await listNeighbours(rtnl, specs.some((s) => s.proxy) ? { proxy: true } : {});
  const idx = new Map<string | number, number>();
  for (const s of specs) if (!idx.has(s.dev)) idx.set(s.dev, await linkIndex(rtnl, s.dev, 'device', `neighbour ${s.dst}`));
  const key = (index: number, dst: string) => `${index}/${hex(parseIp(dst).bytes)}`;
  const byKey = new Map(have.filter((n) => n.dst !== undefined).map((n) => [key(n.index, n.dst!), n]));
  const todo = specs.filter((s) => {
    const n = byKey.get(key(idx.get(s.dev)!, s.dst));
    if (!n) return true;
    if (s.proxy) return false;
    return n.lladdr !== s.lladdr?.toLowerCase() || n.state !== nudState(s.state);
  });
  if (todo.length === 0) return unchanged;
  await replaceNeighbours(rtnl, todo);
  return { action: todo.length === specs.length && byKey.size === 0 ? 'created' : 'changed', changed: todo.map((s) => s.dst) };
}

export function ensureNeighbour(rtnl: Rtnl, spec: NeighbourSpec): Promise<EnsureResult> {
  return ensureNeighbours(rtnl, [spec]);
}

/**
 * Makes FDB entries exist (REPLACE; APPEND for the all-zeros flood MAC,
 * which may have many destinations). Matching entries are left alone.
 * Equivalent to `bridge fdb replace|append ... self permanent` for each.
 */
export async function ensureFdbEntries(rtnl: Rtnl, specs: FdbSpec[]): Promise<EnsureResult> {
  if (specs.length === 0) return unchanged;
  const idx = new Map<string | number, number>();
  for (const s of specs) if (!idx.has(s.dev)) idx.set(s.dev, await linkIndex(rtnl, s.dev, 'device', `fdb entry ${s.mac}`));
  const have = await listFdb(rtnl);
  const key = (index: number, mac: string, dst: string | undefined, self: boolean) => `${index}/${mac.toLowerCase()}/${dst ? hex(parseIp(dst).bytes) : ''}/${self}`;
  const present = new Set(have.filter((n) => n.state & NUD_PERMANENT && n.lladdr).map((n) => key(n.index, n.lladdr!, n.dst, (n.flags & NTF_SELF) !== 0 && !(n.flags & NTF_MASTER))));
  const todo = specs.filter((s) => !present.has(key(idx.get(s.dev)!, s.mac, s.dst, !s.master)));
  if (todo.length === 0) return unchanged;
  const flood = todo.filter((s) => s.mac === ZERO_MAC);
  const unicast = todo.filter((s) => s.mac !== ZERO_MAC);
  if (unicast.length) await fdbBatch(rtnl, 'replace', unicast);
  if (flood.length) await fdbBatch(rtnl, 'append', flood);
  return { action: 'changed', changed: todo.map((s) => s.mac) };
}

export function ensureFdb(rtnl: Rtnl, spec: FdbSpec): Promise<EnsureResult> {
  return ensureFdbEntries(rtnl, [spec]);
}
