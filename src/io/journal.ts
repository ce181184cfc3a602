/**
 * A durable append-only journal: one JSON line per record, fsync'd before
 * append() returns, so a caller may acknowledge once it resolves. A torn last
 * line (kill -9 mid-write) is ignored on load. compact() rewrites the file
 * from a snapshot atomically (temp file, fsync, rename, fsync the directory).
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class Journal {
  #fd: number;
  readonly path: string;
  #lines = 0;

  private constructor(path: string, fd: number, lines: number) {
    this.path = path;
    this.#fd = fd;
    this.#lines = lines;
  }

  /** Opens (creating) the journal; returns it with every intact record. */
  static open(path: string): { journal: Journal; records: unknown[] } {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const records: unknown[] = [];
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line));
        } catch {
          // A torn write from a crash: everything before it is intact.
          break;
        }
      }
    }
    const fd = openSync(path, 'a', 0o600);
    // It may hold encryption keys: private even if an older version made it wider.
    fchmodSync(fd, 0o600);
    return { journal: new Journal(path, fd, records.length), records };
  }

  /** Appends records and makes them durable before returning. */
  append(...records: unknown[]): void {
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    writeSync(this.#fd, text);
    fsyncSync(this.#fd);
    this.#lines += records.length;
  }

  /** Records written since the last compaction (a hint for when to compact). */
  get length(): number {
    return this.#lines;
  }

  /** Atomically replaces the journal with `records`. */
  compact(records: unknown[]): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    closeSync(this.#fd);
    this.#fd = openSync(this.path, 'a', 0o600);
    this.#lines = records.length;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
