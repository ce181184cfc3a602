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
import { applyConnectivity } from '../cnm/drivers/connectivity.js';
import { RtnlHandles } from '../cnm/drivers/rtnl-handles.js';
import { boundPorts } from '../io/listening.js';
import { EmbeddedStore } from '../control/embedded-store.js';
// etcd3 and gRPC take seconds to load: only daemons with an etcd store load them (fast restarts after a crash).
import type { EtcdConnectOptions, EtcdStore } from '../control/etcd-store.js';
import { OverlaySecurity } from '../control/overlay-security.js';
import { GlobalController } from '../control/global-controller.js';
import { PeerDistributor } from '../control/peers.js';
import type { KvStore } from '../control/store.js';
import { InvalidArgumentError } from '../errors.js';
import { PluginServer } from '../plugin/server.js';
import { enableSwarm } from '../plugin/swarm.js';
import type { Logger } from './log.js';
import { NetworkDns, resolvConfUpstreams } from './network-dns.js';
import { MeshControl } from './mesh-control.js';
import type { HostPort } from '../dns/hostport.js';
import { ControlServer, type ListenAddress, controlSocketPath } from './control.js';
import { DaemonStatus } from './status.js';
import { instrumentStore } from './store-metrics.js';
import { type Claims, claimAndCheck } from './startup.js';
import { DockerReconciler } from './docker-reconcile.js';
import { basename } from 'node:path';

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
  /** Also serve /metrics, /healthz and /status here (the control socket in the state dir is always served). */
  metrics?: ListenAddress;
  /** Seconds between reconciliations with Docker's view, also their grace period (default 60; 0: off). */
  dockerReconcile?: number;
  /** DataScope reported to Docker: 'global' for swarm (the managed plugin), 'local' otherwise (default). */
  dataScope?: 'local' | 'global';
  /**
   * Open the plugin socket before the start-up work, holding requests until it is done: Docker gives a
   * managed plugin about 12 s to listen, which loading etcd3 and reconciling can exceed (docs/swarm.md).
   */
  listenEarly?: boolean;
}

/** The plugin socket opened ahead of start-up, and how to release the requests waiting on it. */
interface EarlySocket {
  server: PluginServer;
  ready: (c: Controller) => void;
  fail: (err: unknown) => void;
}

export { DEFAULTS } from './defaults.js';

export class Daemon {
  private constructor(
    readonly security: OverlaySecurity,
    readonly controller: Controller,
    readonly store: KvStore,
    private readonly server: PluginServer,
    readonly control: ControlServer,
    readonly peers?: PeerDistributor,
    readonly dns?: NetworkDns,
    readonly mesh?: MeshControl,
    private readonly cancelHostSideWatch?: () => void,
    private readonly claims?: Claims,
    private readonly reconciler?: DockerReconciler,
    private readonly handles?: RtnlHandles,
  ) {}

  static async openStore(opts: DaemonOptions): Promise<KvStore> {
    if (opts.store === 'embedded' || opts.store === '') return EmbeddedStore.open(opts.stateDir);
    if (opts.store.startsWith('etcd://') || opts.store.startsWith('etcds://')) return (await import('../control/etcd-store.js')).EtcdStore.connect(opts.store, opts.etcd);
    throw new InvalidArgumentError(`--store must be 'embedded' or etcd://host:port[,host:port], got ${JSON.stringify(opts.store)}`);
  }

  static async start(opts: DaemonOptions, log: Logger): Promise<Daemon> {
    const embedded = opts.store === 'embedded' || opts.store === '';
    const claims = await claimAndCheck({ ...opts, embedded });
    let early: EarlySocket | undefined;
    // The drivers' netlink handles, one per namespace, shared by every request.
    const handles = new RtnlHandles();
    try {
      if (opts.listenEarly) early = await Daemon.#listenEarly(opts.socket, log);
      return await Daemon.#start(opts, log, claims, early, handles);
    } catch (err) {
      early?.fail(err);
      await early?.server.close().catch(() => undefined);
      handles.close();
      claims.release();
      throw err;
    }
  }

  static async #listenEarly(socket: string, log: Logger): Promise<EarlySocket> {
    let ready!: (c: Controller) => void;
    let fail!: (err: unknown) => void;
    const controller = new Promise<Controller>((resolve, reject) => {
      ready = resolve;
      fail = reject;
    });
    controller.catch(() => undefined);
    const server = await PluginServer.listen(socket, controller, log);
    log({ msg: 'plugin socket open; requests wait for the start-up', socket });
    return { server, ready, fail };
  }

  static async #start(opts: DaemonOptions, log: Logger, claims: Claims, early: EarlySocket | undefined, handles: RtnlHandles): Promise<Daemon> {
    const store = instrumentStore(await Daemon.openStore(opts));
    if (store instanceof EmbeddedStore) {
      const o = store.opened;
      if (o.status === 'repaired') log({ level: 'warn', msg: 'state journal: cut a torn tail left by a crash mid-write', path: o.path, bytes: o.tornBytes });
      if (o.status === 'migrated') log({ msg: 'state journal: rewrote a v1 journal in the v2 format', path: o.path, backup: `${o.path}.v1` });
      if (o.deferred) log({ level: 'error', msg: 'state journal cannot be written; serving reads, refusing changes until there is space', error: o.deferred.message });
    }
    // Served from the start: /healthz says "reconciling" until the kernel matches the store.
    const status = new DaemonStatus(opts, store);
    let control: ControlServer;
    try {
      control = await ControlServer.listen([{ path: controlSocketPath(opts.stateDir) }, ...(opts.metrics ? [opts.metrics] : [])], status);
    } catch (err) {
      await store.close();
      throw err;
    }
    const security = new OverlaySecurity(store, {
      storeIsPrivate: store.kind !== 'etcd' || (store as EtcdStore).tls,
      ...(opts.insecureStoreKeys ? { allowInsecureStore: true } : {}),
      ...(opts.keyRotationSeconds ? { rotateMs: opts.keyRotationSeconds * 1000 } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
      log,
    });
    if (store.kind === 'etcd') {
      // Known peers before reconciling, so a restart never empties the admission set or the SAs.
      const hosts = [...(await store.list('hosts/')).values()].map((v) => (JSON.parse(v) as { address?: string }).address).filter((a): a is string => !!a);
      await security.setPeers(hosts);
    }
    const overlay = new OverlayDriver(handles, {
      security,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.underlayDevice ? { underlayDevice: opts.underlayDevice } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
    });
    const drivers = [overlay, new BridgeDriver(handles, opts.instance ? { instance: opts.instance } : {}), new MacvlanDriver(handles)];
    const hostName = opts.hostName ?? hostname();
    const controller = store.kind === 'etcd'
      ? new GlobalController(store as EtcdStore, drivers, hostName, overlay)
      : new Controller(store, drivers, undefined, hostName);
    controller.instance = opts.instance ?? '';
    controller.onBackgroundError = (err) => log({ level: 'warn', msg: 'background kernel cleanup failed', error: err.message });
    status.controller = controller;
    if (opts.dataScope === 'global') {
      enableSwarm(controller, { onNodeEvent: (e) => log({ msg: e.joined ? 'swarm node joined' : 'swarm node left', ...e }) });
    }
    const t0 = Date.now();
    controller.applyHostSide = applyConnectivity;
    controller.boundPorts = boundPorts;
    const summary = await controller.reconcile();
    status.reconciled(summary);
    log({ level: summary.errors.length ? 'warn' : 'info', msg: 'reconciled kernel with store', ms: Date.now() - t0, ...summary });
    // A network that failed to reconcile may still have its VXLAN device: its protection stays until the next start.
    if (summary.errors.length === 0) await security.settled();
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
    // Other hosts' overlays reach this host's kernel through the peers; their egress NAT and isolation follow here.
    const cancelHostSideWatch = peers ? store.watch('networks/', () => {
      controller.syncHostSide().catch((err: Error) => log({ msg: 'host side sync failed', error: err.message }));
    }) : undefined;
    const server = early?.server ?? await PluginServer.listen(opts.socket, controller, log);
    early?.ready(controller);
    const mesh = dns && opts.mesh !== 'off' ? Daemon.#startMesh(dns, controller, peers, opts, log) : undefined;
    status.attach({ peers, dns, mesh });
    log({ msg: 'listening', socket: opts.socket, store: store.kind, stateDir: opts.stateDir, control: controlSocketPath(opts.stateDir), ...(control.tcpPort() !== undefined ? { metricsPort: control.tcpPort() } : {}) });
    const interval = opts.dockerReconcile ?? 60;
    let reconciler: DockerReconciler | undefined;
    if (interval > 0) {
      reconciler = new DockerReconciler(controller, {
        socket: opts.dockerSocket ?? '/var/run/docker.sock', driver: basename(opts.socket, '.sock'), intervalMs: interval * 1000, log,
      });
      controller.onLostRetry = () => reconciler!.soon();
      await reconciler.start();
    }
    return new Daemon(security, controller, store, server, control, peers, dns, mesh, cancelHostSideWatch, claims, reconciler, handles);
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
    await this.reconciler?.close();
    this.cancelHostSideWatch?.();
    await this.server.close();
    await this.control.close();
    await this.mesh?.close();
    await this.dns?.close();
    await this.peers?.stop();
    await this.security.stop();
    await this.controller.settle();
    this.handles?.close();
    await this.store.close();
    this.claims?.release();
  }
}
