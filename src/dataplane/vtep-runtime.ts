/**
 * A running userspace VTEP: a TAP device in a namespace, UDP sockets on
 * the VXLAN port in the same namespace, and the data path between them
 * (vtep-datapath.ts: batched, offloaded, nothing allocated per packet).
 *
 * With one worker the data path runs on this thread. With N workers the
 * TAP is multi-queue (IFF_MULTI_QUEUE, one queue per worker) and each
 * worker thread has its own SO_REUSEPORT socket on the port: the kernel
 * picks a TAP queue per flow (and keeps a flow on the queue last written
 * for it), and a socket per outer 4-tuple, whose source port a VTEP derives
 * from the inner flow. So one flow stays on one worker each way and TCP
 * sees no reordering. Workers copy their counters into shared memory
 * after every batch; stats() sums them.
 *
 * The control plane drives `fdb` (forwarding entries, peers, flood list)
 * and `setProxyEntry` / `removeProxyEntry` (owned endpoints); a moved
 * endpoint is announced on the TAP (gratuitous ARP / unsolicited NA).
 * With workers every change is applied here and sent to each of them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError, WorkerExitError, isErrno } from '../errors.js';
import { MAX_FRAME_SLOT, TapDevice } from '../io/tap.js';
import { closeFd } from '../io/native.js';
import { UdpSocket } from '../io/udp.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { setLink } from '../netlink/rtnetlink/link-ops.js';
import { addAddress } from '../netlink/rtnetlink/addr.js';
import { macBytes } from '../wire/bytes.js';
import { ipv4TextToNumber } from '../wire/ip.js';
import { readSysctl, writeSysctls } from '../io/sysctl.js';
import * as vxlan from '../wire/vxlan.js';
import type { VtepFdb, FdbSnapshot } from './fdb-table.js';
import type { ProxyCounters, ProxyNeighbourTable, ProxyResponder, ProxySetResult } from './proxy-arp.js';
import { newProxyCounters } from './proxy-arp.js';
import { newVtepCounters, type VtepCounters, type VtepEngine } from './vtep.js';
import { VtepDataPath, type Offloads } from './vtep-datapath.js';
import { addInto, counterRow, counterRows, readRow } from './vtep-counters.js';
import { MirroredFdb, type TableConfig, buildTables, type WorkerInit, type WorkerMessage } from './vtep-tables.js';

/** The table fields (peers, fdb, flood, bum, proxy, vni, mtu, port) are TableConfig's (vtep-tables.ts). */
export interface UserspaceVtepOptions extends Omit<TableConfig, 'mtu'> {
  /** Overlay MTU set on the TAP (default 1450, as Docker's overlay on a 1500 underlay). */
  mtu?: number;
  /** Namespace holding both the TAP and the underlay socket (name or path); ours when omitted. */
  netns?: string;
  tap: string;
  /** Local underlay IPv4 address the socket binds. */
  local: string;
  /** Address for the TAP (CIDR), e.g. 198.19.0.1/24. */
  address?: string;
  /** TAP MAC (default: the kernel's random one). */
  mac?: string;
  /** Frames per batch (default 64). */
  batch?: number;
  /** UDP_GRO on the underlay socket (default false: see bench notes). */
  udpGro?: boolean;
  /** TAP offloads: virtio_net_hdr, partial checksums, TSO/USO super-frames (default true). */
  offloads?: boolean;
  /** UDP GSO (UDP_SEGMENT) for the datagrams of one super-frame (default true; off by itself if the kernel refuses). */
  udpGso?: boolean;
  /** Merge received in-order TCP segments into GSO frames on the TAP (default true; needs offloads). */
  coalesce?: boolean;
  /** Socket buffer sizes (default 4 MiB each, per socket). */
  socketBufferBytes?: number;
  /** Data-path threads (default 1: this thread); 2+ start worker threads over a multi-queue TAP. */
  workers?: number;
  /**
   * Unicast super-frames (TSO/USO) leave as UDP-tunnel GSO packets through
   * an underlay TAP (vtep-tunnel.ts; Linux 6.17+, IPv4 underlay) instead
   * of the UDP socket; single frames keep the socket. Default false. The underlay TAP forwards (its own
   * forwarding, accept_local and rp_filter sysctls; the namespace's
   * conf/all/rp_filter must not be 1) and a firewall's FORWARD chain must
   * let it through. Without kernel support the socket path is used and
   * stats() says why.
   */
  tunnelOffload?: boolean;
  /** Name of the underlay TAP (default: the TAP's name + "-u", cut to 15 characters). */
  underlayTap?: string;
}

/** Most workers a VTEP starts (TAP queues and sockets per VTEP). */
export const MAX_WORKERS = 16;

/** The worker count `weft vtep run` picks: one per CPU, at most 4. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export interface VtepStats {
  tap: string;
  vni: number;
  /** Summed over the workers. */
  counters: VtepCounters;
  proxy: ProxyCounters;
  fdb: FdbSnapshot;
  /** TUN_F_* granted on the TAP (0: no virtio_net_hdr), and the other offloads in use. */
  offload: { tap: number; udpGso: boolean; udpGro: boolean; coalesce: boolean; tunnel: boolean; underlayTap?: string; tunnelUnavailable?: string; lastSendError?: string };
  workers: number;
  /** Per-worker counters (only with 2+ workers), in worker order. */
  perWorker?: { counters: VtepCounters; proxy: ProxyCounters }[];
}

const GRO_SLOT = 65535;
/**
 * gso_max_size of the overlay TAP with tunnel offload: a super-frame plus
 * the outer headers (vtep-tunnel.ts TUNNEL_OVERHEAD) stays one IPv4 packet.
 */
const TUNNEL_GSO_MAX_SIZE = 65400;

interface Sizes {
  batch: number;
  tapSlot: number;
  udpSlot: number;
}

/** The underlay TAP in use, or why tunnel offload was asked for and is not used. */
type UnderlayState = { name: string } | { unavailable: string } | undefined;

/** The worker threads of a multi-queue VTEP, and how to stop them. */
interface WorkerSet {
  threads: Worker[];
  counters: SharedArrayBuffer;
  exited: Promise<void>[];
}

export class UserspaceVtep {
  readonly engine: VtepEngine;
  readonly fdb: VtepFdb;
  readonly proxyTable: ProxyNeighbourTable;
  readonly responder: ProxyResponder;
  readonly tapName: string;
  readonly tapMac: string;
  readonly workers: number;
  readonly #vni: number;
  readonly #offload: Offloads;
  readonly #underlay: UnderlayState;
  /** The data path on this thread (one worker), or the worker threads. */
  readonly #local: VtepDataPath | undefined;
  readonly #threads: WorkerSet | undefined;
  #closing: Promise<void> | undefined;

  private constructor(engine: VtepEngine, table: ProxyNeighbourTable, responder: ProxyResponder, tapName: string, tapMac: string, offload: Offloads, underlay: UnderlayState, local: VtepDataPath | undefined, threads: WorkerSet | undefined) {
    this.engine = engine;
    this.fdb = engine.fdb;
    this.proxyTable = table;
    this.responder = responder;
    this.tapName = tapName;
    this.tapMac = tapMac;
    this.#vni = engine.vni;
    this.#offload = offload;
    this.#underlay = underlay;
    this.#local = local;
    this.#threads = threads;
    this.workers = threads ? threads.threads.length : 1;
  }

  /** Creates the TAP (queues) and the socket(s), programs the table, and starts forwarding. Undoes everything on failure. */
  static async open(options: UserspaceVtepOptions): Promise<UserspaceVtep> {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new InvalidArgumentError(`workers must be 1..${MAX_WORKERS}, got ${String(options.workers)}`);
    const mtu = options.mtu ?? 1450;
    const config = { ...options, mtu, proxy: options.proxy ?? false };
    const { engine, table, responder } = buildTables(config, workers > 1);
    const batch = options.batch ?? 64;
    const offloads = options.offloads ?? true;
    const sizes: Sizes = {
      batch,
      tapSlot: offloads ? MAX_FRAME_SLOT : Math.max(2048, engine.maxFrame + 64),
      // Room for frames somewhat over the MTU, so they are counted as jumbo rather than truncated.
      udpSlot: options.udpGro ? GRO_SLOT : Math.max(4096, engine.maxFrame + vxlan.HEADER_LENGTH + 64),
    };
    const ns = options.netns !== undefined ? { netns: options.netns } : {};
    const tapOpts = { name: options.tap, batch, vnetHeader: offloads, slotSize: sizes.tapSlot, ...ns };
    const queues = workers > 1 ? TapDevice.openQueues({ ...tapOpts, queues: workers }) : [TapDevice.open(tapOpts)];
    const sockets: UdpSocket[] = [];
    let underlayQueues: TapDevice[] = [];
    let rtnl: Rtnl | undefined;
    let vtep: UserspaceVtep | undefined;
    try {
      let tapOffloads = 0;
      // TUNSETOFFLOAD applies to the whole device; asked on each queue it grants the same.
      if (offloads) for (const q of queues) tapOffloads = q.enableOffloads();
      const buf = options.socketBufferBytes ?? 4 << 20;
      for (let i = 0; i < workers; i++) {
        sockets.push(UdpSocket.open({
          address: options.local, port: options.port ?? vxlan.PORT, recvBufferBytes: buf, sendBufferBytes: buf, batchSize: batch,
          slotSize: sizes.udpSlot, reusePort: workers > 1, ...ns,
        }));
      }
      rtnl = Rtnl.open(ns);
      const name = queues[0]!.name;
      let underlay: UnderlayState;
      let underlayMac: string | undefined;
      if (options.tunnelOffload) {
        const opened = await openUnderlay(rtnl, options, name, workers);
        if ('unavailable' in opened) underlay = opened;
        else {
          underlayQueues = opened.queues;
          underlayMac = opened.mac;
          underlay = { name: opened.queues[0]!.name };
        }
      }
      const tunnel = underlayQueues.length > 0;
      await setLink(rtnl, name, { mtu, ...(options.mac ? { address: options.mac } : {}), ...(tunnel ? { gsoMaxSize: TUNNEL_GSO_MAX_SIZE } : {}) });
      if (options.address) await addAddress(rtnl, { dev: name, address: options.address });
      const link = await rtnl.link(name);
      const mac = link?.address ?? options.mac ?? '00:00:00:00:00:00';
      engine.addLocalMac(macBytes(mac));
      const offload: Offloads = { tap: tapOffloads, udpGso: options.udpGso ?? true, udpGro: options.udpGro ?? false, coalesce: offloads && (options.coalesce ?? true), tunnel };
      const local = ipv4TextToNumber(options.local, 'local address');
      const udpPort = options.port ?? vxlan.PORT;
      if (workers === 1) {
        if (offload.udpGro) sockets[0]!.setGro(true);
        const port = tunnel ? { tap: underlayQueues[0]!, mac: macBytes(underlayMac!), local, port: udpPort } : undefined;
        const path = new VtepDataPath(engine, responder, queues[0]!, sockets[0]!, batch, offload, port);
        path.start();
        vtep = new UserspaceVtep(engine, table, responder, name, mac, offload, underlay, path, undefined);
      } else {
        const threads = await startWorkers(config, [mac], queues, sockets, sizes, offload, tunnel ? { queues: underlayQueues, mac: underlayMac!, local, port: udpPort } : undefined);
        (engine.fdb as MirroredFdb).mirrorTo((op) => post(threads, { op: 'fdb', fdb: op }));
        vtep = new UserspaceVtep(engine, table, responder, name, mac, offload, underlay, undefined, threads);
      }
      // Up only once the data path runs (worker threads take a while to start): no frame waits for it.
      await setLink(rtnl, name, { up: true });
      return vtep;
    } catch (err) {
      if (vtep) await vtep.close();
      else {
        for (const s of sockets) s.close();
        for (const q of queues) q.close();
        for (const q of underlayQueues) q.close();
      }
      throw err;
    } finally {
      rtnl?.close();
    }
  }

  /**
   * Sets an owned endpoint for proxy ARP/NDP. When it is new or moved to
   * another MAC, announces it on the TAP (gratuitous ARP / unsolicited NA).
   */
  setProxyEntry(ip: string, mac: string): ProxySetResult {
    const result = this.proxyTable.set(ip, mac);
    if (this.#closing) return result;
    const local = this.#local;
    if (local) {
      if (result !== 'unchanged') local.writeScratch(this.responder.announce(ip, local.scratch, local.vnetHdrLen));
    } else {
      // Every worker answers from its copy; the first one announces.
      this.#threads!.threads.forEach((thread, i) => thread.postMessage({ op: 'proxySet', ip, mac, announce: i === 0 } satisfies WorkerMessage));
    }
    return result;
  }

  removeProxyEntry(ip: string): boolean {
    const deleted = this.proxyTable.delete(ip);
    if (this.#threads && !this.#closing) post(this.#threads, { op: 'proxyDelete', ip });
    return deleted;
  }

  stats(): VtepStats {
    const base = { tap: this.tapName, vni: this.#vni, fdb: this.fdb.snapshot(), workers: this.workers };
    const u = this.#underlay;
    const underlay = u === undefined ? {} : 'name' in u ? { underlayTap: u.name } : { tunnelUnavailable: u.unavailable };
    const local = this.#local;
    if (local) {
      const offload = { ...this.#offload, ...underlay, udpGso: local.udpGso, ...(local.lastSendError !== undefined ? { lastSendError: local.lastSendError } : {}) };
      return { ...base, counters: { ...this.engine.counters }, proxy: { ...this.responder.counters }, offload };
    }
    const counters = newVtepCounters();
    const proxy = newProxyCounters();
    const perWorker: { counters: VtepCounters; proxy: ProxyCounters }[] = [];
    let udpGso = true;
    for (let i = 0; i < this.workers; i++) {
      const row = readRow(counterRow(this.#threads!.counters, i));
      addInto(counters, row.counters);
      addInto(proxy, row.proxy);
      udpGso &&= row.udpGso;
      perWorker.push({ counters: row.counters, proxy: row.proxy });
    }
    return { ...base, counters, proxy, offload: { ...this.#offload, ...underlay, udpGso: this.#offload.udpGso && udpGso }, perWorker };
  }

  /**
   * Stops forwarding, closes the sockets and the TAP queues (the kernel
   * removes the interface with the last one); resolves when every worker
   * thread has closed its fds and exited.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const threads = this.#threads;
    if (!threads) {
      this.#local!.close();
      this.#closing = Promise.resolve();
    } else {
      post(threads, { op: 'close' });
      this.#closing = Promise.all(threads.exited).then(() => undefined);
    }
    return this.#closing;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    // already closed
  }
}

function post(set: WorkerSet, message: WorkerMessage): void {
  for (const thread of set.threads) thread.postMessage(message);
}

/**
 * Starts one worker per queue/socket pair and waits until each runs. The
 * fds belong to the workers from then on (each closes its own); on a
 * failure the started ones are terminated and the caller closes the fds.
 */
async function startWorkers(config: UserspaceVtepOptions & { mtu: number }, localMacs: string[], queues: TapDevice[], sockets: UdpSocket[], sizes: Sizes, offload: Offloads, underlay: { queues: TapDevice[]; mac: string; local: number; port: number } | undefined): Promise<WorkerSet> {
  const counters = counterRows(queues.length);
  const threads: Worker[] = [];
  const exited: Promise<void>[] = [];
  const ready: Promise<void>[] = [];
  const tableConfig = {
    vni: config.vni, mtu: config.mtu, ...(config.port !== undefined ? { port: config.port } : {}), peers: config.peers ?? [], fdb: config.fdb ?? [],
    ...(config.flood ? { flood: config.flood } : {}), ...(config.bum ? { bum: config.bum } : {}), acceptUnknownPeers: config.acceptUnknownPeers ?? false,
    proxy: config.proxy ?? false, ...(config.proxyRatePerSecond !== undefined ? { proxyRatePerSecond: config.proxyRatePerSecond } : {}),
  };
  for (let i = 0; i < queues.length; i++) {
    const init: WorkerInit = {
      index: i, config: tableConfig, localMacs, tapFd: queues[i]!.fd, tapName: queues[i]!.name, vnetHeader: queues[i]!.vnetHeader, tapSlot: sizes.tapSlot,
      udpFd: sockets[i]!.fd, family: sockets[i]!.family, udpSlot: sizes.udpSlot, batch: sizes.batch, offload, counters,
      ...(underlay ? { underlay: { fd: underlay.queues[i]!.fd, name: underlay.queues[i]!.name, mac: underlay.mac, local: underlay.local, port: underlay.port } } : {}),
    };
    const worker = new Worker(new URL('./vtep-worker.js', import.meta.url), { workerData: init });
    threads.push(worker);
    let closedItself = false;
    worker.on('message', (m: { op: string }) => {
      if (m.op === 'closed') closedItself = true;
    });
    // A worker that died (an exception) leaves its fds open: close them, so the TAP still goes with the rest.
    const fds = [init.tapFd, init.udpFd, ...(init.underlay ? [init.underlay.fd] : [])];
    exited.push(new Promise((resolve) => worker.once('exit', () => {
      if (!closedItself && started) for (const fd of fds) closeQuietly(fd);
      resolve();
    })));
    ready.push(new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new WorkerExitError(`VTEP worker ${i} exited (${code}) while starting`)));
      worker.once('message', () => resolve());
    }));
  }
  let started = false;
  try {
    await Promise.all(ready);
    started = true;
  } catch (err) {
    await Promise.all(threads.map((thread) => thread.terminate()));
    throw err;
  }
  for (const thread of threads) {
    thread.removeAllListeners('error');
    // A worker failing later loses its queue's traffic, not the process.
    thread.on('error', () => undefined);
  }
  return { threads, counters, exited };
}

/**
 * Opens the underlay TAP (one queue per worker) for tunnel offload, up,
 * with the sysctls that let it forward what the VTEP writes: the frames'
 * source is this host's own address (accept_local), which strict
 * reverse-path filtering refuses. Per-device keys go away with the TAP.
 * Returns the reason instead when the kernel or the namespace cannot.
 */
async function openUnderlay(rtnl: Rtnl, options: UserspaceVtepOptions, tapName: string, workers: number): Promise<{ queues: TapDevice[]; mac: string } | { unavailable: string }> {
  const ns = options.netns !== undefined ? { netns: options.netns } : {};
  const rpFilter = await readSysctl(options.netns, 'net.ipv4.conf.all.rp_filter');
  if (rpFilter === '1') return { unavailable: 'net.ipv4.conf.all.rp_filter is 1 (strict), which drops frames the host sends itself through the underlay TAP' };
  const name = options.underlayTap ?? `${tapName.slice(0, 13)}-u`;
  const tapOpts = { name, batch: 1, vnetHeader: true, slotSize: 64, ...ns };
  const queues = workers > 1 ? TapDevice.openQueues({ ...tapOpts, queues: workers }) : [TapDevice.open(tapOpts)];
  try {
    for (const q of queues) q.enableTunnelOffload();
  } catch (err) {
    for (const q of queues) q.close();
    if (isErrno(err, 'EINVAL')) return { unavailable: 'the kernel has no UDP-tunnel GSO on TAP devices (Linux 6.17+)' };
    throw err;
  }
  try {
    const dev = queues[0]!.name;
    await writeSysctls(options.netns, {
      [`net/ipv4/conf/${dev}/forwarding`]: 1, [`net/ipv4/conf/${dev}/accept_local`]: 1, [`net/ipv4/conf/${dev}/rp_filter`]: 0,
      [`net/ipv6/conf/${dev}/disable_ipv6`]: 1,
    });
    await setLink(rtnl, dev, { up: true });
    const link = await rtnl.link(dev);
    return { queues, mac: link!.address! };
  } catch (err) {
    for (const q of queues) q.close();
    throw err;
  }
}

/** Parses "MAC=ADDR" (an --fdb or --proxy argument). */
export function parsePair(text: string, what: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) throw new InvalidArgumentError(`${what} must look like KEY=VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, i), text.slice(i + 1)];
}
