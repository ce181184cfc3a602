/**
 * A durable append-only journal. The file is a header line, then records:
 *
 *   weft-journal v2\n
 *   <payload length: 8 hex> <crc32 of payload: 8 hex> <payload JSON>\n
 *
 * append() returns only once every byte is written and fsync'd; a short
 * write or failed fsync truncates the file back to the last good record and
 * throws, so the journal stays appendable and nothing unacknowledged is
 * glued onto a fragment. On open, a tail that holds no newline (a crash
 * mid-append: a strict prefix of a record) is cut off and reported; any
 * other damage (a checksum failure, a malformed record followed by more
 * data) throws JournalCorruptError and nothing is changed. The format of
 * weft before v2 (bare JSON lines) is read once and rewritten in v2, the
 * old file kept as `<path>.v1`. See docs/state.md.
 */
import { closeSync, copyFileSync, existsSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { FileWriteError, JournalCorruptError, JournalWriteError } from '../errors.js';
import { describeWriteFailure, removeStaleTemps, writeFileAtomic, writeFully } from './atomic-file.js';
import { metrics } from '../metrics.js';

const FSYNC_SECONDS = metrics.histogram('weft_journal_fsync_duration_seconds', 'Time an fsync of the state journal took.').with();

export const JOURNAL_HEADER = 'weft-journal v2\n';
const RECORD_HEADER = 18; // 8 hex, space, 8 hex, space
const NL = 0x0a;

/** A failed append or rewrite as a JournalWriteError naming why (the atomic writer already said why). */
function writeFailed(path: string, err: unknown): JournalWriteError {
  return new JournalWriteError(path, err instanceof FileWriteError ? err.reason : describeWriteFailure(path, err), err);
}

/**
 * What open found: 'missing' (no file), 'empty' (no bytes, or only part of
 * the header), 'ok', 'repaired' (a torn tail was cut), 'migrated' (v1 read).
 */
export type JournalStatus = 'missing' | 'empty' | 'ok' | 'repaired' | 'migrated';

export interface JournalScan {
  status: JournalStatus;
  records: unknown[];
  /** Bytes of intact journal (header and whole records). */
  goodSize: number;
  /** Bytes of torn tail after the last whole record. */
  tornBytes: number;
}

export function encodeRecord(record: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(record));
  const head = `${payload.length.toString(16).padStart(8, '0')} ${crc32(payload).toString(16).padStart(8, '0')} `;
  return Buffer.concat([Buffer.from(head), payload, Buffer.from('\n')]);
}

/** Parses a journal image; throws JournalCorruptError for anything a crash cannot explain. */
export function scanJournal(path: string, buf: Buffer): JournalScan {
  if (buf.length === 0) return { status: 'empty', records: [], goodSize: 0, tornBytes: 0 };
  const header = Buffer.from(JOURNAL_HEADER);
  if (buf.length < header.length && header.subarray(0, buf.length).equals(buf)) {
    return { status: 'empty', records: [], goodSize: 0, tornBytes: buf.length };
  }
  if (!buf.subarray(0, header.length).equals(header)) return scanV1(path, buf);
  const records: unknown[] = [];
  let off = header.length;
  while (off < buf.length) {
    const bad = (reason: string): JournalScan => {
      // A crash mid-append leaves a prefix of one write: no newline in it.
      if (buf.indexOf(NL, off) < 0) return { status: 'repaired', records, goodSize: off, tornBytes: buf.length - off };
      throw new JournalCorruptError(path, off, reason, records);
    };
    if (buf.length - off < RECORD_HEADER) return bad('record header cut short');
    const head = buf.toString('latin1', off, off + RECORD_HEADER);
    const m = /^([0-9a-f]{8}) ([0-9a-f]{8}) $/.exec(head);
    if (!m) return bad('malformed record header');
    const len = parseInt(m[1]!, 16);
    const end = off + RECORD_HEADER + len;
    if (end >= buf.length) return bad('record runs past the end of the file');
    if (buf[end] !== NL) return bad('record not terminated');
    const payload = buf.subarray(off + RECORD_HEADER, end);
    if (crc32(payload) !== parseInt(m[2]!, 16)) throw new JournalCorruptError(path, off, 'checksum mismatch', records);
    try {
      records.push(JSON.parse(payload.toString('utf8')));
    } catch {
      throw new JournalCorruptError(path, off, 'record is not JSON', records);
    }
    off = end + 1;
  }
  return { status: 'ok', records, goodSize: off, tornBytes: 0 };
}

/** weft's first format: one JSON line per record; only the last line may be torn. */
function scanV1(path: string, buf: Buffer): JournalScan {
  const records: unknown[] = [];
  let off = 0;
  while (off < buf.length) {
    const nl = buf.indexOf(NL, off);
    const line = buf.toString('utf8', off, nl < 0 ? buf.length : nl);
    try {
      if (line) records.push(JSON.parse(line));
    } catch {
      if (nl < 0) return { status: 'migrated', records, goodSize: off, tornBytes: buf.length - off };
      throw new JournalCorruptError(path, off, off === 0 ? 'not a weft journal' : 'unreadable line in a v1 journal', records);
    }
    if (nl < 0) break;
    off = nl + 1;
  }
  return { status: 'migrated', records, goodSize: buf.length, tornBytes: 0 };
}

/** Reads a journal without changing anything (for `weft state check` and the CLI). */
export function readJournal(path: string): JournalScan {
  if (!existsSync(path)) return { status: 'missing', records: [], goodSize: 0, tornBytes: 0 };
  return scanJournal(path, readFileSync(path));
}

/** Replaces the journal at path with `records` in one durable step (recovery, tests). */
export function writeJournal(path: string, records: unknown[]): void {
  writeFileAtomic(path, Buffer.concat([Buffer.from(JOURNAL_HEADER), ...records.map(encodeRecord)]), 0o600);
}

export class Journal {
  readonly path: string;
  #fd = -1;
  #size = 0;
  #appended = 0;
  /** A repair that must succeed before the next append (a failed truncate, a header or migration a full disk refused). */
  #pending: (() => void) | undefined;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens (creating) the journal; returns it with every intact record. A
   * torn tail is cut off; a damaged journal throws before anything is
   * written. When the disk is full the journal still opens (reads work) and
   * each append retries the pending repair first, failing with a clear error.
   */
  static open(path: string): { journal: Journal; scan: JournalScan; records: unknown[]; deferred?: JournalWriteError } {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    removeStaleTemps(path);
    const scan = readJournal(path);
    const j = new Journal(path);
    let deferred: JournalWriteError | undefined;
    try {
      if (scan.status === 'missing' || scan.status === 'empty') j.#rewrite([]);
      else if (scan.status === 'migrated') {
        copyFileSync(path, `${path}.v1`);
        j.#rewrite(scan.records);
      } else {
        j.#openFd();
        j.#appended = scan.records.length;
        if (scan.tornBytes > 0) j.#truncate(scan.goodSize);
        else j.#size = scan.goodSize;
      }
    } catch (err) {
      deferred = writeFailed(path, err);
      const records = scan.records;
      j.#pending = scan.status === 'ok' || scan.status === 'repaired'
        ? () => j.#truncate(scan.goodSize)
        : () => {
          if (scan.status === 'migrated' && !existsSync(`${path}.v1`)) copyFileSync(path, `${path}.v1`);
          j.#rewrite(records);
        };
    }
    return { journal: j, scan, records: scan.records, ...(deferred ? { deferred } : {}) };
  }

  #openFd(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    this.#fd = openSync(this.path, 'a', 0o600);
    // It may hold encryption keys: private even if an older version made it wider.
    fchmodSync(this.#fd, 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  /** Back to `size` bytes, durably. */
  #truncate(size: number): void {
    if (this.#fd < 0) this.#openFd();
    ftruncateSync(this.#fd, size);
    fsyncSync(this.#fd);
    this.#size = size;
  }

  /** Replaces the file with `records` (temp, fsync, rename, fsync dir): the old generation stays until the new one is durable. */
  #rewrite(records: unknown[]): void {
    writeJournal(this.path, records);
    this.#openFd();
  }

  /** Appends records and makes them durable before returning; on failure nothing of them remains. */
  append(...records: unknown[]): void {
    if (this.#fd < 0 && !this.#pending) throw writeFailed(this.path, new Error('journal is closed'));
    try {
      if (this.#pending) {
        this.#pending();
        this.#pending = undefined;
      }
    } catch (err) {
      throw writeFailed(this.path, err);
    }
    const data = Buffer.concat(records.map(encodeRecord));
    try {
      writeFully(this.#fd, data);
      const t0 = performance.now();
      fsyncSync(this.#fd);
      FSYNC_SECONDS.since(t0);
    } catch (err) {
      const good = this.#size;
      try {
        this.#truncate(good);
      } catch {
        this.#pending = () => this.#truncate(good);
      }
      throw writeFailed(this.path, err);
    }
    this.#size += data.length;
    this.#appended += records.length;
  }

  /** Records appended since the last compaction (a hint for when to compact). */
  get length(): number {
    return this.#appended;
  }

  /** Whether appends currently wait on a repair (the disk was full). */
  get degraded(): boolean {
    return this.#pending !== undefined;
  }

  /** Atomically replaces the journal with `records`; on failure the current file stays as it was. */
  compact(records: unknown[]): void {
    try {
      this.#rewrite(records);
    } catch (err) {
      throw writeFailed(this.path, err);
    }
    this.#pending = undefined;
    this.#appended = 0;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
