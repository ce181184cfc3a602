/**
 * Outbound NAT for bridge networks (`com.docker.network.bridge.enable_ip_masquerade`
 * or `weft.masquerade=true`): one nftables chain per network in weft's own
 * table `ip weft_nat`, replaced in one transaction; nothing else is touched.
 * Masquerading needs forwarding, so it turns net.ipv4.ip_forward on, as
 * Docker does.
 */
import { nftApply } from '../../io/nft.js';
import { writeSysctls } from '../../io/sysctl.js';
import type { NetworkRecord } from '../model.js';

const TABLE = { family: 'ip', name: 'weft_nat' };

function chainOf(n: NetworkRecord) {
  return { ...TABLE, table: TABLE.name, name: `masq_${n.id.slice(0, 12)}` };
}

/** Installs (or replaces) the masquerade rules of network n for traffic leaving through any other device. */
export async function ensureMasquerade(n: NetworkRecord, bridge: string): Promise<void> {
  const chain = chainOf(n);
  const rules = n.ipv4.map((s) => {
    const [addr, len] = s.pool.split('/');
    return {
      add: {
        rule: {
          family: chain.family, table: chain.table, chain: chain.name,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr, len: Number(len) } } } },
            { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: bridge } },
            { masquerade: null },
          ],
        },
      },
    };
  });
  await nftApply(undefined, {
    nftables: [
      { add: { table: TABLE } },
      { add: { chain: { family: chain.family, table: chain.table, name: chain.name, type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } } },
      { flush: { chain: { family: chain.family, table: chain.table, name: chain.name } } },
      ...rules,
    ],
  });
  await writeSysctls(undefined, { 'net.ipv4.ip_forward': 1 });
}

/** Removes network n's chain; absent is fine (add-then-delete in one transaction). */
export async function removeMasquerade(n: NetworkRecord): Promise<void> {
  const chain = chainOf(n);
  await nftApply(undefined, {
    nftables: [
      { add: { table: TABLE } },
      { add: { chain: { family: chain.family, table: chain.table, name: chain.name } } },
      { delete: { chain: { family: chain.family, table: chain.table, name: chain.name } } },
    ],
  });
}
