/**
 * NETLINK_XFRM numbers and struct sizes (linux/xfrm.h, x86-64 layout: the
 * u64 lifetimes make xfrm_usersa_info and xfrm_userpolicy_info 8-aligned).
 */
export const NETLINK_XFRM = 6;

export const XFRM_MSG_NEWSA = 0x10;
export const XFRM_MSG_DELSA = 0x11;
export const XFRM_MSG_GETSA = 0x12;
export const XFRM_MSG_NEWPOLICY = 0x13;
export const XFRM_MSG_DELPOLICY = 0x14;
export const XFRM_MSG_GETPOLICY = 0x15;
export const XFRM_MSG_UPDPOLICY = 0x19;

export const XFRMA_ALG_AEAD = 18;
export const XFRMA_TMPL = 5;
export const XFRMA_SRCADDR = 13;
export const XFRMA_MARK = 21;

export const IPPROTO_ESP = 50;
export const IPPROTO_UDP = 17;
export const XFRM_MODE_TRANSPORT = 0;
export const XFRM_POLICY_IN = 0;
export const XFRM_POLICY_OUT = 1;
export const XFRM_POLICY_ALLOW = 0;
/** "No limit" in xfrm_lifetime_cfg. */
export const XFRM_INF = 0xffffffffffffffffn;

export const SELECTOR_LEN = 56;
export const LIFETIME_CFG_LEN = 64;
export const LIFETIME_CUR_LEN = 32;
export const USERSA_INFO_LEN = 224;
export const USERSA_ID_LEN = 24;
export const USERPOLICY_INFO_LEN = 168;
export const USERPOLICY_ID_LEN = 64;
export const USER_TMPL_LEN = 64;
export const ALGO_NAME_LEN = 64;
