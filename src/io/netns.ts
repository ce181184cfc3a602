/**
 * Named network namespaces as iproute2 keeps them (/var/run/netns/NAME, a
 * bind mount of a namespace file), and handles on them (an open fd, for
 * IFLA_NET_NS_FD). Creating one needs unshare(2) on a thread of its own, so
 * that runs `ip netns add|del` (iproute2 is a hard dependency).
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, statfsSync } from 'node:fs';
import { NetnsOperationError, NetnsNotFoundError, WeftError } from '../errors.js';
import { netnsPath } from './native.js';

const NETNS_DIR = '/var/run/netns';

/** Opens a namespace (name as `ip netns`, or path) and returns its fd; close it with closeNetns. */
export function openNetns(netns: string): number {
  try {
    return openSync(netnsPath(netns), 'r');
  } catch (err) {
    if (err instanceof WeftError) throw err;
    throw new NetnsNotFoundError(netns, (err as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

export function closeNetns(fd: number): void {
  closeSync(fd);
}

export function netnsExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}

const NSFS_MAGIC = 0x6e736673;

/**
 * Whether a Docker SandboxKey still holds a namespace: a mounted nsfs file.
 * Docker unmounts it when the sandbox goes and removes the file up to a
 * minute later, so mere existence proves nothing.
 */
export function sandboxExists(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** Creates the named namespace unless it exists. */
export async function ensureNetns(name: string): Promise<void> {
  if (!netnsExists(name)) await createNetns(name);
}

/**
 * Creates a named network namespace (a bind mount under /var/run/netns),
 * with loopback up. Equivalent to `ip netns add NAME; ip -n NAME link set lo up`.
 * A child process, since creating one needs unshare(2) on a thread of its own.
 */
export async function createNetns(name: string): Promise<void> {
  netnsPath(name);
  await ipCommand(['netns', 'add', name]);
  try {
    await ipCommand(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await ipCommand(['netns', 'del', name]).catch(() => undefined);
    throw err;
  }
}

/** Deletes a named namespace (its links go with it). Equivalent to `ip netns del NAME`. */
export async function deleteNetns(name: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  netnsPath(name);
  try {
    await ipCommand(['netns', 'del', name]);
  } catch (err) {
    if (opts.ignoreMissing && /No such file|does not exist/i.test((err as Error).message)) return;
    throw err;
  }
}

function ipCommand(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Generous: on a busy host the bind mount behind `ip netns add` can take seconds.
    execFile('ip', args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(new NetnsOperationError(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}
