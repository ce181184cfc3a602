/**
 * What `weft daemon` checks before it touches the kernel or its state
 * (docs/state.md): the instance name and socket are free in this namespace,
 * the state directory is locked, the journal is intact (or only torn at its
 * tail), and a missing or empty journal is not mistaken for "no networks"
 * while this instance's objects are still in the kernel; `--mesh ipvs` needs
 * a kernel with IPVS.
 */
import { InvalidArgumentError, StateMissingError } from '../errors.js';
import { instanceTag, names, ownsLinkName } from '../cnm/model.js';
import { withRtnl } from '../cnm/drivers/links.js';
import { EmbeddedStore } from '../control/embedded-store.js';
import { probeMeshBackend } from '../dataplane/mesh.js';
import { claimNamespaceName, lockDirectory } from '../io/instance-lock.js';
import { readJournal } from '../io/journal.js';
import { listNetns } from '../io/netns.js';
import { assertSocketFree } from '../io/unix-http.js';

export const INSTANCE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}$/;

/** This instance's kernel objects in the current namespace: tagged links, legacy-named links (default instance), overlay namespaces. */
export async function instanceKernelObjects(instance: string): Promise<string[]> {
  const legacy = /^(wf-br-[0-9a-zA-Z]{1,9}|wf[cvi][0-9a-zA-Z]{1,12})$/;
  const links = await withRtnl(undefined, async (rtnl) => (await rtnl.links()).map((l) => l.name));
  const mine = names.overlayNetns('', instance);
  return [
    ...links.filter((l) => ownsLinkName(l, instance) || (!instance && legacy.test(l))),
    ...listNetns().filter((ns) => ns.startsWith(mine) && /^[0-9a-zA-Z]{1,12}$/.test(ns.slice(mine.length))),
  ];
}

export interface Claims {
  release(): void;
}

/** Takes every claim, in order, or none; throws a clear error naming what is taken. */
export async function claimAndCheck(opts: { socket: string; stateDir: string; instance?: string; embedded: boolean; mesh?: string }): Promise<Claims> {
  const instance = opts.instance ?? '';
  if (instance && !INSTANCE_RE.test(instance)) throw new InvalidArgumentError(`--instance must be 1-32 letters, digits, '.', '_' or '-', got ${JSON.stringify(instance)}`);
  if (opts.mesh === 'ipvs' && (await probeMeshBackend()) !== 'ipvs') {
    throw new InvalidArgumentError('--mesh ipvs: this kernel has no IPVS (generic netlink family "IPVS" not found; load ip_vs or use --mesh nft or auto)');
  }
  const releases: (() => void)[] = [];
  const release = () => releases.splice(0).reverse().forEach((r) => r());
  try {
    releases.push(await claimNamespaceName(`weft/instance/${instance}`,
      `another weft daemon with ${instance ? `--instance ${instance}` : 'no --instance'} runs in this network namespace; give each daemon its own --instance name`));
    releases.push(await claimNamespaceName(`weft/tag/${instanceTag(instance)}`,
      `--instance ${JSON.stringify(instance)} gives the same link-name tag as another weft daemon's instance in this network namespace; choose another name`));
    await assertSocketFree(opts.socket);
    releases.push(lockDirectory(opts.stateDir));
    if (opts.embedded) {
      const path = EmbeddedStore.journalPath(opts.stateDir);
      const scan = readJournal(path); // throws JournalCorruptError before anything is written
      if (scan.status === 'missing' || scan.status === 'empty') {
        const objects = await instanceKernelObjects(instance);
        if (objects.length) throw new StateMissingError(path, scan.status, objects);
      }
    }
  } catch (err) {
    release();
    throw err;
  }
  return { release };
}
