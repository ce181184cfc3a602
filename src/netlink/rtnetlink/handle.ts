/**
 * One rtnetlink handle per network namespace (no package-level default), the
 * vishvananda shape: verbs mirror iproute2. Object-specific operations live
 * in sibling modules and take the handle's client.
 */
import { NETLINK_ROUTE } from '../constants.js';
import { NetlinkClient, type ClientOptions } from '../client.js';
import { isErrno, NetnsNotFoundError, SysError } from '../../errors.js';
import { type Link, decodeLink, writeIfinfomsg } from './link.js';
import { IFLA_EXT_MASK, IFLA_IFNAME, RTM_GETLINK, RTM_NEWLINK } from './constants.js';

/** RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS: what `ip -d link` asks for, minus stats. */
const EXT_MASK = 0x1 | 0x8;

/**
 * Opens a NETLINK_ROUTE client; a namespace that does not exist becomes
 * NetnsNotFoundError (code ERR_WEFT_NETNS_NOT_FOUND) naming it.
 */
export function openClient(opts: ClientOptions): NetlinkClient {
  try {
    return NetlinkClient.open(NETLINK_ROUTE, opts);
  } catch (err) {
    if (err instanceof SysError && (err.syscall === 'open(netns)' || err.syscall === 'setns') && opts.netns !== undefined) {
      throw new NetnsNotFoundError(opts.netns, err.errno, { cause: err });
    }
    throw err;
  }
}

export class Rtnl {
  readonly client: NetlinkClient;
  readonly netns: string | undefined;

  private constructor(client: NetlinkClient, netns: string | undefined) {
    this.client = client;
    this.netns = netns;
  }

  /** Opens a handle in the namespace `netns` (name or path), or ours. */
  static open(opts: Omit<ClientOptions, 'groups'> = {}): Rtnl {
    return new Rtnl(openClient(opts), opts.netns);
  }

  /** Every link. Equivalent to `ip -d link show`. */
  async links(): Promise<Link[]> {
    const replies = await this.client.dump({
      type: RTM_GETLINK,
      what: 'link dump',
      build: (w) => {
        writeIfinfomsg(w, {});
        w.u32(IFLA_EXT_MASK, EXT_MASK);
      },
    });
    return replies.filter((m) => m.type === RTM_NEWLINK).map(decodeLink);
  }

  /** One link by name or index; undefined when it does not exist. */
  async link(nameOrIndex: string | number): Promise<Link | undefined> {
    try {
      const replies = await this.client.request({
        type: RTM_GETLINK,
        flags: 0,
        what: `get link ${nameOrIndex}`,
        build: (w) => {
          writeIfinfomsg(w, { index: typeof nameOrIndex === 'number' ? nameOrIndex : 0 });
          if (typeof nameOrIndex === 'string') w.string(IFLA_IFNAME, nameOrIndex);
          w.u32(IFLA_EXT_MASK, EXT_MASK);
        },
      });
      const m = replies.find((r) => r.type === RTM_NEWLINK);
      return m ? decodeLink(m) : undefined;
    } catch (err) {
      if (isErrno(err, 'ENODEV')) return undefined;
      throw err;
    }
  }

  close(): void {
    this.client.close();
  }
}
