/*
 * weft native addon: the few Linux syscalls Node does not expose.
 * Kept deliberately small; all protocol knowledge lives in TypeScript
 * (src/io/native.ts is the only importer). Every fd is non-blocking and
 * close-on-exec. Errors throw an Error with .code = errno name
 * ("EEXIST"), .errno = number, .syscall = name.
 *
 * Functions (all synchronous unless noted; "buf" is a Buffer/Uint8Array):
 *
 *   openSocket(domain, type, protocol, netnsPath?) -> fd
 *       socket(2). With netnsPath ("/var/run/netns/X", "/proc/PID/ns/net")
 *       the calling thread setns(2)s into that namespace, opens the socket,
 *       and switches back, so the socket belongs to the other namespace.
 *   openTun(name, flags, netnsPath?) -> { fd, name }
 *       open /dev/net/tun + TUNSETIFF (flags: IFF_TUN/IFF_TAP/IFF_NO_PI/
 *       IFF_VNET_HDR/...), optionally inside netnsPath.
 *   ioctlInt(fd, request, value) -> int        ioctl(2) with an int argument
 *   ioctlIntRef(fd, request, value) -> int     ioctl(2) with a pointer to an int
 *                                              (TUNSETOFFLOAD, TUNSETVNETHDRSZ...)
 *   setsockoptInt(fd, level, name, value)      setsockopt(2), int value
 *   setsockoptBuf(fd, level, name, buf)        setsockopt(2), raw bytes
 *   getsockoptBuf(fd, level, name, len) -> Buffer
 *   attachFilter(fd, program)                  SO_ATTACH_FILTER; program is
 *                                              8-byte struct sock_filter entries
 *   bind(fd, sockaddr) / connect(fd, sockaddr) sockaddr is the raw struct bytes
 *   getsockname(fd) -> Buffer
 *   sendTo(fd, buf, offset, length, sockaddr?) -> bytes sent, or -1 on EAGAIN
 *   recvFrom(fd, buf, offset, length, addrOut?) -> bytes (real length, may
 *       exceed length with MSG_TRUNC), or -1 on EAGAIN. addrOut receives the
 *       source sockaddr (up to its size).
 *   recvBatch(fd, buf, slotSize, count, lengths, addrs?, segs?, stamps?) -> n
 *       recvmmsg(2) into count slots of buf; lengths (Int32Array) gets each
 *       datagram's length, addrs (Buffer, 28 bytes per slot) the source
 *       sockaddr, segs (Int32Array) the UDP_GRO segment size or 0, stamps
 *       (Uint32Array, 2 per slot) the kernel's receive time as seconds and
 *       nanoseconds, from SO_TIMESTAMP or SO_TIMESTAMPNS, whichever the
 *       socket has on (0, 0 when the kernel sent none). Safe to call from
 *       several threads at once. Returns 0 on EAGAIN.
 *   sendBatch(fd, buf, slotSize, count, lengths, addrs?, addrLen?) -> n
 *       sendmmsg(2) of count slots; addrs holds addrLen bytes per slot
 *       (or one sockaddr used for all when its length is addrLen).
 *       Returns the number sent (0 on EAGAIN).
 *   readBatch(fd, buf, slotSize, count, lengths) -> n
 *       read(2) repeatedly (TUN/TAP: one frame per read) until EAGAIN or count.
 *   writeBatch(fd, buf, slotSize, count, lengths) -> n   write(2) each slot.
 *   close(fd)
 *   poll(fd, events, callback) -> handle        uv_poll on the event loop;
 *       callback(status, events) runs on the JS thread, never blocking it.
 *       events: 1 readable, 2 writable.
 *   pollUpdate(handle, events)                  change watched events
 *   pollClose(handle)                           stop and free
 *   errnoName(number) -> string
 *   netnsAdd(path) -> Promise<void>            (asynchronous)
 *       a named network namespace as `ip netns add` makes it: the directory
 *       of path made a shared mount point, path created, a new thread
 *       unshare(CLONE_NEWNET)s and bind-mounts its namespace onto path, and
 *       brings its loopback up (`ip -n NAME link set lo up`); on failure
 *       nothing is left behind. EEXIST when path exists.
 *   netnsDelete(path) -> Promise<void>         (asynchronous)
 *       `ip netns del`: umount2(MNT_DETACH) and unlink; ENOENT when absent.
 *   bpfSkipPcapng(...), bpfSkipPcap(...), bpfRun(...)
 *       the filtered read's prefilter, native/bpf-scan.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "bpf-scan.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define MAX_BATCH 1024
#define ADDR_SLOT 28 /* sizeof(struct sockaddr_in6) */
/* Control data per received datagram: UDP_GRO's int and SCM_TIMESTAMP's timeval. */
#define CTRL_SLOT (CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec)))

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_generic(env, "napi call failed: " #call);                          \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static void throw_generic(napi_env env, const char *msg) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "EWEFTNATIVE", msg);
}

static const char *errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV)
    E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG)
    E(ENOSPC) E(ERANGE) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ECONNREFUSED) E(EHOSTUNREACH)
    E(EMSGSIZE) E(EPROTONOSUPPORT) E(ENOPROTOOPT) E(ENOBUFS) E(ENOTCONN)
    E(ENOTSOCK) E(EDESTADDRREQ) E(EPROTOTYPE) E(ESOCKTNOSUPPORT)
    E(EPFNOSUPPORT) E(ECONNRESET) E(ETIMEDOUT) E(ENOTEMPTY)
    E(ELOOP) E(ENAMETOOLONG) E(ENOSYS) E(ENODATA) E(EOVERFLOW) E(EBADMSG)
    E(EPROTO) E(ENOLINK) E(ENOKEY) E(ERFKILL) E(EHWPOISON) E(ESHUTDOWN)
    E(EALREADY) E(EINPROGRESS) E(ENOMSG) E(EIDRM) E(ECHILD) E(ENOEXEC)
    E(EXDEV) E(EMLINK) E(EPIPE) E(EDOM) E(ESPIPE) E(EROFS) E(EDEADLK)
    E(ENOLCK) E(ENOSTR) E(ECANCELED)
#undef E
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "EUNKNOWN";
  }
}

static void *throw_errno(napi_env env, const char *syscall, int err) {
  napi_value msg, code, error, num, sys;
  char text[256];
  snprintf(text, sizeof text, "%s: %s (%s)", syscall, strerror(err),
           errno_name(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

/* --- argument helpers ---------------------------------------------------- */

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count, offset;
    napi_value ab;
    void *base;
    if (napi_get_typedarray_info(env, v, &type, &count, &base, &ab, &offset) !=
        napi_ok)
      return 0;
    size_t elem = (type == napi_int32_array || type == napi_uint32_array)
                      ? 4
                      : type == napi_float64_array ? 8
                      : (type == napi_uint8_array ? 1 : 0);
    if (!elem) return 0;
    *data = base;
    *len = count * elem;
    return 1;
  }
  return 0;
}

static int arg_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

/* Reads an optional string argument into buf; returns 0 if absent. */
static int arg_string(napi_env env, napi_value v, char *buf, size_t size,
                      int *present) {
  *present = 0;
  if (arg_is_nullish(env, v)) return 1;
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return 0;
  if (len >= size - 1) return 0;
  *present = 1;
  return 1;
}

#define GET_ARGS(n)                                                            \
  size_t argc = n;                                                             \
  napi_value argv[n];                                                          \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                 \
  for (size_t i_ = argc; i_ < n; i_++) napi_get_undefined(env, &argv[i_]);

#define BAD_ARG(what)                                                          \
  do {                                                                         \
    napi_throw_type_error(env, "EINVALARG", what);                             \
    return NULL;                                                               \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

/* --- namespaces ---------------------------------------------------------- */

/* Runs fn inside the namespace at path on this thread, then switches back.
 * Returns fn's result, or -1 with errno set (and *failed_call named). */
typedef int (*ns_fn)(void *ctx);

static int in_netns(const char *path, ns_fn fn, void *ctx,
                    const char **failed_call) {
  if (!path) return fn(ctx);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *failed_call = "open(/proc/thread-self/ns/net)";
    return -1;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    errno = e;
    *failed_call = "open(netns)";
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(self);
    close(target);
    errno = e;
    *failed_call = "setns";
    return -1;
  }
  close(target);
  int result = fn(ctx);
  int saved = errno;
  if (setns(self, CLONE_NEWNET) < 0) {
    /* Could not return to our own namespace: the process is in an
     * unknown state, and continuing would act on the wrong host. */
    abort();
  }
  close(self);
  errno = saved;
  if (result < 0 && !*failed_call) *failed_call = "call in netns";
  return result;
}

struct socket_ctx {
  int domain, type, protocol;
};

static int do_socket(void *p) {
  struct socket_ctx *c = p;
  return socket(c->domain, c->type | SOCK_NONBLOCK | SOCK_CLOEXEC, c->protocol);
}

static napi_value OpenSocket(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  struct socket_ctx c;
  char path[512];
  int has_path;
  if (!arg_int(env, argv[0], &c.domain) || !arg_int(env, argv[1], &c.type) ||
      !arg_int(env, argv[2], &c.protocol))
    BAD_ARG("openSocket(domain, type, protocol, netnsPath?)");
  if (!arg_string(env, argv[3], path, sizeof path, &has_path))
    BAD_ARG("netnsPath must be a string");
  const char *failed = NULL;
  int fd = in_netns(has_path ? path : NULL, do_socket, &c, &failed);
  if (fd < 0) return throw_errno(env, failed ? failed : "socket", errno);
  return make_int(env, fd);
}

struct tun_ctx {
  struct ifreq ifr;
};

static int do_tun(void *p) {
  struct tun_ctx *c = p;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  if (ioctl(fd, TUNSETIFF, &c->ifr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static napi_value OpenTun(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  struct tun_ctx c;
  memset(&c, 0, sizeof c);
  char name[IFNAMSIZ + 1], path[512];
  int has_name, has_path, flags;
  if (!arg_string(env, argv[0], name, sizeof name, &has_name))
    BAD_ARG("tun name must be a string shorter than IFNAMSIZ");
  if (!arg_int(env, argv[1], &flags)) BAD_ARG("flags must be a number");
  if (!arg_string(env, argv[2], path, sizeof path, &has_path))
    BAD_ARG("netnsPath must be a string");
  if (has_name) memcpy(c.ifr.ifr_name, name, strlen(name)); /* length checked above */
  c.ifr.ifr_flags = (short)flags;
  const char *failed = NULL;
  int fd = in_netns(has_path ? path : NULL, do_tun, &c, &failed);
  if (fd < 0) return throw_errno(env, failed ? failed : "TUNSETIFF", errno);
  napi_value obj, vname;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "fd", make_int(env, fd));
  napi_create_string_utf8(env, c.ifr.ifr_name, strnlen(c.ifr.ifr_name, IFNAMSIZ),
                          &vname);
  napi_set_named_property(env, obj, "name", vname);
  return obj;
}

/* --- named network namespaces (iproute2's netns_add / netns_delete) ----- */

struct netns_work {
  napi_async_work work;
  napi_deferred deferred;
  int create;
  char path[512];
  char dir[512];
  int err;              /* errno of the failed step, 0 on success */
  const char *syscall;  /* the failed step */
};

static void netns_fail(struct netns_work *w, const char *syscall) {
  w->err = errno;
  w->syscall = syscall;
}

/* Runs on a thread of its own, which ends after: its namespace lives on
 * through the bind mount, and no thread of Node's ever changes namespace. */
static void *netns_thread(void *p) {
  struct netns_work *w = p;
  if (unshare(CLONE_NEWNET) < 0) {
    netns_fail(w, "unshare(CLONE_NEWNET)");
    return NULL;
  }
  if (mount("/proc/thread-self/ns/net", w->path, "none", MS_BIND, NULL) < 0) {
    netns_fail(w, "mount(MS_BIND)");
    return NULL;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    netns_fail(w, "socket");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    netns_fail(w, "SIOCGIFFLAGS(lo)");
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) netns_fail(w, "SIOCSIFFLAGS(lo)");
  }
  close(s);
  return NULL;
}

/* The namespace directory as a shared mount point (bound onto itself first
 * when it is not one), so a namespace mounted there shows in every mount
 * namespace that shares it, as with iproute2. */
static int netns_dir_shared(struct netns_work *w) {
  if (mkdir(w->dir, 0755) < 0 && errno != EEXIST) {
    netns_fail(w, "mkdir");
    return -1;
  }
  for (int bound = 0; mount("", w->dir, "none", MS_SHARED | MS_REC, NULL) < 0; bound = 1) {
    if (errno != EINVAL || bound) {
      netns_fail(w, "mount(MS_SHARED)");
      return -1;
    }
    if (mount(w->dir, w->dir, "none", MS_BIND | MS_REC, NULL) < 0) {
      netns_fail(w, "mount(MS_BIND, dir)");
      return -1;
    }
  }
  return 0;
}

static void netns_execute(napi_env env, void *data) {
  struct netns_work *w = data;
  if (!w->create) {
    umount2(w->path, MNT_DETACH); /* not mounted: unlink still removes the file */
    if (unlink(w->path) < 0) netns_fail(w, "unlink");
    return;
  }
  if (netns_dir_shared(w) < 0) return;
  int fd = open(w->path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    netns_fail(w, "open(O_CREAT|O_EXCL)");
    return;
  }
  close(fd);
  pthread_t t;
  int rc = pthread_create(&t, NULL, netns_thread, w);
  if (rc != 0) {
    w->err = rc;
    w->syscall = "pthread_create";
  } else {
    pthread_join(t, NULL);
  }
  if (w->err) {
    umount2(w->path, MNT_DETACH);
    unlink(w->path);
  }
}

static void netns_complete(napi_env env, napi_status status, void *data) {
  struct netns_work *w = data;
  if (status == napi_ok && w->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, w->deferred, undef);
  } else {
    int e = status == napi_ok ? w->err : ECANCELED;
    const char *sys = status == napi_ok ? w->syscall : "netns work";
    napi_value msg, code, error, num, call;
    char text[700];
    snprintf(text, sizeof text, "%s %s: %s (%s)", sys, w->path, strerror(e), errno_name(e));
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &error);
    napi_create_int32(env, e, &num);
    napi_create_string_utf8(env, sys, NAPI_AUTO_LENGTH, &call);
    napi_set_named_property(env, error, "errno", num);
    napi_set_named_property(env, error, "syscall", call);
    napi_reject_deferred(env, w->deferred, error);
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value netns_start(napi_env env, napi_callback_info info, int create) {
  GET_ARGS(1);
  struct netns_work *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "calloc", ENOMEM);
  int has_path;
  if (!arg_string(env, argv[0], w->path, sizeof w->path, &has_path) || !has_path ||
      w->path[0] != '/') {
    free(w);
    BAD_ARG("netns path must be an absolute path");
  }
  w->create = create;
  memcpy(w->dir, w->path, sizeof w->dir);
  *strrchr(w->dir, '/') = 0;
  if (!w->dir[0]) memcpy(w->dir, "/", 2);
  napi_value promise, name;
  napi_create_string_utf8(env, create ? "weft netnsAdd" : "weft netnsDelete", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, netns_execute, netns_complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    free(w);
    throw_generic(env, "napi call failed: netns async work");
    return NULL;
  }
  return promise;
}

static napi_value NetnsAdd(napi_env env, napi_callback_info info) {
  return netns_start(env, info, 1);
}

static napi_value NetnsDelete(napi_env env, napi_callback_info info) {
  return netns_start(env, info, 0);
}

/* --- socket options, bind, connect --------------------------------------- */

/* ioctl(2) with an int, passed as the value or (by_ref: TUNSETVNETHDRSZ) by pointer. */
static napi_value ioctl_int(napi_env env, napi_callback_info info, int by_ref) {
  GET_ARGS(3);
  int fd, req, val;
  if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &req) ||
      !arg_int(env, argv[2], &val))
    BAD_ARG(by_ref ? "ioctlIntRef(fd, request, value)" : "ioctlInt(fd, request, value)");
  unsigned long r = (unsigned long)(uint32_t)req;
  int rc = by_ref ? ioctl(fd, r, &val) : ioctl(fd, r, (unsigned long)val);
  if (rc < 0) return throw_errno(env, "ioctl", errno);
  return make_int(env, rc);
}

static napi_value IoctlInt(napi_env env, napi_callback_info info) {
  return ioctl_int(env, info, 0);
}

static napi_value IoctlIntRef(napi_env env, napi_callback_info info) {
  return ioctl_int(env, info, 1);
}

static napi_value SetsockoptInt(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd, level, name, val;
  if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &level) ||
      !arg_int(env, argv[2], &name) || !arg_int(env, argv[3], &val))
    BAD_ARG("setsockoptInt(fd, level, name, value)");
  if (setsockopt(fd, level, name, &val, sizeof val) < 0)
    return throw_errno(env, "setsockopt", errno);
  return NULL;
}

static napi_value SetsockoptBuf(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd, level, name;
  uint8_t *data;
  size_t len;
  if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &level) ||
      !arg_int(env, argv[2], &name) || !arg_bytes(env, argv[3], &data, &len))
    BAD_ARG("setsockoptBuf(fd, level, name, buf)");
  if (setsockopt(fd, level, name, data, (socklen_t)len) < 0)
    return throw_errno(env, "setsockopt", errno);
  return NULL;
}

static napi_value GetsockoptBuf(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd, level, name, want;
  if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &level) ||
      !arg_int(env, argv[2], &name) || !arg_int(env, argv[3], &want) ||
      want < 0 || want > 4096)
    BAD_ARG("getsockoptBuf(fd, level, name, len<=4096)");
  uint8_t tmp[4096];
  socklen_t len = (socklen_t)want;
  if (getsockopt(fd, level, name, tmp, &len) < 0)
    return throw_errno(env, "getsockopt", errno);
  napi_value out;
  void *dst;
  napi_create_buffer_copy(env, len, tmp, &dst, &out);
  return out;
}

static napi_value AttachFilter(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  uint8_t *data;
  size_t len;
  if (!arg_int(env, argv[0], &fd) || !arg_bytes(env, argv[1], &data, &len) ||
      len % sizeof(struct sock_filter) != 0 || len == 0 ||
      len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    BAD_ARG("attachFilter(fd, program of 8-byte instructions)");
  struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)),
                            .filter = (struct sock_filter *)data};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
    return throw_errno(env, "setsockopt(SO_ATTACH_FILTER)", errno);
  return NULL;
}

static napi_value Bind(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  uint8_t *addr;
  size_t len;
  if (!arg_int(env, argv[0], &fd) || !arg_bytes(env, argv[1], &addr, &len))
    BAD_ARG("bind(fd, sockaddr)");
  if (bind(fd, (struct sockaddr *)addr, (socklen_t)len) < 0)
    return throw_errno(env, "bind", errno);
  return NULL;
}

static napi_value Connect(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  uint8_t *addr;
  size_t len;
  if (!arg_int(env, argv[0], &fd) || !arg_bytes(env, argv[1], &addr, &len))
    BAD_ARG("connect(fd, sockaddr)");
  if (connect(fd, (struct sockaddr *)addr, (socklen_t)len) < 0)
    return throw_errno(env, "connect", errno);
  return NULL;
}

static napi_value Getsockname(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (!arg_int(env, argv[0], &fd)) BAD_ARG("getsockname(fd)");
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
    return throw_errno(env, "getsockname", errno);
  napi_value out;
  void *dst;
  napi_create_buffer_copy(env, len, &ss, &dst, &out);
  return out;
}

/* --- single send/receive ------------------------------------------------- */

static int slice(napi_env env, napi_value vbuf, napi_value voff, napi_value vlen,
                 uint8_t **ptr, size_t *len) {
  uint8_t *data;
  size_t total;
  int32_t off, n;
  if (!arg_bytes(env, vbuf, &data, &total) || !arg_int(env, voff, &off) ||
      !arg_int(env, vlen, &n) || off < 0 || n < 0 || (size_t)off + (size_t)n > total)
    return 0;
  *ptr = data + off;
  *len = (size_t)n;
  return 1;
}

static napi_value SendTo(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int fd;
  uint8_t *ptr, *addr = NULL;
  size_t len, alen = 0;
  if (!arg_int(env, argv[0], &fd) || !slice(env, argv[1], argv[2], argv[3], &ptr, &len))
    BAD_ARG("sendTo(fd, buf, offset, length, sockaddr?)");
  if (!arg_is_nullish(env, argv[4]) && !arg_bytes(env, argv[4], &addr, &alen))
    BAD_ARG("sockaddr must be bytes");
  ssize_t r;
  do {
    r = sendto(fd, ptr, len, MSG_DONTWAIT, (struct sockaddr *)addr, (socklen_t)alen);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, -1);
    return throw_errno(env, "sendto", errno);
  }
  return make_int(env, r);
}

static napi_value RecvFrom(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int fd;
  uint8_t *ptr, *addr = NULL;
  size_t len, alen = 0;
  if (!arg_int(env, argv[0], &fd) || !slice(env, argv[1], argv[2], argv[3], &ptr, &len))
    BAD_ARG("recvFrom(fd, buf, offset, length, addrOut?)");
  if (!arg_is_nullish(env, argv[4]) && !arg_bytes(env, argv[4], &addr, &alen))
    BAD_ARG("addrOut must be bytes");
  socklen_t sl = (socklen_t)alen;
  ssize_t r;
  do {
    r = recvfrom(fd, ptr, len, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)addr,
                 addr ? &sl : NULL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, -1);
    return throw_errno(env, "recvfrom", errno);
  }
  return make_int(env, r);
}

/* --- batched I/O --------------------------------------------------------- */

struct batch {
  uint8_t *buf;
  size_t buf_len;
  int32_t slot, count;
  int32_t *lengths;
  size_t lengths_len;
};

static int batch_args(napi_env env, napi_value *argv, struct batch *b) {
  uint8_t *lp;
  if (!arg_bytes(env, argv[1], &b->buf, &b->buf_len) ||
      !arg_int(env, argv[2], &b->slot) || !arg_int(env, argv[3], &b->count) ||
      !arg_bytes(env, argv[4], &lp, &b->lengths_len))
    return 0;
  b->lengths = (int32_t *)lp;
  if (b->slot <= 0 || b->count <= 0 || b->count > MAX_BATCH) return 0;
  if ((size_t)b->slot * (size_t)b->count > b->buf_len) return 0;
  if (b->lengths_len < (size_t)b->count * 4) return 0;
  return 1;
}

/* Per-thread: worker threads (the multi-queue VTEP) share this code. */
static __thread struct mmsghdr msgs_tls[MAX_BATCH];
static __thread struct iovec iov_tls[MAX_BATCH];
static __thread char ctrl_tls[MAX_BATCH][CTRL_SLOT];

static napi_value RecvBatch(napi_env env, napi_callback_info info) {
  GET_ARGS(8);
  int fd;
  struct batch b;
  uint8_t *addrs = NULL, *segp = NULL, *stp = NULL;
  size_t alen = 0, slen = 0, tlen = 0;
  if (!arg_int(env, argv[0], &fd) || !batch_args(env, argv, &b))
    BAD_ARG("recvBatch(fd, buf, slotSize, count<=1024, lengths, addrs?, segs?)");
  if (!arg_is_nullish(env, argv[5]) &&
      (!arg_bytes(env, argv[5], &addrs, &alen) || alen < (size_t)b.count * ADDR_SLOT))
    BAD_ARG("addrs needs 28 bytes per slot");
  if (!arg_is_nullish(env, argv[6]) &&
      (!arg_bytes(env, argv[6], &segp, &slen) || slen < (size_t)b.count * 4))
    BAD_ARG("segs needs 4 bytes per slot");
  if (!arg_is_nullish(env, argv[7]) &&
      (!arg_bytes(env, argv[7], &stp, &tlen) || tlen < (size_t)b.count * 8))
    BAD_ARG("stamps needs two Uint32Array slots per datagram");
  struct mmsghdr *msgs = msgs_tls;
  struct iovec *iov = iov_tls;
  char(*ctrl)[CTRL_SLOT] = ctrl_tls;
  for (int i = 0; i < b.count; i++) {
    iov[i].iov_base = b.buf + (size_t)i * b.slot;
    iov[i].iov_len = (size_t)b.slot;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (addrs) {
      msgs[i].msg_hdr.msg_name = addrs + (size_t)i * ADDR_SLOT;
      msgs[i].msg_hdr.msg_namelen = ADDR_SLOT;
    }
    if (segp || stp) {
      msgs[i].msg_hdr.msg_control = ctrl[i];
      msgs[i].msg_hdr.msg_controllen = CTRL_SLOT;
    }
  }
  int n;
  do {
    n = recvmmsg(fd, msgs, (unsigned)b.count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, 0);
    return throw_errno(env, "recvmmsg", errno);
  }
  int32_t *segs = (int32_t *)segp;
  uint32_t *stamps = (uint32_t *)stp;
  for (int i = 0; i < n; i++) {
    b.lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -(int32_t)msgs[i].msg_len
                                                             : (int32_t)msgs[i].msg_len;
    if (segs) segs[i] = 0;
    if (stamps) stamps[2 * i] = stamps[2 * i + 1] = 0;
    if (!segs && !stamps) continue;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
         c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (segs && c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        segs[i] = v;
      } else if (stamps && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP) {
        struct timeval tv;
        memcpy(&tv, CMSG_DATA(c), sizeof tv);
        stamps[2 * i] = (uint32_t)tv.tv_sec;
        stamps[2 * i + 1] = (uint32_t)tv.tv_usec * 1000u;
      } else if (stamps && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        stamps[2 * i] = (uint32_t)ts.tv_sec;
        stamps[2 * i + 1] = (uint32_t)ts.tv_nsec;
      }
    }
  }
  return make_int(env, n);
}

static napi_value SendBatch(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  int fd, addr_len = 0;
  struct batch b;
  uint8_t *addrs = NULL;
  size_t alen = 0;
  if (!arg_int(env, argv[0], &fd) || !batch_args(env, argv, &b))
    BAD_ARG("sendBatch(fd, buf, slotSize, count<=1024, lengths, addrs?, addrLen?)");
  if (!arg_is_nullish(env, argv[5])) {
    if (!arg_bytes(env, argv[5], &addrs, &alen) || !arg_int(env, argv[6], &addr_len) ||
        addr_len <= 0 || addr_len > ADDR_SLOT || alen < (size_t)addr_len)
      BAD_ARG("addrs/addrLen invalid");
  }
  int shared_addr = addrs && alen < (size_t)b.count * (size_t)addr_len;
  struct mmsghdr *msgs = msgs_tls;
  struct iovec *iov = iov_tls;
  for (int i = 0; i < b.count; i++) {
    int32_t l = b.lengths[i];
    if (l < 0 || l > b.slot) BAD_ARG("length outside its slot");
    iov[i].iov_base = b.buf + (size_t)i * b.slot;
    iov[i].iov_len = (size_t)l;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (addrs) {
      msgs[i].msg_hdr.msg_name = addrs + (shared_addr ? 0 : (size_t)i * addr_len);
      msgs[i].msg_hdr.msg_namelen = (socklen_t)addr_len;
    }
  }
  int n;
  do {
    n = sendmmsg(fd, msgs, (unsigned)b.count, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, 0);
    return throw_errno(env, "sendmmsg", errno);
  }
  return make_int(env, n);
}

static napi_value ReadBatch(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int fd;
  struct batch b;
  if (!arg_int(env, argv[0], &fd) || !batch_args(env, argv, &b))
    BAD_ARG("readBatch(fd, buf, slotSize, count<=1024, lengths)");
  int i = 0;
  while (i < b.count) {
    ssize_t r = read(fd, b.buf + (size_t)i * b.slot, (size_t)b.slot);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (i > 0) break; /* report what we have; the error recurs next call */
      return throw_errno(env, "read", errno);
    }
    b.lengths[i++] = (int32_t)r;
  }
  return make_int(env, i);
}

static napi_value WriteBatch(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int fd;
  struct batch b;
  if (!arg_int(env, argv[0], &fd) || !batch_args(env, argv, &b))
    BAD_ARG("writeBatch(fd, buf, slotSize, count<=1024, lengths)");
  int i = 0;
  while (i < b.count) {
    int32_t l = b.lengths[i];
    if (l < 0 || l > b.slot) BAD_ARG("length outside its slot");
    ssize_t r = write(fd, b.buf + (size_t)i * b.slot, (size_t)l);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (i > 0) break;
      return throw_errno(env, "write", errno);
    }
    i++;
  }
  return make_int(env, i);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (!arg_int(env, argv[0], &fd) || fd < 0) BAD_ARG("close(fd)");
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value ErrnoName(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int e;
  if (!arg_int(env, argv[0], &e)) BAD_ARG("errnoName(number)");
  napi_value out;
  napi_create_string_utf8(env, errno_name(e < 0 ? -e : e), NAPI_AUTO_LENGTH, &out);
  return out;
}

/* --- event-loop polling -------------------------------------------------- */

struct poller {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_ref self; /* keeps the JS handle object alive while polling */
  /* Made once: a busy fd wakes thousands of times a second, and a context
   * (plus its name string) per wakeup is garbage for the JS heap. */
  napi_async_context ctx;
  int closed;
};

static void poller_release_ctx(struct poller *p) {
  if (p->ctx) napi_async_destroy(p->env, p->ctx);
  p->ctx = NULL;
}

static void poll_free(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *h, int status, int events) {
  struct poller *p = h->data;
  if (p->closed) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, args[2], result;
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int32(env, status, &args[0]);
  napi_create_int32(env, (events & UV_READABLE ? 1 : 0) | (events & UV_WRITABLE ? 2 : 0),
                    &args[1]);
  napi_status s = napi_make_callback(env, p->ctx, global, cb, 2, args, &result);
  if (s == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct poller *p = data;
  if (!p->closed) {
    p->closed = 1;
    uv_poll_stop(&p->handle);
    uv_close((uv_handle_t *)&p->handle, poll_free);
  }
}

static int to_uv_events(int e) {
  return (e & 1 ? UV_READABLE : 0) | (e & 2 ? UV_WRITABLE : 0);
}

static napi_value Poll(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd, events;
  napi_valuetype t;
  if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &events) ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function)
    BAD_ARG("poll(fd, events, callback)");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct poller *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "calloc", ENOMEM);
  p->env = env;
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    free(p);
    return throw_errno(env, "uv_poll_init", -r);
  }
  p->handle.data = p;
  napi_value resource_name;
  napi_create_string_utf8(env, "weft.poll", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &p->ctx);
  napi_create_reference(env, argv[2], 1, &p->callback);
  napi_value obj;
  napi_create_object(env, &obj);
  napi_wrap(env, obj, p, poller_finalize, NULL, NULL);
  napi_create_reference(env, obj, 1, &p->self);
  r = uv_poll_start(&p->handle, to_uv_events(events), on_poll);
  if (r < 0) return throw_errno(env, "uv_poll_start", -r);
  return obj;
}

static struct poller *unwrap_poller(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_unwrap(env, v, &p) != napi_ok) return NULL;
  return p;
}

static napi_value PollUpdate(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int events;
  struct poller *p = unwrap_poller(env, argv[0]);
  if (!p || !arg_int(env, argv[1], &events)) BAD_ARG("pollUpdate(handle, events)");
  if (p->closed) return NULL;
  int r = uv_poll_start(&p->handle, to_uv_events(events), on_poll);
  if (r < 0) return throw_errno(env, "uv_poll_start", -r);
  return NULL;
}

static napi_value PollClose(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct poller *p = unwrap_poller(env, argv[0]);
  if (!p) BAD_ARG("pollClose(handle)");
  if (p->closed) return NULL;
  p->closed = 1;
  uv_poll_stop(&p->handle);
  poller_release_ctx(p);
  napi_delete_reference(env, p->callback);
  napi_delete_reference(env, p->self);
  void *ignored;
  napi_remove_wrap(env, argv[0], &ignored);
  uv_close((uv_handle_t *)&p->handle, poll_free);
  return NULL;
}

/* --- module -------------------------------------------------------------- */

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
      FN("openSocket", OpenSocket),     FN("openTun", OpenTun),
      FN("ioctlInt", IoctlInt),         FN("ioctlIntRef", IoctlIntRef),
      FN("setsockoptInt", SetsockoptInt),
      FN("setsockoptBuf", SetsockoptBuf), FN("getsockoptBuf", GetsockoptBuf),
      FN("attachFilter", AttachFilter), FN("bind", Bind),
      FN("connect", Connect),           FN("getsockname", Getsockname),
      FN("sendTo", SendTo),             FN("recvFrom", RecvFrom),
      FN("recvBatch", RecvBatch),       FN("sendBatch", SendBatch),
      FN("readBatch", ReadBatch),       FN("writeBatch", WriteBatch),
      FN("close", Close),               FN("poll", Poll),
      FN("pollUpdate", PollUpdate),     FN("pollClose", PollClose),
      FN("errnoName", ErrnoName),
      FN("netnsAdd", NetnsAdd),         FN("netnsDelete", NetnsDelete),
      FN("bpfSkipPcapng", BpfSkipPcapng), FN("bpfSkipPcap", BpfSkipPcap),
      FN("bpfRun", BpfRun),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
