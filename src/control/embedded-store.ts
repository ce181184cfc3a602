/**
 * The embedded single-host store (the default): the whole key space in
 * memory, every change appended to a fsync'd journal before the call
 * returns, compacted when the journal grows. Survives kill -9 at any point.
 */
import { join } from 'node:path';
import { Journal } from '../io/journal.js';
import type { KvStore, WatchEvent } from './store.js';

type Record = { k: string; v?: string };

/** Compact once the journal holds this many times more lines than live keys (plus slack). */
const COMPACT_FACTOR = 4;
const COMPACT_SLACK = 1000;

export class EmbeddedStore implements KvStore {
  readonly kind = 'embedded';
  #data = new Map<string, string>();
  #journal: Journal;
  #watchers = new Set<{ prefix: string; onEvent: (e: WatchEvent) => void }>();

  private constructor(journal: Journal, records: unknown[]) {
    this.#journal = journal;
    for (const r of records as Record[]) {
      if (typeof r?.k !== 'string') continue;
      if (typeof r.v === 'string') this.#data.set(r.k, r.v);
      else this.#data.delete(r.k);
    }
  }

  /**
   * A read-only snapshot of the store (for the CLI while a daemon owns it):
   * nothing is written, writes throw.
   */
  static snapshot(stateDir: string): Map<string, string> {
    const { journal, records } = Journal.open(join(stateDir, 'state.journal'));
    journal.close();
    return new EmbeddedStore(journal, records).#data;
  }

  /** Opens the store kept in `stateDir/state.journal`. */
  static open(stateDir: string): EmbeddedStore {
    const { journal, records } = Journal.open(join(stateDir, 'state.journal'));
    const store = new EmbeddedStore(journal, records);
    store.#maybeCompact(true);
    return store;
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

  #maybeCompact(force: boolean): void {
    if (force || this.#journal.length > this.#data.size * COMPACT_FACTOR + COMPACT_SLACK) {
      this.#journal.compact([...this.#data].map(([k, v]) => ({ k, v })));
    }
  }

  async close(): Promise<void> {
    this.#journal.close();
  }
}
