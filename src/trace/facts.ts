/**
 * The flat, reusable summary of one packet that filtering, printing, stats
 * and `follow` share. A dissector fills it without allocating; level 0 is
 * the frame as captured, level n+1 the frame carried inside level n's VXLAN.
 * Fields that a packet does not have are -1 (numbers) or 0 (ipVersion).
 */
export const MAX_LEVELS = 4;

export interface Level {
  /** Offset of the link header (Ethernet) in `data`, -1 when the level starts at IP. */
  ethOffset: number;
  /** EtherType after VLAN tags (or from the SLL header / raw IP version). */
  etherType: number;
  /** The outermost VLAN ID, the next one (QinQ) and how many tags there were. */
  vlan: number;
  vlan2: number;
  vlanCount: number;
  ipVersion: 0 | 4 | 6;
  ipOffset: number;
  /** IPv4 identification (or -1). */
  ipId: number;
  ttl: number;
  /** Bytes of IP header + payload as the header says (for TSO's 0: what the frame holds). */
  ipLength: number;
  /** IP_LENGTH_*: how the IP length field relates to the frame. */
  ipLengthNote: number;
  /** Bytes the IP length claims beyond the frame on the wire (IP_LENGTH_BEYOND). */
  ipMissing: number;
  /** IPv6: the fixed header's next header (an extension header or the transport), else -1. */
  ipNextHeader: number;
  /** Later fragment: no transport header here. */
  fragment: boolean;
  /** Transport protocol number (after IPv6 extension headers), -1 if none. */
  protocol: number;
  l4Offset: number;
  /** Transport bytes (header + payload) as the IP header says. */
  l4Length: number;
  /** Transport bytes actually captured (the snap length may cut them). */
  l4Captured: number;
  sourcePort: number;
  destinationPort: number;
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  tcpWindow: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
  arpOp: number;
  arpOffset: number;
  /** LINK_*: what a frame that is not IP or ARP carries (802.3/LLC, STP, LLDP, an unknown link type). */
  link: number;
  /** Offset of that payload (the LLC header, the LLDP TLVs). */
  linkOffset: number;
  /** VXLAN Network Identifier carried here; the inner frame is the next level. */
  vni: number;
  /** Where dissection of this level stopped early: 'ipv4: truncated', ... */
  problem: string;
}

export const IP_LENGTH_OK = 0;
/** IPv4 total length 0 / IPv6 payload length 0 without a jumbo option: a TSO/GSO send, sized by the frame. */
export const IP_LENGTH_ZERO = 1;
/** The length field claims more than the frame had on the wire (GRO super-frames, corrupt headers). */
export const IP_LENGTH_BEYOND = 2;

export const LINK_NONE = 0;
export const LINK_LLC = 1;
export const LINK_STP = 2;
export const LINK_LLDP = 3;
/** A link type weft does not decode: time, length and the link type are all it prints. */
export const LINK_UNKNOWN = 4;

export interface Facts {
  data: Uint8Array;
  /** Start and end of the packet in `data`. */
  start: number;
  end: number;
  origlen: number;
  linktype: number;
  /** Linux cooked header: packet type (0 host, 4 outgoing ...), or -1. */
  sllPacketType: number;
  levels: Level[];
  /** Levels filled (at least 1 once dissected). */
  depth: number;
}

export function newLevel(): Level {
  const l = {} as Level;
  clearLevel(l);
  return l;
}

export function clearLevel(l: Level): void {
  l.ethOffset = -1;
  l.etherType = -1;
  l.vlan = -1;
  l.vlan2 = -1;
  l.vlanCount = 0;
  l.ipVersion = 0;
  l.ipOffset = -1;
  l.ipId = -1;
  l.ttl = -1;
  l.ipLength = -1;
  l.ipLengthNote = IP_LENGTH_OK;
  l.ipMissing = 0;
  l.ipNextHeader = -1;
  l.fragment = false;
  l.protocol = -1;
  l.l4Offset = -1;
  l.l4Length = 0;
  l.l4Captured = 0;
  l.sourcePort = -1;
  l.destinationPort = -1;
  l.tcpFlags = -1;
  l.tcpSeq = -1;
  l.tcpAck = -1;
  l.tcpWindow = -1;
  l.icmpType = -1;
  l.icmpCode = -1;
  l.icmpId = -1;
  l.icmpSeq = -1;
  l.arpOp = -1;
  l.arpOffset = -1;
  l.link = LINK_NONE;
  l.linkOffset = -1;
  l.vni = -1;
  l.problem = '';
}

export function newFacts(): Facts {
  const levels: Level[] = [];
  for (let i = 0; i < MAX_LEVELS; i++) levels.push(newLevel());
  return { data: new Uint8Array(0), start: 0, end: 0, origlen: 0, linktype: 1, sllPacketType: -1, levels, depth: 0 };
}
