/**
 * 802.1Q / 802.1ad VLAN kind data (IFLA_VLAN_*). The id is checked (1-4094)
 * before the kernel sees it; 0 and 4095 are reserved by 802.1Q.
 */
import { type Attr, type AttrWriter, read } from '../../attrs.js';
import { IFLA_VLAN_FLAGS, IFLA_VLAN_ID, IFLA_VLAN_PROTOCOL } from '../constants.js';
import { LinkConfigError } from '../../../errors.js';

export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

export interface VlanOptions {
  id: number;
  protocol?: '802.1Q' | '802.1ad';
}

export interface VlanInfo {
  id?: number;
  protocol?: '802.1Q' | '802.1ad';
  flags?: number;
}

export function validateVlan(name: string, o: VlanOptions): void {
  if (!Number.isInteger(o.id) || o.id < 1 || o.id > 4094) {
    throw new LinkConfigError(name, 'vlan id', `must be between 1 and 4094, got ${o.id}`);
  }
  if (o.protocol !== undefined && o.protocol !== '802.1Q' && o.protocol !== '802.1ad') {
    throw new LinkConfigError(name, 'vlan protocol', `must be 802.1Q or 802.1ad, got ${JSON.stringify(o.protocol)}`);
  }
}

export function encodeVlan(w: AttrWriter, o: VlanOptions): void {
  w.u16(IFLA_VLAN_ID, o.id);
  if (o.protocol) w.be16(IFLA_VLAN_PROTOCOL, o.protocol === '802.1ad' ? ETH_P_8021AD : ETH_P_8021Q);
}

export function decodeVlan(attrs: Attr[]): VlanInfo {
  const o: VlanInfo = {};
  for (const { type, data } of attrs) {
    if (type === IFLA_VLAN_ID) o.id = read.u16(data);
    else if (type === IFLA_VLAN_PROTOCOL) o.protocol = read.be16(data) === ETH_P_8021AD ? '802.1ad' : '802.1Q';
    else if (type === IFLA_VLAN_FLAGS && data.length >= 4) o.flags = data.readUInt32LE(0);
  }
  return o;
}

export function vlanJson(o: VlanInfo): Record<string, unknown> {
  const j: Record<string, unknown> = {};
  if (o.protocol) j.protocol = o.protocol;
  if (o.id !== undefined) j.id = o.id;
  return j;
}
