/**
 * `weft state check` and `weft state recover` (docs/state.md). Recovery
 * starts from the intact records before the damage, then adds what Docker
 * still has (its networks of weft's driver with their endpoints, the pools
 * and addresses of networks using weft's IPAM) and takes link names and VNIs
 * from the kernel objects that exist. The damaged file is kept beside the
 * new one. It holds the state directory's lock, so it never runs beside a
 * daemon.
 */
import { copyFile, pathExists } from '../io/files.js';
import { hostname } from 'node:os';
import { type AddressClaim, LOCAL_SPACE, type PoolRecord, addrKey, poolKey } from '../cnm/ipam.js';
import { type EndpointRecord, type LinkKind, type NetworkMode, type NetworkRecord, linkName, names } from '../cnm/model.js';
import { withRtnl } from '../cnm/drivers/links.js';
import { EmbeddedStore } from '../control/embedded-store.js';
import { dockerGetJson } from '../io/docker-api.js';
import { lockDirectory } from '../io/instance-lock.js';
import { type JournalScan, readJournal, writeJournal } from '../io/journal.js';
import { netnsExists } from '../io/netns.js';
import { decodeVxlan } from '../netlink/rtnetlink/link-kinds/vxlan.js';
import { listAddresses } from '../netlink/rtnetlink/addr.js';
import { containsAddress, ipToBigint, parseCidr } from '../cnm/cidr.js';
import { instanceKernelObjects } from './startup.js';
import { DockerApiError, JournalCorruptError } from '../errors.js';

export interface CheckReport {
  path: string;
  status: JournalScan['status'] | 'damaged';
  records: number;
  tornBytes: number;
  damage?: { offset: number; message: string };
  kernelObjects: string[];
  /** Whether a daemon would start on it. */
  startable: boolean;
}

export async function checkState(stateDir: string, instance: string): Promise<CheckReport> {
  const path = EmbeddedStore.journalPath(stateDir);
  const kernelObjects = await instanceKernelObjects(instance);
  try {
    const scan = readJournal(path);
    const empty = scan.status === 'missing' || scan.status === 'empty';
    return { path, status: scan.status, records: scan.records.length, tornBytes: scan.tornBytes, kernelObjects, startable: !(empty && kernelObjects.length) };
  } catch (err) {
    if (!(err instanceof JournalCorruptError)) throw err;
    return { path, status: 'damaged', records: err.records.length, tornBytes: 0, damage: { offset: err.offset, message: err.message }, kernelObjects, startable: false };
  }
}

interface DockerNetwork {
  Id: string;
  Driver?: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  Options?: Record<string, string> | null;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }[] | null };
  Containers?: Record<string, { EndpointID?: string; MacAddress?: string; IPv4Address?: string; IPv6Address?: string }> | null;
}

export interface RecoverOptions {
  stateDir: string;
  instance: string;
  dockerSocket: string;
  /** weft's driver name in Docker (the plugin socket's base name). */
  driver: string;
  host?: string;
  /** Go on when Docker's view cannot be read, keeping only the intact records (the next start removes this instance's kernel objects they do not explain). */
  withoutDocker?: boolean;
}

export interface RecoverReport {
  path: string;
  backup?: string;
  kept: number;
  rebuilt: { networks: string[]; endpoints: string[]; pools: string[]; addresses: number };
  dockerError?: string;
}

const DEFAULT_MTU: Record<NetworkMode, number> = { bridge: 1500, overlay: 1450, macvlan: 0 };
const prefixOf = (cidr: string) => cidr.split('/')[1] ?? '';
const bare = (a: string | undefined) => (a ? a.split('/')[0]! : '');

/** The first of an object's candidate link names that exists (in netns, or ours), else attempt 0's. */
async function existingName(netns: string | undefined, kind: LinkKind, legacy: string, instance: string, id: string): Promise<{ name: string; attempt: number | 'legacy' }> {
  const candidates = [...Array(8).keys()].map((k) => ({ name: linkName(kind, instance, id, k), attempt: k as number | 'legacy' }));
  candidates.push({ name: legacy, attempt: 'legacy' });
  if (netns && !netnsExists(netns)) return candidates[0]!;
  return withRtnl(netns, async (rtnl) => {
    for (const c of candidates) if (await rtnl.link(c.name)) return c;
    return candidates[0]!;
  });
}

/** The addresses on a network's gateway device (the bridge, or br0 in the overlay namespace): weft put its gateways there. */
async function gatewayAddresses(netns: string | undefined, dev: string): Promise<string[]> {
  if (netns && !netnsExists(netns)) return [];
  return withRtnl(netns, async (rtnl) => {
    if (!(await rtnl.link(dev))) return [];
    return (await listAddresses(rtnl, { dev })).filter((a) => a.scope === 0).map((a) => `${a.local}/${a.prefixLength}`);
  });
}

async function overlayVni(ns: string): Promise<number | undefined> {
  if (!netnsExists(ns)) return undefined;
  return withRtnl(ns, async (rtnl) => {
    const l = await rtnl.link('vxlan0');
    return l?.kindData ? decodeVxlan(l.kindData).id : undefined;
  });
}

export async function recoverState(o: RecoverOptions): Promise<RecoverReport> {
  const release = lockDirectory(o.stateDir);
  try {
    const path = EmbeddedStore.journalPath(o.stateDir);
    let prefix: unknown[];
    try {
      prefix = readJournal(path).records;
    } catch (err) {
      if (!(err instanceof JournalCorruptError)) throw err;
      prefix = err.records;
    }
    const data = EmbeddedStore.replay(prefix);
    const report: RecoverReport = { path, kept: data.size, rebuilt: { networks: [], endpoints: [], pools: [], addresses: 0 } };
    let docker: DockerNetwork[] = [];
    try {
      const list = await dockerGetJson<DockerNetwork[]>(o.dockerSocket, '/networks');
      for (const n of list) {
        if (n.Driver === o.driver || n.IPAM?.Driver === o.driver) docker.push(await dockerGetJson<DockerNetwork>(o.dockerSocket, `/networks/${encodeURIComponent(n.Id)}`));
      }
    } catch (err) {
      if (!o.withoutDocker) throw new DockerApiError(`cannot read Docker's view to rebuild from (${(err as Error).message}); start dockerd, give --docker-socket, or pass --without-docker to keep only the ${data.size} intact record(s)`);
      report.dockerError = (err as Error).message;
      docker = [];
    }
    const host = o.host ?? hostname();
    for (const dn of docker) {
      if (dn.Driver === o.driver) await rebuildNetwork(dn, data, o.instance, host, report);
      if (dn.IPAM?.Driver === o.driver) rebuildIpam(dn, data, report, dn.Driver === o.driver ? JSON.parse(data.get(`networks/${dn.Id}`) ?? 'null') as NetworkRecord | null : null);
    }
    if (pathExists(path)) {
      report.backup = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      copyFile(path, report.backup);
    }
    writeJournal(path, [...data].map(([k, v]) => ({ k, v })));
    return report;
  } finally {
    release();
  }
}

async function rebuildNetwork(dn: DockerNetwork, data: Map<string, string>, instance: string, host: string, report: RecoverReport): Promise<void> {
  const key = `networks/${dn.Id}`;
  let n: NetworkRecord;
  const options = dn.Options ?? {};
  if (data.has(key)) n = JSON.parse(data.get(key)!) as NetworkRecord;
  else {
    const mode = (options['weft.mode'] ?? 'overlay') as NetworkMode;
    const subnets = (dn.IPAM?.Config ?? []).filter((c) => c.Subnet).map((c) => ({
      pool: c.Subnet!, ...(c.Gateway ? { gateway: `${c.Gateway}/${prefixOf(c.Subnet!)}` } : {}), aux: { ...(c.AuxiliaryAddresses ?? {}) },
    }));
    const mtu = Number(options['com.docker.network.driver.mtu'] ?? options['mtu'] ?? DEFAULT_MTU[mode] ?? 0);
    n = {
      id: dn.Id, mode, mtu, internal: !!dn.Internal, ipv6: !!dn.EnableIPv6,
      ipv4: subnets.filter((s) => !s.pool.includes(':')), ipv6Subnets: subnets.filter((s) => s.pool.includes(':')),
      options, host,
    };
    if (options['parent']) n.parent = options['parent'];
    if (options['macvlan_mode']) n.macvlanMode = options['macvlan_mode'] as NetworkRecord['macvlanMode'];
    const masq = options['com.docker.network.bridge.enable_ip_masquerade'] ?? options['weft.masquerade'];
    if (masq !== undefined) n.masquerade = masq === 'true';
    if (mode === 'bridge') n.bridgeName = (await existingName(undefined, 'bridge', names.bridge(n.id), instance, n.id)).name;
    // Docker shows only gateways a user gave; the kernel has the rest.
    const onDevice = mode === 'bridge' ? await gatewayAddresses(undefined, n.bridgeName!) : mode === 'overlay' ? await gatewayAddresses(names.overlayNetns(n.id, instance), 'br0') : [];
    for (const sub of [...n.ipv4, ...n.ipv6Subnets]) {
      if (sub.gateway) continue;
      const c = parseCidr(sub.pool);
      const gw = onDevice.find((a) => {
        const { value, v6 } = ipToBigint(a.split('/')[0]!);
        return v6 === c.v6 && containsAddress(c, value);
      });
      if (gw) sub.gateway = gw;
    }
    if (mode === 'overlay') {
      const vni = (await overlayVni(names.overlayNetns(n.id, instance))) ?? (options['weft.vni'] ? Number(options['weft.vni']) : undefined);
      if (vni === undefined) return; // nothing tells which VNI the other hosts use
      n.vni = vni;
      data.set(`vni/${vni}`, n.id);
    }
    data.set(key, JSON.stringify(n));
    report.rebuilt.networks.push(n.id);
  }
  const portNs = n.mode === 'overlay' ? names.overlayNetns(n.id, instance) : undefined;
  for (const c of Object.values(dn.Containers ?? {})) {
    if (!c.EndpointID || data.has(`endpoints/${c.EndpointID}`)) continue;
    const id = c.EndpointID;
    const port = n.mode === 'macvlan' ? undefined : await existingName(portNs, 'port', names.port(id), instance, id);
    const attempt = port?.attempt ?? 0;
    const ep: EndpointRecord = {
      id, networkId: n.id, mac: c.MacAddress ?? '',
      srcName: attempt === 'legacy' ? names.src(id) : linkName('container', instance, id, attempt),
      host, sandboxKey: 'recovered', created: Date.now(),
    };
    if (port) ep.portName = port.name;
    if (c.IPv4Address) ep.address = c.IPv4Address;
    if (c.IPv6Address) ep.addressV6 = c.IPv6Address;
    data.set(`endpoints/${id}`, JSON.stringify(ep));
    report.rebuilt.endpoints.push(id);
  }
}

function rebuildIpam(dn: DockerNetwork, data: Map<string, string>, report: RecoverReport, n: NetworkRecord | null): void {
  const containers = Object.values(dn.Containers ?? {});
  for (const cfg of dn.IPAM?.Config ?? []) {
    if (!cfg.Subnet) continue;
    const v6 = cfg.Subnet.includes(':');
    const pool: PoolRecord = { id: `${LOCAL_SPACE}/${cfg.Subnet}${cfg.IPRange ? `/${cfg.IPRange}` : ''}`, space: LOCAL_SPACE, pool: cfg.Subnet, v6, created: Date.now() };
    if (cfg.IPRange) pool.range = cfg.IPRange;
    if (!data.has(poolKey(pool.id))) {
      data.set(poolKey(pool.id), JSON.stringify(pool));
      report.rebuilt.pools.push(pool.id);
    }
    const claim = (ip: string, c: AddressClaim) => {
      if (!ip || data.has(addrKey(pool.id, ip))) return;
      data.set(addrKey(pool.id, ip), JSON.stringify(c));
      report.rebuilt.addresses++;
    };
    const gateway = cfg.Gateway || bare([...(n?.ipv4 ?? []), ...(n?.ipv6Subnets ?? [])].find((s) => s.pool === cfg.Subnet)?.gateway);
    if (gateway) claim(gateway, { owner: 'gateway', t: Date.now() });
    for (const a of Object.values(cfg.AuxiliaryAddresses ?? {})) claim(bare(a), { owner: 'aux', t: Date.now() });
    for (const c of containers) {
      const a = bare(v6 ? c.IPv6Address : c.IPv4Address);
      claim(a, { owner: 'endpoint', ...(c.MacAddress ? { mac: c.MacAddress } : {}), t: Date.now() });
    }
  }
}
