/**
 * Named network namespaces as iproute2 keeps them (/var/run/netns/NAME, a
 * bind mount of a namespace file), and handles on them (an open fd, for
 * IFLA_NET_NS_FD). Creating one needs unshare(2) on a thread of its own:
 * the addon starts one for it (native/weft.c, netnsAdd), so no `ip` runs.
 */
import { closeSync, existsSync, openSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { InvalidArgumentError, NetnsOperationError, NetnsNotFoundError, WeftError, errnoOf } from '../errors.js';
import { native, netnsPath } from './native.js';

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

/**
 * Which namespace a name (or path) stands for now: the device and inode of
 * its nsfs file, equal for every mount of one namespace; undefined when it
 * is gone. A name deleted and created again gets a new identity.
 */
export function netnsIdentity(netns: string): string | undefined {
  try {
    const s = statSync(netnsPath(netns));
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
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
 * with loopback up. Equivalent to `ip netns add NAME; ip -n NAME link set lo up`;
 * nothing is left behind when it fails (NetnsOperationError, the SysError in `cause`).
 */
export async function createNetns(name: string): Promise<void> {
  const path = namedPath(name);
  try {
    await native().netnsAdd(path);
  } catch (err) {
    throw new NetnsOperationError(`netns add ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** Deletes a named namespace (its links go with it). Equivalent to `ip netns del NAME`. */
export async function deleteNetns(name: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  const path = namedPath(name);
  try {
    await native().netnsDelete(path);
  } catch (err) {
    if (opts.ignoreMissing && errnoOf(err) === 'ENOENT') return;
    throw new NetnsOperationError(`netns del ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** /var/run/netns/NAME for a plain name; a path is refused (the addon makes its directory a shared mount). */
function namedPath(name: string): string {
  if (name.startsWith('/')) throw new InvalidArgumentError(`a named network namespace, not a path: ${JSON.stringify(name)}`);
  return netnsPath(name);
}
