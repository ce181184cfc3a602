/**
 * Small helpers shared by the drivers, over dataplane/ensure (idempotent
 * kernel state): a handle per call, removal that tolerates absence, and the
 * weft-named links of a namespace.
 */
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { deleteLinks } from '../../netlink/rtnetlink/link-ops.js';
import type { Link } from '../../netlink/rtnetlink/link.js';
import { ensureAddress } from '../../dataplane/ensure.js';

/** Runs fn with a handle in netns (or ours), closing it afterwards. */
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

/** Puts each CIDR address on dev; re-adding is not an error. */
export async function ensureAddresses(rtnl: Rtnl, dev: string, cidrs: (string | undefined)[]): Promise<void> {
  for (const address of cidrs) if (address) await ensureAddress(rtnl, { dev, address, ...(address.includes(':') ? { nodad: true } : {}) });
}

/** Links of this namespace whose names start with one of the prefixes. */
export async function linksWithPrefix(rtnl: Rtnl, prefixes: string[]): Promise<Link[]> {
  return (await rtnl.links()).filter((l) => prefixes.some((p) => l.name.startsWith(p)));
}
