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
import type { KvStore } from '../control/store.js';
import { InvalidArgumentError } from '../errors.js';
import { PluginServer } from '../plugin/server.js';
import type { Logger } from './log.js';

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
}

export const DEFAULTS = {
  socket: '/run/docker/plugins/weft.sock',
  stateDir: '/var/lib/weft',
  store: 'embedded',
};

export class Daemon {
  private constructor(
    readonly controller: Controller,
    readonly store: KvStore,
    private readonly server: PluginServer,
  ) {}

  static async openStore(opts: DaemonOptions): Promise<KvStore> {
    if (opts.store === 'embedded' || opts.store === '') return EmbeddedStore.open(opts.stateDir);
    if (opts.store.startsWith('etcd://')) {
      const { EtcdStore } = await import('../control/etcd-store.js');
      return EtcdStore.connect(opts.store);
    }
    throw new InvalidArgumentError(`--store must be 'embedded' or etcd://host:port[,host:port], got ${JSON.stringify(opts.store)}`);
  }

  static async start(opts: DaemonOptions, log: Logger): Promise<Daemon> {
    const store = await Daemon.openStore(opts);
    const overlay = new OverlayDriver({
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.underlayDevice ? { underlayDevice: opts.underlayDevice } : {}),
      ...(opts.instance ? { instance: opts.instance } : {}),
    });
    const controller = new Controller(store, [overlay, new BridgeDriver(), new MacvlanDriver()], undefined, opts.hostName ?? hostname());
    controller.onBackgroundError = (err) => log({ msg: 'background kernel cleanup failed', error: err.message });
    const t0 = Date.now();
    const summary = await controller.reconcile();
    log({ msg: 'reconciled kernel with store', ms: Date.now() - t0, ...summary });
    const server = await PluginServer.listen(opts.socket, controller, log);
    log({ msg: 'listening', socket: opts.socket, store: store.kind, stateDir: opts.stateDir });
    return new Daemon(controller, store, server);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.controller.settle();
    await this.store.close();
  }
}
