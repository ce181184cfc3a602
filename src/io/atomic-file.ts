/**
 * Whole-file replacement that survives a crash: write a temp file in the
 * same directory, check the full write, fsync it, rename it over the target,
 * fsync the directory. A reader after kill -9 or power loss sees the old or
 * the new contents, never a torn file; the old file stays in place until the
 * new one is durable. On any failure (a full disk) the temp file is removed.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileWriteError } from '../errors.js';

/** "no space left on device (12 kB free)" and the like, naming the free space where it matters. */
export function describeWriteFailure(path: string, cause: unknown): string {
  const e = cause as NodeJS.ErrnoException;
  const what = e?.code === 'ENOSPC' ? 'no space left on device' : e?.code === 'EDQUOT' ? 'disk quota exceeded' : (e?.message ?? String(cause));
  return `${what} (${freeSpace(dirname(path))} free)`;
}

function freeSpace(dir: string): string {
  try {
    const s = statfsSync(dir);
    const bytes = s.bavail * s.bsize;
    return bytes >= 1 << 20 ? `${Math.floor(bytes / (1 << 20))} MiB` : `${bytes} bytes`;
  } catch {
    return 'unknown';
  }
}

/** Writes all of `data` at the fd's position; writeSync may write less than asked. */
export function writeFully(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = writeSync(fd, data, off, data.length - off);
    if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    off += n;
  }
}

/** fsync of a directory, so a rename or unlink in it is durable. */
export function fsyncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

const tmpPrefix = (path: string) => `.${basename(path)}.tmp-`;

/** Removes temp files a crashed writer left beside `path`. */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const f of entries) {
    if (f.startsWith(tmpPrefix(path))) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // another process's temp, or already gone
      }
    }
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${tmpPrefix(path)}${process.pid}`);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', mode);
    writeFully(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new FileWriteError(path, describeWriteFailure(path, err), err);
  }
  fsyncDir(dir);
}
