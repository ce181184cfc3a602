/**
 * The driver model: networks and endpoints, persisted before any reply, with
 * the kernel side delegated to the mode's driver. Calls for one network are
 * serialised (Docker interleaves calls for different containers). The Docker
 * plugin API is one front on this; the CLI is another.
 */
import type { KvStore } from '../control/store.js';
import { Ipam } from './ipam.js';
import { KeyedSerial } from './keyed-serial.js';
import type { JoinInfo, NetworkDriver } from './driver.js';
import {
  type EndpointRecord, EndpointNotFoundError, type NetworkMode, type NetworkRecord, NetworkNotFoundError,
  NetworkOptionError, isEncrypted, macFromAddress, names,
} from './model.js';
import { ENCRYPTED_OVERLAY_MTU } from '../dataplane/encryption-keys.js';

export interface CreateNetworkRequest {
  id: string;
  options: Record<string, string>;
  internal: boolean;
  ipv6: boolean;
  ipv4: { pool: string; gateway?: string; aux: Record<string, string> }[];
  ipv6Subnets: { pool: string; gateway?: string; aux: Record<string, string> }[];
}

export interface JoinResult extends JoinInfo {
  srcName: string;
  dstPrefix: string;
}

/** 0: inherit (macvlan takes its parent's MTU). */
const DEFAULT_MTU = { bridge: 1500, overlay: 1450, macvlan: 0 } as const;
const MODES: NetworkMode[] = ['overlay', 'bridge', 'macvlan'];
const MIN_VNI = 256;
const MAX_VNI = (1 << 24) - 1;

export class Controller {
  readonly ipam: Ipam;
  #serial = new KeyedSerial();
  #reaper = new KeyedSerial();
  #drivers: Map<NetworkMode, NetworkDriver>;

  constructor(readonly store: KvStore, drivers: NetworkDriver[], ipam?: Ipam, readonly hostName = 'local') {
    this.ipam = ipam ?? new Ipam(store);
    this.#drivers = new Map(drivers.map((d) => [d.mode, d]));
  }

  #driver(mode: NetworkMode): NetworkDriver {
    const d = this.#drivers.get(mode);
    if (!d) throw new NetworkOptionError(`network mode ${mode} is not available on this host`);
    return d;
  }

  async networks(): Promise<NetworkRecord[]> {
    return [...(await this.store.list('networks/')).values()].map((v) => JSON.parse(v) as NetworkRecord);
  }

  async network(id: string): Promise<NetworkRecord> {
    const v = await this.store.get(`networks/${id}`);
    if (!v) throw new NetworkNotFoundError(id);
    return JSON.parse(v) as NetworkRecord;
  }

  async endpoints(networkId?: string): Promise<EndpointRecord[]> {
    const all = [...(await this.store.list('endpoints/')).values()].map((v) => JSON.parse(v) as EndpointRecord);
    return networkId ? all.filter((e) => e.networkId === networkId) : all;
  }

  async endpoint(id: string): Promise<EndpointRecord> {
    const v = await this.store.get(`endpoints/${id}`);
    if (!v) throw new EndpointNotFoundError(id);
    return JSON.parse(v) as EndpointRecord;
  }

  /** CreateNetwork: validate options, allocate a VNI, persist, then build the kernel side. */
  createNetwork(req: CreateNetworkRequest): Promise<void> {
    return this.#serial.run(req.id, async () => {
      const existing = await this.store.get(`networks/${req.id}`);
      if (existing) {
        // Docker's retry of a call we already executed: make sure the kernel side exists.
        await this.#ensureNetwork(JSON.parse(existing) as NetworkRecord);
        return;
      }
      const n = this.#networkFromRequest(req);
      const driver = this.#driver(n.mode);
      driver.validate(n);
      if (n.mode === 'overlay') n.vni = await this.#allocateVni(n);
      await this.store.put(`networks/${n.id}`, JSON.stringify(n));
      try {
        await this.#ensureNetwork(n);
      } catch (err) {
        await driver.removeNetwork(n, await this.#others(n.id)).catch(() => undefined);
        await this.store.delete(`networks/${n.id}`);
        if (n.vni !== undefined) await this.store.delete(`vni/${n.vni}`);
        throw err;
      }
    });
  }

  /** Runs the driver and persists whatever it reports having created. */
  async #ensureNetwork(n: NetworkRecord): Promise<void> {
    const changes = await this.#driver(n.mode).ensureNetwork(n);
    if (changes && Object.keys(changes).length) {
      Object.assign(n, changes);
      await this.store.put(`networks/${n.id}`, JSON.stringify(n));
    }
  }

  async #others(id: string): Promise<NetworkRecord[]> {
    return (await this.networks()).filter((n) => n.id !== id);
  }

  #networkFromRequest(req: CreateNetworkRequest): NetworkRecord {
    const o = req.options;
    const mode = (o['weft.mode'] ?? 'overlay') as NetworkMode;
    if (!MODES.includes(mode)) throw new NetworkOptionError(`weft.mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(o['weft.mode'])}`);
    const mtuText = o['com.docker.network.driver.mtu'] ?? o['mtu'];
    let mtu: number = DEFAULT_MTU[mode];
    // ESP adds 26 bytes to every VXLAN datagram (docs/encryption.md).
    if (mode === 'overlay' && isEncrypted(o)) mtu = ENCRYPTED_OVERLAY_MTU;
    if (mtuText !== undefined) {
      if (!/^\d+$/.test(mtuText) || Number(mtuText) < 68 || Number(mtuText) > 65535) {
        throw new NetworkOptionError(`com.docker.network.driver.mtu must be a number from 68 to 65535, got ${JSON.stringify(mtuText)}`);
      }
      mtu = Number(mtuText);
    }
    const n: NetworkRecord = {
      id: req.id, mode, mtu, internal: req.internal, ipv6: req.ipv6,
      ipv4: req.ipv4, ipv6Subnets: req.ipv6Subnets, options: o, host: this.hostName,
    };
    const masq = o['com.docker.network.bridge.enable_ip_masquerade'] ?? o['weft.masquerade'];
    if (masq !== undefined) n.masquerade = masq === 'true';
    if (o['parent']) n.parent = o['parent'];
    if (o['macvlan_mode']) n.macvlanMode = o['macvlan_mode'] as NetworkRecord['macvlanMode'];
    if (o['weft.vni']) {
      const v = Number(o['weft.vni']);
      if (!Number.isInteger(v) || v < 1 || v > MAX_VNI) throw new NetworkOptionError(`weft.vni must be 1..${MAX_VNI}`);
      n.vni = v;
    }
    return n;
  }

  /** A VNI no other live network uses (store key vni/<n>, created atomically). */
  async #allocateVni(n: NetworkRecord): Promise<number> {
    if (n.vni !== undefined) {
      if (await this.store.create(`vni/${n.vni}`, n.id)) return n.vni;
      throw new NetworkOptionError(`VNI ${n.vni} is already used by network ${await this.store.get(`vni/${n.vni}`)}`);
    }
    // Start from a hash of the id so concurrent creators rarely collide.
    const span = MAX_VNI - MIN_VNI + 1;
    const start = parseInt(n.id.slice(0, 6), 16) % span || 0;
    for (let i = 0; i < 4096; i++) {
      const vni = MIN_VNI + ((start + i) % span);
      if (await this.store.create(`vni/${vni}`, n.id)) return vni;
    }
    throw new NetworkOptionError('no free VNI found');
  }

  /** DeleteNetwork: idempotent; refuses while endpoints remain. */
  deleteNetwork(id: string): Promise<void> {
    return this.#serial.run(id, async () => {
      const v = await this.store.get(`networks/${id}`);
      if (!v) return;
      const n = JSON.parse(v) as NetworkRecord;
      await this.settle(id);
      const all = await this.endpoints(id);
      const eps = all.filter((e) => !e.ingress);
      if (eps.length > 0) throw new NetworkOptionError(`network ${id} still has ${eps.length} endpoint(s)`);
      // Ingress legs (the mesh's, of every host) go with the network.
      for (const leg of all) await this.#removeIngressRecord(n, leg);
      await this.#driver(n.mode).removeNetwork(n, await this.#others(id));
      await this.store.delete(`networks/${id}`);
      if (n.vni !== undefined && (await this.store.get(`vni/${n.vni}`)) === id) await this.store.delete(`vni/${n.vni}`);
    });
  }

  /**
   * This host's ingress leg into an overlay network (the routing mesh sends
   * through it): an address from the network's pool on a veth the host keeps.
   * Idempotent; published to other hosts like any endpoint.
   */
  ensureIngress(networkId: string): Promise<EndpointRecord> {
    return this.#serial.run(networkId, async () => {
      const n = await this.network(networkId);
      const id = `ingress-${this.hostName}-${n.id}`;
      const existing = await this.store.get(`endpoints/${id}`);
      let ep: EndpointRecord;
      if (existing) ep = JSON.parse(existing) as EndpointRecord;
      else {
        const subnet = n.ipv4[0]?.pool;
        const pool = (await this.ipam.pools()).find((p) => p.pool === subnet && !p.v6);
        if (!pool) throw new NetworkOptionError(`network ${n.id} has no IPv4 pool for an ingress address`);
        const address = await this.ipam.requestAddress(pool.id, undefined, { owner: id });
        ep = { id, networkId: n.id, address, mac: macFromAddress(address, n.id), srcName: names.ingress(n.id), host: this.hostName, ingress: true };
        await this.store.put(`endpoints/${id}`, JSON.stringify(ep));
      }
      await this.#driver(n.mode).ensureEndpoint(n, ep);
      return ep;
    });
  }

  async #removeIngressRecord(n: NetworkRecord, leg: EndpointRecord): Promise<void> {
    if (leg.host === this.hostName) await this.#driver(n.mode).removeEndpoint(n, leg);
    const pool = (await this.ipam.pools()).find((p) => p.pool === n.ipv4[0]?.pool && !p.v6);
    if (pool && leg.address) await this.ipam.releaseAddress(pool.id, leg.address);
    await this.store.delete(`endpoints/${leg.id}`);
  }

  /** CreateEndpoint: returns the MAC only when Docker left it empty (docs/plugin-protocol.md). */
  createEndpoint(networkId: string, endpointId: string, iface: { address: string; addressV6: string; mac: string }): Promise<{ mac?: string }> {
    return this.#serial.run(networkId, async () => {
      const n = await this.network(networkId);
      const existing = await this.store.get(`endpoints/${endpointId}`);
      let ep: EndpointRecord;
      if (existing) ep = JSON.parse(existing) as EndpointRecord;
      else {
        ep = {
          id: endpointId, networkId,
          mac: iface.mac || macFromAddress(iface.address, endpointId),
          srcName: names.src(endpointId), host: this.hostName,
        };
        if (iface.address) ep.address = iface.address;
        if (iface.addressV6) ep.addressV6 = iface.addressV6;
        await this.store.put(`endpoints/${endpointId}`, JSON.stringify(ep));
      }
      try {
        await this.#driver(n.mode).ensureEndpoint(n, ep);
      } catch (err) {
        await this.#driver(n.mode).removeEndpoint(n, ep).catch(() => undefined);
        await this.store.delete(`endpoints/${endpointId}`);
        throw err;
      }
      return iface.mac ? {} : { mac: ep.mac };
    });
  }

  /** Join: where the link is, and what gateway the container gets. */
  join(networkId: string, endpointId: string, sandboxKey: string): Promise<JoinResult> {
    return this.#serial.run(networkId, async () => {
      const n = await this.network(networkId);
      const ep = await this.endpoint(endpointId);
      if (ep.networkId !== networkId) throw new EndpointNotFoundError(`${endpointId} on network ${networkId}`);
      if (sandboxKey && ep.sandboxKey !== sandboxKey) {
        ep.sandboxKey = sandboxKey;
        await this.store.put(`endpoints/${endpointId}`, JSON.stringify(ep));
      }
      await this.#driver(n.mode).ensureEndpoint(n, ep);
      return { srcName: ep.srcName, dstPrefix: 'eth', ...this.#driver(n.mode).joinInfo(n, ep) };
    });
  }

  /**
   * Leave: nothing to undo. Docker tears the sandbox down itself; the record
   * keeps its sandboxKey so a restart before DeleteEndpoint does not recreate
   * a link that went away with the sandbox.
   */
  async leave(networkId: string, endpointId: string): Promise<void> {
    const ep = await this.endpoint(endpointId).catch(() => undefined);
    if (ep && ep.networkId !== networkId) throw new EndpointNotFoundError(`${endpointId} on network ${networkId}`);
  }

  /**
   * DeleteEndpoint: idempotent. The record goes first and Docker gets its
   * answer; the link is removed in the background (deleting a veth costs
   * ~15 ms of RCU grace period), in order per network. A crash in between
   * leaves a weft-named orphan that the next start sweeps. DeleteNetwork
   * waits for these removals.
   */
  deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    return this.#serial.run(networkId, async () => {
      const v = await this.store.get(`endpoints/${endpointId}`);
      if (!v) return;
      const ep = JSON.parse(v) as EndpointRecord;
      await this.store.delete(`endpoints/${endpointId}`);
      const nv = await this.store.get(`networks/${ep.networkId}`);
      if (!nv) return;
      const n = JSON.parse(nv) as NetworkRecord;
      void this.#reaper.run(n.id, () => this.#driver(n.mode).removeEndpoint(n, ep)).catch((err) => this.onBackgroundError(err as Error));
    });
  }

  /** Waits until background removals for a network (or all) are done. */
  settle(networkId?: string): Promise<unknown> {
    return networkId ? this.#reaper.run(networkId, async () => undefined) : this.#reaper.idle();
  }

  /** Where background failures go (the daemon logs them). */
  onBackgroundError: (err: Error) => void = () => undefined;

  /**
   * Brings the kernel in line with the store after a start: recreates what
   * is missing, removes weft-named orphans, never touches anything else.
   * Returns what it did, for the log.
   */
  async reconcile(): Promise<{ networks: number; endpoints: number; removed: string[]; errors: string[] }> {
    const networks = (await this.networks()).filter((n) => !n.host || n.host === this.hostName || n.mode === 'overlay');
    const endpoints = (await this.endpoints()).filter((e) => !e.host || e.host === this.hostName);
    const errors: string[] = [];
    for (const n of networks) {
      try {
        await this.#ensureNetwork(n);
      } catch (err) {
        errors.push(`network ${n.id}: ${(err as Error).message}`);
      }
    }
    const byId = new Map(networks.map((n) => [n.id, n]));
    for (const ep of endpoints) {
      const n = byId.get(ep.networkId);
      if (!n) continue;
      try {
        await this.#driver(n.mode).ensureEndpoint(n, ep);
      } catch (err) {
        errors.push(`endpoint ${ep.id}: ${(err as Error).message}`);
      }
    }
    const removed: string[] = [];
    for (const d of this.#drivers.values()) removed.push(...(await d.sweepOrphans(networks, endpoints)));
    return { networks: networks.length, endpoints: endpoints.length, removed, errors };
  }
}
