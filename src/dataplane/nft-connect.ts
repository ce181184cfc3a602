/**
 * Host-side connectivity of weft networks as one nftables table,
 * `table ip weft_connect`, replaced as a whole in one transaction on every
 * change (add+delete+add of the table in one batch: atomic, nothing outside
 * the table touched), so reconciling after a crash is just applying again.
 *
 *   prerouting (nat, dstnat)   fib daddr type local -> jump ports
 *   output     (nat, dstnat)   same for the host's own clients, 127.0.0.1 included (what Docker's
 *                              userland proxy gives); such flows leave with route_localnet on the
 *                              link and are masqueraded
 *   ports                      [ip daddr HOSTIP] meta l4proto P th dport N dnat to C:PORT
 *   postrouting (nat, srcnat)  loopback-sourced flows are masqueraded;
 *                              hairpin: DNAT'd flows back into their own network are masqueraded;
 *                              egress: a network's subnet leaving through anything but its own link
 *   forward (filter)           an internal network reaches nothing but itself; DNAT'd flows
 *                              pass; otherwise no weft network reaches another
 */
import { nftApply } from '../io/nft.js';

export const CONNECT_TABLE = 'weft_connect';
const T = { family: 'ip', table: CONNECT_TABLE };

export interface ConnectNetwork {
  /** The host-side link of the network: its bridge, or an overlay's egress leg. */
  link: string;
  /** IPv4 subnets (CIDR). */
  subnets: string[];
  internal: boolean;
  /** Masquerade the subnets' traffic leaving through another link. */
  masquerade: boolean;
  /** Masquerade every published (DNAT'd) flow entering the network, not only hairpins. */
  masqueradeInbound?: boolean;
}

export interface ConnectPort {
  proto: 'tcp' | 'udp' | 'sctp';
  hostIp?: string;
  hostPort: number;
  address: string;
  port: number;
}

export interface ConnectState {
  networks: ConnectNetwork[];
  ports: ConnectPort[];
}

type Expr = Record<string, unknown>;
const match = (left: Expr, right: unknown, op = '==') => ({ match: { op, left, right } });
const meta = (key: string) => ({ meta: { key } });
const saddr = { payload: { protocol: 'ip', field: 'saddr' } };
const daddr = { payload: { protocol: 'ip', field: 'daddr' } };
const prefix = (cidr: string) => {
  const [addr, len] = cidr.split('/');
  return { prefix: { addr, len: Number(len) } };
};
const anyOf = (items: unknown[]) => (items.length === 1 ? items[0] : { set: items });
const rule = (chain: string, expr: Expr[]) => ({ add: { rule: { ...T, chain, expr } } });
const chain = (name: string, base?: { type: string; hook: string; prio: number }) =>
  ({ add: { chain: { ...T, name, ...(base ? { ...base, policy: 'accept' } : {}) } } });
const localDst = match({ fib: { result: 'type', flags: ['daddr'] } }, 'local');
const dnatted = match({ ct: { key: 'status' } }, 'dnat', 'in');

/** The whole table for a state, as one nft JSON batch (table first removed, then rebuilt). */
export function connectBatch(state: ConnectState): { nftables: Record<string, unknown>[] } {
  const out: Record<string, unknown>[] = [
    { add: { table: { family: T.family, name: T.table } } },
    { delete: { table: { family: T.family, name: T.table } } },
  ];
  if (state.networks.length === 0 && state.ports.length === 0) return { nftables: out };
  out.push(
    { add: { table: { family: T.family, name: T.table } } },
    chain('prerouting', { type: 'nat', hook: 'prerouting', prio: -100 }),
    chain('output', { type: 'nat', hook: 'output', prio: -100 }),
    chain('postrouting', { type: 'nat', hook: 'postrouting', prio: 100 }),
    chain('forward', { type: 'filter', hook: 'forward', prio: 0 }),
    chain('ports'),
    rule('prerouting', [localDst, { jump: { target: 'ports' } }]),
    rule('output', [localDst, { jump: { target: 'ports' } }]),
  );
  for (const p of state.ports) {
    out.push(rule('ports', [
      ...(p.hostIp ? [match(daddr, p.hostIp)] : []),
      match(meta('l4proto'), p.proto),
      match({ payload: { protocol: 'th', field: 'dport' } }, p.hostPort),
      { dnat: { family: 'ip', addr: p.address, port: p.port } },
    ]));
  }
  const links = state.networks.map((n) => n.link);
  if (links.length > 0) out.push(rule('postrouting', [match(saddr, prefix('127.0.0.0/8')), match(meta('oifname'), anyOf(links)), { masquerade: null }]));
  for (const n of state.networks.filter((x) => x.internal)) {
    out.push(rule('forward', [match(meta('iifname'), n.link), match(meta('oifname'), n.link, '!='), { drop: null }]));
    out.push(rule('forward', [match(meta('oifname'), n.link), match(meta('iifname'), n.link, '!='), { drop: null }]));
  }
  out.push(rule('forward', [dnatted, { accept: null }]));
  for (const n of state.networks) {
    if (n.masqueradeInbound) out.push(rule('postrouting', [dnatted, match(meta('oifname'), n.link), { masquerade: null }]));
    else if (n.subnets.length > 0) {
      out.push(rule('postrouting', [dnatted, match(meta('oifname'), n.link), match(saddr, anyOf(n.subnets.map(prefix))), { masquerade: null }]));
    }
    if (n.subnets.length > 0 && n.masquerade && !n.internal) {
      out.push(rule('postrouting', [match(saddr, anyOf(n.subnets.map(prefix))), match(meta('oifname'), n.link, '!='), { masquerade: null }]));
    }
    if (!n.internal && links.length > 1) {
      out.push(rule('forward', [
        match(meta('iifname'), n.link), match(meta('oifname'), n.link, '!='), match(meta('oifname'), anyOf(links)), { drop: null },
      ]));
    }
  }
  return { nftables: out };
}

/** Applies the state in one transaction in netns (or ours). */
export async function applyConnect(netns: string | undefined, state: ConnectState): Promise<void> {
  await nftApply(netns, connectBatch(state));
}
