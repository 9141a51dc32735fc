/*
 * vrrp6: receive VRRP over IPv6 with the hop limit and the destination address.
 *
 * RFC 5798 §7.1 requires dropping adverts whose hop limit is not 255. A raw IPv6 socket hands
 * user space the payload only, and Linux enforces IPV6_MINHOPCOUNT for TCP alone, so the hop
 * limit must come from recvmsg() ancillary data (IPV6_RECVHOPLIMIT), which node's raw-socket
 * package does not expose. This addon opens a receive-only raw socket for IP protocol 112 bound
 * to one interface, asks for IPV6_HOPLIMIT and IPV6_PKTINFO, lets the kernel verify the checksum
 * (IPV6_CHECKSUM, offset 6), and calls back JS with (payload, source, destination, hopLimit) for
 * every packet from libuv's loop. Sending stays with raw-socket.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IPPROTO_VRRP 112

typedef struct {
  int fd;
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  int closing;
} Receiver;

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  Receiver *r = (Receiver *)h->data;
  close(r->fd); /* after libuv let go of the handle, as uv_poll_t requires */
  free(r);
}

static void deliver(Receiver *r, const char *buf, ssize_t n, const struct sockaddr_in6 *from, const struct in6_addr *dst, int hop) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, args[4], result;
  char src_text[INET6_ADDRSTRLEN] = "", dst_text[INET6_ADDRSTRLEN] = "";
  void *data;
  inet_ntop(AF_INET6, &from->sin6_addr, src_text, sizeof src_text);
  if (dst != NULL) inet_ntop(AF_INET6, dst, dst_text, sizeof dst_text);
  napi_create_buffer_copy(env, (size_t)n, buf, &data, &args[0]);
  napi_create_string_utf8(env, src_text, NAPI_AUTO_LENGTH, &args[1]);
  napi_create_string_utf8(env, dst_text, NAPI_AUTO_LENGTH, &args[2]);
  napi_create_int32(env, hop, &args[3]);
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &global);
  if (napi_call_function(env, global, cb, 4, args, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  Receiver *r = (Receiver *)h->data;
  (void)events;
  if (status < 0 || r->closing) return;
  for (;;) {
    char buf[2048];
    char control[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct sockaddr_in6 from;
    struct iovec iov = { buf, sizeof buf };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(r->fd, &msg, MSG_DONTWAIT);
    if (n < 0) return; /* EAGAIN: drained; other errors: the next readable event retries */
    int hop = -1;
    struct in6_addr dst;
    int have_dst = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hop, CMSG_DATA(c), sizeof hop);
      if (c->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        dst = info.ipi6_addr;
        have_dst = 1;
      }
    }
    deliver(r, buf, n, &from, have_dst ? &dst : NULL, hop);
    if (r->closing) return;
  }
}

/* open(ifname: string, ifindex: number, joinGroup: boolean, onPacket: Function): External */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) { napi_throw_type_error(env, NULL, "open(ifname, ifindex, joinGroup, onPacket)"); return NULL; }
  char ifname[64];
  size_t len;
  int32_t ifindex;
  bool join;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok) { napi_throw_type_error(env, NULL, "ifname must be a string"); return NULL; }
  if (napi_get_value_int32(env, argv[1], &ifindex) != napi_ok) { napi_throw_type_error(env, NULL, "ifindex must be a number"); return NULL; }
  if (napi_get_value_bool(env, argv[2], &join) != napi_ok) { napi_throw_type_error(env, NULL, "joinGroup must be a boolean"); return NULL; }

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_VRRP);
  if (fd < 0) return throw_errno(env, "socket(AF_INET6, SOCK_RAW, 112)");
  int one = 1, offset = 6;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)len + 1) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) < 0) {
    int e = errno; close(fd); errno = e;
    return throw_errno(env, "setsockopt");
  }
  if (join) {
    struct ipv6_mreq mreq;
    inet_pton(AF_INET6, "ff02::12", &mreq.ipv6mr_multiaddr);
    mreq.ipv6mr_interface = (unsigned)ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) {
      int e = errno; close(fd); errno = e;
      return throw_errno(env, "IPV6_JOIN_GROUP ff02::12");
    }
  }
  Receiver *r = calloc(1, sizeof *r);
  r->fd = fd;
  r->env = env;
  napi_create_reference(env, argv[3], 1, &r->callback);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &r->poll, fd);
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  napi_value handle;
  napi_create_external(env, r, NULL, NULL, &handle);
  return handle;
}

/* close(handle): stops polling, closes the socket; idempotent. */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Receiver *r = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || r == NULL) { napi_throw_type_error(env, NULL, "close(handle)"); return NULL; }
  if (r->closing) return NULL;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  napi_delete_reference(env, r->callback);
  uv_close((uv_handle_t *)&r->poll, on_closed);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "open", NULL, Open, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, Close, NULL, NULL, NULL, napi_default, NULL }
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
