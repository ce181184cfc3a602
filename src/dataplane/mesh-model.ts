/**
 * The ingress routing mesh's desired state: services with published ports
 * and backends, the host's place among its peers, and the marks that tie
 * the pieces together. Pure data and validation; backends (nft, IPVS) turn
 * a MeshState into kernel state.
 *
 * Marks (skb/conntrack marks, 32 bit):
 * - per (service, published port) a firewall mark from SERVICE_MARK_BASE
 *   up, as Docker's fwMarkCtr (which starts at 256), but in a weft-owned
 *   range so other mark users (kube-proxy's 0x4000, Docker's 256+) do not
 *   collide;
 * - per peer host P a reply mark PEER_MARK_BASE|P for the source-preserving
 *   mode (see mesh-routing.ts).
 */
import { InvalidArgumentError } from '../errors.js';
import { isIPv4 } from '../wire/ip.js';

export const SERVICE_MARK_BASE = 0x57460100;
export const SERVICE_MARK_LIMIT = 0x5746ffff;
export const PEER_MARK_BASE = 0x57460000;
/** DSCP carries the ingress host index (1..63) to the backend's host. */
export const MAX_HOST_INDEX = 63;

export type MeshProtocol = 'tcp' | 'udp';

export interface PublishedPort {
  published: number;
  target: number;
  protocol: MeshProtocol;
}

/**
 * `masquerade`: Docker's behaviour; the ingress host SNATs, so replies come
 * back through it and backends see the ingress host's address.
 * `preserve-source`: no SNAT; the backend's host routes replies back to the
 * ingress host (DSCP-tagged first hop + conntrack mark + policy routing), so
 * backends see the client's address (what moby#25526 asks for).
 */
export type MeshMode = 'masquerade' | 'preserve-source';

/** rr/wrr: round robin (weighted); random; sh: source hash; lc: least connections (IPVS only). */
export type MeshScheduler = 'rr' | 'wrr' | 'random' | 'sh' | 'lc';
export const NFT_SCHEDULERS: readonly MeshScheduler[] = ['rr', 'wrr', 'random', 'sh'];

export interface ServiceSpec {
  name: string;
  network: string;
  /** Service VIP on its network (informational for now: the mesh publishes ports). */
  vip?: string;
  ports: PublishedPort[];
  mode?: MeshMode;
  scheduler?: MeshScheduler;
}

export interface MeshBackendAddr {
  address: string;
  weight?: number;
  /** Host index of the host the backend runs on, when known (skips the DSCP tag for local ones). */
  host?: number;
}

export interface MeshService extends Required<Omit<ServiceSpec, 'vip'>> {
  vip?: string;
  /** Mark per published port, same order as `ports`. */
  marks: number[];
  backends: Array<{ address: string; weight: number; host?: number }>;
}

export interface MeshPeer {
  /** 1..63, unique across the cluster. */
  index: number;
  /** Underlay address replies are routed to. */
  address: string;
}

export interface MeshState {
  /** This host's index (1..63); 0 = unknown (source-preserving replies are then not steered). */
  hostIndex: number;
  peers: MeshPeer[];
  services: MeshService[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `8080:80/tcp`, `8080:80` (tcp), `53/udp` (same port inside). */
export function parsePublish(text: string): PublishedPort {
  const m = /^(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`bad published port ${JSON.stringify(text)} (want PUBLISHED[:TARGET][/tcp|udp])`);
  const published = Number(m[1]);
  const target = m[2] ? Number(m[2]) : published;
  for (const p of [published, target]) if (p < 1 || p > 65535) throw new InvalidArgumentError(`port ${p} out of range in ${JSON.stringify(text)}`);
  return { published, target, protocol: (m[3] ?? 'tcp') as MeshProtocol };
}

export function formatPublish(p: PublishedPort): string {
  return `${p.published}:${p.target}/${p.protocol}`;
}

export function validateService(spec: ServiceSpec): void {
  if (!NAME_RE.test(spec.name)) throw new InvalidArgumentError(`bad service name ${JSON.stringify(spec.name)}`);
  if (!NAME_RE.test(spec.network)) throw new InvalidArgumentError(`bad network name ${JSON.stringify(spec.network)}`);
  if (spec.vip !== undefined && !isIPv4(spec.vip)) throw new InvalidArgumentError(`bad VIP ${JSON.stringify(spec.vip)} (IPv4 only)`);
  if (!Array.isArray(spec.ports) || spec.ports.length === 0) throw new InvalidArgumentError(`service ${spec.name} publishes no port`);
  const seen = new Set<string>();
  for (const p of spec.ports) {
    for (const n of [p.published, p.target]) if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`bad port ${n}`);
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') throw new InvalidArgumentError(`bad protocol ${JSON.stringify(p.protocol)}`);
    const k = `${p.published}/${p.protocol}`;
    if (seen.has(k)) throw new InvalidArgumentError(`port ${k} published twice`);
    seen.add(k);
  }
  if (spec.mode !== undefined && spec.mode !== 'masquerade' && spec.mode !== 'preserve-source') throw new InvalidArgumentError(`bad mode ${JSON.stringify(spec.mode)}`);
  if (spec.scheduler !== undefined && !['rr', 'wrr', 'random', 'sh', 'lc'].includes(spec.scheduler)) throw new InvalidArgumentError(`bad scheduler ${JSON.stringify(spec.scheduler)}`);
}

export function validateBackend(b: MeshBackendAddr): void {
  if (!isIPv4(b.address)) throw new InvalidArgumentError(`bad backend address ${JSON.stringify(b.address)} (IPv4 only)`);
  const w = b.weight ?? 1;
  if (!Number.isInteger(w) || w < 0 || w > 1000) throw new InvalidArgumentError(`bad backend weight ${w} (0..1000)`);
  if (b.host !== undefined && (!Number.isInteger(b.host) || b.host < 0 || b.host > MAX_HOST_INDEX)) throw new InvalidArgumentError(`bad backend host index ${b.host}`);
}

export function validatePeers(hostIndex: number, peers: MeshPeer[]): void {
  if (!Number.isInteger(hostIndex) || hostIndex < 0 || hostIndex > MAX_HOST_INDEX) throw new InvalidArgumentError(`bad host index ${hostIndex} (0..${MAX_HOST_INDEX})`);
  const seen = new Set<number>();
  for (const p of peers) {
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > MAX_HOST_INDEX) throw new InvalidArgumentError(`bad peer index ${p.index}`);
    if (!isIPv4(p.address)) throw new InvalidArgumentError(`bad peer address ${JSON.stringify(p.address)}`);
    if (seen.has(p.index)) throw new InvalidArgumentError(`peer index ${p.index} given twice`);
    seen.add(p.index);
  }
}

/** One mark per published port, lowest free marks first, stable for ports that stay. */
export function assignMarks(used: Set<number>, ports: PublishedPort[], previous?: { ports: PublishedPort[]; marks: number[] }): number[] {
  const out: number[] = [];
  for (const p of ports) {
    const i = previous?.ports.findIndex((q) => q.published === p.published && q.protocol === p.protocol) ?? -1;
    if (i >= 0 && previous!.marks[i] !== undefined) {
      out.push(previous!.marks[i]!);
      continue;
    }
    let m = SERVICE_MARK_BASE;
    while (used.has(m) || out.includes(m)) m++;
    if (m > SERVICE_MARK_LIMIT) throw new InvalidArgumentError('out of service marks');
    out.push(m);
  }
  return out;
}

/** What a mesh backend must do: make the kernel match `state`, idempotently. */
export interface MeshDataplane {
  readonly kind: 'ipvs' | 'nft';
  sync(state: MeshState): Promise<void>;
  /** Removes everything this backend installed. */
  teardown(): Promise<void>;
  close(): void;
}
