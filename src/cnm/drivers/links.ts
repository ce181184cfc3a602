/**
 * Idempotent link helpers shared by the drivers: create what is missing,
 * fix what differs (MTU, master, up), leave what matches.
 */
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { IFF_UP } from '../../netlink/rtnetlink/constants.js';
import { type LinkSpec, addLink, deleteLink, setLink } from '../../netlink/rtnetlink/link-ops.js';
import { replaceAddress } from '../../netlink/rtnetlink/addr.js';
import { isErrno } from '../../netlink/rtnetlink/errors.js';
import type { Link } from '../../netlink/rtnetlink/link.js';
import { LinkNotFoundError } from '../../netlink/rtnetlink/errors.js';

/** Runs fn with a handle in netns (or ours), closing it afterwards. */
export async function withRtnl<T>(netns: string | undefined, fn: (rtnl: Rtnl) => Promise<T>): Promise<T> {
  const rtnl = Rtnl.open(netns ? { netns } : {});
  try {
    return await fn(rtnl);
  } finally {
    rtnl.close();
  }
}

/**
 * Creates the link if missing; then makes MTU, master and up state match.
 * With spec.netns the link is created in that namespace and left for a
 * handle there to adjust (returns undefined).
 */
export async function ensureLink(rtnl: Rtnl, spec: LinkSpec & { master?: string }): Promise<Link | undefined> {
  let link = await rtnl.link(spec.name);
  if (!link) {
    const { master, ...create } = spec;
    await addLink(rtnl, create);
    if (spec.netns !== undefined) return undefined;
    link = await rtnl.link(spec.name);
    if (!link) throw new LinkNotFoundError(spec.name, 'link', rtnl.netns);
    if (master !== undefined) spec = { ...spec, master };
  }
  const change: Parameters<typeof setLink>[2] = {};
  if (spec.mtu !== undefined && link.mtu !== spec.mtu) change.mtu = spec.mtu;
  if (spec.master !== undefined) {
    const m = await rtnl.link(spec.master);
    if (!m) throw new LinkNotFoundError(String(spec.master), 'master', rtnl.netns);
    if (link.master !== m.index) change.master = m.index;
  }
  if (spec.up && !(link.flags & IFF_UP)) change.up = true;
  if (Object.keys(change).length) await setLink(rtnl, link.index, change);
  return link;
}

/** Deletes a link; a missing one is fine. */
export async function removeLink(rtnl: Rtnl, name: string): Promise<boolean> {
  try {
    await deleteLink(rtnl, name);
    return true;
  } catch (err) {
    if (err instanceof LinkNotFoundError || isErrno(err, 'ENODEV')) return false;
    throw err;
  }
}

/** Puts each CIDR address on dev (REPLACE semantics: re-adding is not an error). */
export async function ensureAddresses(rtnl: Rtnl, dev: string, cidrs: (string | undefined)[]): Promise<void> {
  for (const address of cidrs) if (address) await replaceAddress(rtnl, { dev, address, ...(address.includes(':') ? { nodad: true } : {}) });
}

/** Links of this namespace whose names start with one of the prefixes. */
export async function linksWithPrefix(rtnl: Rtnl, prefixes: string[]): Promise<Link[]> {
  return (await rtnl.links()).filter((l) => prefixes.some((p) => l.name.startsWith(p)));
}
