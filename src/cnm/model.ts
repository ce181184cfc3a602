/**
 * The driver model's records, as persisted in the store (`networks/<id>`,
 * `endpoints/<id>`). Everything a driver needs to rebuild kernel state after
 * a restart is here: Docker never replays CreateNetwork (docs/plugin-protocol.md).
 */
import { WeftError } from '../errors.js';
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
  /** Host that created it (global networks). */
  host?: string;
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
}

export class NetworkNotFoundError extends WeftError {
  constructor(id: string) {
    super('ENONETWORK', `network ${id} not found`);
  }
}

export class EndpointNotFoundError extends WeftError {
  constructor(id: string) {
    super('ENOENDPOINT', `endpoint ${id} not found`);
  }
}

/** A network option weft cannot honour. */
export class NetworkOptionError extends WeftError {
  constructor(message: string) {
    super('EBADOPTION', message);
  }
}

/** `-o encrypted` (Docker passes it as option `encrypted`, "" or "true"). */
export function isEncrypted(options: Record<string, string>): boolean {
  const v = options['encrypted'];
  return v !== undefined && v !== 'false' && v !== '0';
}

/** Kernel object names: weft's prefix lets operators and the reconciler tell them apart. */
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
};

/** Deterministic locally administered MAC from an IPv4 address, as Docker does (02:42:ip). */
export function macFromAddress(cidr: string | undefined, fallbackSeed: string): string {
  const v4 = new Uint8Array(4);
  const bytes = cidr !== undefined && parseIPv4Into(cidr.split('/')[0]!, v4)
    ? [...v4]
    : [0, 1, 2, 3].map((i) => parseInt(fallbackSeed.slice(i * 2, i * 2 + 2) || '0', 16) || 0);
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
