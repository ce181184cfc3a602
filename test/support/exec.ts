/** Running commands for tests: stdout/stderr captured, non-zero exit throws. */
import { execFile, spawn } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs argv[0] with the rest as arguments; resolves even on failure. */
export function run(argv: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(argv[0]!, argv.slice(1), {
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 60_000,
      env: opts.env ?? process.env,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run() but throws with the command and its stderr when it fails. */
export async function sh(argv: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Runs a command and parses its JSON output (ip -j, bridge -j, tshark -T json). */
export async function json<T = unknown>(argv: string[]): Promise<T> {
  const out = await sh(argv);
  return (out.trim() ? JSON.parse(out) : []) as T;
}

/** Whether a program is on PATH. */
export async function have(program: string): Promise<boolean> {
  const r = await run(['sh', '-c', `command -v ${program}`]);
  return r.code === 0;
}

export { spawn };

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
