/**
 * A throw-away etcd (Debian's etcd-server 3.4) for tests: one member on
 * 127.0.0.1 with free client and peer ports, data in its own temp dir.
 *
 *   const etcd = await startEtcd();
 *   try { ... etcd.endpoints ... } finally { await etcd.stop(); }
 *
 * Faults: `pause()`/`resume()` freeze the member (SIGSTOP/SIGCONT: clients see
 * timeouts, connections stay open); `kill()` is `kill -9`, `restart()` brings
 * it back on the same ports and data (a crash-recovery restart).
 *
 * With `netns` the member runs inside that (lab) namespace instead, on
 * `host` (default 127.0.0.1 there) and ports 2379/2380: daemons in lab
 * namespaces cannot reach the root namespace's loopback. Health is then
 * checked with etcdctl run in the namespace.
 *
 * The temp dir is `/tmp/weft-etcd-<pid36>-<rand>` with `etcd.pid` inside;
 * `startEtcd()` first sweeps dirs whose creating process is gone, killing the
 * etcd they name. A process-exit hook kills a running member if the test
 * process ends without calling `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { have, processAlive, sh } from './exec.js';

const DIR_PREFIX = 'weft-etcd-';
const DIR_RE = /^weft-etcd-([0-9a-z]+)-/;

export interface EtcdServer {
  /** Client URLs, e.g. `['http://127.0.0.1:40123']`. */
  readonly endpoints: string[];
  /** The temp dir holding `data/`, `etcd.log` and `etcd.pid`. */
  readonly dir: string;
  /** Current etcd pid (changes on restart). */
  readonly pid: number | undefined;
  /** SIGSTOP: the member stops answering but keeps its sockets. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL and wait for exit (data stays for restart()). */
  kill(): Promise<void>;
  /** Starts the member again on the same ports and data dir; waits until healthy. */
  restart(): Promise<void>;
  /** Stops etcd (TERM, then KILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** How long to wait for /health (default 20 s). */
  readyTimeoutMs?: number;
  /** Run inside this named network namespace (/var/run/netns/NAME) instead of the root one. */
  netns?: string;
  /** Address to listen on inside `netns` (default 127.0.0.1). */
  host?: string;
}

/** Why etcd cannot run here, or undefined when it can. */
export async function etcdSkipReason(): Promise<string | undefined> {
  if (!(await have('etcd'))) return 'etcd not on PATH (apt-get install etcd-server)';
  return undefined;
}

/** Every key with its value, from etcdctl run in `netns` against `endpoint` (http://HOST:PORT). */
export async function etcdPairsIn(netns: string, endpoint: string): Promise<Map<string, string>> {
  const lines = (await sh(['ip', 'netns', 'exec', netns, 'etcdctl', '--endpoints', endpoint, 'get', '', '--prefix'])).split('\n');
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i]!, lines[i + 1]!);
  return out;
}

/** Whether every thread of pid is stopped (state T in /proc/PID/task/TID/stat); false once it is gone. */
function allStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
    });
  } catch {
    return false;
  }
}

/** Starts one etcd member on 127.0.0.1. */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  sweepStaleEtcd();
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid.toString(36)}-`));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  let lastError: unknown;
  // Free ports are found by binding port 0 and closing; another process can take
  // one before etcd binds it, so retry with fresh ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    // A lab namespace is fresh: etcd's usual ports are free there.
    const [clientPort, peerPort] = opts.netns ? [2379, 2380] : await freePorts(2);
    const server = new Etcd(dir, clientPort!, peerPort!, readyTimeoutMs, opts.netns, opts.host ?? '127.0.0.1');
    try {
      await server.restart();
      return server;
    } catch (err) {
      lastError = err;
      await server.kill();
      rmSync(join(dir, 'data'), { recursive: true, force: true });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

class Etcd implements EtcdServer {
  readonly endpoints: string[];
  readonly dir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #clientUrl: string;
  readonly #peerUrl: string;
  readonly #readyTimeoutMs: number;
  readonly #onExit = () => this.#killSync();

  readonly #netns: string | undefined;

  constructor(dir: string, clientPort: number, peerPort: number, readyTimeoutMs: number, netns?: string, host = '127.0.0.1') {
    this.dir = dir;
    this.#netns = netns;
    this.#clientUrl = `http://${host}:${clientPort}`;
    this.#peerUrl = `http://${host}:${peerPort}`;
    this.endpoints = [this.#clientUrl];
    this.#readyTimeoutMs = readyTimeoutMs;
    process.on('exit', this.#onExit);
  }

  get pid(): number | undefined {
    const c = this.#child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  /** SIGSTOP, then waits (up to 2 s) until every thread is stopped: delivery is asynchronous, and on a loaded host a request sent at once was answered. */
  pause(): void {
    const pid = this.pid;
    if (!pid) return;
    process.kill(pid, 'SIGSTOP');
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 2000; Date.now() < end && !allStopped(pid);) Atomics.wait(nap, 0, 0, 5);
  }

  resume(): void {
    if (this.pid) process.kill(this.pid, 'SIGCONT');
  }

  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid) {
      process.kill(pid, 'SIGKILL');
      await this.#exited;
    }
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error('etcd: restart() after stop()');
    if (this.pid) throw new Error('etcd: restart() while running; kill() first');
    const log = openSync(join(this.dir, 'etcd.log'), 'a');
    // nsenter execs etcd, so the pid is etcd's (pause/kill act on it directly).
    const [cmd, pre] = this.#netns ? ['nsenter', [`--net=/var/run/netns/${this.#netns}`, 'etcd']] : ['etcd', []];
    const child = spawn(cmd, [...pre,
      '--name', 'weft',
      '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', this.#clientUrl,
      '--advertise-client-urls', this.#clientUrl,
      '--listen-peer-urls', this.#peerUrl,
      '--initial-advertise-peer-urls', this.#peerUrl,
      '--initial-cluster', `weft=${this.#peerUrl}`,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `weft-${process.pid}-${this.#peerUrl}`,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.once('error', () => undefined);
    if (child.pid) writeFileSync(join(this.dir, 'etcd.pid'), `${child.pid}\n`);
    await this.#waitHealthy();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const pid = this.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
      const timer = setTimeout(() => this.#killSync(), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    process.off('exit', this.#onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  #killSync(): void {
    const pid = this.pid;
    if (!pid) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }

  async #waitHealthy(): Promise<void> {
    const deadline = Date.now() + this.#readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.pid) throw new Error(`etcd exited during start-up:\n${this.#logTail()}`);
      if (this.#netns) {
        if (await this.#healthyInNetns()) return;
      } else {
        try {
          const res = await fetch(`${this.#clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (body.health === 'true') return;
        } catch {
          // not listening yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd not healthy after ${this.#readyTimeoutMs} ms:\n${this.#logTail()}`);
  }

  #healthyInNetns(): Promise<boolean> {
    return new Promise((resolve) => {
      const c = spawn('nsenter', [`--net=/var/run/netns/${this.#netns}`, 'etcdctl', '--endpoints', this.#clientUrl,
        '--dial-timeout', '1s', '--command-timeout', '1s', 'endpoint', 'health'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } });
      c.once('error', () => resolve(false));
      c.once('exit', (code) => resolve(code === 0));
    });
  }

  #logTail(): string {
    try {
      return readFileSync(join(this.dir, 'etcd.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** `n` distinct TCP ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Kills etcd members (and removes dirs) left by test processes that are gone. */
export function sweepStaleEtcd(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const m = DIR_RE.exec(name);
    if (!m || processAlive(parseInt(m[1]!, 36))) continue;
    const dir = join(tmpdir(), name);
    try {
      const pid = Number(readFileSync(join(dir, 'etcd.pid'), 'utf8').trim());
      if (pid > 0 && cmdline(pid).includes(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // no pidfile or already gone
    }
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
