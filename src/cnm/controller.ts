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
import { EndpointNotFoundError, NetworkNotFoundError, NetworkOptionError } from '../errors.js';
import { type EndpointRecord, type LinkKind, type NetworkMode, type NetworkRecord, HOST_AUX, type PortBinding, isEncrypted, linkName, macFromAddress, macvlanHostAddress } from './model.js';
import { formatCidr, overlaps, parseCidr } from './cidr.js';
import { type PortRequest, allocatePorts } from './drivers/ports.js';
import { sandboxExists } from '../io/netns.js';
import { validateAddress, validateEndpointAddress, validatePool } from './validate.js';
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
  #hostSide = new KeyedSerial();

  /**
   * Programs the host side (published ports, egress, isolation) from this
   * host's networks and endpoints; the daemon sets it, tests without
   * privileges leave it a no-op.
   */
  applyHostSide: (networks: NetworkRecord[], endpoints: EndpointRecord[]) => Promise<void> = async () => undefined;

  /** Sockets bound on the host, for refusing a taken port (the daemon sets it). */
  boundPorts: () => { proto: string; address: string; port: number }[] = () => [];
  /** The daemon's --instance: part of every link name this controller allocates. */
  instance = '';
  /** Called when Docker retried a delete with an empty body (the daemon reconciles with Docker soon). */
  onLostRetry: () => void = () => undefined;

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

  /** The IDs this host's Docker knows weft network `nid` by (a shared store maps other IDs to it). */
  async dockerNetworkIds(nid: string): Promise<string[]> {
    return [nid];
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
      await this.#refuseOverlap(n);
      const others = await this.networks();
      if (n.mode === 'overlay') {
        // The overlay namespace is named by the ID's first 12 characters.
        const clash = others.find((o) => o.mode === 'overlay' && o.id.slice(0, 12) === n.id.slice(0, 12));
        if (clash) throw new NetworkOptionError(`network ID ${n.id} shares its first 12 characters with overlay network ${clash.id}`);
      }
      if (n.mode === 'bridge') n.bridgeName = this.#allocateName('bridge', n.id, new Set(others.map((o) => o.bridgeName ?? '')));
      if (n.mode === 'overlay') {
        n.vni = await this.#allocateVni(n);
        await this.#putMany([{ key: `vni/${n.vni}`, value: n.id }, { key: `networks/${n.id}`, value: JSON.stringify(n) }]);
      } else await this.store.put(`networks/${n.id}`, JSON.stringify(n));
      try {
        await this.#ensureNetwork(n);
        await this.syncHostSide();
      } catch (err) {
        await driver.removeNetwork(n, await this.#others(n.id)).catch(() => undefined);
        await this.store.delete(`networks/${n.id}`);
        if (n.vni !== undefined) await this.store.delete(`vni/${n.vni}`);
        throw err;
      }
    });
  }

  /** Networks whose kernel side lives on this host (overlays are on every host). */
  #onThisHost(n: NetworkRecord): boolean {
    return !n.host || n.host === this.hostName || n.mode === 'overlay';
  }

  /** Refuses a subnet overlapping another network on this host, whatever IPAM allocated it. */
  async #refuseOverlap(n: NetworkRecord): Promise<void> {
    const mine = [...n.ipv4, ...n.ipv6Subnets].map((s) => parseCidr(s.pool, false));
    for (const o of await this.networks()) {
      if (o.id === n.id || !this.#onThisHost(o)) continue;
      for (const s of [...o.ipv4, ...o.ipv6Subnets]) {
        const theirs = parseCidr(s.pool, false);
        const clash = mine.find((m) => m.v6 === theirs.v6 && overlaps(m, theirs));
        if (clash) {
          const name = o.options['weft.network'] ? ` (${o.options['weft.network']})` : '';
          throw new NetworkOptionError(`subnet ${formatCidr(clash)} overlaps subnet ${s.pool} of weft network ${o.id.slice(0, 12)}${name}`);
        }
      }
    }
  }

  /** Re-applies the host side from the store (serialised); also what the reconciler runs. */
  syncHostSide(): Promise<void> {
    return this.#hostSide.run('apply', async () => {
      const networks = (await this.networks()).filter((n) => this.#onThisHost(n));
      const endpoints = (await this.endpoints()).filter((e) => !e.host || e.host === this.hostName);
      await this.applyHostSide(networks, endpoints);
    });
  }

  /**
   * ProgramExternalConnectivity: chooses the host ports, persists them on the
   * endpoint, then programs them. A retry with the same request keeps the
   * ports already chosen. Port choices are serialised across networks.
   */
  async publishPorts(networkId: string, endpointId: string, requests: PortRequest[]): Promise<PortBinding[]> {
    const n = await this.network(networkId);
    return this.#hostSide.run('ports', async () => {
      const ep = await this.endpoint(endpointId);
      if (ep.networkId !== n.id) throw new EndpointNotFoundError(`${endpointId} on network ${networkId}`);
      if (requests.length > 0 && !ep.address) throw new NetworkOptionError(`endpoint ${endpointId.slice(0, 12)} has no IPv4 address to publish ports to`);
      if (requests.length > 0 && n.mode === 'macvlan' && !macvlanHostAddress(n)) {
        throw new NetworkOptionError(`publishing ports on macvlan network ${n.id.slice(0, 12)} needs the host's own address there: create it with --aux-address ${HOST_AUX}=IP`);
      }
      if (samePorts(ep.ports ?? [], requests)) {
        await this.syncHostSide();
        return ep.ports ?? [];
      }
      const others = (await this.endpoints()).filter((e) => e.id !== ep.id && (!e.host || e.host === this.hostName));
      const taken = others.flatMap((e) => (e.ports ?? []).map((binding) => ({ binding, owner: `endpoint ${e.id.slice(0, 12)} of network ${e.networkId.slice(0, 12)}` })));
      const ports = allocatePorts(requests, taken, this.boundPorts());
      if (ports.length > 0) ep.ports = ports;
      else delete ep.ports;
      await this.store.put(`endpoints/${ep.id}`, JSON.stringify(ep));
      await this.syncHostSide();
      return ports;
    });
  }

  /**
   * A container removed while weft was down leaves its record (Docker's
   * RevokeExternalConnectivity never arrived); its sandbox is gone, so its
   * ports are freed. Only at start: while a container starts, Docker calls
   * ProgramExternalConnectivity before its sandbox is mounted
   * (docs/plugin-protocol.md).
   */
  async #dropPortsOfGoneSandboxes(): Promise<void> {
    await this.#hostSide.run('ports', async () => {
      for (const ep of await this.endpoints()) {
        if (!ep.ports || (ep.host && ep.host !== this.hostName) || !ep.sandboxKey || sandboxExists(ep.sandboxKey)) continue;
        delete ep.ports;
        await this.store.put(`endpoints/${ep.id}`, JSON.stringify(ep));
      }
    });
  }

  /** RevokeExternalConnectivity: idempotent. */
  async unpublishPorts(endpointId: string): Promise<void> {
    await this.#hostSide.run('ports', async () => {
      const ep = await this.endpoint(endpointId).catch(() => undefined);
      if (!ep?.ports) return;
      delete ep.ports;
      await this.store.put(`endpoints/${ep.id}`, JSON.stringify(ep));
      await this.syncHostSide();
    });
  }

  /** Checks a request's options by CreateNetwork's rules, creating nothing (swarm's AllocateNetwork). */
  validateNetwork(req: CreateNetworkRequest): void {
    const n = this.#networkFromRequest(req);
    this.#driver(n.mode).validate(n);
  }

  /** Runs the driver and persists whatever it reports having created. */
  async #ensureNetwork(n: NetworkRecord): Promise<void> {
    const changes = await this.#driver(n.mode).ensureNetwork(n);
    if (changes && Object.keys(changes).length) {
      Object.assign(n, changes);
      await this.store.put(`networks/${n.id}`, JSON.stringify(n));
    }
  }

  /**
   * Several keys in one durable step where the store can (embedded: one
   * journal record), so a crash never leaves half of them; etcd writes them
   * in order and reconcile() releases what a crash left unowned.
   */
  async #putMany(changes: { key: string; value?: string }[]): Promise<void> {
    const batch = (this.store as { batch?: (c: { key: string; value?: string }[]) => Promise<void> }).batch;
    if (batch) return batch.call(this.store, changes);
    for (const c of changes) {
      if (c.value === undefined) await this.store.delete(c.key);
      else await this.store.put(c.key, c.value);
    }
  }

  /** A link name no other record holds (model.ts linkName), stored in the record by the caller. */
  #allocateName(kind: LinkKind, id: string, taken: Set<string>): string {
    for (let attempt = 0; ; attempt++) {
      const name = linkName(kind, this.instance, id, attempt);
      if (!taken.has(name)) return name;
    }
  }

  async #takenEndpointNames(): Promise<Set<string>> {
    return new Set((await this.endpoints()).flatMap((e) => [e.srcName, e.portName ?? '']));
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
    for (const [i, sub] of [...req.ipv4, ...req.ipv6Subnets].entries()) {
      validatePool(sub.pool, `subnet ${i + 1}`);
      if (sub.gateway) validateEndpointAddress(sub.gateway, [sub.pool], 'gateway');
      for (const [name, a] of Object.entries(sub.aux)) validateAddress(a, `aux address ${name}`, { bare: !a.includes('/') });
    }
    const n: NetworkRecord = {
      id: req.id, mode, mtu, internal: req.internal, ipv6: req.ipv6,
      ipv4: req.ipv4, ipv6Subnets: req.ipv6Subnets, options: o, host: this.hostName, created: Date.now(),
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
      // Held by this same network: a retry after a crash between the two writes (etcd).
      if (await this.store.create(`vni/${n.vni}`, n.id) || (await this.store.get(`vni/${n.vni}`)) === n.id) return n.vni;
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
      const vni = n.vni !== undefined && (await this.store.get(`vni/${n.vni}`)) === id ? [{ key: `vni/${n.vni}` }] : [];
      await this.#putMany([{ key: `networks/${id}` }, ...vni]);
      await this.syncHostSide();
    });
  }

  /**
   * Operator repair and reconciliation with Docker: removes a network whose
   * Docker side is gone, with its endpoints (records and kernel objects).
   */
  forceDeleteNetwork(id: string): Promise<void> {
    return this.#serial.run(id, async () => {
      const v = await this.store.get(`networks/${id}`);
      if (!v) return;
      const n = JSON.parse(v) as NetworkRecord;
      await this.settle(id);
      for (const ep of await this.endpoints(id)) {
        if (ep.ingress) await this.#removeIngressRecord(n, ep);
        else {
          if (!ep.host || ep.host === this.hostName) await this.#driver(n.mode).removeEndpoint(n, ep).catch((err) => this.onBackgroundError(err as Error));
          await this.store.delete(`endpoints/${ep.id}`);
        }
      }
      await this.#driver(n.mode).removeNetwork(n, await this.#others(id));
      const vni = n.vni !== undefined && (await this.store.get(`vni/${n.vni}`)) === id ? [{ key: `vni/${n.vni}` }] : [];
      await this.#putMany([{ key: `networks/${id}` }, ...vni]);
      await this.syncHostSide();
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
        ep = { id, networkId: n.id, address, mac: macFromAddress(address, n.id), srcName: this.#allocateName('ingress', id, await this.#takenEndpointNames()), host: this.hostName, ingress: true };
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
        const subnets = [...n.ipv4, ...n.ipv6Subnets].map((s) => s.pool);
        if (iface.address) validateEndpointAddress(iface.address, subnets, 'Interface.Address');
        if (iface.addressV6) validateEndpointAddress(iface.addressV6, subnets, 'Interface.AddressIPv6');
        const taken = await this.#takenEndpointNames();
        const srcName = this.#allocateName('container', endpointId, taken);
        ep = {
          id: endpointId, networkId,
          mac: iface.mac || macFromAddress(iface.address, endpointId),
          srcName, portName: this.#allocateName('port', endpointId, new Set([...taken, srcName])), host: this.hostName,
          created: Date.now(),
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
        ep.joined = Date.now();
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
      if (ep.ports) await this.syncHostSide();
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
  async reconcile(): Promise<{ networks: number; endpoints: number; removed: string[]; released: string[]; errors: string[] }> {
    const released = await this.#releaseUnowned();
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
    await this.#dropPortsOfGoneSandboxes();
    await this.syncHostSide().catch((err: Error) => errors.push(`host side: ${err.message}`));
    return { networks: networks.length, endpoints: endpoints.length, removed, released, errors };
  }

  /**
   * Records no network owns, left by a crash between writes: VNIs of
   * networks that do not exist, endpoints of networks that do not exist.
   * Only with a single-host store (with etcd another host may be between
   * its two writes right now).
   */
  async #releaseUnowned(): Promise<string[]> {
    if (this.store.kind !== 'embedded') return [];
    const ids = new Set((await this.networks()).map((n) => n.id));
    const released: string[] = [];
    for (const [k, v] of await this.store.list('vni/')) {
      if (!ids.has(v)) {
        await this.store.delete(k);
        released.push(k);
      }
    }
    for (const ep of await this.endpoints()) {
      if (!ids.has(ep.networkId)) {
        await this.store.delete(`endpoints/${ep.id}`);
        released.push(`endpoints/${ep.id}`);
      }
    }
    return released;
  }
}

/** Whether the bindings already chosen answer these requests (Docker's retry of a PEC). */
function samePorts(have: PortBinding[], reqs: PortRequest[]): boolean {
  return have.length === reqs.length && reqs.every((r, i) => {
    const h = have[i]!;
    const [lo, hi] = r.hostPort === 0 ? [1, 65535] : [r.hostPort, r.hostPortEnd];
    return h.proto === r.proto && h.port === r.port && h.hostIp === r.hostIp && h.hostPort >= lo && h.hostPort <= hi;
  });
}
