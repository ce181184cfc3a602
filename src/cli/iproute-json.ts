/**
 * Objects shaped like iproute2's `-j` output, so operators' jq filters and
 * habits carry over. Field names follow `ip -j -d link show`.
 */
import { ARPHRD_NAMES, IFF_LOWER_UP, IFF_NAMES, IFF_UP, OPERSTATE_NAMES } from '../netlink/rtnetlink/constants.js';
import type { Link } from '../netlink/rtnetlink/link.js';

export type Json = Record<string, unknown>;

/** iproute2's flag list: NO-CARRIER first, M-DOWN when the parent is down. */
export function linkFlags(link: Link, parent: Link | undefined): string[] {
  const out: string[] = [];
  if (link.flags & IFF_UP && !(link.flags & IFF_LOWER_UP)) out.push('NO-CARRIER');
  for (const [bit, name] of IFF_NAMES) if (link.flags & bit) out.push(name);
  if (parent && !(parent.flags & IFF_UP)) out.push('M-DOWN');
  return out;
}

/** One link as `ip -j -d link show` prints it (the fields weft knows). */
export function linkToJson(link: Link, byIndex: Map<number, Link>): Json {
  const parent = link.link !== undefined && link.linkNetnsId === undefined ? byIndex.get(link.link) : undefined;
  const j: Json = { ifindex: link.index };
  if (link.link !== undefined) {
    if (parent) j.link = parent.name;
    else j.link_index = link.link;
    if (link.linkNetnsId !== undefined) j.link_netnsid = link.linkNetnsId;
  }
  j.ifname = link.name;
  j.flags = linkFlags(link, parent);
  if (link.mtu !== undefined) j.mtu = link.mtu;
  if (link.qdisc !== undefined) j.qdisc = link.qdisc;
  if (link.master !== undefined) j.master = byIndex.get(link.master)?.name ?? link.master;
  if (link.operstate !== undefined) j.operstate = OPERSTATE_NAMES[link.operstate] ?? String(link.operstate);
  if (link.txqlen !== undefined) j.txqlen = link.txqlen;
  j.link_type = ARPHRD_NAMES.get(link.type) ?? `[${link.type}]`;
  if (link.address !== undefined) j.address = link.address;
  if (link.broadcast !== undefined) j.broadcast = link.broadcast;
  if (link.promiscuity !== undefined) j.promiscuity = link.promiscuity;
  if (link.minMtu !== undefined) j.min_mtu = link.minMtu;
  if (link.maxMtu !== undefined) j.max_mtu = link.maxMtu;
  if (link.kind !== undefined || link.slaveKind !== undefined) {
    const info: Json = {};
    if (link.kind !== undefined) info.info_kind = link.kind;
    if (link.slaveKind !== undefined) info.info_slave_kind = link.slaveKind;
    j.linkinfo = info;
  }
  if (link.numTxQueues !== undefined) j.num_tx_queues = link.numTxQueues;
  if (link.numRxQueues !== undefined) j.num_rx_queues = link.numRxQueues;
  return j;
}

/** One link as `ip link show` prints it, two lines. */
export function linkToText(link: Link, byIndex: Map<number, Link>): string {
  const j = linkToJson(link, byIndex);
  const name = j.link !== undefined ? `${link.name}@${j.link}` : j.link_index !== undefined ? `${link.name}@if${j.link_index}` : link.name;
  const parts = [`${link.index}: ${name}: <${(j.flags as string[]).join(',')}>`];
  if (j.mtu !== undefined) parts.push(`mtu ${j.mtu}`);
  if (j.qdisc !== undefined) parts.push(`qdisc ${j.qdisc}`);
  if (j.master !== undefined) parts.push(`master ${j.master}`);
  if (j.operstate !== undefined) parts.push(`state ${j.operstate}`);
  const kind = link.kind ? ` ${link.kind}` : '';
  return `${parts.join(' ')}\n    link/${j.link_type} ${link.address ?? ''} brd ${link.broadcast ?? ''}${kind}`;
}
