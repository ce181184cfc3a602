/**
 * weft's own nftables table for overlay ingress and egress on a host
 * (docs/encryption.md), replaced in one transaction whenever the peer table
 * or the set of encrypted VNIs changes:
 *  - chain `vx_in` (filter, input, priority raw): VXLAN for an encrypted VNI
 *    that did not come out of IPsec (`meta secpath missing`) is counted in
 *    `clear_on_encrypted` and dropped (CVE-2023-28840/-28842); then any
 *    VXLAN from an address that is not a known peer VTEP is counted in
 *    `unknown_vtep` and dropped;
 *  - chain `enc_post` (filter, postrouting): VXLAN for an encrypted VNI whose
 *    route is not an IPsec bundle (`rt ipsec missing`: no policy matched,
 *    e.g. after `ip xfrm policy flush`) is counted in `clear_egress` and
 *    dropped, so the host never sends an encrypted network's frames in clear.
 * Named counters survive updates (only chains, rules and set elements are
 * replaced). The table name carries the daemon's instance so daemons that
 * share a namespace (lab hosts) do not overwrite each other.
 *
 * The mark the XFRM policies select on (0xd0c4e3) is set inside each
 * encrypted network's own namespace (encryptionMarkBatch), on the frames the
 * bridge hands to vxlan0: vxlan's own route lookup then carries the mark and
 * finds the IPsec bundle once (and caches it), where a mark set in the
 * host's output hook would route every datagram a second time.
 */
import { type NftJson, nftApply, nftList } from '../io/nft.js';
import { ENCRYPTION_MARK } from './encryption-keys.js';

export const VXLAN_PORT = 4789;

export interface OverlayFilterSpec {
  /** Peer VTEP addresses (IPv4) allowed to send VXLAN here. */
  peers: string[];
  /** VNIs of encrypted networks on this host. */
  encryptedVnis: number[];
  port?: number;
}

export interface OverlayFilterCounters {
  clearOnEncrypted: number;
  clearEgress: number;
  unknownVtep: number;
}

export function overlayTableName(instance?: string): string {
  return `weft_overlay${instance ? `_${instance.replace(/[^A-Za-z0-9_]/g, '_')}` : ''}`;
}

const udpDport = (port: number) => ({ match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: port } });
const vniIs = (vni: number) => ({ match: { op: '==', left: { payload: { base: 'th', offset: 96, len: 24 } }, right: vni } });

/** The transaction that makes the table match spec. */
export function overlayFilterBatch(table: string, spec: OverlayFilterSpec): NftJson {
  const port = spec.port ?? VXLAN_PORT;
  const t = { family: 'ip', table };
  const rule = (chain: string, expr: unknown[]) => ({ add: { rule: { ...t, chain, expr } } });
  const batch: Array<Record<string, unknown>> = [
    { add: { table: { family: 'ip', name: table } } },
    { add: { counter: { ...t, name: 'clear_on_encrypted' } } },
    { add: { counter: { ...t, name: 'unknown_vtep' } } },
    { add: { counter: { ...t, name: 'clear_egress' } } },
    { add: { set: { ...t, name: 'peer_vteps', type: 'ipv4_addr' } } },
    { flush: { set: { ...t, name: 'peer_vteps' } } },
    { add: { chain: { ...t, name: 'vx_in', type: 'filter', hook: 'input', prio: -300, policy: 'accept' } } },
    { flush: { chain: { ...t, name: 'vx_in' } } },
    { add: { chain: { ...t, name: 'enc_post', type: 'filter', hook: 'postrouting', prio: 0, policy: 'accept' } } },
    { flush: { chain: { ...t, name: 'enc_post' } } },
  ];
  const peers = [...new Set(spec.peers)].sort();
  if (peers.length) batch.push({ add: { element: { ...t, name: 'peer_vteps', elem: peers } } });
  for (const vni of [...new Set(spec.encryptedVnis)].sort((a, b) => a - b)) {
    batch.push(rule('vx_in', [udpDport(port), vniIs(vni),
      { match: { op: '==', left: { meta: { key: 'ipsec' } }, right: false } }, { counter: 'clear_on_encrypted' }, { drop: null }]));
    batch.push(rule('enc_post', [udpDport(port), vniIs(vni),
      { match: { op: '==', left: { rt: { key: 'ipsec' } }, right: false } }, { counter: 'clear_egress' }, { drop: null }]));
  }
  batch.push(rule('vx_in', [udpDport(port),
    { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@peer_vteps' } },
    { counter: 'unknown_vtep' }, { drop: null }]));
  return { nftables: batch };
}

/** The table in an encrypted network's namespace that marks what leaves through its VXLAN device. */
export const ENCRYPTION_MARK_TABLE = 'weft_encrypt';

/**
 * Frames bridged (forward) or sent by the namespace itself (output) to
 * vxlan0 get the policy mark before vxlan routes them. The table lives and
 * dies with the network's namespace, so no restart ever runs without it.
 */
export function encryptionMarkBatch(vxlanDevice = 'vxlan0'): NftJson {
  const t = { family: 'bridge', table: ENCRYPTION_MARK_TABLE };
  const batch: Array<Record<string, unknown>> = [
    { add: { table: { family: 'bridge', name: ENCRYPTION_MARK_TABLE } } },
    { delete: { table: { family: 'bridge', name: ENCRYPTION_MARK_TABLE } } },
    { add: { table: { family: 'bridge', name: ENCRYPTION_MARK_TABLE } } },
  ];
  for (const [name, hook] of [['fwd', 'forward'], ['out', 'output']] as const) {
    batch.push({ add: { chain: { ...t, name, type: 'filter', hook, prio: 0, policy: 'accept' } } });
    batch.push({ add: { rule: { ...t, chain: name, expr: [
      { match: { op: '==', left: { meta: { key: 'oifname' } }, right: vxlanDevice } },
      { mangle: { key: { meta: { key: 'mark' } }, value: ENCRYPTION_MARK } },
    ] } } });
  }
  return { nftables: batch };
}

export async function applyEncryptionMark(netns: string): Promise<void> {
  await nftApply(netns, encryptionMarkBatch());
}

export async function applyOverlayFilter(netns: string | undefined, table: string, spec: OverlayFilterSpec): Promise<void> {
  await nftApply(netns, overlayFilterBatch(table, spec));
}

export async function removeOverlayFilter(netns: string | undefined, table: string): Promise<void> {
  await nftApply(netns, { nftables: [{ add: { table: { family: 'ip', name: table } } }, { delete: { table: { family: 'ip', name: table } } }] });
}

/**
 * The encrypted VNIs the installed table protects (its `enc_post` rules), or
 * none when the table does not exist: what a restarting daemon must keep
 * protecting until it knows its networks again.
 */
export async function installedEncryptedVnis(netns: string | undefined, table: string): Promise<number[]> {
  let out: NftJson;
  try {
    out = await nftList(netns, ['table', 'ip', table]);
  } catch {
    return [];
  }
  const vnis = new Set<number>();
  for (const o of out.nftables) {
    const rule = o.rule as { chain?: string; expr?: { match?: { left?: { payload?: { base?: string; offset?: number } }; right?: unknown } }[] } | undefined;
    if (rule?.chain !== 'enc_post') continue;
    for (const e of rule.expr ?? []) {
      const p = e.match?.left?.payload;
      if (p?.base === 'th' && p.offset === 96 && typeof e.match!.right === 'number') vnis.add(e.match!.right);
    }
  }
  return [...vnis];
}

/** The drop counters (packets), or undefined when the table does not exist. */
export async function overlayFilterCounters(netns: string | undefined, table: string): Promise<OverlayFilterCounters | undefined> {
  let out: NftJson;
  try {
    out = await nftList(netns, ['table', 'ip', table]);
  } catch {
    return undefined;
  }
  const c: OverlayFilterCounters = { clearOnEncrypted: 0, clearEgress: 0, unknownVtep: 0 };
  for (const o of out.nftables) {
    const counter = o.counter as { name?: string; packets?: number } | undefined;
    if (counter?.name === 'clear_on_encrypted') c.clearOnEncrypted = counter.packets ?? 0;
    if (counter?.name === 'unknown_vtep') c.unknownVtep = counter.packets ?? 0;
    if (counter?.name === 'clear_egress') c.clearEgress = counter.packets ?? 0;
  }
  return c;
}
