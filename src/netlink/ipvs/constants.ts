/**
 * IPVS generic-netlink numbers (uapi linux/ip_vs.h): commands, attribute
 * types of each nest, service flags and forwarding methods.
 */
export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4,
  NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8,
  SET_CONFIG: 12, GET_CONFIG: 13, SET_INFO: 14, GET_INFO: 15, ZERO: 16, FLUSH: 17,
} as const;

export const CMD_ATTR_SERVICE = 1;
export const CMD_ATTR_DEST = 2;
export const CMD_ATTR_TIMEOUT_TCP = 4;
export const CMD_ATTR_TIMEOUT_TCP_FIN = 5;
export const CMD_ATTR_TIMEOUT_UDP = 6;

export const SVC_AF = 1, SVC_PROTOCOL = 2, SVC_ADDR = 3, SVC_PORT = 4, SVC_FWMARK = 5, SVC_SCHED = 6, SVC_FLAGS = 7,
  SVC_TIMEOUT = 8, SVC_NETMASK = 9, SVC_STATS = 10, SVC_PE = 11, SVC_STATS64 = 12;
export const DEST_ADDR = 1, DEST_PORT = 2, DEST_FWD = 3, DEST_WEIGHT = 4, DEST_U_THRESH = 5, DEST_L_THRESH = 6,
  DEST_ACTIVE = 7, DEST_INACT = 8, DEST_PERSIST = 9, DEST_STATS = 10, DEST_AF = 11, DEST_STATS64 = 12;
export const INFO_VERSION = 1, INFO_CONN_TAB_SIZE = 2;
export const STATS_CONNS = 1, STATS_INPKTS = 2, STATS_OUTPKTS = 3, STATS_INBYTES = 4, STATS_OUTBYTES = 5, STATS_CPS = 6,
  STATS_INPPS = 7, STATS_OUTPPS = 8, STATS_INBPS = 9, STATS_OUTBPS = 10;

export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
export type IpvsProtocol = keyof typeof IPPROTO;

/** Service flags (IP_VS_SVC_F_*). */
export const IPVS_SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;

export const FWD_METHODS = { masq: 0, local: 1, tunnel: 2, droute: 3, bypass: 4 } as const;
export type ForwardMethod = keyof typeof FWD_METHODS;
export const FWD_NAMES = Object.fromEntries(Object.entries(FWD_METHODS).map(([k, v]) => [v, k])) as Record<number, ForwardMethod>;
