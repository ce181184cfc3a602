/**
 * A throw-away, isolated dockerd (Debian's docker.io 20.10) for tests.
 *
 *   const d = await startDocker({ dns: '198.18.0.53' });
 *   try {
 *     await d.docker(['run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'hi']);
 *   } finally {
 *     await d.stop();
 *   }
 *
 * Isolation: everything lives in `/tmp/weft-docker-<pid36>-<rand>/`: data-root,
 * exec-root, pidfiles, the API socket, its own daemon.json (the host's
 * /etc/docker/daemon.json is not read), the CLI config, and a containerd of its
 * own (own root, state, socket, no CRI, no metrics/debug listeners; dockerd
 * would otherwise reuse a system containerd at /run/containerd). The daemon
 * runs with `--bridge=none --iptables=false --ip6tables=false
 * --ip-forward=false --ip-masq=false --userland-proxy=false`, `--dns` set to a
 * lab address (198.18.0.0/15 or 127.0.0.0/8 only: Docker would otherwise hand
 * containers public resolvers), the cgroupfs driver, and a cgroup parent named
 * after the temp dir so leftovers can be found and killed.
 *
 * Cleanup: `stop()` removes all containers, stops dockerd and containerd
 * (TERM, then KILL), kills any process whose command line names the temp dir
 * (containerd shims) or that sits in the daemon's cgroups, unmounts whatever
 * is mounted below the temp dir, and deletes it. `startDocker()` first does the
 * same for temp dirs whose creating process is gone; an exit hook does it
 * synchronously if the test process ends without `stop()`.
 *
 * Image: `weft-busybox:latest` (BUSYBOX) is imported once per daemon from a
 * rootfs holding the host's busybox-static and a symlink per applet (sh,
 * ping, ip, nslookup, wget, sleep, cat, hostname, ifconfig, httpd, nc, ...).
 * No registry is ever contacted. Caveat: busybox-static's `wget` segfaults
 * (static glibc): fetch over HTTP with `nc` instead.
 *
 * Plugins: Docker discovers legacy network/IPAM plugins by socket file in
 * `/run/docker/plugins/NAME.sock` (spec files: `/etc/docker/plugins/NAME.spec`
 * holding `unix:///path.sock`). That directory is shared by every dockerd on
 * the machine, so a test must use a name no other test uses:
 *
 *   const name = uniquePluginName('weft');            // weft-<pid36>x<hex>
 *   const sock = pluginSocketPath(name);              // /run/docker/plugins/<name>.sock, dir made
 *   server.listen(sock);                              // your plugin
 *   await d.docker(['network', 'create', '-d', name, '--ipam-driver', name, ...]);
 *   ... finally removePluginSocket(name);
 *
 * Names carry the creating pid, so `startDocker()` also removes sockets and
 * spec files of dead test processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, rmdirSync,
  symlinkSync, unlinkSync, writeFileSync, copyFileSync, chmodSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive, run, type ExecResult } from './exec.js';

export const BUSYBOX = 'weft-busybox:latest';
export const PLUGIN_DIR = '/run/docker/plugins';
export const PLUGIN_SPEC_DIR = '/etc/docker/plugins';

const DIR_PREFIX = 'weft-docker-';
const DIR_RE = /^weft-docker-([0-9a-z]+)-/;
const PLUGIN_RE = /^weft[a-z0-9]*-([0-9a-z]+)x[0-9a-f]+\.(sock|spec|json)$/;

export interface DockerOptions {
  /** DNS server handed to containers; must be in 198.18.0.0/15 or 127.0.0.0/8. Default 198.18.255.53 (nothing answers). */
  dns?: string;
  /** Import weft-busybox:latest after start (default true). */
  busybox?: boolean;
  /** Storage driver; default: dockerd's choice (overlay2), and vfs if that fails to start. */
  storageDriver?: string;
  /** Extra dockerd arguments. */
  extraArgs?: string[];
  /** How long to wait for the API (default 40 s). */
  readyTimeoutMs?: number;
  /**
   * Run dockerd inside this lab namespace (name under /var/run/netns), so
   * it is the host network of a lab host: the plugin under test must run in
   * the same namespace (nsenter --net, not `ip netns exec`, which would
   * also give it a private mount namespace).
   */
  netns?: string;
}

export interface DockerDaemon {
  /** The temp dir holding everything of this daemon. */
  readonly dir: string;
  /** Path of the API socket. */
  readonly socket: string;
  /** `unix://<socket>`, for `docker -H` or DOCKER_HOST. */
  readonly host: string;
  /** dockerd's exec-root: container namespaces (SandboxKey) live in `<execRoot>/netns/`. */
  readonly execRoot: string;
  /** Environment for running the docker CLI against this daemon. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs the docker CLI against this daemon; throws with stderr on non-zero exit. */
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Like docker() but resolves with code/stdout/stderr even on failure. */
  tryDocker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Restarts dockerd alone (containerd, data and images stay): a daemon restart as operators do it. */
  restartDockerd(): Promise<void>;
  /** Stops everything and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Why dockerd cannot run here, or undefined when it can. */
export async function dockerSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (dockerd)';
  for (const bin of ['dockerd', 'containerd', 'containerd-shim-runc-v2', 'runc']) {
    if ((await run(['sh', '-c', `command -v ${bin}`])).code !== 0) return `${bin} not on PATH (apt-get install docker.io)`;
  }
  if (!dockerCli()) return 'no docker CLI (apt-get install docker.io)';
  if (!busyboxPath()) return 'no static busybox at /bin/busybox or /usr/bin/busybox (apt-get install busybox-static)';
  return undefined;
}

/**
 * The docker CLI to use: WEFT_DOCKER_CLI, else Debian's /usr/bin/docker (it
 * matches the 20.10 daemon; a newer CLI elsewhere on PATH speaks API versions
 * the daemon refuses for some flags), else `docker` on PATH.
 */
export function dockerCli(): string | undefined {
  const fromEnv = process.env.WEFT_DOCKER_CLI;
  if (fromEnv) return fromEnv;
  if (existsSync('/usr/bin/docker')) return '/usr/bin/docker';
  const r = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function busyboxPath(): string | undefined {
  return ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
}

function checkDns(dns: string): void {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(dns);
  const ok = m && m.slice(1).every((o) => Number(o) < 256) &&
    (Number(m[1]) === 127 || (Number(m[1]) === 198 && (Number(m[2]) === 18 || Number(m[2]) === 19)));
  if (!ok) throw new Error(`startDocker: dns ${dns} is outside 198.18.0.0/15 and 127.0.0.0/8 (network safety rule)`);
}

/** Starts an isolated dockerd (and its own containerd); resolves when the API answers. */
export async function startDocker(opts: DockerOptions = {}): Promise<DockerDaemon> {
  const dns = opts.dns ?? '198.18.255.53';
  checkDns(dns);
  sweepStaleDocker();
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid.toString(36)}-`));
  const daemon = new Daemon(dir, dns, opts);
  try {
    await daemon.start(opts.storageDriver);
  } catch (err) {
    if (opts.storageDriver) {
      await daemon.stop();
      throw err;
    }
    // overlay2 needs an upper filesystem that supports it; vfs works anywhere.
    process.stderr.write(`# startDocker: default storage driver failed (${(err as Error).message.split('\n')[0]}); retrying with vfs\n`);
    await daemon.halt();
    try {
      await daemon.start('vfs');
    } catch (err2) {
      await daemon.stop();
      throw err2;
    }
  }
  if (opts.busybox !== false) {
    try {
      await daemon.importBusybox();
    } catch (err) {
      await daemon.stop();
      throw err;
    }
  }
  return daemon;
}

class Daemon implements DockerDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly host: string;
  readonly execRoot: string;
  readonly env: NodeJS.ProcessEnv;
  readonly #dns: string;
  readonly #opts: DockerOptions;
  readonly #cli: string;
  #dockerd: ChildProcess | undefined;
  #containerd: ChildProcess | undefined;
  #stopped = false;
  readonly #onExit = () => cleanupDirSync(this.dir);

  constructor(dir: string, dns: string, opts: DockerOptions) {
    this.dir = dir;
    this.socket = join(dir, 'docker.sock');
    this.host = `unix://${this.socket}`;
    this.execRoot = join(dir, 'exec');
    this.#dns = dns;
    this.#opts = opts;
    this.#cli = dockerCli() ?? 'docker';
    this.env = { ...process.env, DOCKER_HOST: this.host, DOCKER_CONFIG: join(dir, 'cli') };
    delete this.env.DOCKER_CONTEXT;
    delete this.env.DOCKER_TLS_VERIFY;
    delete this.env.DOCKER_API_VERSION;
    mkdirSync(join(dir, 'cli'));
    // The trust key would otherwise go to /etc/docker/key.json, shared by every daemon.
    writeFileSync(join(dir, 'daemon.json'), `${JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') })}\n`);
    process.on('exit', this.#onExit);
  }

  async start(storageDriver: string | undefined): Promise<void> {
    const d = this.dir;
    const ctrdSock = join(d, 'ctrd.sock');
    writeFileSync(join(d, 'containerd.toml'), [
      'version = 2',
      `root = "${d}/ctrd/root"`,
      `state = "${d}/ctrd/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${ctrdSock}"`,
      '[ttrpc]', `  address = "${ctrdSock}.ttrpc"`,
      '[debug]', '  address = ""',
      '[metrics]', '  address = ""',
      '',
    ].join('\n'));
    // In a lab namespace containerd runs there too: host-network containers and managed plugins
    // (no network namespace of their own) inherit the namespace of containerd's shims.
    const ctrdArgs = ['--config', join(d, 'containerd.toml')];
    this.#containerd = this.#opts.netns
      ? spawnLogged('nsenter', [`--net=/var/run/netns/${this.#opts.netns}`, 'containerd', ...ctrdArgs], join(d, 'containerd.log'))
      : spawnLogged('containerd', ctrdArgs, join(d, 'containerd.log'));
    writePid(join(d, 'containerd.pid'), this.#containerd);
    await waitFor(() => existsSync(ctrdSock), 15_000, () => exitedOf(this.#containerd), 'containerd socket', join(d, 'containerd.log'));

    await this.#startDockerd(storageDriver);
  }

  #storageDriver: string | undefined;

  async #startDockerd(storageDriver: string | undefined): Promise<void> {
    const d = this.dir;
    const ctrdSock = join(d, 'ctrd.sock');
    this.#storageDriver = storageDriver;
    const args = [
      '--config-file', join(d, 'daemon.json'),
      '--data-root', join(d, 'data'),
      '--exec-root', this.execRoot,
      '--pidfile', join(d, 'dockerd.pid'),
      '-H', this.host,
      '--containerd', ctrdSock,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--userland-proxy=false',
      '--dns', this.#dns,
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--cgroup-parent', `/${cgroupName(d)}`,
      ...(storageDriver ? ['--storage-driver', storageDriver] : []),
      ...(this.#opts.extraArgs ?? []),
    ];
    this.#dockerd = this.#opts.netns
      ? spawnLogged('nsenter', [`--net=/var/run/netns/${this.#opts.netns}`, 'dockerd', ...args], join(d, 'dockerd.log'))
      : spawnLogged('dockerd', args, join(d, 'dockerd.log'));
    await waitFor(() => ping(this.socket), this.#opts.readyTimeoutMs ?? 40_000, () => exitedOf(this.#dockerd),
      'dockerd API', join(d, 'dockerd.log'));
  }

  async restartDockerd(): Promise<void> {
    await terminate(this.#dockerd, 20_000);
    this.#dockerd = undefined;
    await this.#startDockerd(this.#storageDriver);
  }

  /** Stops the processes but keeps the dir (for a retry with another storage driver). */
  async halt(): Promise<void> {
    await terminate(this.#dockerd, 20_000);
    await terminate(this.#containerd, 10_000);
    this.#dockerd = this.#containerd = undefined;
    cleanupDirSync(this.dir, { keepDir: true });
    rmSync(join(this.dir, 'data'), { recursive: true, force: true });
    rmSync(join(this.dir, 'ctrd'), { recursive: true, force: true });
  }

  async importBusybox(): Promise<void> {
    const bb = busyboxPath();
    if (!bb) throw new Error('no busybox-static on the host');
    const root = join(this.dir, 'busybox-rootfs');
    for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var/www']) mkdirSync(join(root, sub), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    copyFileSync(bb, join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    const list = spawnSync(bb, ['--list'], { encoding: 'utf8' });
    for (const applet of list.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
      if (applet !== 'busybox' && /^[a-z0-9_.[-]+$/.test(applet)) symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    const r = await run(['sh', '-c', `tar -C '${root}' -c . | '${this.#cli}' import --change 'CMD ["sh"]' - ${BUSYBOX}`], {
      env: this.env, timeoutMs: 60_000,
    });
    if (r.code !== 0) throw new Error(`docker import of ${BUSYBOX} failed: ${r.stderr.trim()}`);
    rmSync(root, { recursive: true, force: true });
  }

  tryDocker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run([this.#cli, ...args], { env: this.env, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  }

  async docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.tryDocker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#dockerd && exitedOf(this.#dockerd) === undefined) {
      const ids = await this.tryDocker(['ps', '-aq'], { timeoutMs: 15_000 });
      const list = ids.stdout.split(/\s+/).filter(Boolean);
      if (list.length) await this.tryDocker(['rm', '-f', ...list], { timeoutMs: 30_000 });
    }
    await terminate(this.#dockerd, 20_000);
    await terminate(this.#containerd, 10_000);
    cleanupDirSync(this.dir);
    process.off('exit', this.#onExit);
  }
}

// ------------------------------------------------------------------ plugins

/** A plugin name no other test process uses: `<base>-<pid36>x<hex>` (base: lowercase letters/digits, starting with "weft"). */
export function uniquePluginName(base = 'weft'): string {
  if (!/^weft[a-z0-9]*$/.test(base)) throw new Error(`plugin base name must match /^weft[a-z0-9]*$/: ${base}`);
  return `${base}-${process.pid.toString(36)}x${randomBytes(3).toString('hex')}`;
}

/** `/run/docker/plugins/<name>.sock`, with the directory created and a stale socket removed. */
export function pluginSocketPath(name: string): string {
  mkdirSync(PLUGIN_DIR, { recursive: true });
  const path = join(PLUGIN_DIR, `${name}.sock`);
  rmSync(path, { force: true });
  return path;
}

/** Writes `/etc/docker/plugins/<name>.spec` pointing at `url` (e.g. `unix:///tmp/x.sock`, `http://127.0.0.1:PORT`). */
export function writePluginSpec(name: string, url: string): string {
  mkdirSync(PLUGIN_SPEC_DIR, { recursive: true });
  const path = join(PLUGIN_SPEC_DIR, `${name}.spec`);
  writeFileSync(path, `${url}\n`);
  return path;
}

/** Removes the socket and spec file of plugin `name` (missing files are fine). */
export function removePluginSocket(name: string): void {
  for (const p of [join(PLUGIN_DIR, `${name}.sock`), join(PLUGIN_SPEC_DIR, `${name}.spec`), join(PLUGIN_SPEC_DIR, `${name}.json`)]) {
    rmSync(p, { force: true });
  }
}

// ------------------------------------------------------------------ processes and cleanup

function spawnLogged(cmd: string, args: string[], logPath: string): ChildProcess {
  const log = openSync(logPath, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  child.once('error', () => undefined);
  return child;
}

function writePid(path: string, child: ChildProcess): void {
  if (child.pid) writeFileSync(path, `${child.pid}\n`);
}

function exitedOf(child: ChildProcess | undefined): string | undefined {
  if (!child) return 'not started';
  if (child.pid === undefined) return 'could not be started';
  if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
  if (child.signalCode !== null) return `killed by ${child.signalCode}`;
  return undefined;
}

async function waitFor(ready: () => boolean | Promise<boolean>, timeoutMs: number, died: () => string | undefined,
  what: string, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const gone = died();
    if (gone) throw new Error(`${what}: process ${gone}\n${tail(logPath)}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms\n${tail(logPath)}`);
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function ping(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || exitedOf(child) !== undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function cgroupName(dir: string): string {
  return dir.split('/').pop()!;
}

/** Pids whose command line mentions `dir` (dockerd, containerd, shims). */
export function processesMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The daemon's cgroup dirs (one per v1 controller, or the v2 one), deepest first. */
function cgroupDirs(name: string): string[] {
  // v2: /sys/fs/cgroup/<name>; v1: /sys/fs/cgroup/<controller>/<name>.
  const roots = ['/sys/fs/cgroup'];
  try {
    for (const c of readdirSync('/sys/fs/cgroup', { withFileTypes: true })) if (c.isDirectory()) roots.push(join('/sys/fs/cgroup', c.name));
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) walk(join(p, e.name));
    out.push(p);
  };
  for (const r of roots) {
    const p = join(r, name);
    if (existsSync(p)) walk(p);
  }
  return out;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text.split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/**
 * Kills every process of a daemon dir (by command line and by cgroup),
 * unmounts everything below it, removes its cgroups and (unless keepDir) the
 * dir itself. Synchronous so it can run from an exit hook.
 */
function cleanupDirSync(dir: string, opts: { keepDir?: boolean } = {}): void {
  const cg = cgroupName(dir);
  for (let round = 0; round < 20; round++) {
    const pids = new Set(processesMentioning(dir));
    for (const c of cgroupDirs(cg)) {
      try {
        for (const p of readFileSync(join(c, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(p));
      } catch {
        // no procs file
      }
    }
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    spawnSync('sleep', ['0.1']);
  }
  for (const m of mountsBelow(dir)) spawnSync('umount', ['-l', m]);
  for (const c of cgroupDirs(cg)) {
    try {
      rmdirSync(c);
    } catch {
      // busy or gone; a later sweep retries
    }
  }
  if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
}

/** Cleans up daemon dirs and plugin files left by test processes that are gone. */
export function sweepStaleDocker(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const m = DIR_RE.exec(name);
    if (!m || processAlive(parseInt(m[1]!, 36))) continue;
    const dir = join(tmpdir(), name);
    cleanupDirSync(dir);
    removed.push(dir);
  }
  for (const d of [PLUGIN_DIR, PLUGIN_SPEC_DIR]) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = PLUGIN_RE.exec(n);
      if (!m || processAlive(parseInt(m[1]!, 36))) continue;
      try {
        unlinkSync(join(d, n));
        removed.push(join(d, n));
      } catch {
        // gone already
      }
    }
  }
  return removed;
}

// ------------------------------------------------------------------ swarm and managed plugins

/**
 * Installs a managed (v2) plugin from a directory holding config.json and
 * rootfs/ (`npm run plugin` → dist/plugin) and enables it. Mount sources
 * point into the daemon's own dirs: `docker-netns` at its exec-root's
 * netns/, `docker-sock` at its API socket, `state` at `<dir>/plugin-state`
 * (kept across reinstalls, as an operator's /var/lib/weft is).
 */
export async function installManagedPlugin(d: DockerDaemon, pluginDir: string, name: string, env: Record<string, string> = {}): Promise<void> {
  const state = join(d.dir, 'plugin-state');
  mkdirSync(join(d.execRoot, 'netns'), { recursive: true });
  mkdirSync(state, { recursive: true });
  await d.docker(['plugin', 'create', name, pluginDir], { timeoutMs: 180_000 });
  await d.docker(['plugin', 'set', name, `docker-netns.source=${join(d.execRoot, 'netns')}`, `docker-sock.source=${d.socket}`,
    `state.source=${state}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)]);
  await d.docker(['plugin', 'enable', name], { timeoutMs: 60_000 });
}

/** `docker swarm init --advertise-addr ADDR [extra]` on d; resolves with the worker join token. */
export async function swarmInit(d: DockerDaemon, address: string, extra: string[] = []): Promise<string> {
  await d.docker(['swarm', 'init', '--advertise-addr', address, ...extra]);
  return (await d.docker(['swarm', 'join-token', '-q', 'worker'])).trim();
}

/** `docker swarm join` of d (advertising `address`) to the manager at `manager`. */
export async function swarmJoin(d: DockerDaemon, token: string, address: string, manager: string): Promise<void> {
  await d.docker(['swarm', 'join', '--token', token, '--advertise-addr', address, `${manager}:2377`], { timeoutMs: 60_000 });
}
