/**
 * The network lab: "hosts" are network namespaces this test creates, joined
 * by an underlay bridge that lives in its own namespace (nothing is created
 * in the root namespace). Addresses come from 198.18.0.0/15 only.
 *
 * Every object carries the lab's prefix `wl<pid36>x<rand>`; `Lab.create()`
 * first sweeps objects of labs whose process is gone, and `destroy()` (call
 * it in `finally` / `after`) deletes the namespaces, which takes every link
 * inside with them.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { processAlive, run, sh } from './exec.js';

/** A lab prefix at the start of a name or after a '-' (weft's own namespaces, `wf-ov-<prefix>-…`). */
const PREFIX_RE = /(?:^|-)wl([0-9a-z]+)x[0-9a-f]{2}(?:-|$)/;

export interface LabHost {
  /** Namespace name, usable with `ip -n` and weft's `--netns`. */
  netns: string;
  /** Underlay interface inside the host namespace. */
  underlay: string;
  /** Underlay IPv4 address (198.18.0.N). */
  address: string;
  /** Runs a command inside the host namespace. */
  exec(argv: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
}

export class Lab {
  readonly prefix: string;
  readonly namespaces: string[] = [];
  #underlay: string | undefined;
  #hosts = 0;

  private constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** A new lab; sweeps what dead labs left behind. */
  static async create(): Promise<Lab> {
    await sweepStale();
    return new Lab(`wl${process.pid.toString(36)}x${randomBytes(1).toString('hex')}`);
  }

  /** A bare namespace `<prefix>-<name>` with loopback up. */
  async netns(name: string): Promise<string> {
    const ns = `${this.prefix}-${name}`;
    await sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** The underlay namespace with bridge `ul0` (made on first use). */
  async underlay(): Promise<string> {
    if (this.#underlay) return this.#underlay;
    const ns = await this.netns('ul');
    await sh(['ip', '-n', ns, 'link', 'add', 'ul0', 'type', 'bridge']);
    await sh(['ip', '-n', ns, 'link', 'set', 'ul0', 'up']);
    this.#underlay = ns;
    return ns;
  }

  /**
   * A lab host: a namespace with `eth0` on the underlay, 198.18.0.<n>/24,
   * where n counts hosts from 1.
   */
  async host(name: string): Promise<LabHost> {
    const ul = await this.underlay();
    const ns = await this.netns(name);
    const n = ++this.#hosts;
    const peer = `p${n}`;
    await sh(['ip', '-n', ul, 'link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await sh(['ip', '-n', ul, 'link', 'set', peer, 'master', 'ul0', 'up']);
    const address = `198.18.0.${n}`;
    await sh(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    return {
      netns: ns,
      underlay: 'eth0',
      address,
      exec: (argv, opts) => sh(['ip', 'netns', 'exec', ns, ...argv], opts),
    };
  }

  /**
   * Deletes every namespace of this lab (and so every link in them),
   * including namespaces weft made for it (their names carry the prefix).
   */
  async destroy(): Promise<void> {
    let extra: string[] = [];
    try {
      extra = readdirSync('/var/run/netns').filter((n) => n.includes(`-${this.prefix}-`) && !this.namespaces.includes(n));
    } catch {
      // no namespaces at all
    }
    for (const ns of [...extra, ...this.namespaces.splice(0).reverse()]) {
      await killNamespaceProcesses(ns);
      await run(['ip', 'netns', 'del', ns]);
    }
  }
}

/** Kills processes left running inside a lab namespace (servers a test started). */
async function killNamespaceProcesses(ns: string): Promise<void> {
  const r = await run(['ip', 'netns', 'pids', ns]);
  for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Deletes namespaces of labs whose creating process no longer exists. */
export async function sweepStale(): Promise<string[]> {
  let names: string[] = [];
  try {
    names = readdirSync('/var/run/netns');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = PREFIX_RE.exec(name);
    if (!m) continue;
    if (processAlive(parseInt(m[1]!, 36))) continue;
    await killNamespaceProcesses(name);
    await run(['ip', 'netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

/** Why a privileged test cannot run here, or undefined when it can. */
export function rootSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  return undefined;
}
