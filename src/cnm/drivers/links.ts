/**
 * Small helpers shared by the drivers, over dataplane/ensure (idempotent
 * kernel state): removal that tolerates absence, addresses, the weft-named
 * links of a namespace, and a handle for one-off callers (the drivers keep
 * theirs in rtnl-handles.ts).
 */
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { deleteLinks, linkIndex } from '../../netlink/rtnetlink/link-ops.js';
import type { Link } from '../../netlink/rtnetlink/link.js';
import { ensureAddress } from '../../dataplane/ensure.js';

/** Runs fn with a new handle in netns (or ours), closing it afterwards: for one-off callers. */
export async function withRtnl<T>(netns: string | undefined, fn: (rtnl: Rtnl) => Promise<T>): Promise<T> {
  const rtnl = Rtnl.open(netns ? { netns } : {});
  try {
    return await fn(rtnl);
  } finally {
    rtnl.close();
  }
}

/** Deletes a link; a missing one is fine. */
export async function removeLink(rtnl: Rtnl, name: string): Promise<void> {
  await deleteLinks(rtnl, [name], { ignoreMissing: true });
}

/** Puts each CIDR address on dev (a name, or the index the caller has); re-adding is not an error. */
export async function ensureAddresses(rtnl: Rtnl, dev: string | number, cidrs: (string | undefined)[]): Promise<void> {
  const wanted = cidrs.filter((a): a is string => !!a);
  if (wanted.length === 0) return;
  const index = await linkIndex(rtnl, dev, 'device', `address ${wanted[0]}`);
  for (const address of wanted) await ensureAddress(rtnl, { dev: index, address, ...(address.includes(':') ? { nodad: true } : {}) });
}

/** Links of this namespace whose names start with one of the prefixes. */
export async function linksWithPrefix(rtnl: Rtnl, prefixes: string[]): Promise<Link[]> {
  return (await rtnl.links()).filter((l) => prefixes.some((p) => l.name.startsWith(p)));
}
