/**
 * The records the embedded DNS answers from, per network. The daemon and the
 * control plane feed this store (local endpoints, and names of containers on
 * other hosts); the resolver reads it. Operations are idempotent: adding a
 * record that is already there, or removing one that is not, changes nothing.
 */
import { InvalidRecordError } from '../errors.js';
import { canonicalIPv6, isIPv4 } from '../wire/ip.js';
import { isValidName, nameKey } from '../wire/dns/name.js';

interface Common {
  /** The network (scope) the name is visible on. */
  network: string;
  /** Owner name, relative to nothing ("web", "tasks.api", "_http._tcp.web"). */
  name: string;
  /** Seconds; the resolver's default (600, Docker's respTTL) when absent. */
  ttl?: number;
}

export type NameRecord = Common & (
  /** `ptr: true` also answers the reverse name with `<name>.<network>` (Docker: container name only). */
  | { type: 'A' | 'AAAA'; address: string; ptr?: boolean }
  | { type: 'CNAME' | 'PTR'; target: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'TXT'; text: string[] }
);

export interface DnsRecords {
  /** Adds a record; false when it was already present. */
  add(record: NameRecord): boolean;
  /** Removes a record; false when it was not present. */
  remove(record: NameRecord): boolean;
  /** Records of one network, or of all. */
  list(network?: string): NameRecord[];
  /** Bumped on every change; readers rebuild their indexes when it moves. */
  readonly version: number;
}

/** Validated, canonical copy of a record (lower-case names, canonical IPv6). */
export function normalizeRecord(r: NameRecord): NameRecord {
  if (typeof r !== 'object' || r === null) throw new InvalidRecordError('record must be an object');
  if (typeof r.network !== 'string' || r.network === '' || r.network.length > 255) throw new InvalidRecordError('record needs a network name');
  if (typeof r.name !== 'string' || !isValidName(r.name) || nameKey(r.name) === '') {
    throw new InvalidRecordError(`invalid DNS name ${JSON.stringify(r.name)}`);
  }
  const base: Common = { network: r.network, name: nameKey(r.name) };
  if (r.ttl !== undefined) {
    if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > 0x7fffffff) throw new InvalidRecordError(`invalid ttl ${r.ttl}`);
    base.ttl = r.ttl;
  }
  const target = (t: unknown): string => {
    if (typeof t !== 'string' || !isValidName(t)) throw new InvalidRecordError(`invalid target ${JSON.stringify(t)}`);
    return nameKey(t);
  };
  switch (r.type) {
    case 'A':
      if (typeof r.address !== 'string' || !isIPv4(r.address)) throw new InvalidRecordError(`invalid IPv4 address ${JSON.stringify(r.address)}`);
      return { ...base, type: 'A', address: r.address, ...(r.ptr ? { ptr: true } : {}) };
    case 'AAAA': {
      let address: string;
      try {
        address = canonicalIPv6(String(r.address));
      } catch {
        throw new InvalidRecordError(`invalid IPv6 address ${JSON.stringify(r.address)}`);
      }
      return { ...base, type: 'AAAA', address, ...(r.ptr ? { ptr: true } : {}) };
    }
    case 'CNAME':
    case 'PTR':
      return { ...base, type: r.type, target: target(r.target) };
    case 'SRV': {
      for (const f of ['priority', 'weight', 'port'] as const) {
        if (!Number.isInteger(r[f]) || r[f] < 0 || r[f] > 65535) throw new InvalidRecordError(`invalid SRV ${f} ${r[f]}`);
      }
      return { ...base, type: 'SRV', priority: r.priority, weight: r.weight, port: r.port, target: target(r.target) };
    }
    case 'TXT':
      if (!Array.isArray(r.text) || r.text.length === 0 || r.text.some((t) => typeof t !== 'string' || Buffer.byteLength(t) > 255)) {
        throw new InvalidRecordError('TXT needs 1+ strings of at most 255 bytes');
      }
      return { ...base, type: 'TXT', text: [...r.text] };
    default:
      throw new InvalidRecordError(`unsupported record type ${JSON.stringify((r as { type?: unknown }).type)}`);
  }
}

/** Stable identity of a normalized record, for set semantics. */
export function recordKey(r: NameRecord): string {
  const { ttl: _ttl, ...rest } = r;
  void _ttl;
  return JSON.stringify(Object.keys(rest).sort().map((k) => [k, (rest as Record<string, unknown>)[k]]));
}

/** The in-memory store. */
export class MemoryDnsRecords implements DnsRecords {
  #records = new Map<string, NameRecord>();
  #version = 0;

  constructor(initial: Iterable<NameRecord> = []) {
    for (const r of initial) this.add(r);
  }

  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#records.size;
  }

  add(record: NameRecord): boolean {
    const r = normalizeRecord(record);
    const key = recordKey(r);
    const had = this.#records.get(key);
    if (had && had.ttl === r.ttl) return false;
    this.#records.set(key, r);
    this.#version++;
    return !had;
  }

  remove(record: NameRecord): boolean {
    const key = recordKey(normalizeRecord(record));
    if (!this.#records.delete(key)) return false;
    this.#version++;
    return true;
  }

  list(network?: string): NameRecord[] {
    const all = [...this.#records.values()];
    return network === undefined ? all : all.filter((r) => r.network === network);
  }
}

/** Docker's names for a container endpoint (buildEndpointDNSNames): name and aliases; PTR for the name only. */
export function endpointRecords(ep: {
  network: string; name: string; aliases?: string[]; ipv4?: string; ipv6?: string; ttl?: number;
}): NameRecord[] {
  const out: NameRecord[] = [];
  const ttl = ep.ttl === undefined ? {} : { ttl: ep.ttl };
  const names = [ep.name, ...(ep.aliases ?? [])];
  names.forEach((name, i) => {
    if (ep.ipv4) out.push({ network: ep.network, name, type: 'A', address: ep.ipv4, ...(i === 0 ? { ptr: true } : {}), ...ttl });
    if (ep.ipv6) out.push({ network: ep.network, name, type: 'AAAA', address: ep.ipv6, ...(i === 0 ? { ptr: true } : {}), ...ttl });
  });
  return out;
}

/**
 * Docker's names for a swarm-style service: `<service>` (and aliases) -> VIP,
 * or every task IP when there is no VIP (dnsrr); `tasks.<service>` -> every task IP.
 */
export function serviceRecords(svc: {
  network: string; name: string; aliases?: string[]; vip?: string; tasks: string[]; ttl?: number;
}): NameRecord[] {
  const out: NameRecord[] = [];
  const ttl = svc.ttl === undefined ? {} : { ttl: svc.ttl };
  const a = (name: string, address: string): NameRecord => ({
    network: svc.network, name, type: isIPv4(address) ? 'A' : 'AAAA', address, ...ttl,
  });
  for (const name of [svc.name, ...(svc.aliases ?? [])]) {
    if (svc.vip) out.push(a(name, svc.vip));
    else for (const t of svc.tasks) out.push(a(name, t));
    for (const t of svc.tasks) out.push(a(`tasks.${name}`, t));
  }
  return out;
}
