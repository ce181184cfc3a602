/**
 * DNS records shared through the state store, so names of containers on
 * other hosts resolve everywhere (issue 8). Each host writes its own records
 * under `dns/<host>/<record>`; every host mirrors all of them, watching the
 * store, into an in-memory index the resolver reads synchronously. A record
 * published by two hosts stays until both withdraw it.
 */
import type { KvStore, WatchEvent } from '../control/store.js';
import { MemoryDnsRecords, type DnsRecords, type NameRecord, normalizeRecord, recordKey } from './records.js';

const PREFIX = 'dns/';

export class SharedDnsRecords implements DnsRecords {
  #mirror = new MemoryDnsRecords();
  /** record key -> store keys publishing it. */
  #owners = new Map<string, Set<string>>();
  #cancelWatch: (() => void) | undefined;

  private constructor(
    private readonly store: KvStore,
    private readonly host: string,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Loads every host's records and follows changes. */
  static async open(store: KvStore, host: string, onError: (err: Error) => void): Promise<SharedDnsRecords> {
    const r = new SharedDnsRecords(store, host, onError);
    r.#cancelWatch = store.watch(PREFIX, (e) => r.#onEvent(e));
    for (const [key, value] of await store.list(PREFIX)) r.#onEvent({ type: 'put', key, value });
    return r;
  }

  #storeKey(record: NameRecord): string {
    return `${PREFIX}${encodeURIComponent(this.host)}/${encodeURIComponent(recordKey(record))}`;
  }

  #onEvent(e: WatchEvent): void {
    if (e.type === 'put' && e.value) {
      let r: NameRecord;
      try {
        r = normalizeRecord(JSON.parse(e.value) as NameRecord);
      } catch {
        return; // not ours to interpret; ignore
      }
      const k = recordKey(r);
      const owners = this.#owners.get(k) ?? new Set<string>();
      owners.add(e.key);
      this.#owners.set(k, owners);
      this.#mirror.add(r);
      return;
    }
    for (const [k, owners] of this.#owners) {
      if (!owners.delete(e.key)) continue;
      if (owners.size === 0) {
        this.#owners.delete(k);
        const r = this.#mirror.list().find((x) => recordKey(x) === k);
        if (r) this.#mirror.remove(r);
      }
      return;
    }
  }

  add(record: NameRecord): boolean {
    const r = normalizeRecord(record);
    const key = this.#storeKey(r);
    const added = !this.#owners.get(recordKey(r))?.has(key);
    this.#onEvent({ type: 'put', key, value: JSON.stringify(r) });
    if (added) this.store.put(key, JSON.stringify(r)).catch((err) => this.onError(err as Error));
    return added;
  }

  remove(record: NameRecord): boolean {
    const r = normalizeRecord(record);
    const key = this.#storeKey(r);
    const had = this.#owners.get(recordKey(r))?.has(key) ?? false;
    if (!had) return false;
    this.#onEvent({ type: 'delete', key });
    this.store.delete(key).catch((err) => this.onError(err as Error));
    return true;
  }

  /** Hosts publishing this record. */
  hostsOf(record: NameRecord): string[] {
    const owners = this.#owners.get(recordKey(normalizeRecord(record))) ?? new Set<string>();
    return [...owners].map((k) => decodeURIComponent(k.slice(PREFIX.length).split('/')[0]!));
  }

  list(network?: string): NameRecord[] {
    return this.#mirror.list(network);
  }

  get version(): number {
    return this.#mirror.version;
  }

  close(): void {
    this.#cancelWatch?.();
  }
}
