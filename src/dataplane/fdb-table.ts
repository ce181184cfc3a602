/**
 * The userspace VTEP's forwarding state: which remote VTEP owns an inner
 * MAC (static entries, written by the control plane, never learned from
 * the data path: docs/reliability.md V9), which VTEPs are known peers (only
 * their datagrams are accepted, Calico felix#2000), and the head-end
 * replication list for broadcast/unknown/multicast frames.
 *
 * Lookups take the MAC straight from frame bytes as a 48-bit number, so
 * the per-packet path never builds a string or an object.
 */
import { FdbEntryError, InvalidArgumentError } from '../errors.js';
import { macBytes, macToString } from '../wire/bytes.js';
import { ipv4Bytes } from '../wire/ip.js';
import { PORT as VXLAN_PORT } from '../wire/vxlan.js';

/** A remote VTEP (IPv4 underlay). `sockaddr` is ready for sendmmsg. */
export interface RemoteVtep {
  readonly address: string;
  /** The address as a host-order u32, compared against datagram sources. */
  readonly ip: number;
  /** struct sockaddr_in for address:port (16 bytes). */
  readonly sockaddr: Uint8Array;
}

/** The 48-bit key of the MAC at b[o..o+6). */
export function macKey(b: Uint8Array, o: number): number {
  return ((b[o]! << 8) | b[o + 1]!) * 0x100000000 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
}

export function macKeyOf(text: string): number {
  return macKey(macBytes(text), 0);
}

function macText(key: number): string {
  const b = new Uint8Array(6);
  const hi = Math.floor(key / 0x100000000);
  const lo = key >>> 0;
  b[0] = hi >>> 8;
  b[1] = hi & 0xff;
  b[2] = lo >>> 24;
  b[3] = (lo >>> 16) & 0xff;
  b[4] = (lo >>> 8) & 0xff;
  b[5] = lo & 0xff;
  return macToString(b);
}

function ipv4Number(address: string): number {
  const b = ipv4Bytes(address);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** struct sockaddr_in (family little-endian, port and address big-endian). */
function sockaddrIn(address: string, port: number): Uint8Array {
  const sa = new Uint8Array(16);
  sa[0] = 2; // AF_INET
  sa[2] = port >>> 8;
  sa[3] = port & 0xff;
  sa.set(ipv4Bytes(address), 4);
  return sa;
}

export interface FdbSnapshot {
  entries: { mac: string; remote: string }[];
  peers: string[];
  flood: string[];
}

export class VtepFdb {
  readonly port: number;
  readonly #remotes = new Map<number, RemoteVtep>();
  readonly #byMac = new Map<number, RemoteVtep>();
  /** Explicit peers (configured), independent of FDB references. */
  readonly #peers = new Set<number>();
  /** How many FDB entries point at each remote: a referenced remote is a known peer too. */
  readonly #refs = new Map<number, number>();
  #flood: RemoteVtep[] = [];

  constructor(port = VXLAN_PORT) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`VXLAN port must be 1..65535, got ${port}`);
    this.port = port;
  }

  #remote(address: string): RemoteVtep {
    const ip = ipv4Number(address);
    if (ip === 0 || ip >>> 28 === 0xe || ip === 0xffffffff) throw new InvalidArgumentError(`remote VTEP must be a unicast IPv4 address, got ${address}`);
    let r = this.#remotes.get(ip);
    if (!r) {
      r = { address: `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`, ip, sockaddr: sockaddrIn(address, this.port) };
      this.#remotes.set(ip, r);
    }
    return r;
  }

  #ref(r: RemoteVtep, delta: number): void {
    const n = (this.#refs.get(r.ip) ?? 0) + delta;
    if (n > 0) this.#refs.set(r.ip, n);
    else this.#refs.delete(r.ip);
  }

  /** Adds MAC → remote; an existing entry for another remote is an error (use replace). Idempotent. */
  addEntry(mac: string, remote: string): void {
    const key = macKeyOf(mac);
    const r = this.#remote(remote);
    const cur = this.#byMac.get(key);
    if (cur === r) return;
    if (cur) throw new FdbEntryError(`${macText(key)} already points at ${cur.address}; replace it instead`);
    this.#byMac.set(key, r);
    this.#ref(r, 1);
  }

  /** Sets MAC → remote whatever was there (an endpoint moved). Returns the previous remote's address. */
  replaceEntry(mac: string, remote: string): string | undefined {
    const key = macKeyOf(mac);
    const r = this.#remote(remote);
    const cur = this.#byMac.get(key);
    if (cur === r) return cur.address;
    if (cur) this.#ref(cur, -1);
    this.#byMac.set(key, r);
    this.#ref(r, 1);
    return cur?.address;
  }

  /** Removes MAC's entry; true when there was one. */
  removeEntry(mac: string): boolean {
    const key = macKeyOf(mac);
    const cur = this.#byMac.get(key);
    if (!cur) return false;
    this.#byMac.delete(key);
    this.#ref(cur, -1);
    return true;
  }

  addPeer(address: string): void {
    this.#peers.add(this.#remote(address).ip);
  }

  removePeer(address: string): boolean {
    return this.#peers.delete(ipv4Number(address));
  }

  /** Head-end replication targets for BUM frames (also known peers). Replaces the list. */
  setFloodList(addresses: string[]): void {
    const list = [...new Set(addresses)].map((a) => this.#remote(a));
    for (const r of list) this.#peers.add(r.ip);
    this.#flood = list;
  }

  get floodList(): readonly RemoteVtep[] {
    return this.#flood;
  }

  /** The remote owning the MAC at b[o..o+6), or undefined. */
  lookup(b: Uint8Array, o: number): RemoteVtep | undefined {
    return this.#byMac.get(macKey(b, o));
  }

  /** Whether datagrams from this u32 IPv4 source are accepted. */
  isKnownPeer(ip: number): boolean {
    return this.#peers.has(ip) || this.#refs.has(ip);
  }

  get size(): number {
    return this.#byMac.size;
  }

  snapshot(): FdbSnapshot {
    const text = (ip: number) => this.#remotes.get(ip)!.address;
    return {
      entries: [...this.#byMac].map(([k, r]) => ({ mac: macText(k), remote: r.address })).sort((a, b) => a.mac.localeCompare(b.mac)),
      peers: [...new Set([...this.#peers, ...this.#refs.keys()])].map(text).sort(),
      flood: this.#flood.map((r) => r.address),
    };
  }
}
