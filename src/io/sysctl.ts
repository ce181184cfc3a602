/**
 * Sysctls under /proc/sys/net, in our namespace or another one.
 *
 * Why a child process for sysctls in another namespace: /proc/sys/net
 * resolves to the network namespace of the task that opens the file (the
 * kernel's net sysctl root looks up current->nsproxy->net_ns), and Node
 * cannot move one of its threads into another namespace around an open().
 * So reads and writes in another namespace run in one short `nsenter --net`
 * child per call, all keys of that call together. Our own namespace uses
 * plain file I/O.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SysctlError } from '../errors.js';
import { netnsPath } from './native.js';
import { runFailure, runProgram } from './process.js';

/**
 * `net.ipv4.conf.eth0.proxy_arp` or `net/ipv4/conf/eth0.100/proxy_arp`
 * (slashes when a name contains a dot, as sysctl(8) allows) -> path.
 */
export function sysctlPath(key: string): string {
  const rel = key.includes('/') ? key : key.replaceAll('.', '/');
  if (!/^net\/[A-Za-z0-9_.@:\-/]+$/.test(rel) || rel.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new SysctlError(key, undefined, 'only keys under net/ with plain names are allowed');
  }
  return `/proc/sys/${rel}`;
}

async function inNetns(netns: string, script: string, args: string[]): Promise<string> {
  const r = await runProgram('nsenter', [`--net=${netnsPath(netns)}`, '--', '/bin/sh', '-c', script, 'sh', ...args], { timeoutMs: 10_000 });
  if (r.status !== 0) throw new Error(runFailure(r));
  return r.stdout;
}

/** Reads sysctls (trimmed values). Equivalent to `ip netns exec NS sysctl -n KEY...`. */
export async function readSysctls(netns: string | undefined, keys: string[]): Promise<string[]> {
  const paths = keys.map(sysctlPath);
  if (netns === undefined) {
    return paths.map((p, i) => {
      try {
        return readFileSync(p, 'utf8').trim();
      } catch (err) {
        throw new SysctlError(keys[i]!, undefined, (err as NodeJS.ErrnoException).code ?? String(err));
      }
    });
  }
  // One value per line, a marker line for a key that cannot be read.
  let out: string;
  try {
    out = await inNetns(netns, 'for f; do if [ -r "$f" ]; then tr "\\n\\t" "  " < "$f"; echo; else echo "@@missing"; fi; done', paths);
  } catch (err) {
    throw new SysctlError(keys.join(','), netns, (err as Error).message);
  }
  const lines = out.split('\n');
  return keys.map((k, i) => {
    const v = lines[i];
    if (v === undefined || v === '@@missing') throw new SysctlError(k, netns, 'no such key');
    return v.trim();
  });
}

export async function readSysctl(netns: string | undefined, key: string): Promise<string> {
  return (await readSysctls(netns, [key]))[0]!;
}

/** Writes sysctls. Equivalent to `ip netns exec NS sysctl -w KEY=VALUE...`. */
export async function writeSysctls(netns: string | undefined, values: Record<string, string | number>): Promise<void> {
  const entries = Object.entries(values).map(([k, v]) => {
    const s = String(v);
    if (!/^[A-Za-z0-9 ._:\-]*$/.test(s)) throw new SysctlError(k, netns, `refusing value ${JSON.stringify(s)}`);
    return [sysctlPath(k), s, k] as const;
  });
  if (netns === undefined) {
    for (const [p, v, k] of entries) {
      try {
        writeFileSync(p, v);
      } catch (err) {
        throw new SysctlError(k, undefined, (err as NodeJS.ErrnoException).code ?? String(err));
      }
    }
    return;
  }
  const args = entries.flatMap(([p, v]) => [p, v]);
  try {
    await inNetns(netns, 'while [ $# -gt 0 ]; do printf "%s" "$2" > "$1" || exit 1; shift 2; done', args);
  } catch (err) {
    throw new SysctlError(Object.keys(values).join(','), netns, (err as Error).message);
  }
}

/**
 * Sysctl changes that can be undone: set() records each key's first value,
 * restore() writes them back (in reverse order). Changed sysctls must be
 * restored (developers' guide, network safety).
 */
export class SysctlChanges {
  readonly netns: string | undefined;
  #saved = new Map<string, string>();

  constructor(netns?: string) {
    this.netns = netns;
  }

  /** Sets values, remembering the originals; returns the previous values. */
  async set(values: Record<string, string | number>): Promise<Record<string, string>> {
    const keys = Object.keys(values);
    const before = await readSysctls(this.netns, keys);
    const prev: Record<string, string> = {};
    keys.forEach((k, i) => {
      prev[k] = before[i]!;
      if (!this.#saved.has(k)) this.#saved.set(k, before[i]!);
    });
    await writeSysctls(this.netns, values);
    return prev;
  }

  /** Writes every original value back. */
  async restore(): Promise<void> {
    const entries = [...this.#saved].reverse();
    this.#saved.clear();
    if (entries.length) await writeSysctls(this.netns, Object.fromEntries(entries));
  }
}

/** The sysctls a VTEP/proxy-ARP setup touches, as keys for one interface. */
export const netSysctl = {
  proxyArp: (dev: string) => `net/ipv4/conf/${dev}/proxy_arp`,
  forwarding: (family: 'ipv4' | 'ipv6' = 'ipv4', dev = 'all') => `net/${family}/conf/${dev}/forwarding`,
  acceptRa: (dev: string) => `net/ipv6/conf/${dev}/accept_ra`,
  proxyDelay: (dev: string) => `net/ipv4/neigh/${dev}/proxy_delay`,
};

/**
 * Remounts /proc/sys writable when it is mounted read-only, as Docker does
 * in a managed plugin (CAP_SYS_ADMIN, inside the plugin's own mount
 * namespace): weft writes net sysctls (forwarding for the mesh, proxy ARP).
 */
export async function makeProcSysWritable(): Promise<void> {
  const ro = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .some((l) => { const f = l.split(' '); return f[4] === '/proc/sys' && f[5]!.split(',').includes('ro'); });
  if (!ro) return;
  const r = await runProgram('mount', ['-o', 'remount,rw,bind', '/proc/sys'], { timeoutMs: 30_000 });
  if (r.status !== 0) throw new SysctlError('/proc/sys', undefined, `remount read-write: ${runFailure(r)}`);
}
