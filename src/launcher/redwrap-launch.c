/*
 * redwrap-launch: the fast path of `redwrap --redpath NODE [--admin] [--] COMMAND...`.
 *
 * The full CLI (Node.js) compiles a family's launch plan and caches it in
 * NODE/.redpak/launch-{normal,admin}-UID.plan together with everything the plan was computed
 * from: the family's config and status files (size, mtime, inode), the paths that must stay
 * absent (a directory becoming a node), export sources, environment variables and the caller's
 * ids and cgroup. This program checks all of that and, when nothing changed, runs the plan
 * itself: export directories, Execfd files, seccomp filters, cgroups, then bwrap. Anything else
 * (another option, no plan, a stale plan) is handed to the full CLI, which recompiles.
 *
 * Plan file: a sequence of netstring-like fields `<length>:<bytes>`; a record is a kind field
 * followed by a fixed number of fields (see the table in src/wrap/fast-plan.ts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLAN_VERSION "3" /* = FAST_PLAN_VERSION in src/wrap/fast-plan.ts */
#define LAUNCH_ERROR 10

extern char **environ;

static char **g_argv;

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
  char **args = calloc(argc + 4, sizeof *args);
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

/* Cgroups this launch created: removed again when the launch fails before the program runs. */
static char *created_cg[4096];
static int n_created_cg;

static void rollback_cgroups(void) {
  for (int i = n_created_cg - 1; i >= 0; i--) rmdir(created_cg[i]);
  n_created_cg = 0;
}

static void fail(const char *what, const char *detail) {
  rollback_cgroups();
  fprintf(stderr, "redwrap: error: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(LAUNCH_ERROR);
}

/* ---- arguments --------------------------------------------------------------------------- */

/* Lexical absolute path, as path.resolve() computes it: no symlink resolution. */
static char *resolve_path(const char *given) {
  char cwd[PATH_MAX], joined[2 * PATH_MAX + 2];
  if (given[0] == '/') snprintf(joined, sizeof joined, "%s", given);
  else {
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    snprintf(joined, sizeof joined, "%s/%s", cwd, given);
  }
  char *out = calloc(strlen(joined) + 2, 1);
  size_t len = 0;
  for (char *part = strtok(joined, "/"); part; part = strtok(NULL, "/")) {
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
  return out;
}

/* ---- plan reading ------------------------------------------------------------------------ */

struct reader { char *data; size_t size, pos; };

static char *field(struct reader *r, size_t *length) {
  size_t n = 0;
  if (r->pos >= r->size) return NULL;
  while (r->pos < r->size && r->data[r->pos] != ':') {
    if (r->data[r->pos] < '0' || r->data[r->pos] > '9') return NULL;
    n = n * 10 + (size_t)(r->data[r->pos++] - '0');
  }
  if (r->pos >= r->size || r->pos + 1 + n > r->size) return NULL;
  char *value = malloc(n + 1);
  memcpy(value, r->data + r->pos + 1, n);
  value[n] = 0;
  r->pos += 1 + n;
  if (length) *length = n;
  return value;
}

static int read_file(const char *path, struct reader *r) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0) { close(fd); return -1; }
  r->data = malloc(st.st_size + 1);
  r->size = 0;
  while (r->size < (size_t)st.st_size) {
    ssize_t n = read(fd, r->data + r->size, st.st_size - r->size);
    if (n <= 0) break;
    r->size += n;
  }
  close(fd);
  r->pos = 0;
  return r->size == (size_t)st.st_size ? 0 : -1;
}

/* ---- plan content ------------------------------------------------------------------------ */

#define MAX_ITEMS 4096
struct item { char *a, *b, *c; };
struct plan {
  struct item mkdirs[MAX_ITEMS]; int n_mkdirs;
  struct item fds[MAX_ITEMS]; int n_fds;          /* a = fd, b = "execfd"|"file", c = script|path */
  struct item cg[MAX_ITEMS]; int n_cg;            /* a = kind, b, c */
  char *leaves[64]; int n_leaves;
  char *chains[64]; size_t chain_len[64]; int n_chains;
  char *args[MAX_ITEMS]; int arg_is_execfd[MAX_ITEMS]; int n_args;
  int umask_set; mode_t umask_value;
  int inherit_env;
};

static int stat_kind_matches(const char *path, const char *kind) {
  struct stat st;
  int exists = stat(path, &st) == 0;
  if (!strcmp(kind, "missing")) return !exists;
  if (!strcmp(kind, "dir")) return exists && S_ISDIR(st.st_mode);
  if (!strcmp(kind, "file")) return exists && !S_ISDIR(st.st_mode);
  if (!strcmp(kind, "mkdir")) return !exists || S_ISDIR(st.st_mode); /* created by the first launch */
  return 0;
}

/* Reads the plan; returns 0 when it is fresh for this launch, -1 when the full CLI must run. */
static int load_plan(struct reader *r, struct plan *p, const char *redpath, int admin) {
  char *kind;
  size_t len;
  while ((kind = field(r, NULL))) {
#define F(x) char *x = field(r, &len); if (!x) return -1;
    if (!strcmp(kind, "v")) { F(v); if (strcmp(v, PLAN_VERSION)) return -1; }
    else if (!strcmp(kind, "redpath")) { F(v); if (strcmp(v, redpath)) return -1; }
    else if (!strcmp(kind, "admin")) { F(v); if (atoi(v) != admin) return -1; }
    else if (!strcmp(kind, "ids")) { F(u); F(g); if ((uid_t)atol(u) != getuid() || (gid_t)atol(g) != getgid()) return -1; }
    else if (!strcmp(kind, "file")) {
      F(path); F(size); F(sec); F(nsec); F(ino);
      struct stat st;
      if (stat(path, &st) < 0 || st.st_size != atoll(size) || st.st_mtim.tv_sec != atoll(sec) ||
          st.st_mtim.tv_nsec != atol(nsec) || st.st_ino != (ino_t)strtoull(ino, NULL, 10)) return -1;
    }
    else if (!strcmp(kind, "absent")) { F(path); struct stat st; if (lstat(path, &st) == 0) return -1; }
    else if (!strcmp(kind, "probe")) { F(path); F(k); if (!stat_kind_matches(path, k)) return -1; }
    else if (!strcmp(kind, "env")) {
      F(name); F(set); F(value);
      const char *now = getenv(name);
      if ((now != NULL) != (atoi(set) != 0) || (now && strcmp(now, value))) return -1;
    }
    else if (!strcmp(kind, "selfcg")) {
      F(expected);
      int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      char buf[8192];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n < 0) return -1;
      buf[n] = 0;
      if (strcmp(buf, expected)) return -1;
    }
    else if (!strcmp(kind, "umask")) { F(v); p->umask_set = 1; p->umask_value = (mode_t)strtol(v, NULL, 8); }
    else if (!strcmp(kind, "inherit-env")) { F(v); p->inherit_env = atoi(v); }
    else if (!strcmp(kind, "mkdir")) { F(path); F(u); F(g); p->mkdirs[p->n_mkdirs++] = (struct item){path, u, g}; }
    else if (!strcmp(kind, "execfd") || !strcmp(kind, "fdfile")) { F(fd); F(v); p->fds[p->n_fds++] = (struct item){fd, kind, v}; }
    else if (!strncmp(kind, "cg-", 3) && strcmp(kind, "cg-leaf") && strcmp(kind, "cg-chain")) {
      F(b);
      char *c = NULL;
      if (strcmp(kind, "cg-mkdir")) { c = field(r, &len); if (!c) return -1; }
      p->cg[p->n_cg++] = (struct item){kind, b, c};
    }
    else if (!strcmp(kind, "cg-leaf")) { F(v); p->leaves[p->n_leaves++] = v; }
    else if (!strcmp(kind, "cg-chain")) { F(v); p->chains[p->n_chains] = v; p->chain_len[p->n_chains++] = len; }
    else if (!strcmp(kind, "arg")) { F(v); p->args[p->n_args++] = v; }
    else if (!strcmp(kind, "arg-execfd")) { F(v); p->arg_is_execfd[p->n_args] = 1; p->args[p->n_args++] = v; }
    else if (!strcmp(kind, "end")) return 0;
    else return -1;
    if (p->n_mkdirs >= MAX_ITEMS || p->n_fds >= MAX_ITEMS || p->n_cg >= MAX_ITEMS || p->n_args >= MAX_ITEMS ||
        p->n_leaves >= 64 || p->n_chains >= 64) return -1;
#undef F
  }
  return -1;
}

/* ---- effects ----------------------------------------------------------------------------- */

/* Starts `bash -r -c script` with stdout into a memfd; `finish_script` waits and rewinds it.
 * All scripts of a launch are started before the first is waited for: they run side by side. */
struct script_run { pid_t pid; int fd; const char *script; };

/* Descriptors the launcher holds for itself live from here up, so that the numbers bwrap is
 * told about (3, 4, …) are free until they are assigned. */
#define PRIVATE_FDS 256

static struct script_run start_script(const char *script) {
  int memfd = memfd_create("redwrap-execfd", MFD_CLOEXEC);
  if (memfd < 0) fail("memfd_create", strerror(errno));
  struct script_run run = {0, fcntl(memfd, F_DUPFD_CLOEXEC, PRIVATE_FDS), script};
  close(memfd);
  if (run.fd < 0) fail("fcntl", strerror(errno));
  run.pid = fork();
  if (run.pid < 0) fail("fork", strerror(errno));
  if (run.pid == 0) {
    dup2(run.fd, 1);
    execl("/usr/bin/bash", "bash", "-r", "-c", script, (char *)NULL);
    _exit(127);
  }
  return run;
}

static int finish_script(struct script_run run) {
  int status;
  while (waitpid(run.pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("command failed", run.script);
  lseek(run.fd, 0, SEEK_SET);
  return run.fd;
}

static char *slurp_fd(int fd) {
  size_t size = 0, cap = 256;
  char *buf = malloc(cap);
  ssize_t n;
  while ((n = read(fd, buf + size, cap - size - 1)) > 0) {
    size += n;
    if (size + 1 >= cap) buf = realloc(buf, cap *= 2);
  }
  buf[size] = 0;
  return buf;
}

static void make_dirs(const char *path, uid_t uid, gid_t gid) {
  char *copy = strdup(path);
  for (char *p = copy + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char saved = *p;
      *p = 0;
      if (mkdir(copy, 0775) == 0) {
        if (chown(copy, uid, gid) < 0) fprintf(stderr, "warning: cannot give %s to %u:%u: %s\n", copy, uid, gid, strerror(errno));
      } else if (errno != EEXIST) fail("cannot create export directory", copy);
      *p = saved;
      if (!saved) break;
    }
  }
  free(copy);
}

static int write_value(const char *file, const char *value) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, value, strlen(value));
  int saved = errno;
  close(fd);
  errno = saved;
  return n < 0 ? -1 : 0;
}

static void cgroup_failure(const char *what, const char *path, const char *value) {
  int saved = errno;
  rollback_cgroups();
  fprintf(stderr, "redwrap: error: cgroups: %s %s%s%s%s: %s\n", what, path, value ? " (value \"" : "", value ? value : "", value ? "\")" : "",
          strerror(saved));
  exit(LAUNCH_ERROR);
}

static void apply_cgroups(struct plan *p) {
  for (int i = 0; i < p->n_cg; i++) {
    struct item *s = &p->cg[i];
    if (!strcmp(s->a, "cg-mkdir")) {
      if (mkdir(s->b, 0755) == 0) created_cg[n_created_cg++] = s->b;
      else if (errno != EEXIST) cgroup_failure("cannot create", s->b, NULL);
    } else if (!strcmp(s->a, "cg-write")) {
      if (write_value(s->b, s->c) < 0) cgroup_failure("cannot write", s->b, s->c);
    } else if (!strcmp(s->a, "cg-copy")) {
      int fd = open(s->c, O_RDONLY | O_CLOEXEC);
      if (fd < 0) cgroup_failure("cannot read", s->c, NULL);
      char *value = slurp_fd(fd);
      close(fd);
      size_t n = strlen(value);
      while (n && (value[n - 1] == '\n' || value[n - 1] == ' ')) value[--n] = 0;
      if (write_value(s->b, value) < 0) cgroup_failure("cannot write", s->b, value);
    } else if (!strcmp(s->a, "cg-evac")) {
      char from[PATH_MAX], to[PATH_MAX], type[PATH_MAX];
      snprintf(type, sizeof type, "%s/cgroup.type", s->b);
      if (access(type, F_OK) < 0) continue; /* the hierarchy root may hold processes and delegate */
      snprintf(from, sizeof from, "%s/cgroup.procs", s->b);
      snprintf(to, sizeof to, "%s/cgroup.procs", s->c);
      int fd = open(from, O_RDONLY | O_CLOEXEC);
      if (fd < 0) cgroup_failure("cannot read", from, NULL);
      char *pids = slurp_fd(fd);
      close(fd);
      for (char *pid = strtok(pids, "\n"); pid; pid = strtok(NULL, "\n"))
        if (write_value(to, pid) < 0 && errno != ESRCH) cgroup_failure("cannot move processes into", to, pid);
    }
  }
}

/* Whether a process listed in the cgroup still runs (an exiting one stays listed for a moment). */
static int has_live_processes(const char *dir) {
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/cgroup.procs", dir);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char *pids = slurp_fd(fd);
  close(fd);
  int alive = 0;
  for (char *pid = strtok(pids, "\n"); pid && !alive; pid = strtok(NULL, "\n")) {
    char stat_path[64];
    snprintf(stat_path, sizeof stat_path, "/proc/%s/stat", pid);
    int sfd = open(stat_path, O_RDONLY | O_CLOEXEC);
    if (sfd < 0) continue;
    char *stat = slurp_fd(sfd);
    close(sfd);
    char *paren = strrchr(stat, ')');
    alive = paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
    free(stat);
  }
  free(pids);
  return alive;
}

static int has_children(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) found = e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return found;
}

/* Leaf-most first. A cgroup without children is busy only until the kernel is done with its last
 * task: retried for up to a second (a quarter of it while processes still run: right after the
 * launch ends they may be finishing their exit). Otherwise another launch uses it: kept. */
static void release_cgroups(struct plan *p) {
  struct timespec start, now, pause = {0, 10 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int c = 0; c < p->n_chains; c++) {
    char *dirs[64];
    int n = 0;
    for (size_t off = 0; off < p->chain_len[c] && n < 64; off += strlen(p->chains[c] + off) + 1) dirs[n++] = p->chains[c] + off;
    for (int i = n - 1; i >= 0; i--) {
      for (;;) {
        if (rmdir(dirs[i]) == 0 || errno == ENOENT) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if ((errno != EBUSY && errno != ENOTEMPTY) || has_children(dirs[i]) || elapsed_ms > 1000 ||
            (elapsed_ms > 250 && has_live_processes(dirs[i]))) goto next_chain;
        nanosleep(&pause, NULL);
      }
    }
  next_chain:;
  }
}

static pid_t child_pid;
static void forward(int sig) { if (child_pid > 0) kill(child_pid, sig); }

int main(int argc, char **argv) {
  g_argv = argv;
  const char *redpath = NULL;
  int admin = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--redpath") || !strcmp(a, "-r") || !strcmp(a, "--rpath") || !strcmp(a, "--rp")) {
      if (++i >= argc) fallback();
      redpath = argv[i];
    } else if (!strncmp(a, "--redpath=", 10)) redpath = a + 10;
    else if (!strcmp(a, "--admin") || !strcmp(a, "-a")) admin = 1;
    else if (a[0] == '-') fallback(); /* an option only the full CLI knows */
    else break;
  }
  if (!redpath || i >= argc) fallback();
  char *target = resolve_path(redpath);
  if (!target) fallback();

  char plan_path[PATH_MAX];
  snprintf(plan_path, sizeof plan_path, "%s/.redpak/launch-%s-%u.plan", target, admin ? "admin" : "normal", (unsigned)getuid());
  struct reader reader;
  static struct plan plan;
  if (read_file(plan_path, &reader) < 0 || load_plan(&reader, &plan, target, admin) < 0) fallback();

  /* Fresh: carry the plan out. Cgroups first: a limit that cannot be applied stops the launch
   * before anything else is created or run. */
  if (plan.n_cg) apply_cgroups(&plan);
  for (int k = 0; k < plan.n_mkdirs; k++) make_dirs(plan.mkdirs[k].a, (uid_t)atol(plan.mkdirs[k].b), (gid_t)atol(plan.mkdirs[k].c));

  static struct script_run fd_runs[MAX_ITEMS], arg_runs[MAX_ITEMS];
  for (int k = 0; k < plan.n_fds; k++)
    if (!strcmp(plan.fds[k].b, "execfd")) fd_runs[k] = start_script(plan.fds[k].c);
  for (int k = 0; k < plan.n_args; k++)
    if (plan.arg_is_execfd[k]) arg_runs[k] = start_script(plan.args[k]);

  int sources[MAX_ITEMS];
  for (int k = 0; k < plan.n_fds; k++) {
    int fd = !strcmp(plan.fds[k].b, "execfd") ? finish_script(fd_runs[k]) : open(plan.fds[k].c, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", plan.fds[k].c);
    sources[k] = fd >= PRIVATE_FDS ? fd : fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FDS);
    if (sources[k] != fd) close(fd);
  }
  for (int k = 0; k < plan.n_fds; k++) {
    if (dup2(sources[k], atoi(plan.fds[k].a)) < 0) fail("dup2", strerror(errno));
    close(sources[k]);
  }

  int n_command = argc - i;
  char **args = calloc(plan.n_args + n_command + 1, sizeof *args);
  for (int k = 0; k < plan.n_args; k++) {
    if (plan.arg_is_execfd[k]) {
      int fd = finish_script(arg_runs[k]);
      args[k] = slurp_fd(fd);
      close(fd);
    } else args[k] = plan.args[k];
  }
  for (int k = 0; k < n_command; k++) args[plan.n_args + k] = argv[i + k];
  char *empty[] = {NULL};
  char **envp = plan.inherit_env ? environ : empty;
  /* For the program only, as the full CLI does: directories and Execfd files above are not affected. */
  if (plan.umask_set) umask(plan.umask_value);

  if (plan.n_cg == 0) {
    execvpe(args[0], args, envp);
    fprintf(stderr, "redwrap: error: cannot run %s: %s\n", args[0], strerror(errno));
    return 127;
  }

  child_pid = fork();
  if (child_pid < 0) fail("fork", strerror(errno));
  if (child_pid == 0) {
    /* Join the leaf cgroups before exec, so that no fork of the program escapes the limits. */
    char pid[32];
    snprintf(pid, sizeof pid, "%d", getpid());
    for (int k = 0; k < plan.n_leaves; k++) {
      char procs[PATH_MAX];
      snprintf(procs, sizeof procs, "%s/cgroup.procs", plan.leaves[k]);
      if (write_value(procs, pid) < 0) {
        fprintf(stderr, "redwrap: error: cannot join cgroup %s: %s\n", plan.leaves[k], strerror(errno));
        _exit(125);
      }
    }
    execvpe(args[0], args, envp);
    fprintf(stderr, "redwrap: error: cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (unsigned k = 0; k < sizeof signals / sizeof *signals; k++) sigaction(signals[k], &sa, NULL);
  int status;
  while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {}
  release_cgroups(&plan);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
