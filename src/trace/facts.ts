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
  vlan: number;
  ipVersion: 0 | 4 | 6;
  ipOffset: number;
  /** IPv4 identification (or -1). */
  ipId: number;
  ttl: number;
  /** Bytes of IP header + payload as the header says. */
  ipLength: number;
  /** Later fragment: no transport header here. */
  fragment: boolean;
  /** Transport protocol number (after IPv6 extension headers), -1 if none. */
  protocol: number;
  l4Offset: number;
  /** Transport bytes available (header + payload, bounded by the capture). */
  l4Length: number;
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
  /** VXLAN Network Identifier carried here; the inner frame is the next level. */
  vni: number;
  /** Where dissection of this level stopped early: 'ipv4: truncated', ... */
  problem: string;
}

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
  l.ipVersion = 0;
  l.ipOffset = -1;
  l.ipId = -1;
  l.ttl = -1;
  l.ipLength = -1;
  l.fragment = false;
  l.protocol = -1;
  l.l4Offset = -1;
  l.l4Length = 0;
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
  l.vni = -1;
  l.problem = '';
}

export function newFacts(): Facts {
  const levels: Level[] = [];
  for (let i = 0; i < MAX_LEVELS; i++) levels.push(newLevel());
  return { data: new Uint8Array(0), start: 0, end: 0, origlen: 0, linktype: 1, sllPacketType: -1, levels, depth: 0 };
}
