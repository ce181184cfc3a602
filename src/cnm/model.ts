/**
 * The driver model's records, as persisted in the store (`networks/<id>`,
 * `endpoints/<id>`). Everything a driver needs to rebuild kernel state after
 * a restart is here: Docker never replays CreateNetwork (docs/plugin-protocol.md).
 */
import { createHash } from 'node:crypto';
import { parseIPv4Into } from '../wire/ip.js';

export type NetworkMode = 'bridge' | 'overlay' | 'macvlan';

export interface SubnetRecord {
  pool: string;
  /** Gateway as CIDR (a.b.c.d/len), when Docker allocated one. */
  gateway?: string;
  aux: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  mode: NetworkMode;
  mtu: number;
  internal: boolean;
  ipv6: boolean;
  ipv4: SubnetRecord[];
  ipv6Subnets: SubnetRecord[];
  /** Driver options as Docker passed them (com.docker.network.generic). */
  options: Record<string, string>;
  /** overlay: VXLAN network identifier. */
  vni?: number;
  /** macvlan: parent link, macvlan mode, and whether weft created the VLAN sub-interface. */
  parent?: string;
  macvlanMode?: 'bridge' | 'private' | 'vepa' | 'passthru';
  createdParent?: boolean;
  /** bridge: masquerade traffic leaving the host. */
  masquerade?: boolean;
  /** bridge: the bridge's link name, allocated once (see linkName); absent in records from before names were allocated. */
  bridgeName?: string;
  /** Host that created it (global networks). */
  host?: string;
  /** When it was created (ms since the epoch): reconciliation with Docker leaves young networks alone. */
  created?: number;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  /** CIDR. */
  address?: string;
  addressV6?: string;
  mac: string;
  /** The link Docker moves into the sandbox (Join's SrcName). */
  srcName: string;
  /** The link that stays (bridge port / overlay br0 port), if any. */
  portName?: string;
  sandboxKey?: string;
  /** When it was created and when it joined a sandbox (ms since the epoch): reconciliation with Docker leaves young endpoints alone. */
  created?: number;
  joined?: number;
  /** Host this endpoint lives on (multi-host). */
  host?: string;
  /** Service name from Docker label weft.service, for DNS and the mesh. */
  names?: string[];
  /**
   * This host's own leg into an overlay network (Docker's ingress-sbox):
   * its address is where the routing mesh sends from, so replies from
   * backends on any host come back here. Not a Docker endpoint.
   */
  ingress?: boolean;
  /** Published ports (ProgramExternalConnectivity), host port resolved; persisted before Docker gets its answer. */
  ports?: PortBinding[];
}

/** One published port: host side (HostIP optional) to the endpoint's own address and port. */
export interface PortBinding {
  proto: 'tcp' | 'udp' | 'sctp';
  /** Only traffic to this host address is forwarded; absent: every local address. */
  hostIp?: string;
  hostPort: number;
  port: number;
}

/** `-o encrypted` (Docker passes it as option `encrypted`, "" or "true"). */
export function isEncrypted(options: Record<string, string>): boolean {
  const v = options['encrypted'];
  return v !== undefined && v !== 'false' && v !== '0';
}

/** The aux address (`--aux-address weft-host=IP`) naming the host's own address on a macvlan network. */
export const HOST_AUX = 'weft-host';

/** The host's own address on a macvlan network, as a CIDR, if the network reserved one. */
export function macvlanHostAddress(n: NetworkRecord): string | undefined {
  for (const s of n.ipv4) {
    const a = s.aux[HOST_AUX];
    if (a) return a.includes('/') ? a : `${a}/${s.pool.split('/')[1]}`;
  }
  return undefined;
}

/**
 * Kernel object names: weft's prefix lets operators and the reconciler tell
 * them apart. Link names of current records come from linkName() and are
 * stored in the record; these derivations name the links of records written
 * before that (and the overlay namespaces, which have no length limit).
 */
export const names = {
  prefix: 'wf',
  bridge: (networkId: string) => `wf-br-${networkId.slice(0, 9)}`,
  /** Named namespace of an overlay network; `instance` separates daemons sharing one machine (lab hosts). */
  overlayNetns: (networkId: string, instance = '') => `wf-ov-${instance ? `${instance}-` : ''}${networkId.slice(0, 12)}`,
  vxlan: (vni: number) => `wf-vx-${vni}`,
  /** The link Docker moves into the container. */
  src: (endpointId: string) => `wfc${endpointId.slice(0, 12)}`,
  /** The veth end that stays on the bridge. */
  port: (endpointId: string) => `wfv${endpointId.slice(0, 12)}`,
  /** This host's ingress leg into an overlay network (host side). */
  ingress: (networkId: string) => `wfi${networkId.slice(0, 12)}`,
  /** Host end of an overlay network's egress leg (its other end is `eg0` in the overlay namespace). */
  egress: (networkId: string) => `wfe${networkId.slice(0, 12)}`,
  /** The host's own macvlan on a macvlan network's parent (`--aux-address weft-host=IP`). */
  macvlanHost: (networkId: string) => `wfm${networkId.slice(0, 12)}`,
};

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  for (let i = 0; out.length < chars; i++) {
    const bit = i * 5;
    const v = ((bytes[bit >> 3]! << 8) | (bytes[(bit >> 3) + 1] ?? 0)) >> (11 - (bit & 7));
    out += B32[v & 31];
  }
  return out;
}

const hash = (text: string) => createHash('sha256').update(text).digest();

/** Three characters naming a daemon instance inside its links ('' is the default instance). */
export function instanceTag(instance: string): string {
  return base32(hash(`weft-instance/${instance}`), 3);
}

export type LinkKind = 'bridge' | 'container' | 'port' | 'ingress';
const KIND_LETTER: Record<LinkKind, string> = { bridge: 'b', container: 'c', port: 'v', ingress: 'i' };

/**
 * A link name for an object: `wf` + kind letter + the instance tag + 9
 * characters of a hash of the object ID and `attempt` (15 characters, the
 * kernel's IFNAMSIZ limit). The caller allocates: it tries attempt 0, 1, …
 * until the name is not taken by another record, and stores the result, so
 * two IDs sharing a prefix never share a link and the name never changes.
 */
export function linkName(kind: LinkKind, instance: string, id: string, attempt = 0): string {
  return `wf${KIND_LETTER[kind]}${instanceTag(instance)}${base32(hash(`${id}/${attempt}`), 9)}`;
}

/** Whether a link name is one linkName() gives this instance (so this daemon may sweep it). */
export function ownsLinkName(name: string, instance: string): boolean {
  return name.length === 15 && /^wf[bcvi]$/.test(name.slice(0, 3)) && name.slice(3, 6) === instanceTag(instance) && /^[a-z2-7]{9}$/.test(name.slice(6));
}

/** The bridge link of a bridge-mode network. */
export const bridgeOf = (n: NetworkRecord): string => n.bridgeName ?? names.bridge(n.id);
/** The endpoint link that stays on the host side (bridge port, overlay br0 port). */
export const portOf = (ep: EndpointRecord): string => ep.portName ?? names.port(ep.id);

/** Deterministic locally administered MAC from an IPv4 address, as Docker does (02:42:ip). */
export function macFromAddress(cidr: string | undefined, fallbackSeed: string): string {
  const v4 = new Uint8Array(4);
  const bytes = cidr !== undefined && parseIPv4Into(cidr.split('/')[0]!, v4)
    ? [...v4]
    : [0, 1, 2, 3].map((i) => parseInt(fallbackSeed.slice(i * 2, i * 2 + 2) || '0', 16) || 0);
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
