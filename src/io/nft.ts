/**
 * nftables through the `nft` binary in JSON mode: `nft -j -f FILE` applies a
 * whole batch as one kernel transaction (all or nothing), `nft -j list ...`
 * reads state back. In another namespace it runs under `nsenter --net`, as
 * sysctl.ts does (a Node thread cannot enter a namespace around a spawn).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftError } from '../errors.js';
import { netnsPath } from './native.js';
import { runProgram } from './process.js';

export interface NftJson {
  nftables: Array<Record<string, unknown>>;
}

async function run(netns: string | undefined, args: string[], what: string): Promise<string> {
  const r = await (netns === undefined
    ? runProgram('nft', args, { timeoutMs: 60_000 })
    : runProgram('nsenter', [`--net=${netnsPath(netns)}`, '--', 'nft', ...args], { timeoutMs: 60_000 })
  ).catch((e: NodeJS.ErrnoException) => {
    throw new NftError(what, e.message, e.code === 'ENOENT' ? 'ERR_WEFT_NFT_MISSING' : 'ERR_WEFT_NFT');
  });
  if (r.status !== 0) throw new NftError(what, r.stderr || `exit ${r.status ?? r.signal}`);
  return r.stdout;
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
    await run(netns, ['-j', '-f', file], 'apply');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `nft -j list <what...>` parsed; e.g. ['table', 'ip', 'weft_mesh']. */
export async function nftList(netns: string | undefined, what: string[]): Promise<NftJson> {
  const out = await run(netns, ['-j', 'list', ...what], `list ${what.join(' ')}`);
  try {
    return JSON.parse(out) as NftJson;
  } catch {
    throw new NftError(`list ${what.join(' ')}`, 'output is not JSON');
  }
}
