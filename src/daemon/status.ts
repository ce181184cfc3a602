/**
 * What the daemon knows about itself, for the control endpoint: readiness
 * for /healthz, the /status document `weft status` starts from, and the
 * gauges of /metrics (networks, endpoints, peers, mesh) refreshed at scrape.
 */
import type { Controller } from '../cnm/controller.js';
import type { PeerDistributor } from '../control/peers.js';
import type { KvStore } from '../control/store.js';
import { redact } from '../log.js';
import { metrics } from '../metrics.js';
import { version } from '../version.js';
import type { ControlSource } from './control.js';
import type { DaemonOptions } from './daemon.js';
import type { MeshControl } from './mesh-control.js';
import type { NetworkDns } from './network-dns.js';

const RECONCILE_RUNS = metrics.counter('weft_reconcile_runs_total', 'Reconciliations of the kernel with the store (at start, and full peer resyncs).').with();
const REPAIRS = metrics.counter('weft_reconcile_repairs_total', 'Kernel objects a reconciliation had to fix, by what (orphan, peer).');
const RECONCILE_ERRORS = metrics.counter('weft_reconcile_errors_total', 'Objects a reconciliation could not fix.').with();
const PEER_CHANGES = metrics.counter('weft_peer_changes_total', 'Peer FDB/neighbour entries programmed (put) or removed (delete) on overlays.');

const gauges = { networks: new Map<string, number>(), endpoints: new Map<string, number>(), peers: 0, services: 0, backends: 0 };
metrics.collect('weft_networks', 'Networks in the store, by mode.', 'gauge', () => [...gauges.networks].map(([mode, n]) => [{ mode }, n]));
metrics.collect('weft_endpoints', 'Endpoints in the store, by where they are (local, remote).', 'gauge', () => [...gauges.endpoints].map(([where, n]) => [{ where }, n]));
metrics.collect('weft_peers', 'Other live hosts this daemon programs peers for (etcd store).', 'gauge', () => [[{}, gauges.peers]]);
metrics.collect('weft_mesh_services', 'Services published by the routing mesh.', 'gauge', () => [[{}, gauges.services]]);
metrics.collect('weft_mesh_backends', 'Backends behind the published services.', 'gauge', () => [[{}, gauges.backends]]);

type Summary = { networks: number; endpoints: number; removed: string[]; errors: string[] };

/** Settles within ms: the value, or an error (a frozen etcd never answers). */
export async function within<T>(ms: number, p: Promise<T>): Promise<{ ok: true; value: T; ms: number } | { ok: false; error: string; ms: number }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([p, timeout]);
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

export class DaemonStatus implements ControlSource {
  controller: Controller | undefined;
  #summary: (Summary & { at: string }) | undefined;
  #parts: { peers?: PeerDistributor | undefined; dns?: NetworkDns | undefined; mesh?: MeshControl | undefined } = {};
  readonly #started = new Date().toISOString();

  constructor(private readonly opts: DaemonOptions, private readonly store: KvStore) {}

  reconciled(s: Summary): void {
    this.#summary = { ...s, at: new Date().toISOString() };
    RECONCILE_RUNS.inc();
    REPAIRS.with({ what: 'orphan' }).inc(s.removed.length);
    RECONCILE_ERRORS.inc(s.errors.length);
  }

  attach(parts: { peers?: PeerDistributor | undefined; dns?: NetworkDns | undefined; mesh?: MeshControl | undefined }): void {
    this.#parts = parts;
    const peers = parts.peers;
    if (!peers) return;
    const chained = peers.onFlush;
    peers.onFlush = (f) => {
      if (f.full) {
        RECONCILE_RUNS.inc();
        REPAIRS.with({ what: 'peer' }).inc(f.put + f.deleted);
      } else {
        PEER_CHANGES.with({ op: 'put' }).inc(f.put);
        PEER_CHANGES.with({ op: 'delete' }).inc(f.deleted);
      }
      chained?.(f);
    };
  }

  probeStore(timeoutMs = 1000) {
    return within(timeoutMs, this.store.get('weft/health-probe'));
  }

  async beforeScrape(): Promise<void> {
    const c = this.controller;
    if (c) {
      const r = await within(1000, Promise.all([c.networks(), c.endpoints()]));
      if (r.ok) {
        const [networks, endpoints] = r.value;
        gauges.networks = new Map(['overlay', 'bridge', 'macvlan'].map((m) => [m, networks.filter((n) => n.mode === m).length]));
        const local = endpoints.filter((e) => !e.host || e.host === c.hostName).length;
        gauges.endpoints = new Map([['local', local], ['remote', endpoints.length - local]]);
      }
    }
    gauges.peers = this.#parts.peers ? this.#parts.peers.hosts().filter((h) => h.name !== this.#parts.peers!.hostRecord().name).length : 0;
    const services = this.#parts.mesh?.services() ?? [];
    gauges.services = services.length;
    gauges.backends = services.reduce((a, s) => a + s.backends, 0);
  }

  async health(): Promise<{ ok: boolean; reason?: string }> {
    if (!this.#summary) return { ok: false, reason: 'reconciling the kernel with the store' };
    const p = await this.probeStore();
    if (!p.ok) return { ok: false, reason: `store (${this.store.kind}) unreachable: ${p.error}` };
    return { ok: true };
  }

  async status(): Promise<unknown> {
    const probe = await this.probeStore();
    const peers = this.#parts.peers;
    return {
      version: version(),
      pid: process.pid,
      started: this.#started,
      host: this.controller?.hostName ?? null,
      instance: this.opts.instance ?? '',
      socket: this.opts.socket,
      stateDir: this.opts.stateDir,
      store: { kind: this.store.kind, url: String(redact(this.opts.store)), reachable: probe.ok, ms: Math.round(probe.ms * 10) / 10, ...(probe.ok ? {} : { error: probe.error }) },
      reconcile: this.#summary ?? null,
      ready: (await this.health()).ok,
      local: this.opts.localAddress ?? null,
      lease: peers ? { ttl: peers.leaseTtl, key: peers.hostKey } : null,
      peers: peers ? peers.hosts().map((h) => ({ name: h.name, address: h.address })) : [],
      dns: this.#parts.dns?.listeners() ?? [],
      mesh: this.#parts.mesh ? { backend: this.#parts.mesh.kind ?? null, requested: this.opts.mesh ?? 'auto', services: this.#parts.mesh.services() } : null,
    };
  }
}
