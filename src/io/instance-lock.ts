/**
 * Exclusive claims a daemon holds while it runs, taken before it touches
 * the kernel or its state (docs/state.md):
 *   - the state directory: a pid file created exclusively; one left by a
 *     dead process (kill -9) is taken over;
 *   - a name in this network namespace: an abstract unix socket, which the
 *     kernel scopes to the namespace and frees when the process dies, so two
 *     daemons in one namespace cannot share an --instance name.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { ClaimedError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks `dir` for this process; returns the release function. */
export function lockDirectory(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'daemon.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ClaimedError(`state directory ${dir} is in use by weft daemon pid ${pid} (one daemon per state directory)`);
      }
      unlinkSync(path); // left by a process that died
      continue;
    }
    try {
      // A full disk may refuse the pid; the empty file still holds the claim for this run.
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
    } catch {
      // see above
    } finally {
      closeSync(fd);
    }
    return () => {
      try {
        if (Number(readFileSync(path, 'utf8').trim() || process.pid) === process.pid) unlinkSync(path);
      } catch {
        // already gone
      }
    };
  }
  throw new ClaimedError(`could not lock state directory ${dir}`);
}

/** Claims `name` in this network namespace; resolves to the release function. */
export function claimNamespaceName(name: string, what: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer((s) => s.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new ClaimedError(what) : err);
    });
    server.listen(`\0${name}`, () => {
      server.unref();
      resolve(() => server.close());
    });
  });
}
