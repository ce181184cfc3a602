/**
 * The kernel lab from TypeScript: boots Debian's stock kernel in a throw-away
 * qemu VM (TCG, microvm + PVH, ≈4-7 s) and runs a bash command in it, with
 * the checkout shared at the same absolute path and WEFT_KLAB=1 set.
 *
 *   const skip = kernelLabSkipReason();
 *   const { code, output } = await runInKernelLab('node --test dist/test/kernel/', { timeoutMs: 600_000 });
 *
 * The VM is made by test/support/klab/run.sh (initramfs built by
 * mkinitramfs.sh, cached in /tmp/weft-klab per kernel + script hash + node
 * binary). Each boot costs seconds and the host has two cores: batch all
 * kernel tests into one boot, and do not run two VMs at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout root (this file compiles to dist/test/support/kernel-lab.js). */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const KLAB_SCRIPT = join(REPO_ROOT, 'test/support/klab/run.sh');

function findRoot(from: string): string {
  for (let d = from; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'test/support/klab/run.sh'))) return d;
  }
  return resolve(from, '../../..');
}

export interface KernelLabOptions {
  /** Kill the VM after this long (default 600 s); the result is then code 124. */
  timeoutMs?: number;
  /** Directory shared into the VM at the same path and used as cwd (default: the checkout). */
  workdir?: string;
  /** Extra environment for the command inside the VM. */
  env?: Record<string, string>;
  /** Called with console output as it arrives (default: nothing; output is returned either way). */
  onOutput?: (chunk: string) => void;
  /** VM memory in MiB (default 1024; 512 is enough for most). */
  memMiB?: number;
  /** Modules to modprobe before the command (most load on demand anyway). */
  modules?: string[];
  /** 1 = kernel log and boot markers in the output. */
  verbose?: boolean;
}

export interface KernelLabResult {
  /** The command's exit code; 124 = timed out, 125 = the VM died without reporting one. */
  code: number;
  /** Console output (stdout and stderr of the command, merged; CR stripped). */
  output: string;
}

/** Where scripts/test-deps.sh unpacks Debian's kernel package (never installed as a boot kernel). */
export const KERNEL_CACHE = process.env.WEFT_KERNEL_CACHE ?? '/var/cache/weft/kernel';

/** Kernel images with their modules: the cache's (<cache>/<version>/{boot,lib/modules}) first, then /boot's. */
export function kernelImages(): string[] {
  const roots: string[] = [];
  try {
    roots.push(...readdirSync(KERNEL_CACHE).filter((d) => !d.endsWith('.tmp')).sort().reverse().map((d) => join(KERNEL_CACHE, d)));
  } catch {
    // no cache yet
  }
  roots.push('/');
  const out: string[] = [];
  for (const root of roots) {
    try {
      for (const f of readdirSync(join(root, 'boot'))) {
        const k = f.startsWith('vmlinuz-') ? f.slice('vmlinuz-'.length) : undefined;
        if (k && existsSync(join(root, 'lib/modules', k))) out.push(join(root, 'boot', f));
      }
    } catch {
      // no boot directory here
    }
  }
  return out;
}

/** Why the kernel lab cannot run on this machine, or undefined when it can. */
export function kernelLabSkipReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux x86-64, this is ${process.platform}/${process.arch}`;
  const missing = ['qemu-system-x86_64', 'busybox', 'bash', 'cpio', 'kmod', 'depmod', 'ip', 'ipvsadm', 'xz', 'flock', 'timeout']
    .filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
  if (missing.length) {
    return `missing host programs: ${missing.join(', ')} (apt-get install qemu-system-x86 busybox-static cpio kmod iproute2 ipvsadm xz-utils)`;
  }
  const kernels = kernelImages();
  if (kernels.length === 0) return `no kernel with modules in ${KERNEL_CACHE} or /boot (scripts/test-deps.sh downloads Debian's)`;
  const readable = kernels.some((k) => {
    try {
      accessSync(k, fsConstants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!readable) return `the kernel image ${kernels[0]} is not readable by this user`;
  if (!existsSync(KLAB_SCRIPT)) return `kernel-lab script not found at ${KLAB_SCRIPT}`;
  return undefined;
}

/** Boots the VM, runs `command` under bash inside it, and powers off. */
export function runInKernelLab(command: string, opts: KernelLabOptions = {}): Promise<KernelLabResult> {
  const timeoutS = Math.max(1, Math.ceil((opts.timeoutMs ?? 600_000) / 1000));
  const exports = Object.entries(opts.env ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`runInKernelLab: bad environment name ${k}`);
    return `export ${k}=${shellQuote(v)}\n`;
  }).join('');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KLAB_WORKDIR: opts.workdir ?? REPO_ROOT,
    KLAB_TIMEOUT: String(timeoutS),
    NODE: process.execPath,
  };
  if (opts.memMiB) env.KLAB_MEM = String(opts.memMiB);
  if (opts.modules?.length) env.KLAB_MODULES = opts.modules.join(',');
  if (opts.verbose) env.KLAB_VERBOSE = '1';

  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [KLAB_SCRIPT, exports + command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (buf: Buffer) => {
      const s = buf.toString('utf8');
      output += s;
      opts.onOutput?.(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // run.sh enforces the timeout itself; this is the backstop (e.g. the initramfs build hangs).
    const backstop = setTimeout(() => child.kill('SIGTERM'), timeoutS * 1000 + 120_000);
    // If this process exits first, take the VM down with it (run.sh kills qemu on TERM).
    const onExit = () => child.kill('SIGTERM');
    process.on('exit', onExit);
    child.once('error', (err) => {
      clearTimeout(backstop);
      process.off('exit', onExit);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(backstop);
      process.off('exit', onExit);
      resolvePromise({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), output });
    });
  });
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
