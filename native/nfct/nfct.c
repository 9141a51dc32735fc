/*
 * nfct: NETLINK_NETFILTER sockets for ctnetlink, usable on the main thread and in worker_threads.
 *
 * Why not the `netlink` npm package (what src/io/ctnetlink-socket.ts used before):
 * - when a receive buffer overflows, the kernel sets sk_err = ENOBUFS, epoll reports POLLERR, libuv
 *   stops the poll handle and passes UV_EBADF, and that package aborts the process. Here POLLERR
 *   means: read SO_ERROR (which clears it), report the errno to JS, start polling again;
 * - it cannot set SO_RCVBUFFORCE (large event buffers beyond rmem_max) or a socket filter;
 * - it does not load in a worker_threads Worker.
 *
 * Design:
 * - N-API only, context-aware (NAPI_MODULE_INIT), no mutable static state: every Worker that loads
 *   the addon gets its own instance, and each socket lives on the uv loop of the env that opened it.
 * - send(): ONE sendmsg() with an iovec of all buffers. nfnetlink processes every message of one
 *   datagram in order inside that call (the Committer in src/io/ctnetlink-commit.ts relies on it).
 * - receive: uv_poll readable → recvmmsg(MSG_DONTWAIT) in a loop into one batch buffer (each datagram
 *   padded to 4 bytes so the concatenation is still a valid netlink message stream), one JS callback
 *   per batch: at 100k events/s (one event per datagram) that is ~1 JS crossing per few hundred
 *   events instead of one per event. The batch is bounded (bytes and datagrams), and uv_poll is
 *   level-triggered, so whatever is left is read on the next loop turn and timers still run.
 * - callbacks go through napi_make_callback so promises resolved in them settle right away (a plain
 *   napi_call_function from a uv callback leaves the microtask queue for the next unrelated tick).
 * - the env's teardown (a Worker exiting without close()) closes the socket through an async
 *   cleanup hook: a uv handle left open at a Worker's exit aborts the process in uv_loop_close.
 *
 * Exports: open(opts), start(handle, onData, onError), send(handle, buffers), setOwnPortFilter(
 * handle, portId), setMembership(handle, group, join), stats(handle), close(handle),
 * mallocTrim() and copyBuffer(buf). See src/io/nfct.ts for the TypeScript view.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Receive layout: recvmmsg() reads up to MAX_SLOTS datagrams per call into fixed-size slots of the
 * batch buffer, which are then compacted (each datagram padded to 4 bytes) into one netlink message
 * stream for JS. A slot of 32 KiB can never truncate: the kernel caps a reader-driven dump skb at
 * SKB_WITH_OVERHEAD(32768) (netlink_recvmsg's max_recvmsg_len, which also follows the slot size,
 * so dumps use the whole slot), and events, ACKs and errors are smaller. The event socket uses
 * smaller slots (one conntrack event is a few hundred bytes) to take more datagrams per syscall; a
 * truncated datagram is dropped and reported as EMSGSIZE, which the event socket treats as lost
 * events (a resync). */
#define DEFAULT_BATCH_BYTES (256 * 1024)
#define MAX_BATCH_BYTES (16 * 1024 * 1024)
#define DEFAULT_SLOT_BYTES (32 * 1024)
#define MIN_SLOT_BYTES 4096
#define MAX_SLOTS 128
#define DEFAULT_BATCH_DATAGRAMS 1024
/* Linux UIO_MAXIOV: more buffers than this are copied into one contiguous datagram. */
#define MAX_IOV 1024
#define MAX_GROUPS 32

/* Tags the handle so close(someOtherExternal) is a TypeError, not a wild pointer. Read-only. */
static const napi_type_tag SOCK_TAG = { 0x6e6663745f736f63ULL, 0x6b5f686166770001ULL };

typedef struct NlSock NlSock;

/* What JS holds: a link to the socket, cut when the socket is freed, so a handle used after close
 * (or closed twice) finds NULL instead of freed memory. Freed by the wrapping object's finalizer (GC). */
typedef struct {
  NlSock *s;
} Handle;

struct NlSock {
  Handle *handle;
  int fd;
  uint32_t port_id;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_data;
  napi_ref on_error;
  napi_async_context async_ctx;
  napi_ref resource;
  napi_async_cleanup_hook_handle cleanup;
  int polling;
  int closing;
  char *batch;
  size_t batch_cap;
  size_t slot;
  uint32_t batch_datagrams;
  /* counters (doubles: exposed to JS as numbers, never wrap in practice) */
  double datagrams, batches, bytes, enobufs, errors, truncated, foreign;
};

/* errno → "ENOBUFS" (libuv's table; numbers it does not know become "E<n>"). */
static void errno_name(int e, char *out, size_t n) {
  const char *name = uv_err_name(-e);
  if (name == NULL || strncmp(name, "Unknown", 7) == 0) snprintf(out, n, "E%d", e);
  else snprintf(out, n, "%s", name);
}

static napi_value throw_errno(napi_env env, int e, const char *what) {
  char code[32], msg[256];
  errno_name(e, code, sizeof code);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  napi_throw(env, err);
  return NULL;
}

/* The handle argument; NULL with a TypeError when it is not one of ours. */
static Handle *handle_arg(napi_env env, napi_value v) {
  bool tagged = false;
  Handle *h = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, v, &SOCK_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, v, (void **)&h) != napi_ok || h == NULL) {
    napi_throw_type_error(env, NULL, "not an nfct socket handle");
    return NULL;
  }
  return h;
}

/* The open socket behind a handle; NULL with an EBADF error when it is closed. */
static NlSock *open_sock_arg(napi_env env, napi_value v, const char *what) {
  Handle *h = handle_arg(env, v);
  if (h == NULL) return NULL;
  if (h->s == NULL || h->s->closing) { throw_errno(env, EBADF, what); return NULL; }
  return h->s;
}

/* A call whose first argument is an open socket: its `want` arguments into argv and the socket, or
 * NULL once a TypeError (fewer arguments: `usage`) or an EBADF error (`closed`) is thrown. */
static NlSock *sock_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage, const char *closed) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) { napi_throw_type_error(env, NULL, usage); return NULL; }
  return open_sock_arg(env, argv[0], closed);
}

static void on_handle_gc(napi_env env, void *data, void *hint) {
  Handle *h = (Handle *)data;
  (void)env; (void)hint;
  /* an open socket whose handle JS dropped stays open until the env's teardown closes it */
  if (h->s != NULL) h->s->handle = NULL;
  free(h);
}

/* ------------------------------------------------------------------------------------------------
 * Closing: uv_close, then close(fd) once libuv let go of the handle (as uv_poll_t requires). */

static void on_closed(uv_handle_t *h) {
  NlSock *s = (NlSock *)h->data;
  if (s->handle != NULL) s->handle->s = NULL;
  close(s->fd);
  free(s->batch);
  napi_async_cleanup_hook_handle cleanup = s->cleanup;
  free(s);
  /* last: during an env teardown this lets the env finish */
  napi_remove_async_cleanup_hook(cleanup);
}

static void release_js(NlSock *s) {
  if (s->on_data != NULL) { napi_delete_reference(s->env, s->on_data); s->on_data = NULL; }
  if (s->on_error != NULL) { napi_delete_reference(s->env, s->on_error); s->on_error = NULL; }
  if (s->async_ctx != NULL) { napi_async_destroy(s->env, s->async_ctx); s->async_ctx = NULL; }
  if (s->resource != NULL) { napi_delete_reference(s->env, s->resource); s->resource = NULL; }
}

static void begin_close(NlSock *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

/* The env is going away (a Worker exits, the process ends) and JS never called close(). */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  NlSock *s = (NlSock *)arg;
  (void)handle;
  if (s->closing) return; /* close() already started; on_closed removes the hook */
  release_js(s);
  begin_close(s);
}

/* ------------------------------------------------------------------------------------------------
 * Calls into JS */

static void call_js(NlSock *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  if (napi_make_callback(env, s->async_ctx, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static void deliver(NlSock *s, size_t len) {
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  napi_value buf;
  void *data;
  s->batches++;
  if (napi_create_buffer_copy(s->env, len, s->batch, &data, &buf) == napi_ok) call_js(s, s->on_data, 1, &buf);
  napi_close_handle_scope(s->env, scope);
}

static void report(NlSock *s, int e) {
  napi_handle_scope scope;
  char name[32];
  napi_value arg;
  if (e == ENOBUFS) s->enobufs++;
  else s->errors++;
  napi_open_handle_scope(s->env, &scope);
  errno_name(e, name, sizeof name);
  napi_create_string_utf8(s->env, name, NAPI_AUTO_LENGTH, &arg);
  call_js(s, s->on_error, 1, &arg);
  napi_close_handle_scope(s->env, scope);
}

/* ------------------------------------------------------------------------------------------------
 * Receive */

/* Read until EAGAIN or the batch bound; one onData per batch. ENOBUFS (events were dropped) is
 * reported after the data read before it and reading goes on: the kernel cleared sk_err. */
static void drain(NlSock *s) {
  struct mmsghdr mm[MAX_SLOTS];
  struct iovec iov[MAX_SLOTS];
  struct sockaddr_nl from[MAX_SLOTS];
  size_t used = 0;
  uint32_t count = 0;
  while (!s->closing) {
    size_t vlen = (s->batch_cap - used) / s->slot;
    if (vlen > MAX_SLOTS) vlen = MAX_SLOTS;
    if (vlen > s->batch_datagrams - count) vlen = s->batch_datagrams - count;
    if (vlen == 0) break;
    for (size_t i = 0; i < vlen; i++) {
      iov[i].iov_base = s->batch + used + i * s->slot;
      iov[i].iov_len = s->slot;
      memset(&mm[i], 0, sizeof mm[i]);
      mm[i].msg_hdr.msg_name = &from[i];
      mm[i].msg_hdr.msg_namelen = sizeof from[i];
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(s->fd, mm, (unsigned)vlen, MSG_DONTWAIT, NULL);
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) break;
      if (used > 0) { deliver(s, used); used = 0; count = 0; if (s->closing) return; }
      report(s, e);
      if (e == ENOBUFS) continue;
      return; /* anything else: the next readable event retries */
    }
    /* compact the slots into a stream; remember a truncation to report after the data */
    size_t w = used;
    int truncated = 0;
    for (int i = 0; i < r; i++) {
      size_t n = mm[i].msg_len;
      if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) { s->truncated++; truncated = 1; continue; }
      if (from[i].nl_pid != 0) { s->foreign++; continue; } /* only the kernel talks to us (port 0) */
      char *src = s->batch + used + (size_t)i * s->slot;
      if (src != s->batch + w) memmove(s->batch + w, src, n);
      size_t padded = (n + 3u) & ~(size_t)3u;
      if (padded > n) memset(s->batch + w + n, 0, padded - n);
      w += padded;
      s->datagrams++;
      s->bytes += (double)n;
      count++;
    }
    used = w;
    if (truncated) {
      if (used > 0) { deliver(s, used); used = 0; count = 0; if (s->closing) return; }
      report(s, EMSGSIZE);
      if (s->closing) return;
    }
    if ((size_t)r < vlen) break; /* the queue is empty (or an error waits for the next call) */
  }
  if (used > 0 && !s->closing) deliver(s, used);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  NlSock *s = (NlSock *)h->data;
  (void)events;
  if (s->closing) return;
  if (status < 0) {
    /* POLLERR: libuv has stopped the handle. The socket error is usually ENOBUFS (the receive
     * buffer overflowed, events were lost); SO_ERROR reads and clears it. */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) report(s, err);
    if (s->closing) return;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
  }
  drain(s);
}

/* ------------------------------------------------------------------------------------------------
 * open(opts?: {groups?: number[], rcvbuf?: number, sndbuf?: number, batchBytes?: number,
 *              batchDatagrams?: number, slotBytes?: number})
 *   → {handle, portId, rcvbuf, sndbuf, rcvbufForced, sndbufForced}
 * rcvbuf/sndbuf are the setsockopt values (the kernel doubles them); the returned ones are what
 * getsockopt reports. */

/* A number that is an integer in 0..2^32-1 (napi_get_value_uint32 alone would wrap -1). */
static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d) return -1;
  *out = (uint32_t)d;
  return 0;
}

static int get_u32_prop(napi_env env, napi_value obj, const char *key, uint32_t *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (obj == NULL || napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (t != napi_number || get_u32(env, v, out) < 0) return -1;
  return 1;
}

/* SO_RCVBUFFORCE / SO_SNDBUFFORCE (CAP_NET_ADMIN: past rmem_max/wmem_max), else the plain option. */
static int set_buffer(int fd, int force_opt, int opt, uint32_t bytes, int *forced) {
  int v = bytes > 0x3fffffff ? 0x3fffffff : (int)bytes;
  *forced = 0;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0) { *forced = 1; return 0; }
  if (errno != EPERM) return -1;
  return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

static void set_num(napi_env env, napi_value obj, const char *key, double n) {
  napi_value v;
  napi_create_double(env, n, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_bool(napi_env env, napi_value obj, const char *key, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = { NULL };
  napi_value opts = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) {
    napi_valuetype t;
    napi_typeof(env, argv[0], &t);
    if (t == napi_object) opts = argv[0];
    else if (t != napi_undefined && t != napi_null) { napi_throw_type_error(env, NULL, "open(opts?: object)"); return NULL; }
  }
  uint32_t rcvbuf = 0, sndbuf = 0, batch_bytes = DEFAULT_BATCH_BYTES, batch_datagrams = DEFAULT_BATCH_DATAGRAMS, slot = DEFAULT_SLOT_BYTES;
  uint32_t groups[MAX_GROUPS];
  uint32_t ngroups = 0;
  if (get_u32_prop(env, opts, "rcvbuf", &rcvbuf) < 0 || get_u32_prop(env, opts, "sndbuf", &sndbuf) < 0 ||
      get_u32_prop(env, opts, "batchBytes", &batch_bytes) < 0 || get_u32_prop(env, opts, "batchDatagrams", &batch_datagrams) < 0 ||
      get_u32_prop(env, opts, "slotBytes", &slot) < 0) {
    napi_throw_type_error(env, NULL, "rcvbuf, sndbuf, batchBytes, batchDatagrams, slotBytes must be non-negative integers");
    return NULL;
  }
  if (slot < MIN_SLOT_BYTES) slot = MIN_SLOT_BYTES;
  if (slot > DEFAULT_SLOT_BYTES) slot = DEFAULT_SLOT_BYTES;
  slot &= ~(uint32_t)3u;
  if (batch_bytes < slot) batch_bytes = slot;
  if (batch_bytes > MAX_BATCH_BYTES) batch_bytes = MAX_BATCH_BYTES;
  if (batch_datagrams < 1) batch_datagrams = 1;
  if (opts != NULL) {
    bool has = false, is_array = false;
    napi_has_named_property(env, opts, "groups", &has);
    if (has) {
      napi_value arr;
      napi_get_named_property(env, opts, "groups", &arr);
      napi_is_array(env, arr, &is_array);
      napi_valuetype t;
      napi_typeof(env, arr, &t);
      if (t != napi_undefined) {
        if (!is_array) { napi_throw_type_error(env, NULL, "groups must be an array of numbers"); return NULL; }
        napi_get_array_length(env, arr, &ngroups);
        if (ngroups > MAX_GROUPS) { napi_throw_range_error(env, NULL, "too many groups"); return NULL; }
        for (uint32_t i = 0; i < ngroups; i++) {
          napi_value g;
          napi_get_element(env, arr, i, &g);
          if (get_u32(env, g, &groups[i]) < 0 || groups[i] == 0) {
            napi_throw_type_error(env, NULL, "groups must be positive integers");
            return NULL;
          }
        }
      }
    }
  }

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_NETLINK, NETLINK_NETFILTER)");
  int rcv_forced = 0, snd_forced = 0;
  const char *what = NULL;
  if (rcvbuf > 0 && set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf, &rcv_forced) < 0) what = "SO_RCVBUF";
  if (what == NULL && sndbuf > 0 && set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf, &snd_forced) < 0) what = "SO_SNDBUF";
  struct sockaddr_nl local;
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK; /* nl_pid 0: the kernel assigns a unique port id */
  if (what == NULL && bind(fd, (struct sockaddr *)&local, sizeof local) < 0) what = "bind";
  socklen_t alen = sizeof local;
  if (what == NULL && getsockname(fd, (struct sockaddr *)&local, &alen) < 0) what = "getsockname";
  for (uint32_t i = 0; what == NULL && i < ngroups; i++) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof groups[i]) < 0) what = "NETLINK_ADD_MEMBERSHIP";
  }
  int eff_rcv = 0, eff_snd = 0;
  socklen_t ilen = sizeof eff_rcv;
  if (what == NULL && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &eff_rcv, &ilen) < 0) what = "getsockopt(SO_RCVBUF)";
  ilen = sizeof eff_snd;
  if (what == NULL && getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &eff_snd, &ilen) < 0) what = "getsockopt(SO_SNDBUF)";
  if (what != NULL) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, what);
  }

  NlSock *s = calloc(1, sizeof *s);
  Handle *hd = calloc(1, sizeof *hd);
  char *batch = malloc(batch_bytes);
  if (s == NULL || hd == NULL || batch == NULL) { free(s); free(hd); free(batch); close(fd); return throw_errno(env, ENOMEM, "open"); }
  s->fd = fd;
  s->port_id = local.nl_pid;
  s->env = env;
  s->batch = batch;
  s->batch_cap = batch_bytes;
  s->batch_datagrams = batch_datagrams;
  s->slot = slot;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    free(batch); free(s); free(hd); close(fd);
    napi_throw_error(env, NULL, "uv_poll_init failed");
    return NULL;
  }
  s->poll.data = s;
  napi_add_async_cleanup_hook(env, on_env_teardown, s, &s->cleanup);

  napi_value handle, result;
  hd->s = s;
  s->handle = hd;
  /* a plain object wrapping the link (type tags need an object; an external is not one in node 20) */
  napi_create_object(env, &handle);
  napi_wrap(env, handle, hd, on_handle_gc, NULL, NULL);
  napi_type_tag_object(env, handle, &SOCK_TAG);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  set_num(env, result, "portId", (double)s->port_id);
  set_num(env, result, "rcvbuf", (double)eff_rcv);
  set_num(env, result, "sndbuf", (double)eff_snd);
  set_bool(env, result, "rcvbufForced", rcv_forced != 0);
  set_bool(env, result, "sndbufForced", snd_forced != 0);
  return result;
}

/* start(handle, onData(buf), onError(errnoName)): begin polling; once per socket. */
static napi_value Start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  NlSock *s = sock_call(env, info, 3, argv, "start(handle, onData, onError)", "start on a closed socket");
  if (s == NULL) return NULL;
  napi_valuetype t1, t2;
  napi_typeof(env, argv[1], &t1);
  napi_typeof(env, argv[2], &t2);
  if (t1 != napi_function || t2 != napi_function) { napi_throw_type_error(env, NULL, "onData and onError must be functions"); return NULL; }
  if (s->polling) { napi_throw_error(env, NULL, "already started"); return NULL; }
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "hafw.nfct", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_async_init(env, resource, name, &s->async_ctx);
  napi_create_reference(env, argv[1], 1, &s->on_data);
  napi_create_reference(env, argv[2], 1, &s->on_error);
  s->polling = 1;
  int r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (r != 0) return throw_errno(env, -r, "uv_poll_start");
  return NULL;
}

/* send(handle, buffers: Buffer[]) → bytes: one datagram to the kernel holding every buffer. */
static napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  NlSock *s = sock_call(env, info, 2, argv, "send(handle, buffers)", "send on a closed socket");
  if (s == NULL) return NULL;
  bool is_array = false;
  uint32_t count = 0;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) { napi_throw_type_error(env, NULL, "buffers must be an array of Buffers"); return NULL; }
  napi_get_array_length(env, argv[1], &count);
  napi_value ret;
  if (count == 0) { napi_create_uint32(env, 0, &ret); return ret; }
  struct iovec stack_iov[64];
  struct iovec *iov = count <= 64 ? stack_iov : malloc(sizeof *iov * count);
  if (iov == NULL) return throw_errno(env, ENOMEM, "send");
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    void *data = NULL;
    size_t len = 0;
    bool is_buf = false;
    napi_get_element(env, argv[1], i, &b);
    napi_is_buffer(env, b, &is_buf);
    if (!is_buf || napi_get_buffer_info(env, b, &data, &len) != napi_ok) {
      if (iov != stack_iov) free(iov);
      napi_throw_type_error(env, NULL, "buffers must be an array of Buffers");
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = len;
    total += len;
  }
  /* past UIO_MAXIOV sendmsg() says EMSGSIZE: copy into one buffer, still one datagram */
  char *flat = NULL;
  struct iovec one;
  struct iovec *use = iov;
  size_t use_count = count;
  if (count > MAX_IOV) {
    flat = malloc(total);
    if (flat == NULL) { if (iov != stack_iov) free(iov); return throw_errno(env, ENOMEM, "send"); }
    size_t o = 0;
    for (uint32_t i = 0; i < count; i++) { memcpy(flat + o, iov[i].iov_base, iov[i].iov_len); o += iov[i].iov_len; }
    one.iov_base = flat;
    one.iov_len = total;
    use = &one;
    use_count = 1;
  }
  struct sockaddr_nl to;
  memset(&to, 0, sizeof to);
  to.nl_family = AF_NETLINK; /* port 0: the kernel */
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = use;
  msg.msg_iovlen = use_count;
  ssize_t n;
  do { n = sendmsg(s->fd, &msg, 0); } while (n < 0 && errno == EINTR);
  int e = errno;
  free(flat);
  if (iov != stack_iov) free(iov);
  if (n < 0) return throw_errno(env, e, "sendmsg");
  napi_create_double(env, (double)n, &ret);
  return ret;
}

/*
 * setOwnPortFilter(handle, portId): a classic BPF socket filter that drops every message whose
 * nlmsg_pid is portId: the events our own commit socket caused (conntrackd attaches a BPF filter
 * for the same reason). They are dropped in the kernel before they are queued, so they cost no
 * receive buffer and no wake-up. portId 0 removes the filter.
 *
 * BPF_LD|BPF_W|BPF_ABS loads a 32-bit word in network byte order, but nlmsghdr is in host order:
 * compare against htonl(portId) (a byte swap on little-endian, nothing on big-endian).
 */
static napi_value SetOwnPortFilter(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  NlSock *s = sock_call(env, info, 2, argv, "setOwnPortFilter(handle, portId)", "setOwnPortFilter on a closed socket");
  if (s == NULL) return NULL;
  uint32_t port;
  if (get_u32(env, argv[1], &port) < 0) { napi_throw_type_error(env, NULL, "portId must be an integer in 0..2^32-1"); return NULL; }
  if (port == 0) {
    int unused = 0; /* every SOL_SOCKET option wants optlen >= sizeof(int), even this one */
    if (setsockopt(s->fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) < 0 && errno != ENOENT) return throw_errno(env, errno, "SO_DETACH_FILTER");
    return NULL;
  }
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(port), 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0),          /* ours: drop */
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff)  /* anything else: keep all of it */
  };
  struct sock_fprog prog = { (unsigned short)(sizeof code / sizeof code[0]), code };
  if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) return throw_errno(env, errno, "SO_ATTACH_FILTER");
  return NULL;
}

/*
 * setMembership(handle, group, join): join (true) or leave (false) one nfnetlink multicast group
 * while the socket is open. The conntrack worker leaves NFNLGRP_CONNTRACK_NEW for the length of a
 * takeover commit: with no member in that group the kernel does not build the NEW event of each
 * entry the commit creates at all (ctnetlink_conntrack_event returns before allocating it when
 * nfnetlink_has_listeners says no), where the BPF filter above can only drop it after it was built.
 * Measured: 100k creates 580-610 ms with the NEW group joined, 360-370 ms without. Staying in
 * UPDATE/DESTROY keeps ctnetlink_has_listener set, so (nf_conntrack_events=2) the new entries still
 * get their event extension and report their updates and end later. Joining twice or leaving a
 * group not joined is not an error.
 */
static napi_value SetMembership(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  NlSock *s = sock_call(env, info, 3, argv, "setMembership(handle, group, join)", "setMembership on a closed socket");
  if (s == NULL) return NULL;
  uint32_t group;
  if (get_u32(env, argv[1], &group) < 0 || group == 0) { napi_throw_type_error(env, NULL, "group must be a positive integer"); return NULL; }
  bool join;
  if (napi_get_value_bool(env, argv[2], &join) != napi_ok) { napi_throw_type_error(env, NULL, "join must be a boolean"); return NULL; }
  int opt = join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP;
  if (setsockopt(s->fd, SOL_NETLINK, opt, &group, sizeof group) < 0) {
    /* leaving a group the socket is not in: ENOENT on some kernels; nothing to undo */
    if (!join && errno == ENOENT) return NULL;
    return throw_errno(env, errno, join ? "NETLINK_ADD_MEMBERSHIP" : "NETLINK_DROP_MEMBERSHIP");
  }
  return NULL;
}

/*
 * mallocTrim() → whether memory went back to the kernel: glibc's malloc_trim(0), for the whole
 * process (src/runtime/memory-trim.ts says why and when). Here because this is the addon the daemon
 * already builds and loads; false where there is no malloc_trim (not glibc).
 */
static napi_value MallocTrim(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __GLIBC__
  int r = malloc_trim(0);
#else
  int r = 0;
#endif
  napi_value out;
  napi_get_boolean(env, r != 0, &out);
  return out;
}

/*
 * copyBuffer(buf) → a new Buffer with buf's bytes, made the way the receive path makes its batches
 * (napi_create_buffer_copy). Why: V8 gives a Buffer made in C++ (node::Buffer, then its prototype
 * set) another hidden class than one made in JavaScript (FastBuffer). The worker's warm-up
 * (src/runtime/warm-up.ts) fed JavaScript-made buffers, so the first real batch deoptimised every
 * byte-path function it had compiled ("wrong map"); fed through this, the warm-up compiles them for
 * the buffers the kernel path and the UDP socket hand over.
 */
static napi_value CopyBuffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_buffer = false;
  if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "copyBuffer(buf: Buffer)");
    return NULL;
  }
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) return NULL;
  napi_value out;
  void *copy = NULL;
  if (napi_create_buffer_copy(env, len, data, &copy, &out) != napi_ok) return NULL;
  return out;
}

/* stats(handle) → counters of the receive path. */
static napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  NlSock *s = sock_call(env, info, 1, argv, "stats(handle)", "stats on a closed socket");
  if (s == NULL) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "datagrams", s->datagrams);
  set_num(env, o, "batches", s->batches);
  set_num(env, o, "bytes", s->bytes);
  set_num(env, o, "enobufs", s->enobufs);
  set_num(env, o, "errors", s->errors);
  set_num(env, o, "truncated", s->truncated);
  set_num(env, o, "foreign", s->foreign);
  return o;
}

/* close(handle): stop polling, close the socket; idempotent. Later calls on the handle throw EBADF. */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) { napi_throw_type_error(env, NULL, "close(handle)"); return NULL; }
  Handle *h = handle_arg(env, argv[0]);
  if (h == NULL) return NULL;
  NlSock *s = h->s;
  if (s == NULL || s->closing) return NULL;
  release_js(s);
  begin_close(s);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "open", NULL, Open, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, Start, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, Send, NULL, NULL, NULL, napi_default, NULL },
    { "setOwnPortFilter", NULL, SetOwnPortFilter, NULL, NULL, NULL, napi_default, NULL },
    { "setMembership", NULL, SetMembership, NULL, NULL, NULL, napi_default, NULL },
    { "mallocTrim", NULL, MallocTrim, NULL, NULL, NULL, napi_default, NULL },
    { "copyBuffer", NULL, CopyBuffer, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, Close, NULL, NULL, NULL, napi_default, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
