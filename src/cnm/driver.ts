/**
 * What a network mode implements. Every method is idempotent: called again
 * with the same record it changes nothing, so the reconciler can call it on
 * every start and Docker's retries are harmless.
 */
import type { EndpointRecord, NetworkRecord } from './model.js';

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
 * The gateway a container gets: the first subnet's gateway per family, as a
 * bare IP (a CIDR there fails Docker's Join). Internal networks get none.
 */
export function gatewayJoinInfo(n: NetworkRecord): JoinInfo {
  if (n.internal) return {};
  const info: JoinInfo = {};
  const gw = n.ipv4[0]?.gateway?.split('/')[0];
  const gw6 = n.ipv6Subnets[0]?.gateway?.split('/')[0];
  if (gw) info.gateway = gw;
  if (gw6) info.gatewayV6 = gw6;
  return info;
}
