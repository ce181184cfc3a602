/**
 * The mesh as one nftables table, `table ip weft_mesh`, replaced as a whole
 * in one transaction on every change (add+delete+add of the table in one
 * `nft -j -f -` batch: atomic, and nothing outside the table is touched).
 *
 *   prerouting (nat, dstnat)   fib daddr type local -> jump published
 *   output     (nat, dstnat)   same, for clients on the host (not 127/8)
 *   published                  meta l4proto . th dport vmap { tcp . 8080 : goto svc-<mark> }
 *   svc-<mark>                 meta mark set <mark>; numgen/jhash mod W vmap { 0 : goto ep-<mark>-0, ... }
 *   ep-<mark>-<i>              [ip dscp set <host>] dnat to <backend>:<target>
 *   postrouting (nat, srcnat)  meta mark { masquerading marks } masquerade
 *   input (filter)             meta mark { marks without backends } reject (RST / port unreachable)
 *   steer (filter, mangle)     replies of source-preserving flows (mesh-routing.ts)
 *
 * Connections already established keep their conntrack NAT binding when a
 * backend goes; new ones no longer reach it as soon as the batch commits.
 * With `ipvs: true` the same table only marks (IPVS fwmark services do the
 * balancing) and masquerades.
 */
import { InvalidArgumentError } from '../errors.js';
import { type NftJson, nftApply, nftList } from '../io/nft.js';
import { type MeshDataplane, type MeshService, type MeshState, PEER_MARK_BASE } from './mesh-model.js';

export const NFT_TABLE = 'weft_mesh';
const FAMILY = 'ip';

type Expr = Record<string, unknown>;

const T = { family: FAMILY, table: NFT_TABLE };
const rule = (chain: string, expr: Expr[], comment?: string) => ({ add: { rule: { ...T, chain, expr, ...(comment ? { comment } : {}) } } });
const chain = (name: string, base?: { type: string; hook: string; prio: number }) =>
  ({ add: { chain: { ...T, name, ...(base ? { ...base, policy: 'accept' } : {}) } } });
const match = (left: Expr, right: unknown, op = '==') => ({ match: { op, left, right } });
const meta = (key: string) => ({ meta: { key } });
const goto = (target: string) => ({ goto: { target } });
const setOf = (items: unknown[]) => (items.length === 1 ? items[0] : { set: items });

/** The key that picks a bucket for the service's scheduler. */
function selector(scheduler: string, mod: number): Expr {
  switch (scheduler) {
    case 'rr':
    case 'wrr':
      return { numgen: { mode: 'inc', mod, offset: 0 } };
    case 'random':
      return { numgen: { mode: 'random', mod, offset: 0 } };
    case 'sh':
      return { jhash: { mod, seed: 0x5746, expr: { payload: { protocol: 'ip', field: 'saddr' } } } };
    default:
      throw new InvalidArgumentError(`scheduler ${scheduler} needs the ipvs mesh backend (nftables has rr, wrr, random, sh)`);
  }
}

/** Chain and buckets of one (service, port): weight w takes w consecutive buckets. */
function serviceChains(svc: MeshService, portIndex: number, hostIndex: number, ipvs: boolean): Array<Record<string, unknown>> {
  const port = svc.ports[portIndex]!;
  const mark = svc.marks[portIndex]!;
  const name = `svc-${mark.toString(16)}`;
  const out: Array<Record<string, unknown>> = [chain(name)];
  const preserve = svc.mode === 'preserve-source';
  const head: Expr[] = [{ mangle: { key: meta('mark'), value: mark } }];
  const live = svc.backends.filter((b) => b.weight > 0);
  if (ipvs) {
    // IPVS balances; the DSCP tag must ride every packet to a remote backend, so set it here.
    if (preserve && hostIndex > 0) head.push({ mangle: { key: { payload: { protocol: 'ip', field: 'dscp' } }, value: hostIndex } });
    out.push(rule(name, head, `${svc.name} ${port.published}/${port.protocol}`));
    return out;
  }
  if (live.length === 0) {
    out.push(rule(name, head, `${svc.name} ${port.published}/${port.protocol}: no backends`));
    return out;
  }
  const elems: unknown[] = [];
  let bucket = 0;
  live.forEach((b, i) => {
    const ep = `ep-${mark.toString(16)}-${i}`;
    out.push(chain(ep));
    // nft wants the protocol pinned before a port mapping.
    const exprs: Expr[] = [match(meta('l4proto'), port.protocol)];
    // The DSCP tag only matters on the first packet: the backend's host keys its conntrack mark on it.
    if (preserve && hostIndex > 0 && b.host !== hostIndex) exprs.push({ mangle: { key: { payload: { protocol: 'ip', field: 'dscp' } }, value: hostIndex } });
    exprs.push({ dnat: { addr: b.address, port: port.target } });
    out.push(rule(ep, exprs, b.address));
    const w = svc.scheduler === 'wrr' ? b.weight : 1;
    elems.push([w === 1 ? bucket : { range: [bucket, bucket + w - 1] }, goto(ep)]);
    bucket += w;
  });
  out.push(rule(name, [...head, { vmap: { key: selector(svc.scheduler, bucket), data: { set: elems } } }], `${svc.name} ${port.published}/${port.protocol}`));
  return out;
}

/** The whole batch: recreate the table with exactly `state` in it. */
export function buildMeshRuleset(state: MeshState, opts: { ipvs?: boolean } = {}): NftJson {
  const ipvs = opts.ipvs ?? false;
  const cmds: Array<Record<string, unknown>> = [
    { add: { table: { family: FAMILY, name: NFT_TABLE } } },
    { delete: { table: { family: FAMILY, name: NFT_TABLE } } },
    { add: { table: { family: FAMILY, name: NFT_TABLE } } },
  ];
  // IPVS sees packets at LOCAL_IN, so its marks must be set before routing, in a filter chain.
  cmds.push(chain('prerouting', ipvs ? { type: 'filter', hook: 'prerouting', prio: -150 } : { type: 'nat', hook: 'prerouting', prio: -100 }));
  cmds.push(chain('published'));
  const isLocal = match({ fib: { result: 'type', flags: ['daddr'] } }, 'local');
  cmds.push(rule('prerouting', [isLocal, { jump: { target: 'published' } }]));
  if (!ipvs) {
    cmds.push(chain('output', { type: 'nat', hook: 'output', prio: -100 }));
    cmds.push(rule('output', [match({ payload: { protocol: 'ip', field: 'daddr' } }, { prefix: { addr: '127.0.0.0', len: 8 } }, '!='), isLocal, { jump: { target: 'published' } }]));
  }
  const dispatch: unknown[] = [];
  const masq: number[] = [];
  const empty: number[] = [];
  for (const svc of state.services) {
    svc.ports.forEach((p, i) => {
      const mark = svc.marks[i]!;
      cmds.push(...serviceChains(svc, i, state.hostIndex, ipvs));
      dispatch.push([{ concat: [p.protocol, p.published] }, goto(`svc-${mark.toString(16)}`)]);
      if (svc.mode !== 'preserve-source') masq.push(mark);
      if (!svc.backends.some((b) => b.weight > 0)) empty.push(mark);
    });
  }
  if (dispatch.length) {
    cmds.push(rule('published', [{ vmap: { key: { concat: [meta('l4proto'), { payload: { protocol: 'th', field: 'dport' } }] }, data: { set: dispatch } } }]));
  }
  cmds.push(chain('postrouting', { type: 'nat', hook: 'postrouting', prio: 100 }));
  if (masq.length) cmds.push(rule('postrouting', [match(meta('mark'), setOf(masq)), { masquerade: null }]));
  cmds.push(chain('input', { type: 'filter', hook: 'input', prio: 0 }));
  if (empty.length) {
    const m = match(meta('mark'), setOf(empty));
    cmds.push(rule('input', [m, match(meta('l4proto'), 'tcp'), { reject: { type: 'tcp reset' } }], 'published port without backends'));
    cmds.push(rule('input', [m, { reject: { type: 'icmp', expr: 'port-unreachable' } }], 'published port without backends'));
  }
  cmds.push(...steerRules(state));
  return { nftables: cmds };
}

/**
 * Backend side of source-preserving mode: a first packet tagged with DSCP P
 * (P = ingress host) towards one of our backends gets conntrack mark
 * PEER_MARK_BASE|P and its DSCP cleared; replies carry the mark into the
 * skb mark so the policy rule of mesh-routing.ts sends them back via P.
 */
function steerRules(state: MeshState): Array<Record<string, unknown>> {
  const peers = state.peers.filter((p) => p.index !== state.hostIndex);
  const backends = [...new Set(state.services.filter((s) => s.mode === 'preserve-source').flatMap((s) => s.backends.map((b) => b.address)))];
  const out: Array<Record<string, unknown>> = [chain('steer', { type: 'filter', hook: 'prerouting', prio: -160 })];
  if (peers.length === 0 || backends.length === 0) return out;
  const dscp = { payload: { protocol: 'ip', field: 'dscp' } };
  for (const p of peers) {
    out.push(rule('steer', [
      match({ payload: { protocol: 'ip', field: 'daddr' } }, setOf(backends)),
      match(dscp, p.index),
      { mangle: { key: { ct: { key: 'mark' } }, value: PEER_MARK_BASE | p.index } },
      { mangle: { key: dscp, value: 0 } },
    ], `from ingress host ${p.index}`));
  }
  out.push(rule('steer', [
    match({ ct: { key: 'direction' } }, 'reply'),
    match({ '&': [{ ct: { key: 'mark' } }, 0xffffff00] }, PEER_MARK_BASE),
    { mangle: { key: meta('mark'), value: { ct: { key: 'mark' } } } },
  ], 'replies back through the ingress host'));
  return out;
}

/** The nftables mesh dataplane in one namespace. */
export class NftMeshDataplane implements MeshDataplane {
  readonly kind = 'nft' as const;
  constructor(readonly netns: string | undefined, readonly opts: { ipvs?: boolean } = {}) {}

  async sync(state: MeshState): Promise<void> {
    await nftApply(this.netns, buildMeshRuleset(state, this.opts));
  }

  async teardown(): Promise<void> {
    await nftApply(this.netns, { nftables: [{ add: { table: { family: FAMILY, name: NFT_TABLE } } }, { delete: { table: { family: FAMILY, name: NFT_TABLE } } }] });
  }

  /** `nft -j list table ip weft_mesh` (the oracle in tests). */
  list(): Promise<NftJson> {
    return nftList(this.netns, ['table', FAMILY, NFT_TABLE]);
  }

  close(): void {}
}
