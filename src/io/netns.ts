/**
 * Named network namespaces as iproute2 keeps them (/var/run/netns/NAME, a
 * bind mount of a namespace file). Creating one needs unshare(2) on a thread
 * of its own, so this runs `ip netns add|del` (iproute2 is a hard dependency).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { WeftError } from '../errors.js';

const NETNS_DIR = '/var/run/netns';

function ip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(new WeftError('ENETNS', `ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

export function netnsExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}

/** Creates the named namespace unless it exists; brings its loopback up. */
export async function ensureNetns(name: string): Promise<void> {
  if (netnsExists(name)) return;
  await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes the named namespace (and every link in it); missing is fine. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  await ip(['netns', 'del', name]);
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}
