/**
 * The userspace VTEP's tables built from its options, the same way on the
 * main thread and in every worker thread (vtep-worker.ts), and the
 * messages that keep the workers' copies equal to the main thread's.
 */
import * as vxlan from '../wire/vxlan.js';
import { VtepFdb } from './fdb-table.js';
import { ProxyNeighbourTable, ProxyResponder } from './proxy-arp.js';
import { VtepEngine, type BumPolicy } from './vtep.js';
import type { Offloads } from './vtep-datapath.js';

/** What the tables are built from (plain data: it crosses to worker threads). */
export interface TableConfig {
  vni: number;
  mtu: number;
  port?: number;
  peers?: string[];
  fdb?: { mac: string; remote: string }[];
  flood?: string[];
  bum?: BumPolicy;
  acceptUnknownPeers?: boolean;
  proxy?: { ip: string; mac: string }[] | boolean;
  proxyRatePerSecond?: number;
}

export function buildTables(o: TableConfig, mirrored = false): { engine: VtepEngine; table: ProxyNeighbourTable; responder: ProxyResponder } {
  const port = o.port ?? vxlan.PORT;
  const fdb = mirrored ? new MirroredFdb(port) : new VtepFdb(port);
  for (const p of o.peers ?? []) fdb.addPeer(p);
  for (const e of o.fdb ?? []) fdb.addEntry(e.mac, e.remote);
  if (o.flood) fdb.setFloodList(o.flood);
  const engine = new VtepEngine({ vni: o.vni, mtu: o.mtu, bum: o.bum ?? (o.flood?.length ? 'replicate' : 'drop'), acceptUnknownPeers: o.acceptUnknownPeers ?? false }, fdb);
  const table = new ProxyNeighbourTable();
  for (const e of Array.isArray(o.proxy) ? o.proxy : []) table.set(e.ip, e.mac);
  engine.proxy = o.proxy !== undefined && o.proxy !== false;
  const responder = new ProxyResponder(table, o.proxyRatePerSecond !== undefined ? { ratePerSecond: o.proxyRatePerSecond } : {});
  return { engine, table, responder };
}

export type FdbOp =
  | { method: 'addEntry' | 'replaceEntry'; args: [string, string] }
  | { method: 'removeEntry' | 'addPeer' | 'removePeer'; args: [string] }
  | { method: 'setFloodList'; args: string[] };

export type WorkerMessage =
  | { op: 'fdb'; fdb: FdbOp }
  | { op: 'proxySet'; ip: string; mac: string; announce: boolean }
  | { op: 'proxyDelete'; ip: string }
  | { op: 'close' };

export interface WorkerInit {
  index: number;
  config: TableConfig;
  localMacs: string[];
  tapFd: number;
  tapName: string;
  vnetHeader: boolean;
  tapSlot: number;
  udpFd: number;
  family: number;
  udpSlot: number;
  batch: number;
  offload: Offloads;
  counters: SharedArrayBuffer;
  /** This worker's queue of the underlay TAP (tunnel offload). */
  underlay?: { fd: number; name: string; mac: string; local: number; port: number };
}

/**
 * The main thread's forwarding table when workers run the data path: every
 * change is applied here (stats, lookups) and sent to each worker.
 */
export class MirroredFdb extends VtepFdb {
  #send: (op: FdbOp) => void = () => undefined;

  mirrorTo(send: (op: FdbOp) => void): void {
    this.#send = send;
  }

  override addEntry(mac: string, remote: string): void {
    super.addEntry(mac, remote);
    this.#send({ method: 'addEntry', args: [mac, remote] });
  }

  override replaceEntry(mac: string, remote: string): string | undefined {
    const r = super.replaceEntry(mac, remote);
    this.#send({ method: 'replaceEntry', args: [mac, remote] });
    return r;
  }

  override removeEntry(mac: string): boolean {
    const r = super.removeEntry(mac);
    if (r) this.#send({ method: 'removeEntry', args: [mac] });
    return r;
  }

  override addPeer(address: string): void {
    super.addPeer(address);
    this.#send({ method: 'addPeer', args: [address] });
  }

  override removePeer(address: string): boolean {
    const r = super.removePeer(address);
    if (r) this.#send({ method: 'removePeer', args: [address] });
    return r;
  }

  override setFloodList(addresses: string[]): void {
    super.setFloodList(addresses);
    this.#send({ method: 'setFloodList', args: [...addresses] });
  }
}
