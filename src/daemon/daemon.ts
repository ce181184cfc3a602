/**
 * The composition root of `weft daemon`: the store, the driver model with
 * its three modes, reconciliation with the kernel, then the plugin socket.
 * Stopping the daemon leaves the kernel as it is, so traffic keeps flowing;
 * the next start reconciles.
 */
import { hostname } from 'node:os';
import { Controller } from '../cnm/controller.js';
import { BridgeDriver } from '../cnm/drivers/bridge.js';
import { MacvlanDriver } from '../cnm/drivers/macvlan.js';
import { OverlayDriver } from '../cnm/drivers/overlay.js';
import { EmbeddedStore } from '../control/embedded-store.js';
import { type EtcdConnectOptions, EtcdStore } from '../control/etcd-store.js';
import { OverlaySecurity } from '../control/overlay-security.js';
import { GlobalController } from '../control/global-controller.js';
import { PeerDistributor } from '../control/peers.js';
import type { KvStore } from '../control/store.js';
import { InvalidArgumentError } from '../errors.js';
import { PluginServer } from '../plugin/server.js';
import type { Logger } from './log.js';
import { NetworkDns, resolvConfUpstreams } from './network-dns.js';
import { MeshControl } from './mesh-control.js';
import type { HostPort } from '../dns/hostport.js';

export interface DaemonOptions {
  socket: string;
  stateDir: string;
  /** 'embedded' (default) or an etcd:// URL list. */
  store: string;
  hostName?: string;
  /** This host's underlay (VTEP) address and device for overlay networks. */
  localAddress?: string;
  underlayDevice?: string;
  /** Qualifies kernel namespace names when several daemons share a machine. */
  instance?: string;
  /** etcd only: seconds this host stays registered after its daemon stops renewing (default 15). */
  leaseTtl?: number;
  /** DNS on each network's gateway (default on). */
  dns?: boolean;
  /** Where unknown names go (default: /etc/resolv.conf's non-loopback nameservers). */
  dnsUpstreams?: HostPort[];
  /** dockerd's API socket for container names (default /var/run/docker.sock). */
  dockerSocket?: string;
  /** Ingress routing mesh backend (default auto: IPVS when the kernel has it, else nftables). */
  mesh?: 'auto' | 'ipvs' | 'nft' | 'off';
  /** Encryption key rotation period in seconds (default 12 h). */
  keyRotationSeconds?: number;
  /** Accept encryption keys in a plain-text (etcd://) store. */
  insecureStoreKeys?: boolean;
  /** etcd TLS material and credentials (flags; the environment is the fallback). */
  etcd?: EtcdConnectOptions;
}

export const DEFAULTS = {
  socket: '/run/docker/plugins/weft.sock',
  stateDir: '/var/lib/weft',
  store: 'embedded',
};

export class Daemon {
  private constructor(
    readonly security: OverlaySecurity,
    readonly controller: Controller,
    readonly store: KvStore,
    private readonly server: PluginServer,
    readonly peers?: PeerDistributor,
    readonly dns?: NetworkDns,
    readonly mesh?: MeshControl,
  ) {}

  static async openStore(opts: DaemonOptions): Promise<KvStore> {
    if (opts.store === 'embedded' || opts.store === '') return EmbeddedStore.open(opts.stateDir);
    if (opts.store.startsWith('etcd://') || opts.store.startsWith('etcds://')) return EtcdStore.connect(opts.store, opts.etcd);
    throw new InvalidArgumentError(`--store must be 'embedded' or etcd://host:port[,host:port], got ${JSON.stringify(opts.store)}`);
  }

  static async start(opts: DaemonOptions, log: Logger): Promise<Daemon> {
    const store = await Daemon.openStore(opts);
    const security = new OverlaySecurity(store, {
      storeIsPrivate: !(store instanceof EtcdStore) || store.tls,
      ...(opts.insecureStoreKeys ? { allowInsecureStore: true } : {}),
      ...(opts.keyRotationSeconds ? { rotateMs: opts.keyRotationSeconds * 1000 } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
      log,
    });
    if (store instanceof EtcdStore) {
      // Known peers before reconciling, so a restart never empties the admission set or the SAs.
      const hosts = [...(await store.list('hosts/')).values()].map((v) => (JSON.parse(v) as { address?: string }).address).filter((a): a is string => !!a);
      await security.setPeers(hosts);
    }
    const overlay = new OverlayDriver({
      security,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.underlayDevice ? { underlayDevice: opts.underlayDevice } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
    });
    const drivers = [overlay, new BridgeDriver(), new MacvlanDriver()];
    const hostName = opts.hostName ?? hostname();
    const controller = store instanceof EtcdStore
      ? new GlobalController(store, drivers, hostName, overlay)
      : new Controller(store, drivers, undefined, hostName);
    controller.onBackgroundError = (err) => log({ msg: 'background kernel cleanup failed', error: err.message });
    const t0 = Date.now();
    const summary = await controller.reconcile();
    log({ msg: 'reconciled kernel with store', ms: Date.now() - t0, ...summary });
    security.start();
    const peers = controller instanceof GlobalController
      ? await Daemon.#startPeers(store as EtcdStore, controller, overlay, opts, hostName, log, security)
      : undefined;
    const dns = opts.dns === false ? undefined : await NetworkDns.start(store, {
      host: hostName,
      upstreams: opts.dnsUpstreams ?? resolvConfUpstreams(),
      dockerSocket: opts.dockerSocket ?? '/var/run/docker.sock',
      ...(opts.instance ? { instance: opts.instance } : {}),
    }, log);
    const server = await PluginServer.listen(opts.socket, controller, log);
    const mesh = dns && opts.mesh !== 'off' ? Daemon.#startMesh(dns, controller, peers, opts, log) : undefined;
    log({ msg: 'listening', socket: opts.socket, store: store.kind, stateDir: opts.stateDir });
    return new Daemon(security, controller, store, server, peers, dns, mesh);
  }

  /** The routing mesh, fed by the shared records; with peers, backends of hosts whose lease expired leave it. */
  static #startMesh(dns: NetworkDns, controller: Controller, peers: PeerDistributor | undefined, opts: DaemonOptions, log: Logger): MeshControl {
    const records = dns.records;
    const kind = opts.mesh && opts.mesh !== 'off' ? opts.mesh : 'auto';
    if (!peers) return new MeshControl(records, controller, kind, log);
    const liveHosts = () => new Set(peers.hosts().map((h) => h.name));
    const mesh = new MeshControl(records, controller, kind, log, (r) => {
      const live = liveHosts();
      return records.hostsOf(r).some((h) => live.has(h));
    });
    mesh.liveVersion = () => [...liveHosts()].sort().join(',');
    return mesh;
  }

  /** Multi-host (etcd): register this host, then program every other host's endpoints. */
  static async #startPeers(store: EtcdStore, controller: GlobalController, overlay: OverlayDriver, opts: DaemonOptions, hostName: string, log: Logger, security: OverlaySecurity): Promise<PeerDistributor> {
    if (!opts.localAddress) throw new InvalidArgumentError("with an etcd store, --local ADDR (this host's underlay address) is required");
    const peers = new PeerDistributor(store, controller, overlay, {
      hostName, localAddress: opts.localAddress, log,
      ...(opts.leaseTtl !== undefined ? { leaseTtl: opts.leaseTtl } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
    });
    peers.onVteps = (vteps) => security.setPeers(vteps);
    await peers.start();
    log({ msg: 'peer distribution started', host: hostName, local: opts.localAddress, leaseTtl: peers.leaseTtl, hosts: peers.hosts().length });
    return peers;
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.mesh?.close();
    await this.dns?.close();
    await this.peers?.stop();
    await this.security.stop();
    await this.controller.settle();
    await this.store.close();
  }
}
