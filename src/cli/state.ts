/**
 * Read access to weft's state for CLI commands, whether the daemon runs or
 * not: a snapshot of the embedded store (never written), or etcd.
 */
import { pathExists } from '../io/files.js';
import { join } from 'node:path';
import type { EndpointRecord, NetworkRecord } from '../cnm/model.js';
import { EmbeddedStore } from '../control/embedded-store.js';
import { DEFAULTS } from '../daemon/defaults.js';
import { parseFlags, str } from './flags.js';

export interface StateArgs {
  stateDir: string;
  store: string;
  rest: string[];
}

/** Pulls --state-dir and --store out of args (the shared parser; other words stay in order). */
export function stateArgs(args: string[]): StateArgs {
  const p = parseFlags([{ name: '--state-dir', value: 'DIR', help: '' }, { name: '--store', value: 'URL', help: '' }], args, { allowUnknownDash: () => true });
  return { stateDir: str(p, 'state-dir') ?? DEFAULTS.stateDir, store: str(p, 'store') ?? process.env.WEFT_STORE ?? DEFAULTS.store, rest: p.positionals };
}

/** All records under a prefix, from the configured store. */
export async function readState(s: StateArgs, prefix: string): Promise<Map<string, string>> {
  if (s.store.startsWith('etcd')) {
    const { EtcdStore } = await import('../control/etcd-store.js');
    const store = await EtcdStore.connect(s.store);
    try {
      return await store.list(prefix);
    } finally {
      await store.close();
    }
  }
  if (!pathExists(join(s.stateDir, 'state.journal'))) return new Map();
  const all = EmbeddedStore.snapshot(s.stateDir);
  return new Map([...all].filter(([k]) => k.startsWith(prefix)));
}

export async function readNetworks(s: StateArgs): Promise<NetworkRecord[]> {
  return [...(await readState(s, 'networks/')).values()].map((v) => JSON.parse(v) as NetworkRecord);
}

export async function readEndpoints(s: StateArgs): Promise<EndpointRecord[]> {
  return [...(await readState(s, 'endpoints/')).values()].map((v) => JSON.parse(v) as EndpointRecord);
}
