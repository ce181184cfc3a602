/**
 * IPAM over a store several hosts share. Docker on every host runs its own
 * `docker network create --subnet S` for a global network, so RequestPool
 * for S arrives once per host: the pool is shared, each host holding it
 * (`ipam/holders/<pool>/<host>`), and only the last holder's ReleasePool
 * frees it. The gateway address is the network's, not a host's: a second
 * host asking for it gets it again, and only the last holder releases it.
 * Endpoint addresses stay atomic store keys, so no two hosts ever get the
 * same one.
 */
import type { KvStore } from './store.js';
import { IpamError } from '../errors.js';
import { DEFAULT_IPAM_OPTIONS, Ipam, type IpamOptions, LOCAL_SPACE, type PoolRecord, type RequestAddressOptions } from '../cnm/ipam.js';
import { bigintToIp, formatCidr, ipToBigint, parseCidr } from '../cnm/cidr.js';

const holdersPrefix = (poolId: string) => `ipam/holders/${encodeURIComponent(poolId)}/`;
const addrKey = (poolId: string, ip: string) => `ipam/addrs/${encodeURIComponent(poolId)}/${ip}`;

export class SharedIpam extends Ipam {
  constructor(private readonly kv: KvStore, readonly holder: string, options: IpamOptions = DEFAULT_IPAM_OPTIONS) {
    super(kv, options);
  }

  async holders(poolId: string): Promise<string[]> {
    const prefix = holdersPrefix(poolId);
    return [...(await this.kv.list(prefix)).keys()].map((k) => decodeURIComponent(k.slice(prefix.length)));
  }

  #hold(poolId: string): Promise<void> {
    return this.kv.put(`${holdersPrefix(poolId)}${encodeURIComponent(this.holder)}`, JSON.stringify({ since: new Date().toISOString() }));
  }

  override async requestPool(req: { space: string; pool?: string; subPool?: string; v6: boolean }): Promise<PoolRecord> {
    if (req.pool) {
      const space = req.space || LOCAL_SPACE;
      const id = `${space}/${formatCidr(parseCidr(req.pool))}${req.subPool ? `/${formatCidr(parseCidr(req.subPool))}` : ''}`;
      const existing = await this.pool(id).catch(() => undefined);
      if (existing && !(await this.holders(id)).includes(this.holder)) {
        // The same explicit subnet another host holds: the same global network.
        await this.#hold(id);
        return existing;
      }
    }
    const pool = await super.requestPool(req);
    await this.#hold(pool.id);
    return pool;
  }

  override async releasePool(id: string): Promise<void> {
    await this.kv.delete(`${holdersPrefix(id)}${encodeURIComponent(this.holder)}`);
    if ((await this.holders(id)).length > 0) return;
    await super.releasePool(id);
  }

  override async requestAddress(poolId: string, address: string | undefined, opts: RequestAddressOptions = {}): Promise<string> {
    if (opts.gateway) {
      const pool = await this.pool(poolId);
      const cidr = parseCidr(pool.pool);
      // Where Ipam puts a gateway it picks: the first address of the range (or subnet).
      const range = pool.range ? parseCidr(pool.range) : cidr;
      const first = range.network === cidr.network ? cidr.network + 1n : range.network;
      const ip = address ? address : bigintToIp(first, pool.v6);
      const owner = await this.kv.get(addrKey(poolId, canonicalIp(ip)));
      if (owner && (JSON.parse(owner) as { owner?: string }).owner === 'gateway') return `${canonicalIp(ip)}/${cidr.prefix}`;
    }
    return super.requestAddress(poolId, address, { ...opts, host: this.holder });
  }

  override async releaseAddress(poolId: string, address: string): Promise<void> {
    const owner = await this.kv.get(addrKey(poolId, canonicalIp(address.split('/')[0]!)));
    if (owner && (JSON.parse(owner) as { owner?: string }).owner === 'gateway') {
      if ((await this.holders(poolId)).some((h) => h !== this.holder)) return;
    }
    await super.releaseAddress(poolId, address);
  }
}

function canonicalIp(ip: string): string {
  try {
    const { value, v6 } = ipToBigint(ip);
    return bigintToIp(value, v6);
  } catch {
    throw new IpamError('ERR_WEFT_IPAM_INVALID_REQUEST', `invalid address ${JSON.stringify(ip)}`);
  }
}
