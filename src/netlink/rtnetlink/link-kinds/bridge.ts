/**
 * Linux bridge kind data (IFLA_BR_*). Times are in centiseconds on the wire,
 * as iproute2 prints them (`ageing_time 30000` = 300 s).
 */
import { type Attr, type AttrWriter, read } from '../../attrs.js';
import {
  IFLA_BR_AGEING_TIME, IFLA_BR_FORWARD_DELAY, IFLA_BR_HELLO_TIME, IFLA_BR_MAX_AGE, IFLA_BR_MCAST_SNOOPING,
  IFLA_BR_NF_CALL_IPTABLES, IFLA_BR_PRIORITY, IFLA_BR_STP_STATE, IFLA_BR_VLAN_DEFAULT_PVID, IFLA_BR_VLAN_FILTERING,
  IFLA_BR_VLAN_PROTOCOL,
} from '../constants.js';

export interface BridgeOptions {
  /** FDB ageing in centiseconds (kernel default 30000 = 300 s). */
  ageingTime?: number;
  stpState?: 0 | 1;
  vlanFiltering?: boolean;
  /** 0 = untagged ports get no PVID (what Docker writes through sysfs). */
  vlanDefaultPvid?: number;
  forwardDelay?: number;
  helloTime?: number;
  maxAge?: number;
  priority?: number;
  mcastSnooping?: boolean;
  nfCallIptables?: boolean;
}

export interface BridgeInfo extends BridgeOptions {
  vlanProtocol?: number;
}

export function encodeBridge(w: AttrWriter, o: BridgeOptions): void {
  if (o.forwardDelay !== undefined) w.u32(IFLA_BR_FORWARD_DELAY, o.forwardDelay);
  if (o.helloTime !== undefined) w.u32(IFLA_BR_HELLO_TIME, o.helloTime);
  if (o.maxAge !== undefined) w.u32(IFLA_BR_MAX_AGE, o.maxAge);
  if (o.ageingTime !== undefined) w.u32(IFLA_BR_AGEING_TIME, o.ageingTime);
  if (o.stpState !== undefined) w.u32(IFLA_BR_STP_STATE, o.stpState);
  if (o.priority !== undefined) w.u16(IFLA_BR_PRIORITY, o.priority);
  if (o.vlanFiltering !== undefined) w.u8(IFLA_BR_VLAN_FILTERING, o.vlanFiltering ? 1 : 0);
  if (o.vlanDefaultPvid !== undefined) w.u16(IFLA_BR_VLAN_DEFAULT_PVID, o.vlanDefaultPvid);
  if (o.mcastSnooping !== undefined) w.u8(IFLA_BR_MCAST_SNOOPING, o.mcastSnooping ? 1 : 0);
  if (o.nfCallIptables !== undefined) w.u8(IFLA_BR_NF_CALL_IPTABLES, o.nfCallIptables ? 1 : 0);
}

export function decodeBridge(attrs: Attr[]): BridgeInfo {
  const o: BridgeInfo = {};
  for (const { type, data } of attrs) {
    switch (type) {
      case IFLA_BR_FORWARD_DELAY: o.forwardDelay = read.u32(data); break;
      case IFLA_BR_HELLO_TIME: o.helloTime = read.u32(data); break;
      case IFLA_BR_MAX_AGE: o.maxAge = read.u32(data); break;
      case IFLA_BR_AGEING_TIME: o.ageingTime = read.u32(data); break;
      case IFLA_BR_STP_STATE: o.stpState = read.u32(data) ? 1 : 0; break;
      case IFLA_BR_PRIORITY: o.priority = read.u16(data); break;
      case IFLA_BR_VLAN_FILTERING: o.vlanFiltering = read.u8(data) !== 0; break;
      case IFLA_BR_VLAN_PROTOCOL: o.vlanProtocol = read.be16(data); break;
      case IFLA_BR_VLAN_DEFAULT_PVID: o.vlanDefaultPvid = read.u16(data); break;
      case IFLA_BR_MCAST_SNOOPING: o.mcastSnooping = read.u8(data) !== 0; break;
      case IFLA_BR_NF_CALL_IPTABLES: o.nfCallIptables = read.u8(data) !== 0; break;
      default: break;
    }
  }
  return o;
}

/** `ip -j -d` info_data fields (numbers as iproute2 prints them). */
export function bridgeJson(o: BridgeInfo): Record<string, unknown> {
  const j: Record<string, unknown> = {};
  if (o.forwardDelay !== undefined) j.forward_delay = o.forwardDelay;
  if (o.helloTime !== undefined) j.hello_time = o.helloTime;
  if (o.maxAge !== undefined) j.max_age = o.maxAge;
  if (o.ageingTime !== undefined) j.ageing_time = o.ageingTime;
  if (o.stpState !== undefined) j.stp_state = o.stpState;
  if (o.priority !== undefined) j.priority = o.priority;
  if (o.vlanFiltering !== undefined) j.vlan_filtering = o.vlanFiltering ? 1 : 0;
  if (o.vlanProtocol !== undefined) j.vlan_protocol = o.vlanProtocol === 0x88a8 ? '802.1ad' : '802.1Q';
  if (o.vlanDefaultPvid !== undefined) j.vlan_default_pvid = o.vlanDefaultPvid;
  if (o.mcastSnooping !== undefined) j.mcast_snooping = o.mcastSnooping ? 1 : 0;
  if (o.nfCallIptables !== undefined) j.nf_call_iptables = o.nfCallIptables ? 1 : 0;
  return j;
}

/** The options of `want` that differ from what the kernel reports. */
export function bridgeDiff(want: BridgeOptions, have: BridgeInfo): BridgeOptions {
  const d: BridgeOptions = {};
  for (const k of Object.keys(want) as (keyof BridgeOptions)[]) {
    if (want[k] !== undefined && want[k] !== have[k]) (d as Record<string, unknown>)[k] = want[k];
  }
  return d;
}
