/**
 * Header lengths and field offsets, per header, relative to the header's
 * first byte (as smoltcp's `field` modules and gVisor's tcpip/header
 * constants). Paths that read packets in place (the VTEP, proxy ARP, gso/
 * gro, trace's dissector) add these to a header offset instead of writing
 * `off + 54`. Multi-byte fields are big-endian. Plain `const` numbers: V8
 * inlines them. The assigned values of these fields are in numbers.ts.
 */

export const MAC_LENGTH = 6;

// Ethernet II.
export const ETH_DESTINATION = 0;
export const ETH_SOURCE = 6;
export const ETH_TYPE = 12;
export const ETH_HEADER_LENGTH = 14;

// 802.1Q / 802.1ad tag (after the TPID, which stands where the EtherType was).
export const VLAN_TCI = 0;
/** The EtherType (or next TPID) after the tag. */
export const VLAN_TYPE = 2;
export const VLAN_TAG_LENGTH = 4;

// ARP for Ethernet/IPv4 (RFC 826).
export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OP = 6;
/** The variable part starts here; the offsets after it hold for hlen 6, plen 4. */
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_FIXED_LENGTH = 8;
export const ARP_ETHERNET_IPV4_LENGTH = 28;

// IPv4 (RFC 791).
export const IPV4_VERSION_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LENGTH = 2;
export const IPV4_ID = 4;
/** Flags and fragment offset. */
export const IPV4_FRAGMENT = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SOURCE = 12;
export const IPV4_DESTINATION = 16;
export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;
/** MF and the fragment offset: non-zero in any fragment. */
export const IPV4_FRAGMENT_MASK = 0x3fff;

// IPv6 (RFC 8200).
export const IPV6_PAYLOAD_LENGTH = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SOURCE = 8;
export const IPV6_DESTINATION = 24;
export const IPV6_HEADER_LENGTH = 40;
export const IPV6_ADDRESS_LENGTH = 16;

// UDP (RFC 768).
export const UDP_SOURCE_PORT = 0;
export const UDP_DESTINATION_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER_LENGTH = 8;

// TCP (RFC 9293).
export const TCP_SOURCE_PORT = 0;
export const TCP_DESTINATION_PORT = 2;
export const TCP_SEQUENCE = 4;
export const TCP_ACKNOWLEDGMENT = 8;
/** Data offset in the high nibble; the 9 flag bits are the low bits of the u16 here. */
export const TCP_DATA_OFFSET = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_MIN_HEADER_LENGTH = 20;

// ICMP (RFC 792) and ICMPv6 (RFC 4443): type, code, checksum, then per type.
export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
/** The 4 bytes whose meaning depends on the type (a redirect's gateway, a next-hop MTU ...). */
export const ICMP_REST_OF_HEADER = 4;
/** Echo identifier and sequence (in the rest of the header). */
export const ICMP_ID = 4;
export const ICMP_SEQUENCE = 6;
/** Errors quote the offending IP header from here. */
export const ICMP_QUOTE = 8;
export const ICMP_HEADER_LENGTH = 8;
/** Type, code, checksum: what every ICMP and ICMPv6 message starts with. */
export const ICMP_COMMON_LENGTH = 4;

// VXLAN (RFC 7348 §5).
export const VXLAN_FLAGS = 0;
/** 24 bits; the byte after it is reserved. */
export const VXLAN_VNI = 4;
export const VXLAN_HEADER_LENGTH = 8;

// NDP Neighbor Solicitation / Advertisement (RFC 4861 §4.3, §4.4).
export const NDP_FLAGS = 4;
export const NDP_TARGET = 8;
/** Options start here. */
export const NDP_OPTIONS = 24;
export const NDP_NS_LENGTH = 24;
