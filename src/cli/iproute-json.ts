/**
 * Objects shaped like iproute2's `-j` output, so operators' jq filters and
 * habits carry over. Field names follow `ip -j -d link show`.
 */
import { ARPHRD_NAMES, IFF_LOWER_UP, IFF_NAMES, IFF_UP, OPERSTATE_NAMES } from '../netlink/rtnetlink/constants.js';
import type { Link } from '../netlink/rtnetlink/link.js';
import { kindDataJson } from '../netlink/rtnetlink/link-kinds/index.js';
import type { Address } from '../netlink/rtnetlink/addr.js';
import type { Route } from '../netlink/rtnetlink/route.js';
import type { Neighbour } from '../netlink/rtnetlink/neigh.js';
import {
  AF_INET, AF_INET6, NTF_EXT_LEARNED, NTF_MASTER, NTF_OFFLOADED, NTF_PROXY, NTF_ROUTER, NTF_SELF, NTF_STICKY, NUD_NAMES,
  NUD_NOARP, NUD_PERMANENT, NUD_STALE, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RTPROT_BOOT, RTPROT_KERNEL, RTPROT_STATIC,
} from '../netlink/rtnetlink/constants.js';

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
    const data = kindDataJson(link, (i) => byIndex.get(i)?.name);
    if (data) info.info_data = data;
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

const SCOPE_NAMES: Record<number, string> = { [RT_SCOPE_UNIVERSE]: 'global', 200: 'site', [RT_SCOPE_LINK]: 'link', [RT_SCOPE_HOST]: 'host', 255: 'nowhere' };
const familyName = (f: number) => (f === AF_INET ? 'inet' : f === AF_INET6 ? 'inet6' : String(f));

/** `ip -j addr show`: one object per link with its addr_info list. */
export function addressesToJson(links: Link[], addrs: Address[], all: Link[] = links): Json[] {
  const byLink = new Map<number, Address[]>();
  for (const a of addrs) byLink.set(a.index, [...(byLink.get(a.index) ?? []), a]);
  const byIndex = new Map(all.map((l) => [l.index, l]));
  return links.map((l) => {
    const j = linkToJson(l, byIndex);
    delete j.linkinfo;
    j.addr_info = (byLink.get(l.index) ?? []).map((a) => {
      const ai: Json = { family: familyName(a.family), local: a.local };
      if (a.peer !== undefined) ai.address = a.peer;
      ai.prefixlen = a.prefixLength;
      if (a.broadcast !== undefined) ai.broadcast = a.broadcast;
      ai.scope = SCOPE_NAMES[a.scope] ?? String(a.scope);
      if (a.flags & 0x02) ai.nodad = true;
      if (a.flags & 0x40) ai.tentative = true;
      if (a.label !== undefined) ai.label = a.label;
      if (a.validLifetime !== undefined) ai.valid_life_time = a.validLifetime;
      if (a.preferredLifetime !== undefined) ai.preferred_life_time = a.preferredLifetime;
      return ai;
    });
    return j;
  });
}

const PROTO_NAMES: Record<number, string> = { [RTPROT_KERNEL]: 'kernel', [RTPROT_BOOT]: 'boot', [RTPROT_STATIC]: 'static', 1: 'redirect', 9: 'ra' };
const ROUTE_TYPE_NAMES: Record<number, string> = { 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };

/** `ip -j route show`: iproute2 omits protocol boot, scope global and type unicast. */
export function routeToJson(r: Route, names: Map<number, string>): Json {
  const j: Json = {};
  if (ROUTE_TYPE_NAMES[r.type]) j.type = ROUTE_TYPE_NAMES[r.type];
  j.dst = r.dst;
  if (r.gateway !== undefined) j.gateway = r.gateway;
  if (r.oif !== undefined) j.dev = names.get(r.oif) ?? `if${r.oif}`;
  if (r.protocol !== RTPROT_BOOT) j.protocol = PROTO_NAMES[r.protocol] ?? String(r.protocol);
  if (r.scope !== RT_SCOPE_UNIVERSE) j.scope = SCOPE_NAMES[r.scope] ?? String(r.scope);
  if (r.prefsrc !== undefined) j.prefsrc = r.prefsrc;
  if (r.metric !== undefined) j.metric = r.metric;
  j.flags = [];
  return j;
}

export function nudNames(state: number): string[] {
  return NUD_NAMES.filter(([bit]) => state & bit).map(([, n]) => n);
}

/** `ip -j neigh show` (and `show proxy`). */
export function neighToJson(n: Neighbour, names: Map<number, string>): Json {
  const j: Json = {};
  if (n.dst !== undefined) j.dst = n.dst;
  j.dev = names.get(n.index) ?? `if${n.index}`;
  if (n.lladdr !== undefined) j.lladdr = n.lladdr;
  if (n.flags & NTF_ROUTER) j.router = null;
  if (n.flags & NTF_PROXY) j.proxy = null;
  else j.state = n.state === 0 ? ['NONE'] : nudNames(n.state);
  return j;
}

/** `bridge -j fdb show`. */
export function fdbToJson(n: Neighbour, names: Map<number, string>): Json {
  const j: Json = { mac: n.lladdr ?? '' };
  j.ifname = names.get(n.index) ?? `if${n.index}`;
  if (n.vlan !== undefined) j.vlan = n.vlan;
  if (n.master !== undefined) j.master = names.get(n.master) ?? String(n.master);
  if (n.dst !== undefined) j.dst = n.dst;
  if (n.port !== undefined) j.port = n.port;
  if (n.vni !== undefined) j.vni = n.vni;
  if (n.srcVni !== undefined) j.src_vni = n.srcVni;
  if (n.via !== undefined) j.via = names.get(n.via) ?? String(n.via);
  if (n.linkNetnsId !== undefined) j.linkNetNsId = n.linkNetnsId;
  const flags: string[] = [];
  if (n.flags & NTF_SELF) flags.push('self');
  if (n.flags & NTF_ROUTER) flags.push('router');
  if (n.flags & NTF_EXT_LEARNED) flags.push('extern_learn');
  if (n.flags & NTF_OFFLOADED) flags.push('offload');
  if (n.flags & NTF_MASTER) flags.push('master');
  if (n.flags & NTF_STICKY) flags.push('sticky');
  j.flags = flags;
  j.state = n.state & NUD_PERMANENT ? 'permanent' : n.state & NUD_NOARP ? 'static' : n.state & NUD_STALE ? 'stale' : '';
  return j;
}
