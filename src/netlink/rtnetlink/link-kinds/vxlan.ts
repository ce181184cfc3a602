/**
 * VXLAN kind data (IFLA_VXLAN_*, docs/overlay.md, docs/netlink.md). The port
 * is always sent (the kernel's default is 8472, not 4789); ports and the
 * port range are big-endian. Checksum, port and port range are create-only
 * in the kernel, so a difference there means delete and re-create.
 */
import { type Attr, type AttrWriter, read } from '../../attrs.js';
import { AF_INET } from '../constants.js';
import {
  IFLA_VXLAN_AGEING, IFLA_VXLAN_DF, IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, IFLA_VXLAN_ID, IFLA_VXLAN_L2MISS,
  IFLA_VXLAN_L3MISS, IFLA_VXLAN_LEARNING, IFLA_VXLAN_LIMIT, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT, IFLA_VXLAN_PORT_RANGE, IFLA_VXLAN_PROXY, IFLA_VXLAN_RSC, IFLA_VXLAN_TOS, IFLA_VXLAN_TTL,
  IFLA_VXLAN_TTL_INHERIT, IFLA_VXLAN_UDP_CSUM, IFLA_VXLAN_UDP_ZERO_CSUM6_RX, IFLA_VXLAN_UDP_ZERO_CSUM6_TX,
} from '../constants.js';
import { LinkConfigError } from '../../../errors.js';
import { formatIp, parseIp } from '../../../wire/ip.js';

export const VXLAN_DEFAULT_PORT = 4789;
export const VNI_MAX = 0xffffff;

export interface VxlanOptions {
  /** VNI, 1 .. 2^24-1 (0 is refused before the kernel sees it). */
  id: number;
  /** UDP destination port; default 4789 (IANA), always sent. */
  port?: number;
  /** Source address (IPv4 or IPv6) of the encapsulated packets. */
  local?: string;
  /** Multicast group or unicast default remote. */
  group?: string;
  /** Underlay device (name or index in the namespace where the link is created). */
  dev?: string | number;
  learning?: boolean;
  proxy?: boolean;
  l2miss?: boolean;
  l3miss?: boolean;
  rsc?: boolean;
  /** 0 = auto (the route's hop limit). */
  ttl?: number;
  ttlInherit?: boolean;
  tos?: number;
  /** FDB ageing, seconds. */
  ageing?: number;
  limit?: number;
  /** Outer source port range [low, high]. */
  portRange?: [number, number];
  udpCsum?: boolean;
  udpZeroCsum6Tx?: boolean;
  udpZeroCsum6Rx?: boolean;
}

export interface VxlanInfo extends Omit<VxlanOptions, 'dev'> {
  /** Underlay ifindex (IFLA_VXLAN_LINK). */
  link?: number;
  df?: number;
}

/** Checks what the kernel would refuse, naming the link. */
export function validateVxlan(name: string, o: VxlanOptions): void {
  if (!Number.isInteger(o.id) || o.id < 1 || o.id > VNI_MAX) {
    throw new LinkConfigError(name, 'vni', `must be between 1 and ${VNI_MAX}, got ${o.id}`);
  }
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) {
    throw new LinkConfigError(name, 'dstport', `must be between 1 and 65535, got ${o.port}`);
  }
  if (o.ttl !== undefined && (!Number.isInteger(o.ttl) || o.ttl < 0 || o.ttl > 255)) {
    throw new LinkConfigError(name, 'ttl', `must be between 0 and 255, got ${o.ttl}`);
  }
  if (o.portRange && !(o.portRange[0] >= 1 && o.portRange[0] <= o.portRange[1] && o.portRange[1] <= 65535)) {
    throw new LinkConfigError(name, 'port range', `must be 1 <= low <= high <= 65535, got ${o.portRange.join('-')}`);
  }
}

const bool = (v: boolean) => (v ? 1 : 0);

/** Writes the IFLA_INFO_DATA attributes; `devIndex` is the resolved underlay. */
export function encodeVxlan(w: AttrWriter, o: VxlanOptions, devIndex: number | undefined, create: boolean): void {
  w.u32(IFLA_VXLAN_ID, o.id);
  if (o.group !== undefined) {
    const g = parseIp(o.group, 'vxlan group');
    w.binary(g.family === AF_INET ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, g.bytes);
  }
  if (o.local !== undefined) {
    const l = parseIp(o.local, 'vxlan local');
    w.binary(l.family === AF_INET ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, l.bytes);
  }
  if (devIndex !== undefined) w.u32(IFLA_VXLAN_LINK, devIndex);
  if (o.ttlInherit) w.flag(IFLA_VXLAN_TTL_INHERIT);
  else if (o.ttl !== undefined) w.u8(IFLA_VXLAN_TTL, o.ttl);
  if (o.tos !== undefined) w.u8(IFLA_VXLAN_TOS, o.tos);
  if (o.learning !== undefined) w.u8(IFLA_VXLAN_LEARNING, bool(o.learning));
  if (o.ageing !== undefined) w.u32(IFLA_VXLAN_AGEING, o.ageing);
  if (o.limit !== undefined) w.u32(IFLA_VXLAN_LIMIT, o.limit);
  if (o.proxy !== undefined) w.u8(IFLA_VXLAN_PROXY, bool(o.proxy));
  if (o.rsc !== undefined) w.u8(IFLA_VXLAN_RSC, bool(o.rsc));
  if (o.l2miss !== undefined) w.u8(IFLA_VXLAN_L2MISS, bool(o.l2miss));
  if (o.l3miss !== undefined) w.u8(IFLA_VXLAN_L3MISS, bool(o.l3miss));
  // Create-only in the kernel: sending them on change gives EOPNOTSUPP.
  if (!create) return;
  w.be16(IFLA_VXLAN_PORT, o.port ?? VXLAN_DEFAULT_PORT);
  if (o.portRange) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(o.portRange[0], 0);
    b.writeUInt16BE(o.portRange[1], 2);
    w.binary(IFLA_VXLAN_PORT_RANGE, b);
  }
  if (o.udpCsum !== undefined) w.u8(IFLA_VXLAN_UDP_CSUM, bool(o.udpCsum));
  if (o.udpZeroCsum6Tx !== undefined) w.u8(IFLA_VXLAN_UDP_ZERO_CSUM6_TX, bool(o.udpZeroCsum6Tx));
  if (o.udpZeroCsum6Rx !== undefined) w.u8(IFLA_VXLAN_UDP_ZERO_CSUM6_RX, bool(o.udpZeroCsum6Rx));
}

export function decodeVxlan(attrs: Attr[]): VxlanInfo {
  const o: VxlanInfo = { id: 0 };
  for (const { type, data } of attrs) {
    switch (type) {
      case IFLA_VXLAN_ID: o.id = read.u32(data); break;
      case IFLA_VXLAN_GROUP: case IFLA_VXLAN_GROUP6:
        if (data.some((b) => b !== 0)) o.group = formatIp(data);
        break;
      case IFLA_VXLAN_LOCAL: case IFLA_VXLAN_LOCAL6:
        if (data.some((b) => b !== 0)) o.local = formatIp(data);
        break;
      case IFLA_VXLAN_LINK: { const l = read.u32(data); if (l) o.link = l; break; }
      case IFLA_VXLAN_TTL: o.ttl = read.u8(data); break;
      // Sent by the kernel as a u8 (0/1), accepted from us as a flag.
      case IFLA_VXLAN_TTL_INHERIT: o.ttlInherit = data.length === 0 || read.u8(data) !== 0; break;
      case IFLA_VXLAN_TOS: o.tos = read.u8(data); break;
      case IFLA_VXLAN_LEARNING: o.learning = read.u8(data) !== 0; break;
      case IFLA_VXLAN_AGEING: o.ageing = read.u32(data); break;
      case IFLA_VXLAN_LIMIT: o.limit = read.u32(data); break;
      case IFLA_VXLAN_PROXY: o.proxy = read.u8(data) !== 0; break;
      case IFLA_VXLAN_RSC: o.rsc = read.u8(data) !== 0; break;
      case IFLA_VXLAN_L2MISS: o.l2miss = read.u8(data) !== 0; break;
      case IFLA_VXLAN_L3MISS: o.l3miss = read.u8(data) !== 0; break;
      case IFLA_VXLAN_PORT: o.port = read.be16(data); break;
      case IFLA_VXLAN_PORT_RANGE:
        if (data.length >= 4) o.portRange = [data.readUInt16BE(0), data.readUInt16BE(2)];
        break;
      case IFLA_VXLAN_UDP_CSUM: o.udpCsum = read.u8(data) !== 0; break;
      case IFLA_VXLAN_UDP_ZERO_CSUM6_TX: o.udpZeroCsum6Tx = read.u8(data) !== 0; break;
      case IFLA_VXLAN_UDP_ZERO_CSUM6_RX: o.udpZeroCsum6Rx = read.u8(data) !== 0; break;
      case IFLA_VXLAN_DF: o.df = read.u8(data); break;
      default: break;
    }
  }
  return o;
}

/** Class D (224/4) or ff00::/8: a group, not a unicast remote. */
const isMulticast = (ip: string) => {
  const b = parseIp(ip).bytes;
  return b.length === 16 ? b[0] === 0xff : b[0]! >>> 4 === 0xe;
};

/** `ip -j -d` info_data fields; `linkName` maps the underlay index to a name. */
export function vxlanJson(o: VxlanInfo, linkName: (index: number) => string | undefined): Record<string, unknown> {
  const j: Record<string, unknown> = { id: o.id };
  if (o.group !== undefined) j[isMulticast(o.group) ? 'group' : 'remote'] = o.group;
  if (o.local !== undefined) j.local = o.local;
  if (o.link !== undefined) j.link = linkName(o.link) ?? o.link;
  if (o.portRange) j.port_range = { low: o.portRange[0], high: o.portRange[1] };
  if (o.port !== undefined) j.port = o.port;
  if (o.learning !== undefined) j.learning = o.learning;
  if (o.proxy) j.proxy = true;
  if (o.rsc) j.rsc = true;
  if (o.l2miss) j.l2miss = true;
  if (o.l3miss) j.l3miss = true;
  if (o.tos) j.tos = o.tos;
  if (o.ttlInherit) j.ttl = 'inherit';
  else if (o.ttl !== undefined) j.ttl = o.ttl;
  if (o.df !== undefined) j.df = ['unset', 'set', 'inherit'][o.df] ?? o.df;
  if (o.ageing !== undefined) j.ageing = o.ageing;
  if (o.limit) j.limit = o.limit;
  if (o.udpCsum !== undefined) j.udp_csum = o.udpCsum;
  if (o.udpZeroCsum6Tx !== undefined) j.udp_zero_csum6_tx = o.udpZeroCsum6Tx;
  if (o.udpZeroCsum6Rx !== undefined) j.udp_zero_csum6_rx = o.udpZeroCsum6Rx;
  return j;
}

/** Settings that differ, split into changeable ones and create-only ones. */
export function vxlanDiff(want: VxlanOptions, have: VxlanInfo, devIndex: number | undefined): { change: string[]; recreate: string[] } {
  const change: string[] = [];
  const recreate: string[] = [];
  const cmp = (k: keyof VxlanOptions, list: string[]) => {
    if (want[k] !== undefined && JSON.stringify(want[k]) !== JSON.stringify((have as unknown as Record<string, unknown>)[k])) list.push(k);
  };
  for (const k of ['learning', 'proxy', 'l2miss', 'l3miss', 'rsc', 'tos', 'ageing', 'limit'] as const) cmp(k, change);
  if (want.ttl !== undefined && !want.ttlInherit && want.ttl !== have.ttl) change.push('ttl');
  // The kernel refuses to change VNI, addresses and device of a running vxlan
  // in several versions; treat them as create-only to stay predictable.
  for (const k of ['id', 'local', 'group', 'portRange', 'udpCsum', 'udpZeroCsum6Tx', 'udpZeroCsum6Rx'] as const) cmp(k, recreate);
  if ((want.port ?? VXLAN_DEFAULT_PORT) !== have.port) recreate.push('port');
  if (want.dev !== undefined && devIndex !== have.link) recreate.push('dev');
  return { change, recreate };
}
