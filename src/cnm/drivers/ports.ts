/**
 * Published ports (`docker run -p`): what Docker sends in
 * ProgramExternalConnectivity (`com.docker.network.portmap`,
 * docs/plugin-protocol.md), checked, and the host port chosen: HostPort 0
 * takes a free port from Docker's ephemeral range, HostPort..HostPortEnd the
 * first free one in that range (Docker hands a remote driver the request,
 * not an allocation).
 * A port is taken when another weft binding or a socket bound on the host
 * holds it for an overlapping host address.
 */
import { NetworkOptionError, PortInUseError } from '../../errors.js';
import { type PortBinding } from '../model.js';

/** One entry of com.docker.network.portmap as requested. */
export interface PortRequest {
  proto: PortBinding['proto'];
  hostIp?: string;
  hostPort: number;
  hostPortEnd: number;
  port: number;
}

/** Docker's default ephemeral range for `-p PORT` with no host port. */
export const EPHEMERAL = { first: 49153, last: 65535 };
const PROTOS: Record<number, PortBinding['proto']> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

const num = (v: unknown, what: string, min: number): number => {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) throw new NetworkOptionError(`${what} must be a port number, got ${JSON.stringify(v)}`);
  return v;
};

/** Parses the portmap array (null/absent: none). Throws NetworkOptionError on anything weft cannot publish. */
export function parsePortmap(raw: unknown): PortRequest[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new NetworkOptionError('com.docker.network.portmap must be an array');
  return raw.map((e: unknown) => {
    if (e === null || typeof e !== 'object') throw new NetworkOptionError('com.docker.network.portmap entries must be objects');
    const o = e as Record<string, unknown>;
    const proto = PROTOS[o['Proto'] as number];
    if (!proto) throw new NetworkOptionError(`port protocol ${JSON.stringify(o['Proto'])} is not tcp (6), udp (17) or sctp (132)`);
    const hostIp = typeof o['HostIP'] === 'string' ? o['HostIP'] : '';
    if (hostIp !== '' && hostIp !== '0.0.0.0' && !/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp)) {
      throw new NetworkOptionError(`weft publishes IPv4 host addresses only, got HostIP ${JSON.stringify(hostIp)}`);
    }
    const port = num(o['Port'], 'Port', 1);
    if (port === 0) throw new NetworkOptionError('Port (the container port) is required');
    const hostPort = num(o['HostPort'], 'HostPort', 0);
    const hostPortEnd = Math.max(num(o['HostPortEnd'], 'HostPortEnd', 0), hostPort);
    return { proto, ...(hostIp && hostIp !== '0.0.0.0' ? { hostIp } : {}), hostPort, hostPortEnd, port };
  });
}

/** Whether two bindings would catch the same packets. */
function clash(a: { proto: string; hostIp?: string; hostPort: number }, b: { proto: string; hostIp?: string; hostPort: number }): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (!a.hostIp || !b.hostIp || a.hostIp === b.hostIp);
}

export interface Holder {
  binding: PortBinding;
  /** Who holds it, for the error ("endpoint abc of network def"). */
  owner: string;
}

/**
 * Chooses a host port for each request. `taken`: bindings of other endpoints;
 * `bound`: sockets on the host. Throws PortInUseError naming the holder.
 */
export function allocatePorts(reqs: PortRequest[], taken: Holder[], bound: { proto: string; address: string; port: number }[]): PortBinding[] {
  const out: PortBinding[] = [];
  const sockets = bound.map((s) => ({ proto: s.proto, hostPort: s.port, ...(s.address === '0.0.0.0' || s.address === '::' ? {} : { hostIp: s.address }) }));
  const holderOf = (b: { proto: string; hostIp?: string; hostPort: number }): string | undefined => {
    const w = taken.find((t) => clash(t.binding, b));
    if (w) return w.owner;
    if (out.some((o) => clash(o, b))) return 'this container';
    const s = sockets.find((x) => clash(x, b));
    return s ? `a socket on the host (${s.hostIp ?? '*'}:${s.hostPort})` : undefined;
  };
  for (const r of reqs) {
    const [first, last] = r.hostPort === 0 ? [EPHEMERAL.first, EPHEMERAL.last] : [r.hostPort, r.hostPortEnd];
    let chosen: PortBinding | undefined;
    let firstHolder: string | undefined;
    for (let p = first; p <= last && !chosen; p++) {
      const b: PortBinding = { proto: r.proto, ...(r.hostIp ? { hostIp: r.hostIp } : {}), hostPort: p, port: r.port };
      const h = holderOf(b);
      if (h === undefined) chosen = b;
      else firstHolder ??= h;
    }
    if (!chosen) {
      const where = `${r.hostIp ?? '0.0.0.0'}:${first}${last !== first ? `-${last}` : ''}/${r.proto}`;
      throw new PortInUseError(`host port ${where} is already in use by ${firstHolder ?? 'others'}`);
    }
    out.push(chosen);
  }
  return out;
}

/** "0.0.0.0:18080->80/tcp", as `docker ps` prints ports. */
export function formatBinding(b: PortBinding): string {
  return `${b.hostIp ?? '0.0.0.0'}:${b.hostPort}->${b.port}/${b.proto}`;
}
