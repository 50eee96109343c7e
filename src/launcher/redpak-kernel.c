/*
 * redpak-kernel.node: kernel calls Node has no function for or makes slow, as a Node-API addon
 * (docs/transactions.md, "Kernel calls"). The two a package transaction needs, flock(2) and
 * syncfs(2), would otherwise each be a process (util-linux flock(1), coreutils sync), and starting
 * a process from Node forks all of Node: on a small machine that is 5 to 20 ms each, three times
 * per transaction. The caches' stamps (src/system/cache-file.ts) take stat(2) through it, without
 * the fs.Stats object Node builds. scripts/build-launcher.sh builds it where Node's headers are
 * installed; src/system/kernel-addon.ts loads it, and each user falls back to its other way where
 * it was not built.
 *
 *   tryLockExclusive(fd) -> boolean
 *     flock(fd, LOCK_EX | LOCK_NB): true when this open file description now holds the lock,
 *     false when another holds it. The lock goes with the description, as flock(1)'s does.
 *   syncFilesystem(fd)
 *     syncfs(fd): everything written to the filesystem holding fd is on disk when it returns.
 *   statInto(path, follow, out) -> boolean (below)
 *
 * The first two take a descriptor the caller opened (never a path: the caller decides how a path
 * is opened, e.g. without following links) and retry on EINTR. All throw an Error carrying `code`
 * (the errno name, as Node's own errors do) and `syscall` for any other failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* errno names for the failures these calls document; others are shown by number. */
static const char *errno_name(int error) {
  switch (error) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOLCK: return "ENOLCK";
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case ENOTDIR: return "ENOTDIR";
    case EACCES: return "EACCES";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return NULL;
  }
}

/* Throws Error("SYSCALL: strerror") with .code and .syscall; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, const char *syscall, int error) {
  char message[256], number[32];
  snprintf(message, sizeof message, "%s: %s", syscall, strerror(error));
  const char *name = errno_name(error);
  if (!name) {
    snprintf(number, sizeof number, "E%d", error);
    name = number;
  }
  napi_value text, code, call, exception;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &call) != napi_ok ||
      napi_create_error(env, code, text, &exception) != napi_ok ||
      napi_set_named_property(env, exception, "code", code) != napi_ok ||
      napi_set_named_property(env, exception, "syscall", call) != napi_ok) {
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  napi_throw(env, exception);
  return NULL;
}

/* The one argument, a descriptor (an integer >= 0); -1 with a TypeError thrown otherwise. */
static int descriptor_argument(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "expected one file descriptor");
    return -1;
  }
  return fd;
}

static napi_value try_lock_exclusive(napi_env env, napi_callback_info info) {
  int fd = descriptor_argument(env, info);
  if (fd < 0) return NULL;
  int result;
  do result = flock(fd, LOCK_EX | LOCK_NB);
  while (result < 0 && errno == EINTR);
  if (result < 0 && errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
  napi_value taken;
  if (napi_get_boolean(env, result == 0, &taken) != napi_ok) return NULL;
  return taken;
}

static napi_value sync_filesystem(napi_env env, napi_callback_info info) {
  int fd = descriptor_argument(env, info);
  if (fd < 0) return NULL;
  int result;
  do result = syncfs(fd);
  while (result < 0 && errno == EINTR);
  if (result < 0) return throw_errno(env, "syncfs", errno);
  napi_value nothing;
  if (napi_get_undefined(env, &nothing) != napi_ok) return NULL;
  return nothing;
}

/* How many numbers statInto writes. */
#define STAT_FIELDS 8

/*
 * statInto(path, follow, out) -> boolean
 *   stat(2) (follow) or lstat(2) of path into out, a Float64Array of at least STAT_FIELDS:
 *   mode, size, mtime seconds, mtime nanoseconds, ctime seconds, ctime nanoseconds, dev, ino (as
 *   Node's own fs.Stats holds them, doubles). false when nothing is there (ENOENT).
 */
static napi_value stat_into(napi_env env, napi_callback_info info) {
  size_t argc = 3, length;
  napi_value argv[3];
  napi_valuetype type;
  bool follow, is_typed;
  napi_typedarray_type array_type;
  size_t array_length;
  void *data;
  char path[PATH_MAX];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_typeof(env, argv[0], &type) != napi_ok || type != napi_string ||
      napi_get_value_bool(env, argv[1], &follow) != napi_ok ||
      napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &array_type, &array_length, &data, NULL, NULL) != napi_ok ||
      array_type != napi_float64_array || array_length < STAT_FIELDS) {
    napi_throw_type_error(env, NULL, "expected a path, a boolean and a Float64Array");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok) return NULL;
  if (length >= sizeof path) return throw_errno(env, "stat", ENAMETOOLONG);
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &length) != napi_ok) return NULL;
  /* A NUL inside the string would stat a shorter path than the one asked for. */
  if (strlen(path) != length) {
    napi_throw_type_error(env, NULL, "the path holds a NUL character");
    return NULL;
  }
  struct stat st;
  int result = follow ? stat(path, &st) : lstat(path, &st);
  napi_value found;
  if (result < 0 && errno != ENOENT) return throw_errno(env, follow ? "stat" : "lstat", errno);
  if (result == 0) {
    double *out = data;
    out[0] = st.st_mode;
    out[1] = (double)st.st_size;
    out[2] = (double)st.st_mtim.tv_sec;
    out[3] = (double)st.st_mtim.tv_nsec;
    out[4] = (double)st.st_ctim.tv_sec;
    out[5] = (double)st.st_ctim.tv_nsec;
    out[6] = (double)st.st_dev;
    out[7] = (double)st.st_ino;
  }
  if (napi_get_boolean(env, result == 0, &found) != napi_ok) return NULL;
  return found;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor calls[] = {
    {"tryLockExclusive", NULL, try_lock_exclusive, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syncFilesystem", NULL, sync_filesystem, NULL, NULL, NULL, napi_enumerable, NULL},
    {"statInto", NULL, stat_into, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof calls / sizeof calls[0], calls) != napi_ok) return NULL;
  return exports;
}
