/**
 * The driver model over a store several hosts share (etcd). Docker outside
 * swarm keeps a global-scope network in each host's local store, so the
 * user runs `docker network create -d weft --subnet S NAME` on every host
 * and each Docker gives it its own ID. weft treats them as one network:
 *
 *  - the first CreateNetwork makes the record (`networks/<id>`, its VNI);
 *  - a later CreateNetwork (another host) for an overlay with the same
 *    `-o weft.network=NAME`, or without a name the same IPv4 subnet(s), is
 *    *adopted*: `netids/<dockerId>` → {network, host} maps that host's
 *    Docker ID to the record, and every call is translated;
 *  - DeleteNetwork drops the caller's membership; the record (and the
 *    overlay namespace on every host) goes with the last one.
 *
 * Everything else is the Controller's, serialised per weft network here too
 * so changes arriving from other hosts (syncSharedNetwork) never race a
 * local call on the same network.
 */
import { Controller, type CreateNetworkRequest, type JoinResult } from '../cnm/controller.js';
import { KeyedSerial } from '../cnm/keyed-serial.js';
import type { NetworkDriver } from '../cnm/driver.js';
import type { OverlayDriver } from '../cnm/drivers/overlay.js';
import { NetworkOptionError } from '../errors.js';
import { type NetworkRecord } from '../cnm/model.js';
import { SharedIpam } from './shared-ipam.js';
import type { KvStore } from './store.js';

/** `netids/<dockerId>`: which weft network a Docker network ID on which host stands for. */
export interface NetworkMembership {
  network: string;
  host: string;
}

const subnetsOf = (pools: { pool: string }[]) => pools.map((s) => s.pool).sort().join(',');

export class GlobalController extends Controller {
  readonly sharedIpam: SharedIpam;
  #lock = new KeyedSerial();
  /** Docker network ID → weft network ID (never changes once recorded). */
  #aliases = new Map<string, string>();

  constructor(store: KvStore, drivers: NetworkDriver[], hostName: string, private readonly overlay: OverlayDriver) {
    const ipam = new SharedIpam(store, hostName);
    super(store, drivers, ipam, hostName);
    this.sharedIpam = ipam;
  }

  /** The weft network a Docker network ID stands for (itself unless adopted from another host). */
  async canonicalId(dockerId: string): Promise<string> {
    const cached = this.#aliases.get(dockerId);
    if (cached) return cached;
    const m = await this.store.get(`netids/${dockerId}`);
    if (!m) return dockerId;
    const nid = (JSON.parse(m) as NetworkMembership).network;
    this.#aliases.set(dockerId, nid);
    return nid;
  }

  /** Docker network IDs (on every host) standing for weft network nid (all when omitted). */
  async memberships(nid?: string): Promise<(NetworkMembership & { dockerId: string })[]> {
    const out: (NetworkMembership & { dockerId: string })[] = [];
    for (const [k, v] of await this.store.list('netids/')) {
      const m = JSON.parse(v) as NetworkMembership;
      if (nid === undefined || m.network === nid) out.push({ ...m, dockerId: k.slice('netids/'.length) });
    }
    return out;
  }

  /** The network's own ID (its creator's, and every host's in swarm) and this host's Docker ID for it when adopted. */
  override async dockerNetworkIds(nid: string): Promise<string[]> {
    const here = (await this.memberships(nid)).filter((m) => m.host === this.hostName).map((m) => m.dockerId);
    return [...new Set([nid, ...here])];
  }

  override async network(id: string): Promise<NetworkRecord> {
    return super.network(await this.canonicalId(id));
  }

  override createNetwork(req: CreateNetworkRequest): Promise<void> {
    return this.#lock.run(`create:${req.id}`, async () => {
      const nid = await this.canonicalId(req.id);
      if (nid !== req.id || (await this.store.get(`networks/${nid}`))) {
        // Docker's retry of a call already executed (here or as an adoption).
        await this.#lock.run(nid, () => super.createNetwork({ ...req, id: nid }));
        return;
      }
      const twin = await this.#globalTwin(req);
      if (twin) {
        await this.#putMembership(req.id, twin.id);
        await this.#lock.run(twin.id, () => this.overlay.ensureNetwork(twin));
        return;
      }
      await this.#lock.run(req.id, () => super.createNetwork(req));
      await this.#putMembership(req.id, req.id);
    });
  }

  /**
   * The global network a CreateNetwork on this host stands for, if another
   * host made it: an overlay network with the same `weft.network` name, or
   * (without names) the same IPv4 subnets. Two different global networks
   * cannot share a subnet anyway: their addresses come from one pool.
   */
  async #globalTwin(req: CreateNetworkRequest): Promise<NetworkRecord | undefined> {
    if ((req.options['weft.mode'] ?? 'overlay') !== 'overlay') return undefined;
    const name = req.options['weft.network'];
    const subnets = subnetsOf(req.ipv4);
    const twin = (await this.networks()).find((o) => o.mode === 'overlay' && (name
      ? o.options['weft.network'] === name
      : !o.options['weft.network'] && subnets !== '' && subnetsOf(o.ipv4) === subnets));
    if (!twin) return undefined;
    if (subnetsOf(twin.ipv4) !== subnets) {
      throw new NetworkOptionError(`global network weft.network=${name} exists with subnet(s) ${subnetsOf(twin.ipv4) || 'none'}; create it on this host with the same --subnet`);
    }
    const mine = (await this.memberships(twin.id)).find((m) => m.host === this.hostName);
    if (mine) throw new NetworkOptionError(`subnet ${subnets} is already used on this host by network ${mine.dockerId.slice(0, 12)}`);
    return twin;
  }

  async #putMembership(dockerId: string, nid: string): Promise<void> {
    const m: NetworkMembership = { network: nid, host: this.hostName };
    await this.store.put(`netids/${dockerId}`, JSON.stringify(m));
    this.#aliases.set(dockerId, nid);
  }

  override async deleteNetwork(dockerId: string): Promise<void> {
    const nid = await this.canonicalId(dockerId);
    await this.#lock.run(nid, async () => {
      const others = (await this.memberships(nid)).filter((m) => m.dockerId !== dockerId);
      if (others.length === 0 || !(await this.store.get(`networks/${nid}`))) await super.deleteNetwork(nid);
      // Otherwise other hosts' Docker still has this global network: only this host leaves it.
      await this.store.delete(`netids/${dockerId}`);
      this.#aliases.delete(dockerId);
    });
  }

  override async createEndpoint(dockerNetworkId: string, endpointId: string, iface: { address: string; addressV6: string; mac: string }): Promise<{ mac?: string }> {
    const nid = await this.canonicalId(dockerNetworkId);
    return this.#lock.run(nid, () => super.createEndpoint(nid, endpointId, iface));
  }

  override async join(dockerNetworkId: string, endpointId: string, sandboxKey: string): Promise<JoinResult> {
    const nid = await this.canonicalId(dockerNetworkId);
    return this.#lock.run(nid, () => super.join(nid, endpointId, sandboxKey));
  }

  override async leave(dockerNetworkId: string, endpointId: string): Promise<void> {
    const nid = await this.canonicalId(dockerNetworkId);
    return this.#lock.run(nid, () => super.leave(nid, endpointId));
  }

  override async deleteEndpoint(dockerNetworkId: string, endpointId: string): Promise<void> {
    const nid = await this.canonicalId(dockerNetworkId);
    return this.#lock.run(nid, () => super.deleteEndpoint(nid, endpointId));
  }

  /**
   * Another host created (n) or removed (previous) overlay network `id`:
   * make this host's kernel match. Writes nothing to the store.
   */
  syncSharedNetwork(id: string, n: NetworkRecord | undefined, previous?: NetworkRecord): Promise<void> {
    return this.#lock.run(id, async () => {
      if (n) {
        if (n.mode === 'overlay') await this.overlay.ensureNetwork(n);
      } else if (previous?.mode === 'overlay') {
        await this.overlay.removeNetwork(previous);
      }
    });
  }

  /** Runs fn under the network's lock (peer programming vs. local calls). */
  withNetwork<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#lock.run(id, fn);
  }
}
