/**
 * Every program weft runs is started here; nothing else under src/ spawns a
 * process. The list is closed (the Program type) and each entry says why a
 * syscall from Node does not do the job (weft never runs `ip`: links,
 * addresses, routes, neighbours are its own netlink, named namespaces the
 * addon's netnsAdd):
 *   nft      nftables rulesets applied as one transaction, read back as JSON (nft.ts).
 *   nsenter  `nft` and the sysctl shell script in another namespace (nft.ts,
 *            sysctl.ts): both act on the namespace of the calling task, and a
 *            Node thread cannot enter a namespace around them.
 *   ping     the ICMP echo of `weft status` (probe.ts; iputils or busybox).
 *   mount    remounting /proc/sys writable in the managed plugin (sysctl.ts).
 */
import { spawn } from 'node:child_process';

export type Program = 'nft' | 'nsenter' | 'ping' | 'mount';

export interface RunOptions {
  /** The child is killed (SIGKILL) after this long. */
  timeoutMs: number;
  /** Executable to start instead of looking `program` up in PATH (e.g. /bin/busybox). */
  path?: string;
  /** Written to the child's stdin (default: stdin is /dev/null). */
  input?: string;
}

export interface RunResult {
  /** Exit status, null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion and resolves with what it printed, whatever
 * its exit status (callers decide what a failure means). Rejects only when
 * it cannot be started: Node's error, `code` ENOENT for a missing binary.
 */
export function runProgram(program: Program, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.path ?? program, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the program may exit before reading everything
      child.stdin.end(opts.input);
    }
  });
}

/** Why a run failed: its stderr (trimmed), else how it ended. */
export function runFailure(r: RunResult): string {
  return r.stderr.trim() || (r.status !== null ? `exit ${r.status}` : `killed by ${r.signal}`);
}
