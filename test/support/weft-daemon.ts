/**
 * A `weft daemon` process for end-to-end tests, running in a lab host's
 * network namespace (nsenter --net: same mount namespace, so the named
 * namespaces it creates are visible to everyone), with its own state dir,
 * a unique plugin socket, and an instance name that keeps its kernel
 * namespaces apart from other daemons on this machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { Lab, type LabHost } from './lab.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface WeftDaemonOptions {
  netns: string;
  socket: string;
  instance: string;
  store?: string;
  local?: string;
  host?: string;
  stateDir?: string;
  /** etcd host lease TTL in seconds (`--lease-ttl`). */
  leaseTtl?: number;
  /** dockerd's API socket for container names (DNS); default: none. */
  dockerSocket?: string;
  /** DNS upstream; default 198.18.0.53, a lab address where nothing answers. */
  dnsUpstream?: string;
  /** Where the daemon's output goes (default: daemon.log in the state dir). */
  logPath?: string;
  /** More `weft daemon` arguments. */
  extraArgs?: string[];
}

function socketUp(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class WeftDaemon {
  readonly stateDir: string;
  readonly logPath: string;
  #child: ChildProcess | undefined;

  constructor(readonly opts: WeftDaemonOptions) {
    this.stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'weft-state-'));
    this.logPath = opts.logPath ?? join(this.stateDir, 'daemon.log');
  }

  async start(): Promise<void> {
    const args = [`--net=/var/run/netns/${this.opts.netns}`, process.execPath, cli, 'daemon',
      '--socket', this.opts.socket, '--state-dir', this.stateDir, '--instance', this.opts.instance,
      ...(this.opts.store ? ['--store', this.opts.store] : []),
      ...(this.opts.local ? ['--local', this.opts.local] : []),
      ...(this.opts.host ? ['--host', this.opts.host] : []),
      ...(this.opts.leaseTtl !== undefined ? ['--lease-ttl', String(this.opts.leaseTtl)] : []),
      '--dns-upstream', this.opts.dnsUpstream ?? '198.18.0.53',
      '--docker-socket', this.opts.dockerSocket ?? join(this.stateDir, 'no-docker.sock'), ...(this.opts.extraArgs ?? [])];
    const log = openSync(this.logPath, 'a');
    this.#child = spawn('nsenter', args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const deadline = Date.now() + 20_000;
    while (!(await socketUp(this.opts.socket))) {
      if (this.#child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`weft daemon did not start: ${this.log().slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** kill -9: the kernel state stays, the socket file stays behind (stale). */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    const c = this.#child;
    if (c && c.exitCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null) c.kill('SIGKILL');
    }
  }

  /** Stops and removes the state dir. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** A lab host running its own weft daemon (socket and state in temp dirs); `destroy()` removes all of it. */
export class LabDaemon {
  private constructor(readonly lab: Lab, readonly host: LabHost, readonly weft: WeftDaemon, readonly dir: string) {}

  static async start(hostName: string): Promise<LabDaemon> {
    const lab = await Lab.create();
    const dir = mkdtempSync(join(tmpdir(), 'weft-lab-daemon-'));
    let weft: WeftDaemon | undefined;
    try {
      const host = await lab.host(hostName);
      weft = new WeftDaemon({ netns: host.netns, socket: join(dir, 'weft.sock'), instance: lab.prefix });
      await weft.start();
      return new LabDaemon(lab, host, weft, dir);
    } catch (err) {
      await weft?.destroy();
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async destroy(): Promise<void> {
    await this.weft.destroy();
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
