/**
 * weft's IPAM (Docker's IpamDriver semantics, docs/plugin-protocol.md): pools from
 * --subnet or from a default range, --ip-range, gateway, aux and static
 * addresses. Every allocation is a store key created atomically
 * (`ipam/addrs/<pool>/<ip>`), so two hosts sharing etcd can never hand out
 * the same address, and state survives restarts with no replay from Docker.
 */
import { IpamError } from '../errors.js';
import type { KvStore } from '../control/store.js';
import { type Cidr, bigintToIp, contains, containsAddress, formatCidr, ipToBigint, overlaps, parseCidr, size } from './cidr.js';
import { validateAddress, validatePool } from './validate.js';

export const LOCAL_SPACE = 'weft-local';
export const GLOBAL_SPACE = 'weft-global';
export const GATEWAY_REQUEST = 'com.docker.network.gateway';

export interface PoolRecord {
  id: string;
  space: string;
  pool: string;
  range?: string;
  v6: boolean;
  /** When it was created (ms since the epoch). */
  created?: number;
}

/** What an address key holds: who asked (gateway, endpoint, an owner ID), the MAC Docker sent, when, and (shared stores) which host's Docker asked. */
export interface AddressClaim {
  owner: string;
  mac?: string;
  t?: number;
  host?: string;
}

export interface RequestAddressOptions {
  gateway?: boolean;
  aux?: boolean;
  owner?: string;
  mac?: string;
  /** Recorded in the claim: the host whose Docker asked (shared stores). */
  host?: string;
}

export interface IpamOptions {
  /** Where dynamic IPv4 pools come from, carved into /defaultV4Size. */
  defaultV4: string;
  defaultV4Size: number;
  defaultV6: string;
  defaultV6Size: number;
}

export const DEFAULT_IPAM_OPTIONS: IpamOptions = {
  defaultV4: '198.19.0.0/16',
  defaultV4Size: 24,
  defaultV6: 'fd77:6566:7400::/48',
  defaultV6Size: 64,
};

/** Upper bound on candidates tried per allocation (a nearly full /16 still fits). */
const MAX_PROBES = 1 << 17;

function claimOf(v: string): AddressClaim {
  try {
    const c = JSON.parse(v) as AddressClaim;
    return typeof c?.owner === 'string' ? c : { owner: 'endpoint' };
  } catch {
    return { owner: 'endpoint' };
  }
}

export const poolKey = (id: string) => `ipam/pools/${encodeURIComponent(id)}`;
const addrPrefix = (id: string) => `ipam/addrs/${encodeURIComponent(id)}/`;
export const addrKey = (id: string, ip: string) => `${addrPrefix(id)}${ip}`;

export class Ipam {
  /**
   * Where the next search for a free address starts, per pool (Docker's
   * serial allocation: a released address is not reused at once). Kept in
   * memory: after a restart allocation restarts from the first free address,
   * which saves an fsync on every allocation.
   */
  #cursors = new Map<string, bigint>();

  constructor(private readonly store: KvStore, private readonly options: IpamOptions = DEFAULT_IPAM_OPTIONS) {}

  defaultAddressSpaces(): { LocalDefaultAddressSpace: string; GlobalDefaultAddressSpace: string } {
    return { LocalDefaultAddressSpace: LOCAL_SPACE, GlobalDefaultAddressSpace: GLOBAL_SPACE };
  }

  async pools(): Promise<PoolRecord[]> {
    return [...(await this.store.list('ipam/pools/')).values()].map((v) => JSON.parse(v) as PoolRecord);
  }

  async pool(id: string): Promise<PoolRecord> {
    const v = await this.store.get(poolKey(id));
    if (!v) throw new IpamError('ERR_WEFT_IPAM_NO_POOL', `unknown pool ${JSON.stringify(id)}`);
    return JSON.parse(v) as PoolRecord;
  }

  /**
   * RequestPool: an explicit subnet (must not overlap another pool), or the
   * next free default one. Docker's retry of a request whose reply was lost
   * (the same subnet and range, no network created on it yet, no endpoint
   * addresses) gets the same pool back. `inUse`: subnets a network record
   * already holds (those are never a retry).
   */
  async requestPool(req: { space: string; pool?: string; subPool?: string; v6: boolean }, inUse: string[] = []): Promise<PoolRecord> {
    const space = req.space || LOCAL_SPACE;
    if (!req.pool && req.subPool) throw new IpamError('ERR_WEFT_IPAM_INVALID_REQUEST', `--ip-range ${req.subPool} needs --subnet`);
    const existing = (await this.pools()).filter((p) => p.space === space);
    let cidr: Cidr;
    if (req.pool) {
      cidr = validatePool(req.pool);
      const range = req.subPool ? formatCidr(validatePool(req.subPool, '--ip-range')) : undefined;
      const same = existing.find((p) => p.pool === formatCidr(cidr) && p.range === range);
      if (same && !inUse.includes(same.pool) && !(await this.#hasEndpointAddresses(same.id))) return same;
      for (const p of existing) {
        if (overlaps(cidr, parseCidr(p.pool))) {
          throw new IpamError('ERR_WEFT_IPAM_POOL_OVERLAP', `subnet ${formatCidr(cidr)} overlaps subnet ${p.pool} already in use in address space ${space}`);
        }
      }
    } else {
      cidr = this.#nextDefault(req.v6, existing.map((p) => parseCidr(p.pool)));
    }
    const hostBits = cidr.bits - cidr.prefix;
    if (!cidr.v6 && hostBits < 2) throw new IpamError('ERR_WEFT_IPAM_INVALID_REQUEST', `subnet ${formatCidr(cidr)} has no room for hosts`);
    let range: Cidr | undefined;
    if (req.subPool) {
      range = validatePool(req.subPool, '--ip-range');
      if (!contains(cidr, range)) throw new IpamError('ERR_WEFT_IPAM_INVALID_REQUEST', `--ip-range ${req.subPool} is not inside subnet ${formatCidr(cidr)}`);
    }
    const pool: PoolRecord = {
      id: `${space}/${formatCidr(cidr)}${range ? `/${formatCidr(range)}` : ''}`,
      space,
      pool: formatCidr(cidr),
      v6: cidr.v6,
      created: Date.now(),
    };
    if (range) pool.range = formatCidr(range);
    if (!(await this.store.create(poolKey(pool.id), JSON.stringify(pool)))) {
      throw new IpamError('ERR_WEFT_IPAM_POOL_OVERLAP', `subnet ${pool.pool} is already in use in address space ${space}`);
    }
    return pool;
  }

  async #hasEndpointAddresses(poolId: string): Promise<boolean> {
    for (const v of (await this.store.list(addrPrefix(poolId))).values()) if (claimOf(v).owner !== 'gateway' && claimOf(v).owner !== 'aux') return true;
    return false;
  }

  /** Every address of a pool with its claim. */
  async claims(poolId: string): Promise<Map<string, AddressClaim>> {
    const prefix = addrPrefix(poolId);
    return new Map([...(await this.store.list(prefix))].map(([k, v]) => [k.slice(prefix.length), claimOf(v)]));
  }

  #nextDefault(v6: boolean, taken: Cidr[]): Cidr {
    const base = parseCidr(v6 ? this.options.defaultV6 : this.options.defaultV4);
    const prefix = v6 ? this.options.defaultV6Size : this.options.defaultV4Size;
    const step = 1n << BigInt(base.bits - prefix);
    const count = size(base) / step;
    for (let i = 0n; i < count && i < BigInt(MAX_PROBES); i++) {
      const c: Cidr = { v6, network: base.network + i * step, prefix, bits: base.bits };
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
    throw new IpamError('ERR_WEFT_IPAM_NO_POOL', `no free /${prefix} left in the default pool ${formatCidr(base)}`);
  }

  /** ReleasePool: drops the pool and any addresses still recorded in it. Unknown pools are fine. */
  async releasePool(id: string): Promise<void> {
    this.#cursors.delete(id);
    for (const k of (await this.store.list(addrPrefix(id))).keys()) await this.store.delete(k);
    await this.store.delete(poolKey(id));
  }

  /**
   * RequestAddress: a specific address (static --ip, --gateway, --aux-address)
   * or the next free one in the range. Returns "ip/prefixlen". A retry whose
   * reply was lost gets the same answer: a gateway request the pool's
   * gateway, a request carrying a MAC the address that MAC already holds, a
   * specific address the same address when the same owner and MAC hold it.
   */
  async requestAddress(poolId: string, address: string | undefined, opts: RequestAddressOptions = {}): Promise<string> {
    const pool = await this.pool(poolId);
    const cidr = parseCidr(pool.pool);
    const claim: AddressClaim = {
      owner: opts.owner ?? (opts.gateway ? 'gateway' : opts.aux ? 'aux' : 'endpoint'), ...(opts.mac ? { mac: opts.mac } : {}), t: Date.now(), ...(opts.host ? { host: opts.host } : {}),
    };
    const owner = JSON.stringify(claim);
    const held = (opts.gateway || opts.mac) ? [...(await this.claims(poolId))].find(([, c]) => c.owner === claim.owner && (opts.gateway || c.mac === opts.mac)) : undefined;
    if (address) {
      validateAddress(address, 'address', { bare: true });
      const { value, v6 } = ipToBigint(address);
      if (v6 !== pool.v6 || !containsAddress(cidr, value)) throw new IpamError('ERR_WEFT_IPAM_OUT_OF_POOL', `address ${address} is not in subnet ${pool.pool}`);
      if (!pool.v6 && (value === cidr.network || value === cidr.network + size(cidr) - 1n)) {
        throw new IpamError('ERR_WEFT_IPAM_INVALID_REQUEST', `address ${address} is the network or broadcast address of subnet ${pool.pool}`);
      }
      const ip = bigintToIp(value, v6);
      if (held?.[0] === ip) return `${ip}/${cidr.prefix}`;
      if (!(await this.store.create(addrKey(poolId, ip), owner))) {
        throw new IpamError('ERR_WEFT_IPAM_ADDRESS_IN_USE', `address ${ip} is already in use in subnet ${pool.pool}`);
      }
      return `${ip}/${cidr.prefix}`;
    }
    if (held) return `${held[0]}/${cidr.prefix}`;
    const range = pool.range ? parseCidr(pool.range) : cidr;
    // Usable span: skip the subnet's network (and, for IPv4, broadcast) address.
    const first = range.network === cidr.network ? cidr.network + 1n : range.network;
    const rangeEnd = range.network + size(range) - 1n;
    const subnetLast = cidr.network + size(cidr) - 1n;
    const last = !pool.v6 && rangeEnd === subnetLast ? rangeEnd - 1n : rangeEnd;
    if (last < first) throw new IpamError('ERR_WEFT_IPAM_NO_ADDRESS', `no available addresses in subnet ${pool.pool}`);
    const span = last - first + 1n;
    // The gateway takes the first address; endpoints continue after the last one given out.
    let start = first;
    const c = this.#cursors.get(poolId);
    if (!opts.gateway && c !== undefined && c >= first && c <= last) start = c;
    const used = new Set((await this.store.list(addrPrefix(poolId))).keys());
    const probes = span < BigInt(MAX_PROBES) ? Number(span) : MAX_PROBES;
    for (let i = 0; i < probes; i++) {
      const v = first + ((start - first + BigInt(i)) % span);
      const ip = bigintToIp(v, pool.v6);
      if (used.has(addrKey(poolId, ip))) continue;
      if (await this.store.create(addrKey(poolId, ip), owner)) {
        if (!opts.gateway) this.#cursors.set(poolId, v + 1n > last ? first : v + 1n);
        return `${ip}/${cidr.prefix}`;
      }
    }
    throw new IpamError('ERR_WEFT_IPAM_NO_ADDRESS', `no available addresses in subnet ${pool.pool}${pool.range ? ` (range ${pool.range})` : ''}`);
  }

  /** ReleaseAddress: unknown addresses are fine (Docker only logs failures). */
  async releaseAddress(poolId: string, address: string): Promise<void> {
    const { value, v6 } = ipToBigint(address.split('/')[0]!);
    await this.store.delete(addrKey(poolId, bigintToIp(value, v6)));
  }

  /** Forgets the pool's allocation cursor (after the store was rebuilt). */
  resetCursors(): void {
    this.#cursors.clear();
  }

  /** Addresses allocated in a pool. */
  async addresses(poolId: string): Promise<string[]> {
    const prefix = addrPrefix(poolId);
    return [...(await this.store.list(prefix)).keys()].map((k) => k.slice(prefix.length));
  }
}
