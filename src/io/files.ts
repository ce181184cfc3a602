/**
 * Whole-file reads and plain file checks for the layers above io/: config
 * and state files, PEM material, /etc/resolv.conf, /proc and /sys entries.
 * All small, all read synchronously (each is read once, at start-up or per
 * CLI command). Failures are Node's own errors (err.code: ENOENT, EACCES …);
 * callers turn them into their own WeftErrors. Writes go through
 * atomic-file.ts.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';

/** The file's text (UTF-8). */
export function readTextFile(path: string | URL): string {
  return readFileSync(path, 'utf8');
}

/** The file's text, or undefined when it does not exist (any other failure throws). */
export function readTextFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The file's bytes. */
export function readBinaryFile(path: string): Buffer {
  return readFileSync(path);
}

/** Whether something exists at path (file, directory, socket). */
export function pathExists(path: string): boolean {
  return existsSync(path);
}

/** Copies a file, replacing `to`. */
export function copyFile(from: string, to: string): void {
  copyFileSync(from, to);
}
