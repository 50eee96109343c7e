/*
 * redwrap-launch: the fast path of `redwrap --redpath NODE [--admin] [--] PROGRAM...`.
 *
 * The full CLI (Node.js) compiles a family's launch plan and caches it in the caller's own cache
 * directory (/run/redpak/0 for root, $XDG_RUNTIME_DIR/redpak otherwise; never inside a node),
 * with everything the plan was computed from. This program checks that directory and the plan
 * file (owner, mode, no symlink, size), parses the plan with bounds on everything, requires the
 * full set of validation records and the isolation the plan itself declares, checks that nothing
 * the plan depends on changed and, only then, runs it: export directories, Execfd files, seccomp
 * filters, then bwrap — the one program it ever runs, its path fixed at build
 * (BWRAP_PATH). Anything else (another option, no plan, a stale or refused plan) is handed to the
 * full CLI, which recompiles. docs/launch-cache.md describes the format and every check.
 *
 * Who writes what is read here: the plan and its seccomp files are written by the full CLI run by
 * the same user (the checks below make sure of it); the command line is the caller's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BWRAP_PATH
#error "BWRAP_PATH must be given at build (scripts/build-launcher.sh)"
#endif

#define PLAN_VERSION "7" /* = FAST_PLAN_VERSION in src/wrap/fast-plan.ts */
#define LAUNCH_ERROR 10
#define MAX_PLAN_SIZE (1024 * 1024)
#define MAX_ITEMS 4096
/* Descriptors the launcher holds for itself live from here up, so that the numbers bwrap is
 * told about (3, 4, …) are free until they are assigned. */
#define PRIVATE_FDS 256

extern char **environ;

static char **g_argv;

/* ---- memory and failures ----------------------------------------------------------------- */

static void out_of_memory(void) {
  fputs("redwrap: error: out of memory\n", stderr);
  exit(LAUNCH_ERROR);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

static void *xrealloc(void *old, size_t n) {
  void *p = realloc(old, n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) out_of_memory();
  return p;
}

/* ---- fallback to the full CLI ------------------------------------------------------------ */

static void fallback(void) {
  char self[PATH_MAX], cli[PATH_MAX + 64];
  /* Diagnostics (tests, benchmarks): prove a launch was served here, not by the full CLI. */
  if (getenv("REDWRAP_NO_FALLBACK")) {
    fprintf(stderr, "redwrap: no fresh cached plan for this launch (REDWRAP_NO_FALLBACK is set)\n");
    exit(LAUNCH_ERROR);
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) { perror("redwrap: /proc/self/exe"); exit(LAUNCH_ERROR); }
  self[n] = 0;
  char *slash = strrchr(self, '/'); /* .../dist/bin/redwrap-launch */
  if (slash) *slash = 0;
  snprintf(cli, sizeof cli, "%s/../src/cli/start.cjs", self);
  int argc = 0;
  while (g_argv[argc]) argc++;
  char **args = xcalloc((size_t)argc + 4, sizeof *args);
  args[0] = "node";
  args[1] = cli;
  args[2] = "redwrap";
  for (int i = 1; i < argc; i++) args[i + 2] = g_argv[i];
  /* Node loads NODE_EXTRA_CA_CERTS eagerly at start-up: hand it over under another name, as
     bin/redwrap-dnf does; the CLI puts it back before it reads the environment. */
  const char *extra = getenv("NODE_EXTRA_CA_CERTS");
  if (extra && *extra) {
    setenv("REDPAK_EXTRA_CA_CERTS", extra, 1);
    unsetenv("NODE_EXTRA_CA_CERTS");
  }
  execvp("node", args);
  perror("redwrap: cannot run node for the full CLI");
  exit(LAUNCH_ERROR);
}

/* A cache directory or plan failing a trust or format check: said in one line, then ignored. */
static void refuse(const char *what, const char *why) {
  fprintf(stderr, "redwrap: ignoring cached plan %s: %s\n", what, why);
  fallback();
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "redwrap: error: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(LAUNCH_ERROR);
}

/* ---- arguments --------------------------------------------------------------------------- */

/* Lexical absolute path, as path.resolve() computes it: no symlink resolution. NULL if too long. */
static char *resolve_path(const char *given) {
  char cwd[PATH_MAX], joined[2 * PATH_MAX + 2];
  int w;
  if (given[0] == '/') w = snprintf(joined, sizeof joined, "%s", given);
  else {
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    w = snprintf(joined, sizeof joined, "%s/%s", cwd, given);
  }
  if (w < 0 || (size_t)w >= sizeof joined) return NULL;
  char *out = xcalloc(strlen(joined) + 2, 1);
  size_t len = 0;
  char *save = NULL;
  for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (!strcmp(part, ".")) continue;
    if (!strcmp(part, "..")) {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      out[len] = 0;
      continue;
    }
    out[len++] = '/';
    strcpy(out + len, part);
    len += strlen(part);
  }
  if (len == 0) strcpy(out, "/");
  if (strlen(out) >= PATH_MAX) { free(out); return NULL; }
  return out;
}

/*
 * redwrap's command line, the subset served here (docs/launch-cache.md, "Command line"): the
 * grammar is the full CLI's (src/wrap/redwrap-argv.ts): options first, `--` or the first word
 * that is not an option starts the program, and nothing after it is read. Only --redpath (and
 * its aliases) and --admin are served; any other option, a boolean given a value, a missing
 * value or no program: handed to the full CLI, which runs it or gives the usage error.
 */
static int parse_command_line(int argc, char **argv, const char **redpath, int *admin) {
  int i = 1;
  *redpath = NULL;
  *admin = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (a[0] != '-' || a[1] == 0) break; /* the program ("-" alone is a word too) */
    if (!strcmp(a, "--redpath") || !strcmp(a, "-r") || !strcmp(a, "--rpath") || !strcmp(a, "--rp")) {
      if (++i >= argc) fallback();
      *redpath = argv[i];
    } else if (!strncmp(a, "--redpath=", 10)) *redpath = a + 10;
    else if (!strncmp(a, "--rpath=", 8)) *redpath = a + 8;
    else if (!strncmp(a, "--rp=", 5)) *redpath = a + 5;
    else if (!strcmp(a, "--admin") || !strcmp(a, "-a")) *admin = 1;
    else fallback(); /* an option only the full CLI serves (or a usage error it reports) */
  }
  if (!*redpath || !**redpath || i >= argc) fallback();
  return i;
}

/* ---- the cache directory ----------------------------------------------------------------- */

/* Opens the cache directory, checking every directory on the way (system/caller-cache.ts has the same
 * rules). Returns its fd; -1 when there is none yet (first launch); refuses when untrusted. */
static int open_cache_dir(char *path_out, size_t size) {
  uid_t euid = geteuid();
  const char *runtime = getenv("XDG_RUNTIME_DIR");
  int w;
  if (euid == 0) w = snprintf(path_out, size, "/run/redpak/0");
  else if (runtime && runtime[0] == '/') w = snprintf(path_out, size, "%s/redpak", runtime);
  else return -1;
  if (w < 0 || (size_t)w >= size) return -1;
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path_out);
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  char *save = NULL, why[PATH_MAX + 128];
  const char *parent = "/";
  for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    struct stat st;
    if (fstat(fd, &st) < 0) { close(fd); return -1; }
    if (st.st_uid != 0 && st.st_uid != euid) {
      snprintf(why, sizeof why, "%s belongs to uid %u", parent, (unsigned)st.st_uid);
      close(fd);
      refuse(path_out, why);
    }
    if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
      snprintf(why, sizeof why, "%s is writable by others", parent);
      close(fd);
      refuse(path_out, why);
    }
    int next = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(fd);
    if (next < 0) {
      if (saved == ENOENT) return -1;
      snprintf(why, sizeof why, "cannot open %s: %s", part, strerror(saved));
      refuse(path_out, why);
    }
    fd = next;
    parent = part;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) { close(fd); return -1; }
  if (st.st_uid != euid || (st.st_mode & 077)) {
    close(fd);
    refuse(path_out, "the cache directory must be the caller's, mode 0700");
  }
  return fd;
}

/* Opens NAME in the cache directory: a regular file of the caller's, writable by nobody else, not
 * a symlink, at most MAX_PLAN_SIZE bytes. -1 with errno ENOENT when missing; refuses otherwise. */
static int open_cached_file(int dirfd, const char *name, struct stat *st) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return -1;
    refuse(name, strerror(errno));
  }
  if (fstat(fd, st) < 0) refuse(name, strerror(errno));
  if (!S_ISREG(st->st_mode)) refuse(name, "not a regular file");
  if (st->st_uid != geteuid()) refuse(name, "not owned by the caller");
  if (st->st_mode & 022) refuse(name, "writable by others");
  if (st->st_size > MAX_PLAN_SIZE) refuse(name, "larger than the plan size limit");
  return fd;
}

struct reader { char *data; size_t size, pos; };

static void read_plan(int fd, const char *name, size_t expected, struct reader *r) {
  r->data = xmalloc(expected + 1);
  r->size = 0;
  r->pos = 0;
  while (r->size < expected) {
    ssize_t n = read(fd, r->data + r->size, expected - r->size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r->size += (size_t)n;
  }
  close(fd);
  if (r->size != expected) refuse(name, "changed while read");
  r->data[r->size] = 0;
}

/* ---- plan reading ------------------------------------------------------------------------ */

static const char *g_plan_name = "";

/* A plan that is not what the full CLI writes: never run, said in one line. */
static void invalid(const char *why, const char *detail) {
  char line[512];
  snprintf(line, sizeof line, "%s%s%.200s", why, detail ? ": " : "", detail ? detail : "");
  refuse(g_plan_name, line);
}

/* Next field `<length>:<bytes>`; NULL at the end of the data or when malformed. The length has
 * at most 7 digits and is checked against what is left, without overflow. */
static char *field(struct reader *r, size_t *length) {
  size_t n = 0;
  int digits = 0;
  if (r->pos >= r->size) return NULL;
  while (r->pos < r->size && r->data[r->pos] != ':') {
    char c = r->data[r->pos];
    if (c < '0' || c > '9' || ++digits > 7) return NULL;
    n = n * 10 + (size_t)(c - '0');
    r->pos++;
  }
  if (digits == 0 || r->pos >= r->size) return NULL;
  r->pos++;
  if (n > r->size - r->pos) return NULL;
  char *value = xmalloc(n + 1);
  memcpy(value, r->data + r->pos, n);
  value[n] = 0;
  r->pos += n;
  if (length) *length = n;
  return value;
}

static int parse_ull(const char *s, unsigned long long *out) {
  unsigned long long v = 0;
  if (!*s || strlen(s) > 20) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    unsigned d = (unsigned)(*s - '0');
    if (v > (ULLONG_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

static int parse_flag(const char *s, int *out) {
  if (!strcmp(s, "0")) *out = 0;
  else if (!strcmp(s, "1")) *out = 1;
  else return 0;
  return 1;
}

static int parse_fd(const char *s, int *fd) {
  unsigned long long v;
  if (!parse_ull(s, &v) || v < 3 || v >= PRIVATE_FDS) return 0;
  *fd = (int)v;
  return 1;
}

static int parse_id(const char *s, unsigned *id) {
  unsigned long long v;
  if (!parse_ull(s, &v) || v > UINT32_MAX - 1) return 0;
  *id = (unsigned)v;
  return 1;
}

/* ---- plan content ------------------------------------------------------------------------ */

struct item { char *a, *b, *c; };
struct fd_item { int fd; int is_file; char *value; int opened; };
struct plan {
  struct item mkdirs[MAX_ITEMS]; int n_mkdirs;
  struct fd_item fds[MAX_ITEMS]; int n_fds;
  char *args[MAX_ITEMS]; int arg_is_execfd[MAX_ITEMS]; int n_args;
  char *files[MAX_ITEMS]; int n_files;            /* `file` records: paths */
  char *absents[MAX_ITEMS]; int n_absents;
  char *ns[16]; int n_ns;
  struct item caps[128]; int n_caps;              /* a = add|drop, b = name */
  int umask_set; mode_t umask_value;
  int inherit_env;
  int seen_v, seen_redpath, seen_realpath, seen_node, seen_admin, seen_ids, seen_inherit;
};

static int stat_kind_matches(const char *path, const char *kind) {
  struct stat st;
  int exists = stat(path, &st) == 0;
  if (!strcmp(kind, "missing")) return !exists;
  if (!strcmp(kind, "dir")) return exists && S_ISDIR(st.st_mode);
  if (!strcmp(kind, "file")) return exists && !S_ISDIR(st.st_mode);
  return !exists || S_ISDIR(st.st_mode); /* mkdir: created by the first launch */
}

static int valid_probe_kind(const char *kind) {
  return !strcmp(kind, "missing") || !strcmp(kind, "dir") || !strcmp(kind, "file") || !strcmp(kind, "mkdir");
}

static const char *NAMESPACE_FLAGS[] = {"--unshare-user", "--unshare-cgroup", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--share-net", NULL};

static int in_list(const char *s, const char **list) {
  for (int i = 0; list[i]; i++)
    if (!strcmp(s, list[i])) return 1;
  return 0;
}

static int has(char **list, int n, const char *path) {
  for (int i = 0; i < n; i++)
    if (!strcmp(list[i], path)) return 1;
  return 0;
}

#define STALE 1

/*
 * Reads the plan. Returns 0 when it is complete and fresh for this launch, STALE when something it
 * depends on changed (the full CLI recompiles); a malformed or incomplete plan is refused.
 */
static int load_plan(struct reader *r, struct plan *p, const char *redpath, const char *real, const struct stat *node, int admin) {
  char *kind;
  size_t len;
  int stale = 0;
  while ((kind = field(r, &len))) {
    if (strlen(kind) != len) invalid("malformed record kind", NULL);
#define F(x) char *x = field(r, &len); if (!x) invalid("truncated record", kind); if (strlen(x) != len) invalid("NUL byte in a field of", kind);
#define ABSOLUTE(x) if ((x)[0] != '/') invalid("not an absolute path in", kind);
    if (!strcmp(kind, "v")) { F(v); p->seen_v = 1; if (strcmp(v, PLAN_VERSION)) return STALE; }
    else if (!strcmp(kind, "redpath")) { F(v); p->seen_redpath = 1; if (strcmp(v, redpath)) stale = 1; }
    else if (!strcmp(kind, "realpath")) { F(v); p->seen_realpath = 1; if (strcmp(v, real)) stale = 1; }
    else if (!strcmp(kind, "node")) {
      F(dev); F(ino);
      unsigned long long d, n;
      if (!parse_ull(dev, &d) || !parse_ull(ino, &n)) invalid("bad number in", kind);
      p->seen_node = 1;
      if (d != (unsigned long long)node->st_dev || n != (unsigned long long)node->st_ino) stale = 1;
    }
    else if (!strcmp(kind, "admin")) { F(v); int a; if (!parse_flag(v, &a)) invalid("bad flag in", kind); p->seen_admin = 1; if (a != admin) stale = 1; }
    else if (!strcmp(kind, "ids")) {
      F(u); F(g);
      unsigned uid, gid;
      if (!parse_id(u, &uid) || !parse_id(g, &gid)) invalid("bad id in", kind);
      p->seen_ids = 1;
      if (uid != getuid() || gid != getgid()) stale = 1;
    }
    else if (!strcmp(kind, "file")) {
      F(path); F(size); F(msec); F(mnsec); F(csec); F(cnsec); F(ino); F(dev);
      ABSOLUTE(path);
      unsigned long long v[6];
      if (!parse_ull(size, &v[0]) || !parse_ull(msec, &v[1]) || !parse_ull(mnsec, &v[2]) || !parse_ull(csec, &v[3]) ||
          !parse_ull(cnsec, &v[4]) || !parse_ull(ino, &v[5])) invalid("bad number in", kind);
      unsigned long long d;
      if (!parse_ull(dev, &d)) invalid("bad number in", kind);
      if (p->n_files >= MAX_ITEMS) invalid("too many records", kind);
      p->files[p->n_files++] = path;
      struct stat st;
      if (stat(path, &st) < 0 || (unsigned long long)st.st_size != v[0] || (unsigned long long)st.st_mtim.tv_sec != v[1] ||
          (unsigned long long)st.st_mtim.tv_nsec != v[2] || (unsigned long long)st.st_ctim.tv_sec != v[3] ||
          (unsigned long long)st.st_ctim.tv_nsec != v[4] || (unsigned long long)st.st_ino != v[5] || (unsigned long long)st.st_dev != d)
        stale = 1;
    }
    else if (!strcmp(kind, "absent")) {
      F(path); ABSOLUTE(path);
      if (p->n_absents >= MAX_ITEMS) invalid("too many records", kind);
      p->absents[p->n_absents++] = path;
      struct stat st;
      if (lstat(path, &st) == 0) stale = 1;
    }
    else if (!strcmp(kind, "probe")) { F(path); F(k); ABSOLUTE(path); if (!valid_probe_kind(k)) invalid("bad probe kind", k); if (!stat_kind_matches(path, k)) stale = 1; }
    else if (!strcmp(kind, "env")) {
      F(name); F(set); F(value);
      int is_set;
      if (!parse_flag(set, &is_set)) invalid("bad flag in", kind);
      const char *now = getenv(name);
      if ((now != NULL) != is_set || (now && strcmp(now, value))) stale = 1;
    }
    else if (!strcmp(kind, "selfcg")) {
      F(expected);
      int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return STALE;
      char buf[8192];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n < 0) return STALE;
      buf[n] = 0;
      if (strcmp(buf, expected)) stale = 1;
    }
    else if (!strcmp(kind, "ns")) {
      F(flag);
      if (!in_list(flag, NAMESPACE_FLAGS)) invalid("unknown namespace flag", flag);
      if (p->n_ns >= 16) invalid("too many records", kind);
      p->ns[p->n_ns++] = flag;
    }
    else if (!strcmp(kind, "cap")) {
      F(op); F(name);
      if ((strcmp(op, "add") && strcmp(op, "drop")) || !*name) invalid("bad capability record", op);
      if (p->n_caps >= 128) invalid("too many records", kind);
      p->caps[p->n_caps++] = (struct item){op, name, NULL};
    }
    else if (!strcmp(kind, "umask")) {
      F(v);
      if (!*v || strlen(v) > 4 || strspn(v, "01234567") != strlen(v)) invalid("bad umask", v);
      p->umask_set = 1;
      p->umask_value = (mode_t)strtol(v, NULL, 8) & 07777;
    }
    else if (!strcmp(kind, "inherit-env")) { F(v); if (!parse_flag(v, &p->inherit_env)) invalid("bad flag in", kind); p->seen_inherit = 1; }
    else if (!strcmp(kind, "mkdir")) {
      F(path); F(u); F(g); ABSOLUTE(path);
      unsigned id;
      if (!parse_id(u, &id) || !parse_id(g, &id)) invalid("bad id in", kind);
      if (p->n_mkdirs >= MAX_ITEMS) invalid("too many records", kind);
      p->mkdirs[p->n_mkdirs++] = (struct item){path, u, g};
    }
    else if (!strcmp(kind, "execfd") || !strcmp(kind, "fdfile")) {
      F(fd); F(v);
      int n;
      if (!parse_fd(fd, &n)) invalid("bad descriptor in", kind);
      int is_file = !strcmp(kind, "fdfile");
      if (is_file && (!*v || v[0] == '.' || strchr(v, '/'))) invalid("fdfile is not a file name of the cache", v);
      for (int k = 0; k < p->n_fds; k++)
        if (p->fds[k].fd == n) invalid("descriptor given twice", fd);
      if (p->n_fds >= MAX_ITEMS) invalid("too many records", kind);
      p->fds[p->n_fds++] = (struct fd_item){n, is_file, v, -1};
    }
    else if (!strcmp(kind, "arg") || !strcmp(kind, "arg-execfd")) {
      F(v);
      if (p->n_args >= MAX_ITEMS) invalid("too many records", kind);
      p->arg_is_execfd[p->n_args] = !strcmp(kind, "arg-execfd");
      p->args[p->n_args++] = v;
    }
    else if (!strcmp(kind, "end")) {
      if (r->pos != r->size) invalid("data after the end record", NULL);
      return stale ? STALE : 0;
    }
    else invalid("unknown record", kind);
#undef F
#undef ABSOLUTE
  }
  invalid("no end record (truncated or malformed)", NULL);
  return STALE;
}

/* ---- completeness and isolation ---------------------------------------------------------- */

static char *join2(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *out = xmalloc(n);
  snprintf(out, n, "%s/%s", strcmp(dir, "/") ? dir : "", name);
  return out;
}

/* Every directory from the node up to `/` (excluded) is accounted for: a node with its status
 * and config stamped (admin config or its absence in admin mode), or a directory whose status
 * file must stay absent. The node itself must be a node. */
static void check_complete(struct plan *p, const char *redpath, int admin) {
  if (!p->seen_v || !p->seen_redpath || !p->seen_realpath || !p->seen_node || !p->seen_admin || !p->seen_ids || !p->seen_inherit)
    invalid("a validation record is missing (v, redpath, realpath, node, admin, ids, inherit-env)", NULL);
  char *dir = xstrdup(redpath);
  int depth = 0;
  while (strcmp(dir, "/")) {
    char *status = join2(dir, ".rednode.yaml");
    if (has(p->files, p->n_files, status)) {
      char *normal = join2(dir, "etc/redpak.yaml"), *legacy = join2(dir, "etc/redpack.yaml");
      if (!has(p->files, p->n_files, normal) && !(has(p->files, p->n_files, legacy) && has(p->absents, p->n_absents, normal)))
        invalid("no file record for the config of", dir);
      if (admin) {
        char *a = join2(dir, "etc/redpak-admin.yaml"), *la = join2(dir, "etc/redpack-admin.yaml");
        int stamped = has(p->files, p->n_files, a) || (has(p->files, p->n_files, la) && has(p->absents, p->n_absents, a));
        int none = has(p->absents, p->n_absents, a) && has(p->absents, p->n_absents, la);
        if (!stamped && !none) invalid("no record for the admin config of", dir);
      }
    } else if (depth == 0) invalid("no file record for the status of the node", dir);
    else if (!has(p->absents, p->n_absents, status)) invalid("no record for the status file of", dir);
    char *slash = strrchr(dir, '/');
    if (slash == dir) strcpy(dir, "/");
    else *slash = 0;
    depth++;
  }
}

/* bwrap's options a plan may hold, by number of values; any other is refused. */
static int bwrap_arity(const char *opt) {
  static const char *zero[] = {"--unshare-user", "--unshare-cgroup", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                               "--share-net", "--die-with-parent", "--new-session", "--clearenv", NULL};
  static const char *one[] = {"--proc", "--dev", "--tmpfs", "--dir", "--mqueue", "--lock-file", "--unsetenv", "--cap-add", "--cap-drop",
                              "--hostname", "--chdir", "--add-seccomp-fd", "--remount-ro", NULL};
  static const char *two[] = {"--bind", "--ro-bind", "--bind-try", "--ro-bind-try", "--symlink", "--file", "--ro-bind-data", "--bind-data",
                              "--setenv", NULL};
  if (in_list(opt, zero)) return 0;
  if (in_list(opt, one)) return 1;
  if (in_list(opt, two)) return 2;
  return -1;
}

static int is_root_path(const char *path) { return path[0] == '/' && strspn(path, "/.") == strlen(path); }

/*
 * What "isolated" means for a plan (docs/launch-cache.md): bwrap's arguments parse with the
 * options above only; they set up a root (at least one mount) that is not the host's `/` bound at
 * `/`; every namespace flag and capability the plan declares (ns/cap records, derived from the
 * merged config) is there as an option, and no namespace is shared nor capability added that it
 * does not declare; the seccomp descriptors given to bwrap are exactly the plan's filter files.
 */
/* The plan starts with the mark of this node (src/wrap/sandbox-marker.ts), by which redwrap ps
 * and stop find a sandbox's node: a plan marked for another node is refused. */
static void check_mark(struct plan *p, const char *real, int admin) {
  const char *normal[] = {"--setenv", "REDWRAP_NODE", real, "--unsetenv", "REDWRAP_NODE"};
  const char *as_admin[] = {"--setenv", "REDWRAP_NODE", real, "--setenv", "REDWRAP_ADMIN", "1", "--unsetenv", "REDWRAP_NODE", "--unsetenv", "REDWRAP_ADMIN"};
  const char **mark = admin ? as_admin : normal;
  int n = admin ? 10 : 5;
  if (p->n_args < n) invalid("the plan does not start with the node's mark", NULL);
  for (int k = 0; k < n; k++)
    if (p->arg_is_execfd[k] || strcmp(p->args[k], mark[k])) invalid("the plan does not start with the node's mark", p->args[k]);
}

static void check_isolation(struct plan *p) {
  static int is_option[MAX_ITEMS];
  int mounts = 0;
  for (int k = 0; k < p->n_args;) {
    const char *opt = p->args[k];
    if (p->arg_is_execfd[k]) invalid("a computed value where a bwrap option belongs", NULL);
    int n = bwrap_arity(opt);
    if (n < 0) invalid("bwrap option not allowed in a plan", opt);
    if (k + n >= p->n_args) invalid("bwrap option without its value", opt);
    for (int j = 1; j <= n; j++)
      if (p->arg_is_execfd[k + j] && !(j == 2 && !strcmp(opt, "--setenv"))) invalid("a computed value outside --setenv", opt);
    int bind = !strcmp(opt, "--bind") || !strcmp(opt, "--ro-bind") || !strcmp(opt, "--bind-try") || !strcmp(opt, "--ro-bind-try");
    if (bind && is_root_path(p->args[k + 2])) invalid("binds a host directory over the sandbox's root", p->args[k + 1]);
    if (bind || !strcmp(opt, "--symlink") || !strcmp(opt, "--proc") || !strcmp(opt, "--dev") || !strcmp(opt, "--tmpfs") || !strcmp(opt, "--dir") ||
        !strcmp(opt, "--file") || !strcmp(opt, "--ro-bind-data") || !strcmp(opt, "--bind-data") || !strcmp(opt, "--mqueue"))
      mounts++;
    is_option[k] = 1;
    for (int j = 1; j <= n; j++) is_option[k + j] = 0;
    k += n + 1;
  }
  if (!mounts) invalid("no root set-up (bwrap's arguments mount nothing)", NULL);
  for (int i = 0; i < p->n_ns; i++) {
    int found = 0;
    for (int k = 0; k < p->n_args && !found; k++) found = is_option[k] && !strcmp(p->args[k], p->ns[i]);
    if (!found) invalid("declared namespace flag missing from bwrap's arguments", p->ns[i]);
  }
  for (int k = 0; k < p->n_args; k++) {
    if (!is_option[k]) continue;
    if (in_list(p->args[k], NAMESPACE_FLAGS) && !has(p->ns, p->n_ns, p->args[k])) invalid("undeclared namespace flag", p->args[k]);
    if (!strcmp(p->args[k], "--cap-add")) {
      int declared = 0;
      for (int i = 0; i < p->n_caps && !declared; i++) declared = !strcmp(p->caps[i].a, "add") && !strcmp(p->caps[i].b, p->args[k + 1]);
      if (!declared) invalid("undeclared capability added", p->args[k + 1]);
    }
  }
  for (int i = 0; i < p->n_caps; i++) {
    const char *want = !strcmp(p->caps[i].a, "add") ? "--cap-add" : "--cap-drop";
    int found = 0;
    for (int k = 0; k + 1 < p->n_args && !found; k++) found = is_option[k] && !strcmp(p->args[k], want) && !strcmp(p->args[k + 1], p->caps[i].b);
    if (!found) invalid("declared capability missing from bwrap's arguments", p->caps[i].b);
  }
  int seccomp_args = 0;
  for (int k = 0; k + 1 < p->n_args; k++) {
    if (!is_option[k] || strcmp(p->args[k], "--add-seccomp-fd")) continue;
    seccomp_args++;
    int fd, found = 0;
    if (!parse_fd(p->args[k + 1], &fd)) invalid("bad seccomp descriptor", p->args[k + 1]);
    for (int i = 0; i < p->n_fds && !found; i++) found = p->fds[i].is_file && p->fds[i].fd == fd;
    if (!found) invalid("seccomp descriptor without its filter file", p->args[k + 1]);
  }
  int files = 0;
  for (int i = 0; i < p->n_fds; i++) files += p->fds[i].is_file;
  if (files != seccomp_args) invalid("a seccomp filter file is not given to bwrap", NULL);
}
/* ---- effects ----------------------------------------------------------------------------- */

/* A config's command (Execfd) runs in the sandbox sandboxArgv builds in src/system/host-facts.ts,
 * argument for argument (test/wrap/execfd-sandbox.test.ts runs one script on both launch paths
 * and compares what it sees): the script comes from a node, which is untrusted. The host's /usr
 * read-only, a few /etc files, an empty /tmp, no network, no capability, its own session, PATH
 * alone; killed after COMMAND_TIMEOUT_MS, refused past COMMAND_OUTPUT_LIMIT bytes. */
#define COMMAND_TIMEOUT_MS 10000
#define COMMAND_OUTPUT_LIMIT (1 << 20)
static const char *const SANDBOX_TOPS[] = {"bin", "sbin", "lib", "lib32", "lib64"};
static const char *const SANDBOX_ETC[] = {"passwd", "group", "nsswitch.conf", "ld.so.cache", "localtime", "hostname", "os-release"};

static void exec_sandboxed_script(const char *script) {
  static char links[sizeof SANDBOX_TOPS / sizeof *SANDBOX_TOPS][PATH_MAX];
  static char tops[sizeof SANDBOX_TOPS / sizeof *SANDBOX_TOPS][16];
  static char etc[sizeof SANDBOX_ETC / sizeof *SANDBOX_ETC][64];
  const char *argv[96];
  int n = 0;
  const char *head[] = {BWRAP_PATH, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
                        "--setenv", "PATH", "/usr/bin:/bin", "--ro-bind", "/usr", "/usr"};
  for (size_t i = 0; i < sizeof head / sizeof *head; i++) argv[n++] = head[i];
  for (size_t i = 0; i < sizeof SANDBOX_TOPS / sizeof *SANDBOX_TOPS; i++) {
    struct stat st;
    snprintf(tops[i], sizeof tops[i], "/%s", SANDBOX_TOPS[i]);
    if (lstat(tops[i], &st) < 0) continue;
    if (S_ISLNK(st.st_mode)) {
      ssize_t len = readlink(tops[i], links[i], sizeof links[i] - 1);
      if (len < 0) continue;
      links[i][len] = 0;
      argv[n++] = "--symlink"; argv[n++] = links[i]; argv[n++] = tops[i];
    } else if (S_ISDIR(st.st_mode)) {
      argv[n++] = "--ro-bind"; argv[n++] = tops[i]; argv[n++] = tops[i];
    }
  }
  for (size_t i = 0; i < sizeof SANDBOX_ETC / sizeof *SANDBOX_ETC; i++) {
    snprintf(etc[i], sizeof etc[i], "/etc/%s", SANDBOX_ETC[i]);
    argv[n++] = "--ro-bind-try"; argv[n++] = etc[i]; argv[n++] = etc[i];
  }
  const char *tail[] = {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/", "/usr/bin/bash", "-r", "-c", script};
  for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) argv[n++] = tail[i];
  argv[n] = NULL;
  /* The output cap: a write past it fails (EFBIG) in the script, which then fails the launch. */
  struct rlimit limit = {COMMAND_OUTPUT_LIMIT, COMMAND_OUTPUT_LIMIT};
  setrlimit(RLIMIT_FSIZE, &limit);
  signal(SIGXFSZ, SIG_IGN);
  char *const no_env[] = {NULL};
  execve(BWRAP_PATH, (char *const *)argv, no_env);
  _exit(127);
}

/* Starts a config's command with stdout into a memfd; `finish_script` waits and rewinds it.
 * All scripts of a launch are started before the first is waited for: they run side by side. */
struct script_run { pid_t pid; int fd; const char *script; struct timespec started; };

static struct script_run start_script(const char *script) {
  int memfd = memfd_create("redwrap-execfd", MFD_CLOEXEC);
  if (memfd < 0) fail("memfd_create", strerror(errno));
  struct script_run run = {0, fcntl(memfd, F_DUPFD_CLOEXEC, PRIVATE_FDS), script, {0, 0}};
  close(memfd);
  if (run.fd < 0) fail("fcntl", strerror(errno));
  clock_gettime(CLOCK_MONOTONIC, &run.started);
  run.pid = fork();
  if (run.pid < 0) fail("fork", strerror(errno));
  if (run.pid == 0) {
    dup2(run.fd, 1);
    exec_sandboxed_script(script);
  }
  return run;
}

static long elapsed_ms(struct timespec since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since.tv_sec) * 1000 + (now.tv_nsec - since.tv_nsec) / 1000000;
}

static int finish_script(struct script_run run) {
  int status;
  int pidfd = (int)syscall(SYS_pidfd_open, run.pid, 0);
  for (;;) {
    pid_t got = waitpid(run.pid, &status, pidfd >= 0 ? WNOHANG : 0);
    if (got == run.pid) break;
    if (got < 0 && errno != EINTR) fail("waitpid", strerror(errno));
    long left = COMMAND_TIMEOUT_MS - elapsed_ms(run.started);
    if (left <= 0) {
      kill(run.pid, SIGKILL);
      while (waitpid(run.pid, &status, 0) < 0 && errno == EINTR) {}
      fail("command did not finish in time: killed", run.script);
    }
    if (got == 0) {
      struct pollfd ready = {pidfd, POLLIN, 0};
      poll(&ready, 1, (int)left);
    }
  }
  if (pidfd >= 0) close(pidfd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("command failed", run.script);
  lseek(run.fd, 0, SEEK_SET);
  return run.fd;
}

static char *slurp_fd(int fd) {
  size_t size = 0, cap = 256;
  char *buf = xmalloc(cap);
  ssize_t n;
  while ((n = read(fd, buf + size, cap - size - 1)) > 0) {
    size += (size_t)n;
    if (size + 1 >= cap) {
      if (cap > 64 * 1024 * 1024) fail("output too large", NULL);
      buf = xrealloc(buf, cap *= 2);
    }
  }
  buf[size] = 0;
  return buf;
}

/* Whether /proc/sys forbids unprivileged user namespaces (src/system/userns.ts has the list): then
 * the full CLI runs its trial and says which setting to change, instead of bwrap's own error. */
static int proc_value_is(const char *file, const char *value) {
  char buf[32];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  size_t len = strlen(value);
  return !strncmp(buf, value, len) && (buf[len] == '\n' || buf[len] == 0);
}

static int userns_forbidden(void) {
  struct stat st;
  if (geteuid() == 0) return 0;
  if (stat(BWRAP_PATH, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID)) return 0;
  return proc_value_is("/proc/sys/kernel/unprivileged_userns_clone", "0") ||
         proc_value_is("/proc/sys/user/max_user_namespaces", "0") ||
         proc_value_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1");
}

static void make_dirs(const char *path, uid_t uid, gid_t gid) {
  char *copy = xstrdup(path);
  for (char *p = copy + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char saved = *p;
      *p = 0;
      if (mkdir(copy, 0775) == 0) {
        if (chown(copy, uid, gid) < 0) fprintf(stderr, "warning: cannot give %s to %u:%u: %s\n", copy, uid, gid, strerror(errno));
      } else if (errno != EEXIST) {
        /* The full CLI names the export and the node that declare it: hand over. */
        fallback();
      }
      *p = saved;
      if (!saved) break;
    }
  }
  free(copy);
}

int main(int argc, char **argv) {
  g_argv = argv;
  if (getenv("REDWRAP_NO_CACHE")) fallback();
  const char *redpath;
  int admin;
  int i = parse_command_line(argc, argv, &redpath, &admin);
  char *target = resolve_path(redpath);
  if (!target) fallback();
  struct stat node;
  char real[PATH_MAX];
  if (stat(target, &node) < 0 || !S_ISDIR(node.st_mode) || !realpath(target, real)) fallback(); /* the CLI says why */

  char cache_dir[PATH_MAX];
  int dirfd = open_cache_dir(cache_dir, sizeof cache_dir);
  if (dirfd < 0) fallback();
  char plan_name[128];
  snprintf(plan_name, sizeof plan_name, "node-%llu-%llu-%s-%u.plan", (unsigned long long)node.st_dev, (unsigned long long)node.st_ino,
           admin ? "admin" : "normal", (unsigned)getuid());
  g_plan_name = plan_name;
  struct stat plan_st;
  int plan_fd = open_cached_file(dirfd, plan_name, &plan_st);
  if (plan_fd < 0) fallback();
  struct reader reader;
  read_plan(plan_fd, plan_name, (size_t)plan_st.st_size, &reader);
  static struct plan plan;
  if (load_plan(&reader, &plan, target, real, &node, admin) == STALE) fallback();
  check_complete(&plan, target, admin);
  check_isolation(&plan);
  check_mark(&plan, real, admin);
  for (int k = 0; k < plan.n_fds; k++) {
    if (!plan.fds[k].is_file) continue;
    struct stat st;
    int fd = open_cached_file(dirfd, plan.fds[k].value, &st);
    if (fd < 0) fallback(); /* written with the plan: a partial cache, recompiled */
    plan.fds[k].opened = fd >= PRIVATE_FDS ? fd : fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FDS);
    if (plan.fds[k].opened != fd) close(fd);
    if (plan.fds[k].opened < 0) fail("fcntl", strerror(errno));
  }
  close(dirfd);

  /* Fresh and checked: carry the plan out (a plan with cgroups is never cached: fast-plan.ts). */
  if (userns_forbidden()) fallback();
  for (int k = 0; k < plan.n_mkdirs; k++) make_dirs(plan.mkdirs[k].a, (uid_t)atol(plan.mkdirs[k].b), (gid_t)atol(plan.mkdirs[k].c));

  static struct script_run fd_runs[MAX_ITEMS], arg_runs[MAX_ITEMS];
  for (int k = 0; k < plan.n_fds; k++)
    if (!plan.fds[k].is_file) fd_runs[k] = start_script(plan.fds[k].value);
  for (int k = 0; k < plan.n_args; k++)
    if (plan.arg_is_execfd[k]) arg_runs[k] = start_script(plan.args[k]);

  static int sources[MAX_ITEMS];
  for (int k = 0; k < plan.n_fds; k++) {
    if (plan.fds[k].is_file) { sources[k] = plan.fds[k].opened; continue; }
    int fd = finish_script(fd_runs[k]);
    sources[k] = fd >= PRIVATE_FDS ? fd : fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FDS);
    if (sources[k] != fd) close(fd);
    if (sources[k] < 0) fail("fcntl", strerror(errno));
  }
  for (int k = 0; k < plan.n_fds; k++) {
    if (dup2(sources[k], plan.fds[k].fd) < 0) fail("dup2", strerror(errno));
    close(sources[k]);
  }

  /* BWRAP_PATH, the plan's bwrap arguments, `--`, the program: a program named like an option
   * is still the program. */
  size_t n_command = (size_t)(argc - i);
  char **args = xcalloc((size_t)plan.n_args + n_command + 3, sizeof *args);
  args[0] = BWRAP_PATH;
  for (int k = 0; k < plan.n_args; k++) {
    if (plan.arg_is_execfd[k]) {
      int fd = finish_script(arg_runs[k]);
      args[k + 1] = slurp_fd(fd);
      close(fd);
    } else args[k + 1] = plan.args[k];
  }
  args[plan.n_args + 1] = "--";
  for (size_t k = 0; k < n_command; k++) args[plan.n_args + 2 + k] = argv[i + (int)k];
  char *empty[] = {NULL};
  char **envp = plan.inherit_env ? environ : empty;
  /* For the program only, as the full CLI does: directories and Execfd files above are not affected. */
  if (plan.umask_set) umask(plan.umask_value);

  execve(BWRAP_PATH, args, envp);
  fprintf(stderr, "redwrap: error: cannot run %s: %s\n", BWRAP_PATH, strerror(errno));
  return 127;
}
