/**
 * Forwarding database entries (RTM_*NEIGH, family AF_BRIDGE), mostly on
 * VXLAN devices (NTF_SELF): MAC -> remote VTEP, optionally VNI, port and
 * underlay device. `append` with the all-zeros MAC adds one more flood
 * destination (head-end replication); `replace` is the idempotent write.
 */
import type { RequestSpec } from '../client.js';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.js';
import {
  AF_BRIDGE, NDA_DST, NDA_IFINDEX, NDA_LLADDR, NDA_PORT, NDA_VLAN, NDA_VNI, NTF_MASTER, NTF_SELF, NTF_STICKY,
  NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH,
} from './constants.js';
import { isErrno, LinkNotFoundError, RtnlObjectError } from '../../errors.js';
import type { Rtnl } from './handle.js';
import { parseIp } from '../../wire/ip.js';
import { parseMac } from './link.js';
import { linkIndex } from './link-ops.js';
import { type Neighbour, decodeNeighbour, writeNdmsg } from './neigh.js';

export const ZERO_MAC = '00:00:00:00:00:00';

export interface FdbSpec {
  dev: string | number;
  mac: string;
  /** Remote VTEP address (vxlan). */
  dst?: string;
  vni?: number;
  port?: number;
  /** Underlay device for this remote (NDA_IFINDEX). */
  via?: string | number;
  vlan?: number;
  /** Entry in the device's own FDB (default when master is not set). */
  self?: boolean;
  /** Entry in the master bridge's FDB. */
  master?: boolean;
  sticky?: boolean;
  /** permanent (default, as Docker), static (noarp) or dynamic (ages out). */
  state?: 'permanent' | 'static' | 'dynamic';
}

export type FdbOp = 'add' | 'append' | 'replace' | 'del';

const OP_FLAGS: Record<FdbOp, [number, number]> = {
  add: [RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL],
  append: [RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND],
  replace: [RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE],
  del: [RTM_DELNEIGH, 0],
};

function describe(op: FdbOp, s: FdbSpec): string {
  return `fdb ${op} ${s.mac} dev ${s.dev}${s.dst ? ` dst ${s.dst}` : ''}${s.vni !== undefined ? ` vni ${s.vni}` : ''}`;
}

function fdbRequest(op: FdbOp, s: FdbSpec, index: number, via: number | undefined): RequestSpec {
  const [type, flags] = OP_FLAGS[op];
  const what = describe(op, s);
  const mac = parseMac(s.mac);
  if (!mac) throw new RtnlObjectError('ERR_WEFT_FDB', what, `bad MAC ${JSON.stringify(s.mac)}`);
  const dst = s.dst !== undefined ? parseIp(s.dst, 'fdb dst') : undefined;
  if (s.vni !== undefined && !(Number.isInteger(s.vni) && s.vni >= 0 && s.vni <= 0xffffff)) throw new RtnlObjectError('ERR_WEFT_FDB', what, 'vni must be 0..16777215');
  if (s.port !== undefined && !(Number.isInteger(s.port) && s.port >= 1 && s.port <= 65535)) throw new RtnlObjectError('ERR_WEFT_FDB', what, 'port must be 1..65535');
  let ntf = (s.self ? NTF_SELF : 0) | (s.master ? NTF_MASTER : 0) | (s.sticky ? NTF_STICKY : 0);
  if (!(ntf & (NTF_SELF | NTF_MASTER))) ntf |= NTF_SELF;
  const state = s.state === 'static' ? NUD_NOARP : s.state === 'dynamic' ? NUD_REACHABLE : NUD_PERMANENT;
  return {
    type,
    flags,
    what,
    build: (w) => {
      writeNdmsg(w, { family: AF_BRIDGE, index, state: type === RTM_DELNEIGH ? 0 : state, flags: ntf });
      w.binary(NDA_LLADDR, mac);
      if (dst) w.binary(NDA_DST, dst.bytes);
      if (s.port !== undefined) w.be16(NDA_PORT, s.port);
      if (s.vni !== undefined) w.u32(NDA_VNI, s.vni);
      if (via !== undefined) w.u32(NDA_IFINDEX, via);
      if (s.vlan !== undefined) w.u16(NDA_VLAN, s.vlan);
    },
  };
}

/**
 * Runs one FDB operation over many entries, pipelined (many requests per
 * datagram). Throws the first failure, typed, after all settled. Equivalent
 * to `bridge -batch` with `fdb OP MAC dev DEV dst IP ...` lines.
 */
export async function fdbBatch(rtnl: Rtnl, op: FdbOp, specs: FdbSpec[], opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  const cache = new Map<string | number, number>();
  const index = async (ref: string | number, role: 'device', subject: string) => {
    let i = cache.get(ref);
    if (i === undefined) cache.set(ref, (i = await linkIndex(rtnl, ref, role, subject)));
    return i;
  };
  const reqs: RequestSpec[] = [];
  for (const s of specs) {
    const dev = await index(s.dev, 'device', `fdb entry ${s.mac}`);
    const via = s.via !== undefined ? await index(s.via, 'device', `fdb entry ${s.mac}`) : undefined;
    reqs.push(fdbRequest(op, s, dev, via));
  }
  const results = await rtnl.client.bulk(reqs);
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    if (opts.ignoreMissing && isErrno(r.reason, 'ENOENT')) return;
    if (isErrno(r.reason, 'ENODEV')) throw new LinkNotFoundError(String(specs[i]!.dev), 'device', rtnl.netns, `fdb entry ${specs[i]!.mac}`);
    if (isErrno(r.reason, 'EEXIST', 'ENOENT', 'EINVAL', 'EOPNOTSUPP', 'EAFNOSUPPORT', 'ENOSPC')) throw new RtnlObjectError('ERR_WEFT_FDB', reqs[i]!.what, r.reason);
    throw r.reason;
  });
}

/** Equivalent to `bridge fdb add MAC dev DEV [dst IP] [vni N] [port P] self permanent` (EEXIST if present). */
export function addFdb(rtnl: Rtnl, s: FdbSpec): Promise<void> {
  return fdbBatch(rtnl, 'add', [s]);
}
/** Equivalent to `bridge fdb append ...`: one more destination for the MAC (use ZERO_MAC for flooding). */
export function appendFdb(rtnl: Rtnl, s: FdbSpec): Promise<void> {
  return fdbBatch(rtnl, 'append', [s]);
}
/** Equivalent to `bridge fdb replace ...`: creates or overwrites (idempotent). */
export function replaceFdb(rtnl: Rtnl, s: FdbSpec): Promise<void> {
  return fdbBatch(rtnl, 'replace', [s]);
}
/** Equivalent to `bridge fdb del MAC dev DEV [dst IP] [self|master]`. */
export function deleteFdb(rtnl: Rtnl, s: FdbSpec, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  return fdbBatch(rtnl, 'del', [s], opts);
}

/** FDB entries (bridge and device FDBs), optionally of one device. Equivalent to `bridge fdb show [dev DEV]`. */
export async function listFdb(rtnl: Rtnl, filter: { dev?: string | number } = {}): Promise<Neighbour[]> {
  const index = filter.dev !== undefined ? await linkIndex(rtnl, filter.dev, 'device') : undefined;
  const replies = await rtnl.client.dump({
    type: RTM_GETNEIGH,
    what: 'fdb dump',
    build: (w) => writeNdmsg(w, { family: AF_BRIDGE }),
  });
  return replies
    .filter((m) => m.type === RTM_NEWNEIGH)
    .map(decodeNeighbour)
    .filter((n) => n.family === AF_BRIDGE && (index === undefined || n.index === index));
}
