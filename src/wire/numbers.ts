/**
 * The assigned numbers weft branches on, in one place: EtherTypes (IEEE
 * 802 numbers), IP protocol / IPv6 Next Header numbers (IANA protocol
 * numbers, which also name the IPv6 extension headers), and the ARP,
 * ICMP and ICMPv6 values the data path and the trace printer test.
 * Header lengths and field offsets are in fields.ts.
 *
 * Plain `const` numbers, imported by name: V8 inlines them, so a named
 * constant costs nothing on a per-packet path. Netlink families keep the
 * kernel's own constants under src/netlink.
 */

// EtherTypes.
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_RARP = 0x8035;
/** 802.1Q C-tag TPID. */
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_MPLS = 0x8847;
/** 802.1ad S-tag TPID. */
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_LLDP = 0x88cc;
/** The pre-802.1ad QinQ TPID some switches still send. */
export const ETHERTYPE_QINQ_LEGACY = 0x9100;
/** EtherType values up to this one are 802.3 lengths. */
export const ETHERTYPE_MAX_LENGTH = 1500;
/** The smallest EtherType (802.3 leaves 1501..1535 undefined). */
export const ETHERTYPE_MIN = 0x0600;

// IP protocol numbers (IPv4 Protocol, IPv6 Next Header).
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_PIM = 103;
export const IPPROTO_VRRP = 112;
export const IPPROTO_SCTP = 132;
export const IPPROTO_MH = 135;
export const IPPROTO_HIP = 139;
export const IPPROTO_SHIM6 = 140;

// TCP flag bits, in the low 9 bits of the u16 at TCP_DATA_OFFSET (fields.ts).
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** AE (ex-NS), the ninth bit. */
export const TCP_AE = 0x100;
export const TCP_FLAG_MASK = 0x1ff;

// ARP (RFC 826) over Ethernet.
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

// ICMP types (RFC 792).
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

// ICMPv6 types (RFC 4443, RFC 4861).
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_REDIRECT = 137;
/** NDP option: source link-layer address. */
export const NDP_OPT_SOURCE_LL = 1;
/** NDP option: target link-layer address. */
export const NDP_OPT_TARGET_LL = 2;
/** The hop limit every NDP message carries (RFC 4861 §7.1). */
export const NDP_HOP_LIMIT = 255;
