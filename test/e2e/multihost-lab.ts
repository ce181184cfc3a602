/**
 * A multi-host weft lab: N lab hosts on one underlay, one etcd inside the
 * underlay namespace (198.18.0.254:2379, reachable from every host, not
 * from the root namespace), one `weft daemon` per host with its own host
 * name, instance and plugin socket. Endpoints are made through the plugin
 * API the way Docker does it (RequestAddress, CreateEndpoint, Join, then
 * the link moves into a "container" namespace), so hosts need no dockerd.
 * Shared by the multi-host e2e test and bench/convergence.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { type EtcdServer, etcdPairsIn, startEtcd } from '../support/etcd.js';
import { type DockerDaemon, pluginSocketPath, removePluginSocket, startDocker, uniquePluginName } from '../support/docker.js';
import { Lab, type LabHost } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { WeftDaemon } from '../support/weft-daemon.js';

export const ETCD_ADDRESS = '198.18.0.254';
export const ETCD_URL = `etcd://${ETCD_ADDRESS}:2379`;

export interface WeftHost {
  name: string;
  host: LabHost;
  driver: string;
  socket: string;
  instance: string;
  daemon: WeftDaemon;
  /** A real dockerd on this host, when the lab was made with `docker: true`. */
  docker?: DockerDaemon;
}

/** One plugin call over the unix socket; resolves with status and parsed body. */
export function plugin(socket: string, method: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({ socketPath: socket, path: `/${method}`, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) as Record<string, unknown> : {} });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** A plugin call that must succeed. */
export async function call(socket: string, method: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const r = await plugin(socket, method, body);
  if (r.status !== 200) throw new Error(`${method} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const randomId = () => randomBytes(32).toString('hex');

/** What Docker keeps of a network on one host. */
export interface DockerNet {
  id: string;
  poolId: string;
  gateway: string;
  subnet: string;
}

/** `docker network create -d weft --ipam-driver weft --subnet S` as Docker runs it against the plugin. */
export async function createNetwork(socket: string, subnet: string, opts: Record<string, string> = {}, id = randomId()): Promise<DockerNet> {
  const spaces = await call(socket, 'IpamDriver.GetDefaultAddressSpaces');
  // weft reports DataScope local (see GetCapabilities), so Docker asks in the local space.
  const space = String(spaces.LocalDefaultAddressSpace);
  const pool = await call(socket, 'IpamDriver.RequestPool', { AddressSpace: space, Pool: subnet, SubPool: '', Options: {}, V6: false });
  const poolId = String(pool.PoolID);
  const gw = await call(socket, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
  const gateway = String(gw.Address);
  await call(socket, 'NetworkDriver.CreateNetwork', {
    NetworkID: id,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': opts },
    IPv4Data: [{ AddressSpace: space, Pool: subnet, Gateway: gateway, AuxAddresses: {} }],
    IPv6Data: [],
  });
  return { id, poolId, gateway, subnet };
}

/** `docker network rm` against the plugin. */
export async function removeNetwork(socket: string, net: DockerNet): Promise<void> {
  await call(socket, 'IpamDriver.ReleaseAddress', { PoolID: net.poolId, Address: net.gateway.split('/')[0] });
  await call(socket, 'IpamDriver.ReleasePool', { PoolID: net.poolId });
  await call(socket, 'NetworkDriver.DeleteNetwork', { NetworkID: net.id });
}

export interface Endpoint {
  id: string;
  address: string;
  netns: string;
}

/**
 * `docker run --network N` against the plugin: RequestAddress, CreateEndpoint,
 * Join, then the link moves into namespace `ctr` as eth0 with the address.
 * `onCreated` is called right after CreateEndpoint returns (timings).
 */
export async function createEndpoint(lab: Lab, h: WeftHost, net: DockerNet, ctrName: string, onCreated?: () => void): Promise<Endpoint> {
  const addr = String((await call(h.socket, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: '', Options: {} })).Address);
  const id = randomId();
  await call(h.socket, 'NetworkDriver.CreateEndpoint', { NetworkID: net.id, EndpointID: id, Interface: { Address: addr, AddressIPv6: '', MacAddress: '' }, Options: {} });
  onCreated?.();
  const ctr = await lab.netns(ctrName);
  const join = await call(h.socket, 'NetworkDriver.Join', { NetworkID: net.id, EndpointID: id, SandboxKey: `/var/run/netns/${ctr}`, Options: {} });
  const src = String((join.InterfaceName as { SrcName: string }).SrcName);
  await sh(['ip', '-n', h.host.netns, '-batch', '-'], {
    input: `link set ${src} netns ${ctr}\n`,
  });
  await sh(['ip', '-n', ctr, '-batch', '-'], { input: `link set ${src} name eth0\naddr add ${addr} dev eth0\nlink set eth0 up\n` });
  return { id, address: addr.split('/')[0]!, netns: ctr };
}

/** Docker's container stop against the plugin: Leave, DeleteEndpoint, ReleaseAddress, then the namespace goes. */
export async function removeEndpoint(h: WeftHost, net: DockerNet, ep: Endpoint): Promise<void> {
  await call(h.socket, 'NetworkDriver.Leave', { NetworkID: net.id, EndpointID: ep.id });
  await run(['ip', 'netns', 'del', ep.netns]);
  await call(h.socket, 'NetworkDriver.DeleteEndpoint', { NetworkID: net.id, EndpointID: ep.id });
  await call(h.socket, 'IpamDriver.ReleaseAddress', { PoolID: net.poolId, Address: ep.address });
}

/** Pings from a namespace; true when a reply came. */
export async function pings(netns: string, target: string, count = 1, waitS = 2): Promise<boolean> {
  // busybox: this machine has no iputils ping.
  return (await run(['ip', 'netns', 'exec', netns, 'busybox', 'ping', '-q', '-c', String(count), '-W', String(waitS), target])).code === 0;
}

/** The FDB entries weft owns on an overlay namespace's vxlan0: MAC → dst. */
export async function vxlanFdb(ns: string): Promise<{ mac: string; dst: string }[]> {
  const rows = await json<{ mac: string; dst?: string; flags?: string[]; state?: string }[]>(['bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', 'vxlan0']);
  return rows.filter((r) => r.dst && r.mac !== '00:00:00:00:00:00').map((r) => ({ mac: r.mac, dst: r.dst! }));
}

/** Permanent neighbours on vxlan0: IP → MAC. */
export async function vxlanNeigh(ns: string): Promise<{ ip: string; mac: string }[]> {
  const rows = await json<{ dst: string; lladdr?: string; state?: string[] }[]>(['ip', '-n', ns, '-j', 'neigh', 'show', 'dev', 'vxlan0']);
  return rows.filter((r) => r.lladdr && r.state?.includes('PERMANENT')).map((r) => ({ ip: r.dst, mac: r.lladdr! }));
}

export const overlayNs = (h: WeftHost, nid: string) => `wf-ov-${h.instance}-${nid.slice(0, 12)}`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000, stepMs = 100): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
  return Date.now() - t0;
}

export class MultiHostLab {
  readonly hosts: WeftHost[] = [];
  etcd: EtcdServer | undefined;
  ul = '';

  private constructor(readonly lab: Lab) {}

  /** A lab with `n` hosts, etcd in the underlay namespace, and a weft daemon on each host (`weftArgs`: more daemon arguments). */
  static async create(n: number, opts: { leaseTtl?: number; docker?: boolean; weftArgs?: string[] } = {}): Promise<MultiHostLab> {
    const m = new MultiHostLab(await Lab.create());
    try {
      for (let i = 1; i <= n; i++) {
        const host = await m.lab.host(`h${i}`);
        const driver = uniquePluginName('weft');
        const instance = `${m.lab.prefix}-h${i}`;
        const socket = pluginSocketPath(driver);
        // With docker, each host runs its own dockerd, and its weft daemon follows it for names.
        const docker = opts.docker ? await startDocker({ netns: host.netns, dns: '198.18.0.53' }) : undefined;
        const daemon = new WeftDaemon({
          netns: host.netns, socket, instance, store: ETCD_URL, local: host.address, host: `h${i}`,
          ...(opts.leaseTtl !== undefined ? { leaseTtl: opts.leaseTtl } : {}),
          ...(docker ? { dockerSocket: docker.socket } : {}),
          ...(opts.weftArgs ? { extraArgs: opts.weftArgs } : {}),
        });
        m.hosts.push({ name: `h${i}`, host, driver, socket, instance, daemon, ...(docker ? { docker } : {}) });
      }
      m.ul = await m.lab.underlay();
      await sh(['ip', '-n', m.ul, 'addr', 'add', `${ETCD_ADDRESS}/24`, 'dev', 'ul0']);
      m.etcd = await startEtcd({ netns: m.ul, host: ETCD_ADDRESS });
      await Promise.all(m.hosts.map((h) => h.daemon.start()));
    } catch (err) {
      await m.destroy();
      throw err;
    }
    return m;
  }

  /** Cuts (or restores) a host's underlay link: a partition from etcd and every other host. */
  async partition(h: WeftHost, cut: boolean): Promise<void> {
    const i = this.hosts.indexOf(h) + 1;
    await sh(['ip', '-n', this.ul, 'link', 'set', `p${i}`, cut ? 'down' : 'up']);
  }

  /** `weft peers ls --json` run inside a host's namespace (the only place etcd is reachable). */
  async peersLs(h: WeftHost): Promise<{ hosts: { name: string; address: string; endpoints: number }[]; endpoints: { id: string; host: string; address: string; vtep: string | null; live: boolean }[] }> {
    return JSON.parse(await weft(h, ['peers', 'ls', '--store', ETCD_URL, '--json']));
  }

  /** Every key in etcd with its value. */
  etcdPairs(): Promise<Map<string, string>> {
    return etcdPairsIn(this.ul, `http://${ETCD_ADDRESS}:2379`);
  }

  async destroy(): Promise<void> {
    for (const h of this.hosts) {
      await h.docker?.stop().catch(() => undefined);
      await h.daemon.stop().catch(() => undefined);
      // WEFT_E2E_LOGS=DIR keeps each daemon's log for a post-mortem.
      if (process.env.WEFT_E2E_LOGS) writeFileSync(join(process.env.WEFT_E2E_LOGS, `${h.name}.log`), h.daemon.log());
      await h.daemon.destroy().catch(() => undefined);
      removePluginSocket(h.driver);
    }
    await this.etcd?.stop().catch(() => undefined);
    await this.lab.destroy();
  }
}

/** Runs the weft CLI inside a host's namespace. */
export function weft(h: WeftHost, args: string[]): Promise<string> {
  return sh(['nsenter', `--net=/var/run/netns/${h.host.netns}`, process.execPath, new URL('../../src/cli/main.js', import.meta.url).pathname, ...args]);
}
