/**
 * Routes (RTM_*ROUTE): struct rtmsg (12 bytes: family, dst_len, src_len,
 * tos, table, protocol, scope, type, flags u32) + RTA_* attributes.
 * Defaults follow `ip route add`: table main, protocol boot, scope link for
 * a route without a gateway.
 */
import { type AttrWriter, parseAttrs, read } from '../attrs.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.js';
import { isErrno, LinkNotFoundError, NetlinkDecodeError, RtnlObjectError } from '../../errors.js';
import type { Message } from '../message.js';
import {
  AF_INET, AF_INET6, AF_UNSPEC, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTM_DELROUTE,
  RTM_GETROUTE, RTM_NEWROUTE, RTN_BLACKHOLE, RTN_BROADCAST, RTN_LOCAL, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE,
  RTPROT_BOOT, RTPROT_KERNEL, RTPROT_STATIC, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_LOCAL, RT_TABLE_MAIN,
} from './constants.js';
import type { Rtnl } from './handle.js';
import { formatIp, networkOf, parseIp, parsePrefix } from '../../wire/ip.js';
import { linkIndex } from './link-ops.js';

export const RTMSG_LEN = 12;
const RT_SCOPE_NOWHERE = 255;

export interface Route {
  family: number;
  /** `default` or `addr/len`. */
  dst: string;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  metric?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export interface RouteSpec {
  /** `default`, `10.1.0.0/16`, `fd00::/64`, or a host address. */
  dst: string;
  gateway?: string;
  dev?: string | number;
  metric?: number;
  table?: number;
  prefsrc?: string;
  protocol?: 'boot' | 'static' | 'kernel' | number;
  scope?: 'global' | 'link' | 'host';
  type?: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'local';
  /** Family for `default` (IPv4 unless a v6 gateway is given). */
  family?: 4 | 6;
}

export const ROUTE_TYPES: Record<string, number> = {
  unicast: RTN_UNICAST, local: RTN_LOCAL, broadcast: RTN_BROADCAST, blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE, prohibit: RTN_PROHIBIT,
};
const PROTOCOLS: Record<string, number> = { kernel: RTPROT_KERNEL, boot: RTPROT_BOOT, static: RTPROT_STATIC };

export function decodeRoute(m: Message): Route {
  const p = m.payload;
  if (p.length < RTMSG_LEN) throw new NetlinkDecodeError(`rtmsg needs ${RTMSG_LEN} bytes, got ${p.length}`, m.offset);
  const r: Route = {
    family: p[0]!, dst: 'default', table: p[4]!, protocol: p[5]!, scope: p[6]!, type: p[7]!, flags: p.readUInt32LE(8),
  };
  const dstLen = p[1]!;
  for (const { type, data } of parseAttrs(p, RTMSG_LEN)) {
    switch (type) {
      case RTA_DST: r.dst = formatIp(data) + (dstLen === data.length * 8 ? '' : `/${dstLen}`); break;
      case RTA_GATEWAY: r.gateway = formatIp(data); break;
      case RTA_OIF: r.oif = read.u32(data); break;
      case RTA_PREFSRC: r.prefsrc = formatIp(data); break;
      case RTA_PRIORITY: r.metric = read.u32(data); break;
      case RTA_TABLE: r.table = read.u32(data); break;
      default: break;
    }
  }
  return r;
}

async function encodeRoute(rtnl: Rtnl, spec: RouteSpec, del: boolean): Promise<(w: AttrWriter) => void> {
  const dst = spec.dst === 'default' ? undefined : parsePrefix(spec.dst, 'route destination');
  const gw = spec.gateway !== undefined ? parseIp(spec.gateway, 'gateway') : undefined;
  const family = dst?.family ?? gw?.family ?? (spec.family === 6 ? AF_INET6 : AF_INET);
  const oif = spec.dev !== undefined ? await linkIndex(rtnl, spec.dev, 'device', `route ${spec.dst}`) : undefined;
  const type = ROUTE_TYPES[spec.type ?? 'unicast'] ?? RTN_UNICAST;
  const table = spec.table ?? RT_TABLE_MAIN;
  let scope: number;
  if (spec.scope) scope = { global: RT_SCOPE_UNIVERSE, link: RT_SCOPE_LINK, host: RT_SCOPE_HOST }[spec.scope];
  else if (del) scope = RT_SCOPE_NOWHERE;
  else if (type === RTN_LOCAL) scope = RT_SCOPE_HOST;
  else scope = type === RTN_UNICAST && !gw ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const protocol = typeof spec.protocol === 'number' ? spec.protocol : PROTOCOLS[spec.protocol ?? 'boot']!;
  return (w) => {
    const at = w.zeros(RTMSG_LEN);
    w.buf[at] = family;
    w.buf[at + 1] = dst?.prefixLength ?? 0;
    w.buf[at + 4] = table < 256 ? table : 0;
    w.buf[at + 5] = del ? 0 : protocol;
    w.buf[at + 6] = scope;
    w.buf[at + 7] = del && spec.type === undefined ? 0 : type;
    if (dst) w.binary(RTA_DST, networkOf(dst));
    if (gw) w.binary(RTA_GATEWAY, gw.bytes);
    if (oif !== undefined) w.u32(RTA_OIF, oif);
    if (spec.prefsrc !== undefined) w.binary(RTA_PREFSRC, parseIp(spec.prefsrc, 'prefsrc').bytes);
    if (spec.metric !== undefined) w.u32(RTA_PRIORITY, spec.metric);
    if (table >= 256) w.u32(RTA_TABLE, table);
  };
}

async function routeRequest(rtnl: Rtnl, type: number, flags: number, spec: RouteSpec, verb: string): Promise<void> {
  const build = await encodeRoute(rtnl, spec, type === RTM_DELROUTE);
  const what = `${verb} route ${spec.dst}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.dev !== undefined ? ` dev ${spec.dev}` : ''}`;
  try {
    await rtnl.client.request({ type, flags, what, build });
  } catch (err) {
    if (isErrno(err, 'ENODEV')) throw new LinkNotFoundError(String(spec.dev), 'device', rtnl.netns, `route ${spec.dst}`);
    if (isErrno(err, 'EEXIST', 'ESRCH', 'ENETUNREACH', 'EINVAL', 'ENOENT', 'EOPNOTSUPP')) throw new RtnlObjectError('ERR_WEFT_ROUTE', what, err);
    throw err;
  }
}

/** Adds a route; EROUTE (EEXIST) if present. Equivalent to `ip route add DST [via GW] [dev DEV] [metric N]`. */
export function addRoute(rtnl: Rtnl, spec: RouteSpec): Promise<void> {
  return routeRequest(rtnl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec, 'add');
}

/** Adds or updates a route (idempotent). Equivalent to `ip route replace ...`. */
export function replaceRoute(rtnl: Rtnl, spec: RouteSpec): Promise<void> {
  return routeRequest(rtnl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, spec, 'replace');
}

/** Removes a route. Equivalent to `ip route del DST [via GW] [dev DEV]`. */
export function deleteRoute(rtnl: Rtnl, spec: RouteSpec): Promise<void> {
  return routeRequest(rtnl, RTM_DELROUTE, 0, spec, 'delete');
}

/**
 * Routes of one table (main by default; `table: 0` for all). Equivalent to
 * `ip route show [table T]` (`ip -6 route` with family AF_INET6).
 */
export async function listRoutes(rtnl: Rtnl, filter: { family?: number; table?: number } = {}): Promise<Route[]> {
  const replies = await rtnl.client.dump({
    type: RTM_GETROUTE,
    what: 'route dump',
    build: (w) => { w.zeros(RTMSG_LEN); w.buf[w.length - RTMSG_LEN] = filter.family ?? AF_UNSPEC; },
  });
  const table = filter.table ?? RT_TABLE_MAIN;
  return replies
    .filter((m) => m.type === RTM_NEWROUTE)
    .map(decodeRoute)
    .filter((r) => (table === 0 || r.table === table) && (filter.family === undefined || r.family === filter.family));
}

export { RT_TABLE_LOCAL };
