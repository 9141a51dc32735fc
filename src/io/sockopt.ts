/**
 * Linux socket option numbers not exported by raw-socket (it passes any number through to
 * setsockopt). Values from <linux/in.h>, <linux/in6.h>, <asm-generic/socket.h>.
 */
export const SOL_SOCKET = 1
export const SO_BINDTODEVICE = 25
export const IPPROTO_IP = 0
export const IP_HDRINCL = 3
export const IP_MULTICAST_IF = 32
export const IP_MULTICAST_LOOP = 34
export const IP_ADD_MEMBERSHIP = 35
export const IPPROTO_IPV6 = 41
export const IPV6_CHECKSUM = 7
export const IPV6_UNICAST_HOPS = 16
export const IPV6_MULTICAST_IF = 17
export const IPV6_MULTICAST_HOPS = 18
export const IPV6_MULTICAST_LOOP = 19
export const IPV6_JOIN_GROUP = 20
export const IPV6_TCLASS = 67
