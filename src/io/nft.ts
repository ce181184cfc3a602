/**
 * nftables through the `nft` binary in JSON mode: `nft -j -f FILE` applies a
 * whole batch as one kernel transaction (all or nothing), `nft -j list ...`
 * reads state back. In another namespace it runs under `nsenter --net`, as
 * sysctl.ts does (a Node thread cannot enter a namespace around a spawn).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftError } from '../errors.js';
import { netnsPath } from './native.js';

export interface NftJson {
  nftables: Array<Record<string, unknown>>;
}

function run(netns: string | undefined, args: string[], input: string | undefined, what: string): Promise<string> {
  const [cmd, argv] = netns === undefined ? ['nft', args] : ['nsenter', [`--net=${netnsPath(netns)}`, '--', 'nft', ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NftError(what, e.message, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_WEFT_NFT_MISSING' : 'ERR_WEFT_NFT'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new NftError(what, Buffer.concat(err).toString('utf8') || `exit ${code ?? signal}`));
    });
    child.stdin.on('error', () => {}); // nft may exit before reading everything
    child.stdin.end(input ?? '');
  });
}

/**
 * Applies a JSON batch as one transaction. The batch goes through a private
 * temp file, not stdin: Node's stdio pipes are socketpairs, and nft opens
 * /dev/stdin, which fails with ENXIO on a socket.
 */
export async function nftApply(netns: string | undefined, batch: NftJson): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-nft-'));
  const file = join(dir, 'batch.json');
  try {
    writeFileSync(file, JSON.stringify(batch), { mode: 0o600 });
    await run(netns, ['-j', '-f', file], undefined, 'apply');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `nft -j list <what...>` parsed; e.g. ['table', 'ip', 'weft_mesh']. */
export async function nftList(netns: string | undefined, what: string[]): Promise<NftJson> {
  const out = await run(netns, ['-j', 'list', ...what], undefined, `list ${what.join(' ')}`);
  try {
    return JSON.parse(out) as NftJson;
  } catch {
    throw new NftError(`list ${what.join(' ')}`, 'output is not JSON');
  }
}
