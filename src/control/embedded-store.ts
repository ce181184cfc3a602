/**
 * The embedded single-host store (the default): the whole key space in
 * memory, every change appended to a fsync'd journal before the call
 * returns, compacted when the journal grows. Survives kill -9 at any point.
 */
import { join } from 'node:path';
import { type JournalWriteError } from '../errors.js';
import { Journal, type JournalScan, readJournal } from '../io/journal.js';
import type { KvStore, WatchEvent } from './store.js';

type Record = { k?: string; v?: string; b?: Record[] };

/** Compact once the journal holds this many times more lines than live keys (plus slack). */
const COMPACT_FACTOR = 4;
const COMPACT_SLACK = 1000;

export class EmbeddedStore implements KvStore {
  readonly kind = 'embedded';
  #data = new Map<string, string>();
  #journal: Journal;
  #watchers = new Set<{ prefix: string; onEvent: (e: WatchEvent) => void }>();
  /** What opening the journal found (for the daemon's start-up checks and log). */
  readonly opened: { path: string; status: JournalScan['status']; tornBytes: number; deferred?: JournalWriteError };

  private constructor(journal: Journal, records: unknown[], opened: EmbeddedStore['opened']) {
    this.#journal = journal;
    this.opened = opened;
    this.#data = EmbeddedStore.replay(records);
  }

  /**
   * A read-only snapshot of the store (for the CLI while a daemon owns it):
   * nothing is written, writes throw.
   */
  static snapshot(stateDir: string): Map<string, string> {
    return EmbeddedStore.replay(readJournal(EmbeddedStore.journalPath(stateDir)).records);
  }

  static journalPath(stateDir: string): string {
    return join(stateDir, 'state.journal');
  }

  /** The key space the records describe. */
  static replay(records: unknown[]): Map<string, string> {
    const data = new Map<string, string>();
    const apply = (r: Record) => {
      if (Array.isArray(r?.b)) r.b.forEach(apply);
      else if (typeof r?.k !== 'string') return;
      else if (typeof r.v === 'string') data.set(r.k, r.v);
      else data.delete(r.k);
    };
    (records as Record[]).forEach(apply);
    return data;
  }

  /**
   * Opens the store kept in `stateDir/state.journal`. Throws
   * JournalCorruptError on damage a crash cannot explain; on a full disk it
   * opens for reading and `opened.deferred` says why writes will fail.
   */
  static open(stateDir: string): EmbeddedStore {
    const path = EmbeddedStore.journalPath(stateDir);
    const { journal, scan, records, deferred } = Journal.open(path);
    const store = new EmbeddedStore(journal, records, { path, status: scan.status, tornBytes: scan.tornBytes, ...(deferred ? { deferred } : {}) });
    if (!deferred) store.#maybeCompact(true);
    return store;
  }

  /** Replaces the whole key space in one durable step (`weft state recover`). */
  replaceAll(data: Map<string, string>): void {
    this.#journal.compact([...data].map(([k, v]) => ({ k, v })));
    this.#data = new Map(data);
  }

  /** Applies several changes as one journal record: all or none survive a crash. */
  async batch(changes: { key: string; value?: string }[]): Promise<void> {
    this.#journal.append({ b: changes.map((c) => (c.value === undefined ? { k: c.key } : { k: c.key, v: c.value })) });
    for (const c of changes) {
      if (c.value === undefined) {
        if (this.#data.delete(c.key)) this.#notify({ type: 'delete', key: c.key });
      } else {
        this.#data.set(c.key, c.value);
        this.#notify({ type: 'put', key: c.key, value: c.value });
      }
    }
    this.#maybeCompact(false);
  }

  async get(key: string): Promise<string | undefined> {
    return this.#data.get(key);
  }

  async list(prefix: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [k, v] of this.#data) if (k.startsWith(prefix)) out.set(k, v);
    return out;
  }

  async put(key: string, value: string): Promise<void> {
    this.#journal.append({ k: key, v: value });
    this.#data.set(key, value);
    this.#notify({ type: 'put', key, value });
    this.#maybeCompact(false);
  }

  async create(key: string, value: string): Promise<boolean> {
    if (this.#data.has(key)) return false;
    await this.put(key, value);
    return true;
  }

  async delete(key: string): Promise<void> {
    if (!this.#data.has(key)) return;
    this.#journal.append({ k: key });
    this.#data.delete(key);
    this.#notify({ type: 'delete', key });
    this.#maybeCompact(false);
  }

  watch(prefix: string, onEvent: (e: WatchEvent) => void): () => void {
    const w = { prefix, onEvent };
    this.#watchers.add(w);
    return () => this.#watchers.delete(w);
  }

  #notify(e: WatchEvent): void {
    for (const w of this.#watchers) if (e.key.startsWith(w.prefix)) w.onEvent(e);
  }

  /** Compaction is an optimisation: a failure (full disk) leaves the journal as it is, and it is retried later. */
  #maybeCompact(force: boolean): void {
    if (force || this.#journal.length > this.#data.size * COMPACT_FACTOR + COMPACT_SLACK) {
      try {
        this.#journal.compact([...this.#data].map(([k, v]) => ({ k, v })));
      } catch {
        // the append that triggered this is durable already
      }
    }
  }

  async close(): Promise<void> {
    this.#journal.close();
  }
}
