/**
 * Neighbour entries (RTM_*NEIGH with an IP family): struct ndmsg (12 bytes:
 * family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8) +
 * NDA_* attributes. The same message with family AF_BRIDGE is an FDB entry
 * (fdb.ts). Writes meant to converge use REPLACE, never EXCL
 * (docs/overlay.md, bug history: EEXIST on re-added entries).
 */
import { type AttrWriter, parseAttrs, read } from '../attrs.js';
import type { RequestSpec } from '../client.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.js';
import { isErrno, LinkNotFoundError, NetlinkDecodeError, RtnlObjectError } from '../../errors.js';
import type { Message } from '../message.js';
import {
  AF_UNSPEC, NDA_DST, NDA_IFINDEX, NDA_LINK_NETNSID, NDA_LLADDR, NDA_MASTER, NDA_PORT, NDA_SRC_VNI, NDA_VLAN, NDA_VNI,
  NTF_PROXY, NTF_ROUTER, NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE, NUD_STALE, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH,
} from './constants.js';
import type { Rtnl } from './handle.js';
import { formatIp, parseIp } from '../../wire/ip.js';
import { formatMac, parseMac } from './link.js';
import { linkIndex } from './link-ops.js';

export const NDMSG_LEN = 12;

/** A decoded RTM_NEWNEIGH/DELNEIGH/GETNEIGH (neighbour or FDB entry). */
export interface Neighbour {
  family: number;
  index: number;
  state: number;
  flags: number;
  type: number;
  dst?: string;
  lladdr?: string;
  vlan?: number;
  port?: number;
  vni?: number;
  /** NDA_IFINDEX: outgoing underlay device of a vxlan FDB entry. */
  via?: number;
  master?: number;
  linkNetnsId?: number;
  srcVni?: number;
}

export type NudName = 'permanent' | 'noarp' | 'reachable' | 'stale';
const NUD: Record<NudName, number> = { permanent: NUD_PERMANENT, noarp: NUD_NOARP, reachable: NUD_REACHABLE, stale: NUD_STALE };

export interface NeighbourSpec {
  dev: string | number;
  /** IPv4 or IPv6 address. */
  dst: string;
  lladdr?: string;
  /** Default permanent. */
  state?: NudName | number;
  /** A proxy entry (`ip neigh add proxy ADDR dev DEV`): answer ARP/ND for ADDR. */
  proxy?: boolean;
  router?: boolean;
}

export function writeNdmsg(w: AttrWriter, h: { family: number; index?: number; state?: number; flags?: number; type?: number }): void {
  const at = w.zeros(NDMSG_LEN);
  w.buf[at] = h.family;
  w.buf.writeInt32LE(h.index ?? 0, at + 4);
  w.buf.writeUInt16LE(h.state ?? 0, at + 8);
  w.buf[at + 10] = h.flags ?? 0;
  w.buf[at + 11] = h.type ?? 0;
}

export function decodeNeighbour(m: Message): Neighbour {
  const p = m.payload;
  if (p.length < NDMSG_LEN) throw new NetlinkDecodeError(`ndmsg needs ${NDMSG_LEN} bytes, got ${p.length}`, m.offset);
  const n: Neighbour = { family: p[0]!, index: p.readInt32LE(4), state: p.readUInt16LE(8), flags: p[10]!, type: p[11]! };
  for (const { type, data } of parseAttrs(p, NDMSG_LEN)) {
    switch (type) {
      case NDA_DST: n.dst = formatIp(data); break;
      case NDA_LLADDR: n.lladdr = formatMac(data); break;
      case NDA_VLAN: n.vlan = read.u16(data); break;
      case NDA_PORT: n.port = read.be16(data); break;
      case NDA_VNI: n.vni = read.u32(data); break;
      case NDA_IFINDEX: n.via = read.u32(data); break;
      case NDA_MASTER: n.master = read.u32(data); break;
      case NDA_LINK_NETNSID: n.linkNetnsId = read.s32(data); break;
      case NDA_SRC_VNI: n.srcVni = read.u32(data); break;
      default: break;
    }
  }
  return n;
}

export function nudState(s: NudName | number | undefined, fallback = NUD_PERMANENT): number {
  if (s === undefined) return fallback;
  if (typeof s === 'number') return s;
  const v = NUD[s];
  if (v === undefined) throw new RtnlObjectError('ERR_WEFT_NEIGHBOUR', 'neighbour', `unknown state ${JSON.stringify(s)}`);
  return v;
}

function neighRequest(spec: NeighbourSpec, index: number, type: number, flags: number, verb: string): RequestSpec {
  const ip = parseIp(spec.dst, 'neighbour');
  const mac = spec.lladdr !== undefined ? parseMac(spec.lladdr) : undefined;
  if (spec.lladdr !== undefined && !mac) throw new RtnlObjectError('ERR_WEFT_NEIGHBOUR', `neighbour ${spec.dst}`, `bad lladdr ${JSON.stringify(spec.lladdr)}`);
  const ntf = (spec.proxy ? NTF_PROXY : 0) | (spec.router ? NTF_ROUTER : 0);
  return {
    type,
    flags,
    what: `${verb} neighbour ${spec.proxy ? 'proxy ' : ''}${spec.dst} dev ${spec.dev}`,
    build: (w) => {
      writeNdmsg(w, { family: ip.family, index, state: spec.proxy || type === RTM_DELNEIGH ? 0 : nudState(spec.state), flags: ntf });
      w.binary(NDA_DST, ip.bytes);
      if (mac && type !== RTM_DELNEIGH) w.binary(NDA_LLADDR, mac);
    },
  };
}

/** Sends neighbour requests pipelined; throws the first failure, typed, after all settle. */
async function neighBatch(rtnl: Rtnl, specs: NeighbourSpec[], type: number, flags: number, verb: string, ignoreMissing = false): Promise<void> {
  const cache = new Map<string | number, number>();
  const reqs: RequestSpec[] = [];
  for (const s of specs) {
    let index = cache.get(s.dev);
    if (index === undefined) cache.set(s.dev, (index = await linkIndex(rtnl, s.dev, 'device', `neighbour ${s.dst}`)));
    reqs.push(neighRequest(s, index, type, flags, verb));
  }
  const results = await rtnl.client.bulk(reqs);
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    if (ignoreMissing && isErrno(r.reason, 'ENOENT')) return;
    const s = specs[i]!;
    if (isErrno(r.reason, 'ENODEV')) throw new LinkNotFoundError(String(s.dev), 'device', rtnl.netns, `neighbour ${s.dst}`);
    if (isErrno(r.reason, 'EEXIST', 'ENOENT', 'EINVAL', 'EOPNOTSUPP', 'EAFNOSUPPORT')) throw new RtnlObjectError('ERR_WEFT_NEIGHBOUR', reqs[i]!.what, r.reason);
    throw r.reason;
  });
}

/** Adds a neighbour; ENEIGH (EEXIST) if present. Equivalent to `ip neigh add ADDR lladdr MAC dev DEV nud permanent`. */
export function addNeighbour(rtnl: Rtnl, spec: NeighbourSpec): Promise<void> {
  return neighBatch(rtnl, [spec], RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, 'add');
}

/** Creates or overwrites a neighbour (idempotent). Equivalent to `ip neigh replace ...`. */
export function replaceNeighbour(rtnl: Rtnl, spec: NeighbourSpec): Promise<void> {
  return neighBatch(rtnl, [spec], RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
}

/** Many `ip neigh replace`, pipelined in few datagrams. */
export function replaceNeighbours(rtnl: Rtnl, specs: NeighbourSpec[]): Promise<void> {
  return neighBatch(rtnl, specs, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
}

/** Removes a neighbour. Equivalent to `ip neigh del ADDR dev DEV` (`proxy` for proxy entries). */
export function deleteNeighbour(rtnl: Rtnl, spec: NeighbourSpec, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  return neighBatch(rtnl, [spec], RTM_DELNEIGH, 0, 'delete', opts.ignoreMissing);
}

/** Many `ip neigh del`, pipelined. */
export function deleteNeighbours(rtnl: Rtnl, specs: NeighbourSpec[], opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  return neighBatch(rtnl, specs, RTM_DELNEIGH, 0, 'delete', opts.ignoreMissing);
}

/**
 * IP neighbours (not FDB entries). Equivalent to `ip neigh show [dev DEV]`,
 * or `ip neigh show proxy` with `proxy: true`.
 */
export async function listNeighbours(rtnl: Rtnl, filter: { dev?: string | number; family?: number; proxy?: boolean } = {}): Promise<Neighbour[]> {
  const index = filter.dev !== undefined ? await linkIndex(rtnl, filter.dev, 'device') : undefined;
  const replies = await rtnl.client.dump({
    type: RTM_GETNEIGH,
    what: 'neighbour dump',
    build: (w) => writeNdmsg(w, { family: filter.family ?? AF_UNSPEC, flags: filter.proxy ? NTF_PROXY : 0 }),
  });
  return replies
    .filter((m) => m.type === RTM_NEWNEIGH)
    .map(decodeNeighbour)
    .filter((n) => n.family !== 7 && (index === undefined || n.index === index) && (filter.family === undefined || n.family === filter.family)
      && (filter.proxy ? (n.flags & NTF_PROXY) !== 0 : (n.flags & NTF_PROXY) === 0));
}
