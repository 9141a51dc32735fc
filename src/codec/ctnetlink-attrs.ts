/**
 * ctnetlink numbers ([UAPI] linux/netfilter/nfnetlink_conntrack.h, nfnetlink.h), conntrackd-ftfw spec §5.
 * All multi-byte CTA_* payload integers are big-endian, except CTA_LABELS (a raw native bitmap).
 */

export const NFNL_SUBSYS_CTNETLINK = 1
export const NFNL_SUBSYS_CTNETLINK_EXP = 2

export const IPCTNL_MSG = {
  CT_NEW: 0,
  CT_GET: 1,
  CT_DELETE: 2,
  CT_GET_CTRZERO: 3,
  CT_GET_STATS_CPU: 4,
  CT_GET_STATS: 5,
  CT_GET_DYING: 6,
  CT_GET_UNCONFIRMED: 7
} as const

/** nlmsg_type of a ctnetlink message: subsystem in the high byte, message in the low byte. */
export const ctMsgType = (msg: number): number => (NFNL_SUBSYS_CTNETLINK << 8) | msg

/** Top-level attributes (enum ctattr_type). */
export const CTA = {
  TUPLE_ORIG: 1,
  TUPLE_REPLY: 2,
  STATUS: 3,
  PROTOINFO: 4,
  HELP: 5,
  NAT_SRC: 6,
  TIMEOUT: 7,
  MARK: 8,
  COUNTERS_ORIG: 9,
  COUNTERS_REPLY: 10,
  USE: 11,
  ID: 12,
  NAT_DST: 13,
  TUPLE_MASTER: 14,
  SEQ_ADJ_ORIG: 15,
  SEQ_ADJ_REPLY: 16,
  SECMARK: 17,
  ZONE: 18,
  SECCTX: 19,
  TIMESTAMP: 20,
  MARK_MASK: 21,
  LABELS: 22,
  LABELS_MASK: 23,
  SYNPROXY: 24,
  FILTER: 25,
  STATUS_MASK: 26,
  TIMESTAMP_EVENT: 27
} as const

export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const
export const CTA_PROTO = {
  NUM: 1,
  SRC_PORT: 2,
  DST_PORT: 3,
  ICMP_ID: 4,
  ICMP_TYPE: 5,
  ICMP_CODE: 6,
  ICMPV6_ID: 7,
  ICMPV6_TYPE: 8,
  ICMPV6_CODE: 9
} as const
export const CTA_PROTOINFO = { TCP: 1, DCCP: 2, SCTP: 3 } as const
export const CTA_PROTOINFO_TCP = { STATE: 1, WSCALE_ORIGINAL: 2, WSCALE_REPLY: 3, FLAGS_ORIGINAL: 4, FLAGS_REPLY: 5 } as const
export const CTA_PROTOINFO_DCCP = { STATE: 1, ROLE: 2, HANDSHAKE_SEQ: 3 } as const
export const CTA_PROTOINFO_SCTP = { STATE: 1, VTAG_ORIGINAL: 2, VTAG_REPLY: 3 } as const
export const CTA_NAT = { V4_MINIP: 1, V4_MAXIP: 2, PROTO: 3, V6_MINIP: 4, V6_MAXIP: 5 } as const
export const CTA_PROTONAT = { PORT_MIN: 1, PORT_MAX: 2 } as const
export const CTA_SEQADJ = { CORRECTION_POS: 1, OFFSET_BEFORE: 2, OFFSET_AFTER: 3 } as const
export const CTA_COUNTERS = { PACKETS: 1, BYTES: 2, PACKETS32: 3, BYTES32: 4 } as const
export const CTA_HELP = { NAME: 1, INFO: 2 } as const
export const CTA_SYNPROXY = { ISN: 1, ITS: 2, TSOFF: 3 } as const
