/**
 * The managed (v2) plugin's configuration: Docker passes settings as
 * environment variables (`docker plugin set weft:dev WEFT_STORE=…`, see
 * packaging/plugin/config.json); the paths are fixed by the plugin's mounts.
 */
import { InvalidArgumentError } from '../errors.js';
import { parseHostPort } from '../dns/hostport.js';
import type { DaemonOptions } from './daemon.js';

/** Where the plugin's mounts put things inside its rootfs. */
export const PLUGIN_PATHS = {
  socket: '/run/docker/plugins/weft.sock',
  stateDir: '/var/lib/weft',
  dockerSocket: '/var/run/docker.sock',
};

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** DaemonOptions from WEFT_* variables; unset or empty ones take the defaults. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): DaemonOptions & { logLevel: LogLevel } {
  const v = (name: string) => env[name]?.trim() || undefined;
  const o: DaemonOptions & { logLevel: LogLevel } = {
    ...PLUGIN_PATHS,
    store: v('WEFT_STORE') ?? 'embedded',
    dataScope: oneOf('WEFT_DATA_SCOPE', v('WEFT_DATA_SCOPE') ?? 'global', ['local', 'global'] as const),
    logLevel: oneOf('WEFT_LOG_LEVEL', v('WEFT_LOG_LEVEL') ?? 'info', LOG_LEVELS),
  };
  const local = v('WEFT_LOCAL_ADDRESS');
  if (local) o.localAddress = parseHostPort(local).address;
  const dev = v('WEFT_UNDERLAY_DEV');
  if (dev) o.underlayDevice = dev;
  const host = v('WEFT_HOST_NAME');
  if (host) o.hostName = host;
  const instance = v('WEFT_INSTANCE');
  if (instance) {
    if (!/^[A-Za-z0-9-]{1,40}$/.test(instance)) throw new InvalidArgumentError(`WEFT_INSTANCE must be 1-40 letters, digits or '-', got ${JSON.stringify(instance)}`);
    o.instance = instance;
  }
  const upstreams = v('WEFT_DNS_UPSTREAMS');
  if (upstreams) o.dnsUpstreams = upstreams.split(/[\s,]+/).filter(Boolean).map((u) => parseHostPort(u));
  const mesh = v('WEFT_MESH');
  if (mesh) o.mesh = oneOf('WEFT_MESH', mesh, ['auto', 'ipvs', 'nft', 'off'] as const);
  const ttl = v('WEFT_LEASE_TTL');
  if (ttl) {
    if (!/^\d+$/.test(ttl) || Number(ttl) < 2 || Number(ttl) > 3600) throw new InvalidArgumentError(`WEFT_LEASE_TTL must be 2..3600 seconds, got ${JSON.stringify(ttl)}`);
    o.leaseTtl = Number(ttl);
  }
  return o;
}
