/**
 * What a network mode implements. Every method is idempotent: called again
 * with the same record it changes nothing, so the reconciler can call it on
 * every start and Docker's retries are harmless.
 */
import type { EndpointRecord, NetworkRecord, SubnetRecord } from './model.js';
import { containsAddress, ipToBigint, parseCidr } from './cidr.js';

export interface JoinInfo {
  gateway?: string;
  gatewayV6?: string;
  staticRoutes?: { destination: string; routeType: 0 | 1; nextHop?: string }[];
}

export interface NetworkDriver {
  readonly mode: NetworkRecord['mode'];
  /** Checks options before anything is stored (throws NetworkOptionError). */
  validate(n: NetworkRecord): void;
  /** Builds the network's kernel side; may return record fields to persist (e.g. what it created). */
  ensureNetwork(n: NetworkRecord): Promise<Partial<NetworkRecord> | void>;
  /** `remaining`: the other networks, so shared objects (a VLAN parent) outlive only their last user. */
  removeNetwork(n: NetworkRecord, remaining: NetworkRecord[]): Promise<void>;
  /** Creates the link Docker moves into the sandbox (unless already moved) and its port. */
  ensureEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void>;
  removeEndpoint(n: NetworkRecord, ep: EndpointRecord): Promise<void>;
  joinInfo(n: NetworkRecord, ep: EndpointRecord): JoinInfo;
  /** Kernel objects this driver created that no record explains any more. */
  sweepOrphans(networks: NetworkRecord[], endpoints: EndpointRecord[]): Promise<string[]>;
}

/**
 * The gateway a container gets, per family: the gateway of the subnet that
 * holds the endpoint's own address (as Docker's macvlan does), else the
 * first subnet's; a bare IP (a CIDR there fails Docker's Join). Internal
 * networks get none.
 */
export function gatewayJoinInfo(n: NetworkRecord, ep?: EndpointRecord): JoinInfo {
  if (n.internal) return {};
  const info: JoinInfo = {};
  const gw = subnetOf(n.ipv4, ep?.address)?.gateway?.split('/')[0];
  const gw6 = subnetOf(n.ipv6Subnets, ep?.addressV6)?.gateway?.split('/')[0];
  if (gw) info.gateway = gw;
  if (gw6) info.gatewayV6 = gw6;
  return info;
}

/** The subnet holding address (a CIDR or bare IP); the first one when none does. */
export function subnetOf(subnets: SubnetRecord[], address: string | undefined): SubnetRecord | undefined {
  if (address) {
    const { value } = ipToBigint(address.split('/')[0]!);
    const own = subnets.find((s) => containsAddress(parseCidr(s.pool, false), value));
    if (own) return own;
  }
  return subnets[0];
}
