/**
 * Peer distribution through a shared store (etcd). Each daemon
 *  - registers itself as `hosts/<name>` → {address, …} under a lease (TTL
 *    `leaseTtl`, kept alive; re-granted and rewritten if etcd expired it);
 *  - publishes nothing else: its endpoint records (`endpoints/<id>`, with
 *    `host`, IP, MAC) are what remote hosts program, and the VTEP comes
 *    from the owner's host record, so an endpoint is live exactly while
 *    its host's lease is;
 *  - watches `networks/`, `endpoints/` and `hosts/`, keeps them in memory,
 *    builds every overlay network's namespace, and programs remote peers
 *    (static FDB + neighbour entries, no learning, no flooding), batching
 *    whatever arrived since the last flush into one netlink batch per
 *    network;
 *  - resyncs fully (list everything, dump vxlan0's FDB and neighbours,
 *    converge) on start, on every watch reconnect and periodically, so
 *    nothing stale or duplicate survives a missed event.
 * A host whose key disappears (lease expiry: crash, partition) loses its
 * peers everywhere after `graceMs`; a key that comes straight back (its
 * lease was re-granted after an etcd outage) changes nothing. While etcd is
 * unreachable nothing is removed: the kernel keeps forwarding what it has.
 */
import type { EndpointRecord, NetworkRecord } from '../cnm/model.js';
import { names } from '../cnm/model.js';
import type { OverlayDriver } from '../cnm/drivers/overlay.js';
import type { Rtnl } from '../netlink/rtnetlink/handle.js';
import { fdbBatch, listFdb, ZERO_MAC } from '../netlink/rtnetlink/fdb.js';
import { deleteNeighbours, listNeighbours } from '../netlink/rtnetlink/neigh.js';
import { NTF_SELF, NUD_PERMANENT } from '../netlink/rtnetlink/constants.js';
import type { Logger } from '../log.js';
import type { GlobalController } from './global-controller.js';
import type { EtcdStore, LeasedKeys } from './etcd-store.js';
import type { WatchEvent } from './store.js';
import {
  type HostRecord, type KernelPeers, type PeerChanges, type PeerEntry, desiredPeers, diffKernel, diffProgrammed, emptyChanges,
} from './peer-table.js';

export const DEFAULT_LEASE_TTL = 15;
const DEFAULT_GRACE_MS = 2000;
const DEFAULT_RESYNC_MS = 30_000;
const RETRY_MS = 1000;

export interface PeerDistributorOptions {
  hostName: string;
  /** This host's VTEP (underlay) address, published in its host record. */
  localAddress: string;
  /** Seconds a host stays registered after its daemon stops renewing (default 15). */
  leaseTtl?: number;
  /** How long a vanished host keeps its peers (covers a lease re-granted at once). */
  graceMs?: number;
  /** Full resync period (kernel dump vs. desired). */
  resyncMs?: number;
  instance?: string;
  log: Logger;
}

/** What a flush did, for logs and tests. */
export interface FlushStats {
  networks: number;
  put: number;
  deleted: number;
  full: boolean;
  ms: number;
}

export class PeerDistributor {
  #networks = new Map<string, NetworkRecord>();
  /** network id → endpoint id → record. */
  #endpoints = new Map<string, Map<string, EndpointRecord>>();
  #endpointNet = new Map<string, string>();
  #hosts = new Map<string, HostRecord>();
  #departing = new Map<string, NodeJS.Timeout>();
  /** network id → what this daemon last wrote to that network's vxlan0. */
  #programmed = new Map<string, Map<string, PeerEntry>>();
  /** network id → VNI whose namespace has been built here. */
  #built = new Map<string, number | undefined>();
  #dirty = new Set<string>();
  #fullPending = false;
  #flushScheduled = false;
  #flushing: Promise<void> = Promise.resolve();
  #listing = 0;
  #pending: WatchEvent[] = [];
  #cancel: (() => void)[] = [];
  #timers: NodeJS.Timeout[] = [];
  #lease: LeasedKeys | undefined;
  #stopped = false;
  #resyncQueued = false;
  readonly graceMs: number;
  readonly leaseTtl: number;
  /** Called after every flush (tests, benchmarks). */
  onFlush: ((s: FlushStats) => void) | undefined;
  /** Called with every live host's VTEP before peers are programmed (the VXLAN admission filter). */
  onVteps: ((vteps: string[]) => Promise<void>) | undefined;

  constructor(
    private readonly store: EtcdStore,
    private readonly controller: GlobalController,
    private readonly overlay: OverlayDriver,
    private readonly opts: PeerDistributorOptions,
  ) {
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    this.leaseTtl = opts.leaseTtl ?? DEFAULT_LEASE_TTL;
  }

  get hostKey(): string {
    return `hosts/${this.opts.hostName}`;
  }

  hostRecord(): HostRecord {
    return { name: this.opts.hostName, address: this.opts.localAddress, started: new Date().toISOString(), pid: process.pid };
  }

  /** Registers this host, starts the watches and the first full resync (waits for it). */
  async start(): Promise<void> {
    this.#lease = this.store.leasedKeys(this.leaseTtl, (e) => this.opts.log({ level: e.type === 'granted' ? 'info' : 'warn', msg: `host lease ${e.type}`, ...e }));
    await this.#lease.put(this.hostKey, JSON.stringify(this.hostRecord()));
    for (const prefix of ['networks/', 'endpoints/', 'hosts/']) {
      this.#cancel.push(this.store.watch(prefix, (e) => this.#onEvent(e), () => this.requestResync()));
    }
    await this.resync();
    const t = setInterval(() => this.requestResync(), this.opts.resyncMs ?? DEFAULT_RESYNC_MS);
    t.unref();
    this.#timers.push(t);
  }

  /** Stops watching; `leave` also revokes the lease so other hosts drop this one's peers now. */
  async stop(opts: { leave?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    for (const c of this.#cancel.splice(0)) c();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    for (const t of this.#departing.values()) clearTimeout(t);
    await this.#flushing;
    await this.#lease?.close({ revoke: opts.leave ?? false });
  }

  /** Live hosts as this daemon sees them. */
  hosts(): HostRecord[] {
    return [...this.#hosts.values()];
  }

  /** Coalesces resync requests (several watches reconnect at once). */
  requestResync(): void {
    if (this.#resyncQueued || this.#stopped) return;
    this.#resyncQueued = true;
    setTimeout(() => {
      this.#resyncQueued = false;
      this.resync().catch((err: unknown) => {
        this.opts.log({ level: 'warn', msg: 'peer resync failed; retrying', error: (err as Error).message });
        setTimeout(() => this.requestResync(), RETRY_MS).unref();
      });
    }, 20);
  }

  /** Lists the store, replaces the in-memory view, and converges the kernel with a full dump. */
  async resync(): Promise<void> {
    this.#listing++;
    let lists: Map<string, string>[];
    try {
      lists = await Promise.all(['networks/', 'endpoints/', 'hosts/'].map((p) => this.store.list(p)));
    } finally {
      this.#listing--;
    }
    const [nets, eps, hosts] = lists as [Map<string, string>, Map<string, string>, Map<string, string>];
    const prevNets = this.#networks;
    this.#networks = new Map();
    for (const v of nets.values()) {
      const n = parse<NetworkRecord>(v);
      if (n) this.#networks.set(n.id, n);
    }
    for (const [id, n] of prevNets) if (!this.#networks.has(id)) this.#networkGone(id, n);
    this.#endpoints.clear();
    this.#endpointNet.clear();
    for (const v of eps.values()) {
      const ep = parse<EndpointRecord>(v);
      if (ep) this.#putEndpoint(ep);
    }
    const live = new Map<string, HostRecord>();
    for (const v of hosts.values()) {
      const h = parse<HostRecord>(v);
      if (h) live.set(h.name, h);
    }
    for (const name of this.#hosts.keys()) if (!live.has(name)) this.#hostGone(name);
    for (const h of live.values()) this.#hostUp(h);
    if (!live.has(this.opts.hostName) && this.#lease) {
      // Our key is gone though our lease may live on: write it again.
      await this.#lease.put(this.hostKey, JSON.stringify(this.hostRecord()));
    }
    // Events that arrived while listing may be older or newer than the lists: replaying them in order converges.
    for (const e of this.#pending.splice(0)) this.#apply(e);
    this.#fullPending = true;
    await this.#flushNow();
  }

  #onEvent(e: WatchEvent): void {
    if (this.#stopped) return;
    if (this.#listing > 0) this.#pending.push(e);
    this.#apply(e);
    this.#scheduleFlush();
  }

  #apply(e: WatchEvent): void {
    const slash = e.key.indexOf('/');
    const kind = e.key.slice(0, slash);
    const id = e.key.slice(slash + 1);
    if (kind === 'hosts') {
      const h = e.type === 'put' ? parse<HostRecord>(e.value) : undefined;
      if (h) this.#hostUp(h);
      else if (e.type === 'delete') this.#hostGone(id);
    } else if (kind === 'endpoints') {
      const prev = this.#endpointNet.get(id);
      if (prev) {
        this.#endpoints.get(prev)?.delete(id);
        this.#endpointNet.delete(id);
        this.#dirty.add(prev);
      }
      const ep = e.type === 'put' ? parse<EndpointRecord>(e.value) : undefined;
      if (ep) this.#putEndpoint(ep);
    } else if (kind === 'networks') {
      const n = e.type === 'put' ? parse<NetworkRecord>(e.value) : undefined;
      if (n) {
        this.#networks.set(n.id, n);
        this.#dirty.add(n.id);
      } else if (e.type === 'delete') {
        const prev = this.#networks.get(id);
        this.#networks.delete(id);
        if (prev) this.#networkGone(id, prev);
      }
    }
  }

  #putEndpoint(ep: EndpointRecord): void {
    let m = this.#endpoints.get(ep.networkId);
    if (!m) this.#endpoints.set(ep.networkId, (m = new Map()));
    m.set(ep.id, ep);
    this.#endpointNet.set(ep.id, ep.networkId);
    this.#dirty.add(ep.networkId);
  }

  #hostUp(h: HostRecord): void {
    const t = this.#departing.get(h.name);
    if (t) {
      clearTimeout(t);
      this.#departing.delete(h.name);
    }
    const was = this.#hosts.get(h.name);
    this.#hosts.set(h.name, h);
    if (!was || was.address !== h.address) this.#dirtyHost(h.name);
  }

  #hostGone(name: string): void {
    if (!this.#hosts.has(name) || this.#departing.has(name)) return;
    const t = setTimeout(() => {
      this.#departing.delete(name);
      this.#hosts.delete(name);
      this.opts.log({ msg: 'host gone: removing its peers', host: name });
      this.#dirtyHost(name);
      this.#scheduleFlush();
    }, this.graceMs);
    t.unref();
    this.#departing.set(name, t);
  }

  #dirtyHost(name: string): void {
    for (const [nid, eps] of this.#endpoints) {
      for (const ep of eps.values()) {
        if (ep.host === name) {
          this.#dirty.add(nid);
          break;
        }
      }
    }
  }

  #networkGone(id: string, prev: NetworkRecord): void {
    this.#programmed.delete(id);
    this.#built.delete(id);
    this.#dirty.delete(id);
    if (prev.mode !== 'overlay') return;
    this.controller.syncSharedNetwork(id, undefined, prev).catch((err: unknown) =>
      this.opts.log({ level: 'warn', msg: 'removing overlay network failed', network: id, error: (err as Error).message }));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#stopped) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flushNow().catch(() => undefined);
    });
  }

  /** Runs one flush after the current one (flushes never overlap). */
  #flushNow(): Promise<void> {
    const run = this.#flushing.then(() => this.#flush());
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  async #flush(): Promise<void> {
    const t0 = performance.now();
    const full = this.#fullPending;
    this.#fullPending = false;
    const ids = full ? [...this.#networks.keys()] : [...this.#dirty];
    this.#dirty.clear();
    if (this.onVteps) {
      await this.onVteps([...this.#hosts.values()].map((h) => h.address)).catch((err: unknown) =>
        this.opts.log({ msg: 'updating the VXLAN admission filter failed; will retry', error: (err as Error).message }));
    }
    let put = 0;
    let deleted = 0;
    let failed = false;
    for (const id of ids) {
      const n = this.#networks.get(id);
      if (!n || n.mode !== 'overlay') continue;
      try {
        const c = await this.#syncNetwork(n, full);
        put += c.put.length;
        deleted += c.delFdb.length + c.delNeigh.length;
      } catch (err) {
        failed = true;
        this.#dirty.add(id);
        this.#built.delete(id);
        this.opts.log({ level: 'warn', msg: 'programming peers failed; will retry', network: id, error: (err as Error).message });
      }
    }
    if (failed && !this.#stopped) setTimeout(() => this.#scheduleFlush(), RETRY_MS).unref();
    this.onFlush?.({ networks: ids.length, put, deleted, full, ms: performance.now() - t0 });
  }

  async #syncNetwork(n: NetworkRecord, full: boolean): Promise<PeerChanges> {
    if (!this.#built.has(n.id) || this.#built.get(n.id) !== n.vni) {
      await this.controller.syncSharedNetwork(n.id, n);
      this.#built.set(n.id, n.vni);
      full = true;
    }
    const desired = desiredPeers(this.#endpoints.get(n.id)?.values() ?? [], this.#hosts,
      { host: this.opts.hostName, address: this.opts.localAddress });
    return this.controller.withNetwork(n.id, async () => {
      const ns = names.overlayNetns(n.id, this.opts.instance);
      const changes = full
        ? diffKernel(await this.overlay.handles.run(ns, readKernelPeers), desired)
        : diffProgrammed(this.#programmed.get(n.id) ?? new Map(), desired);
      if (!emptyChanges(changes)) await applyChanges(ns, n, changes, this.overlay);
      this.#programmed.set(n.id, desired);
      return changes;
    });
  }
}

function parse<T>(v: string | undefined): T | undefined {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

/** The peer entries weft owns on vxlan0 of the overlay namespace rtnl is in. */
export async function readKernelPeers(rtnl: Rtnl): Promise<KernelPeers> {
  const [fdb, neigh] = await Promise.all([listFdb(rtnl, { dev: 'vxlan0' }), listNeighbours(rtnl, { dev: 'vxlan0' })]);
  const out: KernelPeers = { fdb: new Map(), neigh: new Map() };
  for (const e of fdb) {
    if (!(e.flags & NTF_SELF) || !e.dst || !e.lladdr || !(e.state & NUD_PERMANENT)) continue;
    const mac = e.lladdr.toLowerCase();
    if (mac !== ZERO_MAC) out.fdb.set(mac, e.dst);
  }
  for (const e of neigh) {
    if (e.dst && e.lladdr && e.state & NUD_PERMANENT) out.neigh.set(e.dst, e.lladdr.toLowerCase());
  }
  return out;
}

/** Deletes stale entries (same family and flags they were added with), then REPLACEs the wanted ones. */
async function applyChanges(ns: string, n: NetworkRecord, c: PeerChanges, overlay: OverlayDriver): Promise<void> {
  if (c.delFdb.length || c.delNeigh.length) {
    await overlay.handles.run(ns, async (rtnl) => {
      await deleteNeighbours(rtnl, c.delNeigh.map((dst) => ({ dev: 'vxlan0', dst })), { ignoreMissing: true });
      await fdbBatch(rtnl, 'del', c.delFdb.map((f) => ({ dev: 'vxlan0', mac: f.mac, dst: f.vtep, self: true })), { ignoreMissing: true });
    });
  }
  if (c.put.length) await overlay.addPeers(n, c.put);
}
