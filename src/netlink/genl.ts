/**
 * Generic netlink: genlmsghdr (cmd u8, version u8, reserved u16) and the
 * controller family (nlctrl, id 0x10) that maps family names to ids.
 */
import { AttrWriter, attrMap, parseAttrs, read } from './attrs.js';
import { NetlinkClient, type ClientOptions } from './client.js';
import { NETLINK_GENERIC } from './constants.js';
import type { Message } from './message.js';
import { FamilyNotFoundError, isErrno, NetlinkDecodeError } from '../errors.js';

export const GENL_ID_CTRL = 0x10;
export const GENL_HDRLEN = 4;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_VERSION = 3;
const CTRL_ATTR_MCAST_GROUPS = 7;
const CTRL_ATTR_MCAST_GRP_NAME = 1;
const CTRL_ATTR_MCAST_GRP_ID = 2;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  /** Multicast group name -> id. */
  groups: Map<string, number>;
}

/** Writes a genlmsghdr. */
export function writeGenlHeader(w: AttrWriter, cmd: number, version: number): void {
  const at = w.zeros(GENL_HDRLEN);
  w.buf[at] = cmd;
  w.buf[at + 1] = version;
}

/** The command byte and the attributes of a generic netlink message. */
export function parseGenl(m: Message): { cmd: number; version: number; attrs: Map<number, Buffer> } {
  if (m.payload.length < GENL_HDRLEN) throw new NetlinkDecodeError('genlmsghdr truncated', m.offset);
  return { cmd: m.payload[0]!, version: m.payload[1]!, attrs: attrMap(m.payload, GENL_HDRLEN) };
}

/** Resolves a family by name through the controller. */
export async function resolveFamily(client: NetlinkClient, name: string): Promise<GenlFamily> {
  // GENL_NAMSIZ is 16 with the NUL: a longer name cannot exist.
  if (name.length === 0 || Buffer.byteLength(name) > 15) throw new FamilyNotFoundError(name);
  let replies: Message[];
  try {
    replies = await client.request({
      type: GENL_ID_CTRL,
      flags: 0,
      what: `resolve genl family ${name}`,
      build: (w) => {
        writeGenlHeader(w, CTRL_CMD_GETFAMILY, 1);
        w.string(CTRL_ATTR_FAMILY_NAME, name);
      },
    });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new FamilyNotFoundError(name);
    throw err;
  }
  const m = replies[0];
  if (!m) throw new FamilyNotFoundError(name);
  const { attrs } = parseGenl(m);
  const id = attrs.get(CTRL_ATTR_FAMILY_ID);
  if (!id) throw new NetlinkDecodeError('controller reply without CTRL_ATTR_FAMILY_ID', m.offset);
  const groups = new Map<string, number>();
  const g = attrs.get(CTRL_ATTR_MCAST_GROUPS);
  if (g) {
    for (const entry of parseAttrs(g)) {
      const e = attrMap(entry.data);
      const gname = e.get(CTRL_ATTR_MCAST_GRP_NAME);
      const gid = e.get(CTRL_ATTR_MCAST_GRP_ID);
      if (gname && gid) groups.set(read.string(gname), read.u32(gid));
    }
  }
  const version = attrs.get(CTRL_ATTR_VERSION);
  return { id: read.u16(id), name, version: version ? read.u32(version) : 0, groups };
}

/** Opens a generic netlink client (in a namespace if given). */
export function openGenl(opts: ClientOptions = {}): NetlinkClient {
  return NetlinkClient.open(NETLINK_GENERIC, opts);
}
