/**
 * What a swarm node needs of the plugin (docs/plugin-protocol.md,
 * docs/swarm.md). Enabled by the managed plugin (DataScope `global`); the
 * legacy socket keeps DataScope `local` and never sees these handlers.
 *
 *  - GetCapabilities reports DataScope and ConnectivityScope `global`, so
 *    `docker network create --scope swarm -d weft…` is accepted and Docker's
 *    own service discovery (tasks.NAME, NAME in dnsrr mode) spans the nodes.
 *  - AllocateNetwork (managers) checks the options with the same rules as
 *    CreateNetwork and echoes them: they reach every worker's CreateNetwork
 *    inside `com.docker.network.generic`.
 *  - A swarm network has one ID on every node: each node holding it is
 *    recorded (`swarm/holders/<id>/<host>`), and only the last node's
 *    DeleteNetwork removes the weft network.
 *  - IPAM in the global address space is asked twice for the same things on
 *    a manager (swarm's allocator, then the node's own network code) and
 *    again on workers for the addresses the manager chose. The first request
 *    allocates; a repeat of an allocated pool or address is a claim, counted
 *    per host (`swarm/claims/<host>/…`); a release drops a claim first and
 *    frees the allocation last. Dynamic requests still allocate atomically,
 *    so no address is handed out twice across nodes.
 */
import type { Controller } from '../cnm/controller.js';
import { GATEWAY_REQUEST, GLOBAL_SPACE } from '../cnm/ipam.js';
import { KeyedSerial } from '../cnm/keyed-serial.js';
import { bigintToIp, formatCidr, ipToBigint, parseCidr } from '../cnm/cidr.js';
import { PluginRequestError } from '../errors.js';
import { type Obj, bool, field, id, ipData, map, str, stringMap } from './schema.js';

type Handler = (body: Obj, c: Controller) => Promise<Obj>;

export interface SwarmOptions {
  /** Called for DiscoverNew/DiscoverDelete (node events), for the log. */
  onNodeEvent?: (event: { joined: boolean; address: string; self: boolean }) => void;
}

const enabled = new WeakMap<Controller, SwarmOptions>();
const serial = new KeyedSerial();

/** Makes the plugin API answer as a swarm-capable driver for this controller. */
export function enableSwarm(c: Controller, opts: SwarmOptions = {}): void {
  enabled.set(c, opts);
}

/** The swarm handler for a path, when swarm is enabled on this controller. */
export function swarmHandler(c: Controller, path: string): Handler | undefined {
  return enabled.has(c) ? handlers.get(path) : undefined;
}

/** Swarm's network IDs: 25 characters of [0-9a-z] (local ones are 64 hex). */
export const isSwarmId = (nid: string) => /^[0-9a-z]{25}$/.test(nid);

const holderKey = (nid: string, host: string) => `swarm/holders/${nid}/${encodeURIComponent(host)}`;
const claimKey = (host: string, poolId: string, ip?: string) =>
  `swarm/claims/${encodeURIComponent(host)}/${encodeURIComponent(poolId)}${ip ? `/${ip}` : ''}`;

function createRequest(nid: string, generic: Record<string, string>, b: Obj, options: Obj) {
  return {
    id: nid,
    options: generic,
    internal: bool(options, 'com.docker.network.internal'),
    ipv6: bool(options, 'com.docker.network.enable_ipv6'),
    ipv4: ipData(b, 'IPv4Data').map((d) => ({ pool: d.pool, ...(d.gateway ? { gateway: d.gateway } : {}), aux: d.auxAddresses })),
    ipv6Subnets: ipData(b, 'IPv6Data').map((d) => ({ pool: d.pool, ...(d.gateway ? { gateway: d.gateway } : {}), aux: d.auxAddresses })),
  };
}

async function addClaim(c: Controller, key: string): Promise<void> {
  await serial.run(key, async () => {
    const n = Number((await c.store.get(key)) ?? '0');
    await c.store.put(key, String(n + 1));
  });
}

/** Drops one claim; false when there was none (the caller frees the allocation). */
function dropClaim(c: Controller, key: string): Promise<boolean> {
  return serial.run(key, async () => {
    const n = Number((await c.store.get(key)) ?? '0');
    if (!(n > 0)) return false;
    if (n === 1) await c.store.delete(key);
    else await c.store.put(key, String(n - 1));
    return true;
  });
}

function canonical(ip: string): string {
  try {
    const { value, v6 } = ipToBigint(ip.split('/')[0]!);
    return bigintToIp(value, v6);
  } catch {
    throw new PluginRequestError(`Address ${JSON.stringify(ip)} is not an IP address`);
  }
}

const IPAM_METHODS = ['RequestPool', 'ReleasePool', 'RequestAddress', 'ReleaseAddress'];

const table: Record<string, Handler> = {
  async GetCapabilities() {
    return { Scope: 'global', ConnectivityScope: 'global' };
  },
  async AllocateNetwork(b, c) {
    const nid = id(b, 'NetworkID');
    const options = stringMap(b, 'Options');
    c.validateNetwork(createRequest(nid, options, b, {}));
    return { Options: options };
  },
  async FreeNetwork(b) {
    id(b, 'NetworkID');
    return {};
  },
  async CreateNetwork(b, c) {
    const nid = id(b, 'NetworkID');
    const options = map(b, 'Options');
    await c.createNetwork(createRequest(nid, stringMap(options, 'com.docker.network.generic'), b, options));
    if (isSwarmId(nid)) await c.store.put(holderKey(nid, c.hostName), JSON.stringify({ since: new Date().toISOString() }));
    return {};
  },
  async DeleteNetwork(b, c) {
    const nid = id(b, 'NetworkID');
    if (isSwarmId(nid)) {
      await c.store.delete(holderKey(nid, c.hostName));
      // Other nodes still run tasks on it: only this node stops holding it.
      if ((await c.store.list(`swarm/holders/${nid}/`)).size > 0) return {};
    }
    await c.deleteNetwork(nid);
    // Two nodes' first CreateNetwork can race (one allocates a VNI the other's record replaces): drop any VNI left naming it.
    if (isSwarmId(nid)) for (const [k, v] of await c.store.list('vni/')) if (v === nid) await c.store.delete(k);
    return {};
  },
  async DiscoverNew(b, c) {
    nodeEvent(b, c, true);
    return {};
  },
  async DiscoverDelete(b, c) {
    const address = nodeEvent(b, c, false);
    if (address) await dropHolders(c, address);
    return {};
  },
  async RequestPool(b, c) {
    const req = { space: str(b, 'AddressSpace'), pool: str(b, 'Pool'), subPool: str(b, 'SubPool'), v6: bool(b, 'V6') };
    if (req.space === GLOBAL_SPACE && req.pool) {
      // The manager allocated it and this node asks again: a claim, so the pool outlives every node's ReleasePool but the last.
      const cidr = formatCidr(parseCidr(req.pool));
      const range = req.subPool ? formatCidr(parseCidr(req.subPool)) : undefined;
      const same = (await c.ipam.pools()).find((p) => p.space === GLOBAL_SPACE && p.pool === cidr && p.range === range);
      if (same) {
        await addClaim(c, claimKey(c.hostName, same.id));
        return { PoolID: same.id, Pool: same.pool, Data: {} };
      }
    }
    const pool = await c.ipam.requestPool(req);
    return { PoolID: pool.id, Pool: pool.pool, Data: {} };
  },
  async ReleasePool(b, c) {
    const poolId = str(b, 'PoolID', { required: true });
    if (poolId.startsWith(`${GLOBAL_SPACE}/`) && (await dropClaim(c, claimKey(c.hostName, poolId)))) return {};
    await c.ipam.releasePool(poolId);
    return {};
  },
  async RequestAddress(b, c) {
    const poolId = str(b, 'PoolID', { required: true });
    const address = str(b, 'Address');
    const options = field(b, 'Options') === null ? {} : stringMap(b, 'Options');
    const gateway = options['RequestAddressType'] === GATEWAY_REQUEST;
    if (poolId.startsWith(`${GLOBAL_SPACE}/`) && address) {
      const ip = canonical(address);
      const pool = await c.ipam.pool(poolId);
      if ((await c.ipam.addresses(poolId)).includes(ip)) {
        await addClaim(c, claimKey(c.hostName, poolId, ip));
        return { Address: `${ip}/${parseCidr(pool.pool).prefix}`, Data: {} };
      }
    }
    return { Address: await c.ipam.requestAddress(poolId, address, { gateway }), Data: {} };
  },
  async ReleaseAddress(b, c) {
    const poolId = str(b, 'PoolID', { required: true });
    const address = str(b, 'Address', { required: true });
    if (poolId.startsWith(`${GLOBAL_SPACE}/`) && (await dropClaim(c, claimKey(c.hostName, poolId, canonical(address))))) return {};
    await c.ipam.releaseAddress(poolId, address);
    return {};
  },
};

const handlers = new Map<string, Handler>(Object.entries(table)
  .map(([k, h]) => [`/${IPAM_METHODS.includes(k) ? 'IpamDriver' : 'NetworkDriver'}.${k}`, h]));

/** Logs a node event; returns the node's address for node discovery events. */
function nodeEvent(b: Obj, c: Controller, joined: boolean): string | undefined {
  const type = field(b, 'DiscoveryType');
  if (type !== 1 && type !== '1') return undefined; // only node discovery reaches remote drivers
  const data = map(b, 'DiscoveryData');
  const address = str(data, 'Address');
  const self = bool(data, 'Self');
  enabled.get(c)?.onNodeEvent?.({ joined, address, self });
  return self ? undefined : address;
}

/**
 * A node left the swarm: it no longer holds any swarm network, so the last
 * remaining node's DeleteNetwork removes the weft network. (Should the node
 * still have endpoints there, DeleteNetwork refuses, so nothing breaks.)
 */
async function dropHolders(c: Controller, address: string): Promise<void> {
  const gone = [...(await c.store.list('hosts/')).values()]
    .map((v) => { try { return JSON.parse(v) as { name?: string; address?: string }; } catch { return {}; } })
    .filter((h) => h.address === address && h.name && h.name !== c.hostName).map((h) => encodeURIComponent(h.name!));
  if (gone.length === 0) return;
  for (const k of (await c.store.list('swarm/holders/')).keys()) {
    if (gone.includes(k.slice(k.lastIndexOf('/') + 1))) await c.store.delete(k);
  }
}
