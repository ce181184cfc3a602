/**
 * Pure peer bookkeeping: which remote endpoints a host must program for an
 * overlay network (desired), and what to change to get from what is
 * programmed (or what the kernel holds) to that. No I/O, so it is unit
 * tested and shared by incremental updates and full resyncs.
 *
 * Kernel entries per remote endpoint are Docker's two (docs/overlay.md):
 * FDB `MAC dst VTEP self permanent` and neighbour `IP lladdr MAC
 * permanent`, both on vxlan0. FDB entries are keyed by MAC, neighbours by IP.
 */
import type { EndpointRecord } from '../cnm/model.js';
import type { RemotePeer } from '../cnm/drivers/overlay.js';

/** `hosts/<name>`: a live host (the key is bound to its lease). */
export interface HostRecord {
  name: string;
  /** Underlay address VXLAN packets for its endpoints go to. */
  address: string;
  started: string;
  pid?: number;
}

/** What one host needs of a remote endpoint. */
export interface PeerEntry extends RemotePeer {
  endpointId: string;
  host: string;
}

/** Kernel state of one overlay network's vxlan0: MAC → VTEP, IP → MAC. */
export interface KernelPeers {
  fdb: Map<string, string>;
  neigh: Map<string, string>;
}

export interface PeerChanges {
  /** FDB entries to delete (MAC, with the dst they point at). */
  delFdb: { mac: string; vtep: string }[];
  /** Neighbour IPs to delete. */
  delNeigh: string[];
  /** Peers to (re)write with REPLACE. */
  put: PeerEntry[];
}

const bare = (cidr: string) => cidr.split('/')[0]!;

/**
 * The remote endpoints of one network this host must program: endpoints on
 * other live hosts with an IPv4 address. One entry per IP and per MAC: the
 * most recently created or joined wins. weft's IPAM never hands out one
 * address twice, so a clash is a stale record (its DeleteEndpoint never came,
 * e.g. dockerd killed mid-shutdown) whose address was released and handed
 * out again: the live endpoint is always the younger one.
 */
export function desiredPeers(
  endpoints: Iterable<EndpointRecord>,
  hosts: ReadonlyMap<string, HostRecord>,
  self: { host: string; address?: string },
): Map<string, PeerEntry> {
  const out = new Map<string, PeerEntry>();
  const ips = new Set<string>();
  const macs = new Set<string>();
  const age = (e: EndpointRecord) => Math.max(e.created ?? 0, e.joined ?? 0);
  const sorted = [...endpoints].sort((a, b) => age(b) - age(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const ep of sorted) {
    if (!ep.address || !ep.host || ep.host === self.host) continue;
    const h = hosts.get(ep.host);
    if (!h || h.address === self.address) continue;
    const ip = bare(ep.address);
    const mac = ep.mac.toLowerCase();
    if (ips.has(ip) || macs.has(mac)) continue;
    ips.add(ip);
    macs.add(mac);
    out.set(ep.id, { endpointId: ep.id, host: ep.host, address: ip, mac, vtep: h.address });
  }
  return out;
}

/** From what was programmed (by endpoint) to what is desired. */
export function diffProgrammed(programmed: ReadonlyMap<string, PeerEntry>, desired: ReadonlyMap<string, PeerEntry>): PeerChanges {
  const wantIps = new Set<string>();
  const wantMacs = new Set<string>();
  for (const p of desired.values()) {
    wantIps.add(p.address);
    wantMacs.add(p.mac);
  }
  const delFdb: PeerChanges['delFdb'] = [];
  const delNeigh: string[] = [];
  const seenMac = new Set<string>();
  const seenIp = new Set<string>();
  for (const p of programmed.values()) {
    if (!wantMacs.has(p.mac) && !seenMac.has(p.mac)) delFdb.push({ mac: p.mac, vtep: p.vtep });
    if (!wantIps.has(p.address) && !seenIp.has(p.address)) delNeigh.push(p.address);
    seenMac.add(p.mac);
    seenIp.add(p.address);
  }
  const put: PeerEntry[] = [];
  for (const [id, p] of desired) {
    const was = programmed.get(id);
    if (!was || was.address !== p.address || was.mac !== p.mac || was.vtep !== p.vtep) put.push(p);
  }
  return { delFdb, delNeigh, put };
}

/** From what the kernel holds to what is desired (full resync). */
export function diffKernel(kernel: KernelPeers, desired: ReadonlyMap<string, PeerEntry>): PeerChanges {
  const wantFdb = new Map<string, string>();
  const wantNeigh = new Map<string, string>();
  for (const p of desired.values()) {
    wantFdb.set(p.mac, p.vtep);
    wantNeigh.set(p.address, p.mac);
  }
  const delFdb: PeerChanges['delFdb'] = [];
  for (const [mac, vtep] of kernel.fdb) if (!wantFdb.has(mac)) delFdb.push({ mac, vtep });
  const delNeigh = [...kernel.neigh.keys()].filter((ip) => !wantNeigh.has(ip));
  const put = [...desired.values()].filter((p) => kernel.fdb.get(p.mac) !== p.vtep || kernel.neigh.get(p.address) !== p.mac);
  return { delFdb, delNeigh, put };
}

export function emptyChanges(c: PeerChanges): boolean {
  return c.delFdb.length === 0 && c.delNeigh.length === 0 && c.put.length === 0;
}
