/**
 * Interface addresses (RTM_*ADDR): struct ifaddrmsg (8 bytes: family u8,
 * prefixlen u8, flags u8, scope u8, index u32) + IFA_* attributes.
 */
import { type AttrWriter, parseAttrs, read } from '../attrs.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.js';
import { isErrno, LinkNotFoundError, NetlinkDecodeError, RtnlObjectError } from '../../errors.js';
import type { Message } from '../message.js';
import {
  AF_INET, AF_UNSPEC, IFA_ADDRESS, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS, IFA_F_NODAD, IFA_LABEL, IFA_LOCAL,
  RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE,
} from './constants.js';
import type { Rtnl } from './handle.js';
import { formatIp, parseIp, parsePrefix } from '../../wire/ip.js';
import { linkIndex } from './link-ops.js';

export const IFADDRMSG_LEN = 8;

export interface Address {
  family: number;
  index: number;
  prefixLength: number;
  flags: number;
  scope: number;
  /** IFA_LOCAL (IFA_ADDRESS when no LOCAL, as for IPv6). */
  local: string;
  /** IFA_ADDRESS when it differs from local (point-to-point peer). */
  peer?: string;
  broadcast?: string;
  label?: string;
  validLifetime?: number;
  preferredLifetime?: number;
}

export interface AddressSpec {
  dev: string | number;
  /** `10.0.0.1/24` or `fd00::1/64`. */
  address: string;
  /** Explicit broadcast, or '+' for the subnet's (as `ip addr add ... brd +`). */
  broadcast?: string;
  label?: string;
  scope?: 'global' | 'link' | 'host';
  /** IPv6: skip duplicate address detection. */
  nodad?: boolean;
}

const SCOPES: Record<string, number> = { global: RT_SCOPE_UNIVERSE, link: RT_SCOPE_LINK, host: RT_SCOPE_HOST };

export function writeIfaddrmsg(w: AttrWriter, h: { family: number; prefixLength?: number; flags?: number; scope?: number; index?: number }): void {
  const at = w.zeros(IFADDRMSG_LEN);
  w.buf[at] = h.family;
  w.buf[at + 1] = h.prefixLength ?? 0;
  w.buf[at + 2] = (h.flags ?? 0) & 0xff;
  w.buf[at + 3] = h.scope ?? 0;
  w.buf.writeUInt32LE(h.index ?? 0, at + 4);
}

export function decodeAddress(m: Message): Address {
  const p = m.payload;
  if (p.length < IFADDRMSG_LEN) throw new NetlinkDecodeError(`ifaddrmsg needs ${IFADDRMSG_LEN} bytes, got ${p.length}`, m.offset);
  const a: Address = { family: p[0]!, prefixLength: p[1]!, flags: p[2]!, scope: p[3]!, index: p.readUInt32LE(4), local: '' };
  let address: string | undefined;
  for (const { type, data } of parseAttrs(p, IFADDRMSG_LEN)) {
    switch (type) {
      case IFA_LOCAL: a.local = formatIp(data); break;
      case IFA_ADDRESS: address = formatIp(data); break;
      case IFA_BROADCAST: a.broadcast = formatIp(data); break;
      case IFA_LABEL: a.label = read.string(data); break;
      case IFA_FLAGS: a.flags = read.u32(data); break;
      case IFA_CACHEINFO:
        if (data.length >= 8) { a.preferredLifetime = data.readUInt32LE(0); a.validLifetime = data.readUInt32LE(4); }
        break;
      default: break;
    }
  }
  if (!a.local) a.local = address ?? '';
  else if (address !== undefined && address !== a.local) a.peer = address;
  return a;
}

function broadcastOf(bytes: Uint8Array, len: number): Uint8Array {
  const b = Uint8Array.from(bytes);
  for (let bit = len; bit < 32; bit++) b[bit >> 3]! |= 0x80 >> (bit & 7);
  return b;
}

function encodeAddr(w: AttrWriter, spec: AddressSpec, index: number): void {
  const p = parsePrefix(spec.address, 'address');
  const flags = spec.nodad ? IFA_F_NODAD : 0;
  writeIfaddrmsg(w, { family: p.family, prefixLength: p.prefixLength, flags, scope: SCOPES[spec.scope ?? 'global'] ?? 0, index });
  w.binary(IFA_LOCAL, p.bytes);
  w.binary(IFA_ADDRESS, p.bytes);
  if (spec.broadcast !== undefined && p.family === AF_INET) {
    w.binary(IFA_BROADCAST, spec.broadcast === '+' ? broadcastOf(p.bytes, p.prefixLength) : parseIp(spec.broadcast, 'broadcast').bytes);
  }
  if (spec.label !== undefined) w.string(IFA_LABEL, spec.label);
  if (flags) w.u32(IFA_FLAGS, flags);
}

async function addrRequest(rtnl: Rtnl, type: number, flags: number, spec: AddressSpec, verb: string): Promise<void> {
  const index = await linkIndex(rtnl, spec.dev, 'device', `address ${spec.address}`);
  try {
    await rtnl.client.request({ type, flags, what: `${verb} address ${spec.address} on ${spec.dev}`, build: (w) => encodeAddr(w, spec, index) });
  } catch (err) {
    if (isErrno(err, 'ENODEV')) throw new LinkNotFoundError(String(spec.dev), 'device', rtnl.netns, `address ${spec.address}`);
    if (isErrno(err, 'EEXIST', 'EADDRNOTAVAIL', 'EINVAL', 'EOPNOTSUPP', 'EACCES')) throw new RtnlObjectError('ERR_WEFT_ADDRESS', `${verb} address ${spec.address} on ${spec.dev}`, err);
    throw err;
  }
}

/** Adds an address; EEXIST if present. Equivalent to `ip addr add ADDR/LEN dev DEV`. */
export function addAddress(rtnl: Rtnl, spec: AddressSpec): Promise<void> {
  return addrRequest(rtnl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, spec, 'add');
}

/** Adds or updates an address (idempotent). Equivalent to `ip addr replace ADDR/LEN dev DEV`. */
export function replaceAddress(rtnl: Rtnl, spec: AddressSpec): Promise<void> {
  return addrRequest(rtnl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, spec, 'replace');
}

/** Removes an address. Equivalent to `ip addr del ADDR/LEN dev DEV`. */
export function deleteAddress(rtnl: Rtnl, spec: AddressSpec): Promise<void> {
  return addrRequest(rtnl, RTM_DELADDR, 0, spec, 'delete');
}

/** Every address, optionally of one family or link. Equivalent to `ip addr show [dev DEV]`. */
export async function listAddresses(rtnl: Rtnl, filter: { family?: number; dev?: string | number } = {}): Promise<Address[]> {
  const index = filter.dev !== undefined ? await linkIndex(rtnl, filter.dev, 'device') : undefined;
  const replies = await rtnl.client.dump({
    type: RTM_GETADDR,
    what: 'address dump',
    build: (w) => writeIfaddrmsg(w, { family: filter.family ?? AF_UNSPEC }),
  });
  return replies
    .filter((m) => m.type === RTM_NEWADDR)
    .map(decodeAddress)
    .filter((a) => (index === undefined || a.index === index) && (filter.family === undefined || a.family === filter.family));
}
