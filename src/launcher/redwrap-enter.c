/*
 * redwrap-enter: the part of `redwrap enter` that has to be one single-threaded process (setns(2)
 * refuses a multi-threaded caller, as Node is): joins a running sandbox and runs a command in it.
 * docs/operating.md ("Enter") says what is trusted and why; src/wrap/enter.ts finds the sandbox,
 * compiles the node's plan and writes this program's command line:
 *
 *   redwrap-enter --pid PID --start TICKS --uid UID --gid GID --caps HEX [--groups G,G…]
 *                 [--cgroup FILE]… [--seccomp-fd FD]… [--umask OCTAL] [--chdir DIR]
 *                 [--setenv KEY=VALUE]… --error-fd FD -- PROGRAM [ARG]…
 *
 * PID is the sandbox's first process (bwrap's child) and TICKS its start time (/proc/PID/stat
 * field 22): together they name one process, which pidfd_open pins. Every /proc/PID file is read
 * after that and before the pidfd is checked to be still running, so nothing is read from a
 * process that reused the pid. UID/GID are the ids inside the sandbox's user namespace; --caps the
 * capabilities the plan gives, intersected here with the target's bounding set; --cgroup the
 * cgroup.procs files of the node's cgroups, joined before any namespace; --seccomp-fd the node's
 * BPF filters, installed last, after no_new_privs. The environment is only the --setenv values:
 * this program itself is started with an empty one.
 *
 * Anything that fails before the program runs is written to --error-fd (close-on-exec: EOF means
 * the program started) and exits 125. Otherwise the exit status is the program's (128+signal when
 * it is killed), and SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are forwarded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENTER_FAILED 125
#define MAX_ITEMS 1024
#define MAX_FILTER_BYTES (4096 * 8) /* BPF_MAXINSNS instructions of 8 bytes */
#define MAX_STATUS (64 * 1024)

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

static int error_fd = -1;

/* Says why on --error-fd (or stderr before it is known) and exits: nothing of the program ran. */
static void fail(const char *format, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, format);
  vsnprintf(message, sizeof message, format, ap);
  va_end(ap);
  int fd = error_fd >= 0 ? error_fd : 2;
  dprintf(fd, "%s\n", message);
  _exit(ENTER_FAILED);
}

static long number(const char *text, const char *what, long min, long max, int base) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, base);
  if (errno || !*text || *end || value < min || value > max) fail("redwrap-enter: bad %s \"%s\"", what, text);
  return value;
}

/* ---- /proc of the target ------------------------------------------------------------------- */

static char *read_small(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read %s: %s", path, strerror(errno));
  char *text = malloc(MAX_STATUS + 1);
  if (!text) fail("out of memory");
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, text + used, MAX_STATUS - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read %s: %s", path, strerror(errno));
    if (n == 0) break;
    used += (size_t)n;
    if (used == MAX_STATUS) fail("%s is larger than expected", path);
  }
  close(fd);
  text[used] = 0;
  return text;
}

/* Field 22 of /proc/PID/stat, read after the last ')' (the command name may hold anything). */
static unsigned long long start_ticks(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char *text = read_small(path);
  char *close_paren = strrchr(text, ')');
  if (!close_paren) fail("%s: unexpected format", path);
  char *field = close_paren + 2;
  for (int i = 3; i < 22 && field; i++) {
    field = strchr(field, ' ');
    if (field) field++;
  }
  if (!field) fail("%s: unexpected format", path);
  unsigned long long ticks = strtoull(field, NULL, 10);
  free(text);
  return ticks;
}

/* The CapBnd line of /proc/PID/status: the kernel's ceiling for every process of the sandbox. */
static uint64_t bounding_set(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  char *text = read_small(path);
  char *line = strstr(text, "\nCapBnd:");
  if (!line) fail("%s has no CapBnd line", path);
  uint64_t set = strtoull(line + 8, NULL, 16);
  free(text);
  return set;
}

/* ---- capabilities (capget/capset, no libcap) ----------------------------------------------- */

static int last_cap(void) {
  char *text = read_small("/proc/sys/kernel/cap_last_cap");
  int last = atoi(text);
  free(text);
  return last > 0 && last < 64 ? last : 40;
}

static void set_caps(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {
      {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
      {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
  };
  if (syscall(SYS_capset, &header, data) < 0) fail("capset: %s", strerror(errno));
}

static uint64_t permitted_caps(void) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) < 0) fail("capget: %s", strerror(errno));
  return (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
}

/*
 * Leaves exactly `allowed`: dropped from the bounding set (so that no exec can regain the others),
 * then effective, permitted and inheritable, and raised as ambient for a program that does not run
 * as uid 0 (as bwrap gives them).
 */
static void limit_caps(uint64_t allowed, int ambient) {
  int last = last_cap();
  uint64_t permitted = permitted_caps();
  set_caps(permitted, permitted, 0); /* CAP_SETPCAP effective, to drop from the bounding set */
  for (int cap = 0; cap <= last; cap++) {
    if (allowed & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      fail("cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
  }
  allowed &= permitted;
  set_caps(allowed, allowed, allowed);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail("cannot clear ambient capabilities: %s", strerror(errno));
  if (!ambient) return;
  for (int cap = 0; cap <= last; cap++)
    if ((allowed & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      fail("cannot raise ambient capability %d: %s", cap, strerror(errno));
}

/* ---- seccomp ------------------------------------------------------------------------------- */

static void install_filter(int fd) {
  static unsigned char bytes[MAX_FILTER_BYTES + 1];
  size_t used = 0;
  for (;;) {
    ssize_t n = pread(fd, bytes + used, sizeof bytes - used, (off_t)used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read seccomp filter fd %d: %s", fd, strerror(errno));
    if (n == 0) break;
    used += (size_t)n;
    if (used > MAX_FILTER_BYTES) fail("seccomp filter fd %d is larger than BPF_MAXINSNS", fd);
  }
  if (used == 0 || used % sizeof(struct sock_filter)) fail("seccomp filter fd %d is not a BPF program", fd);
  struct sock_fprog program = {(unsigned short)(used / sizeof(struct sock_filter)), (struct sock_filter *)bytes};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) < 0)
    fail("cannot install seccomp filter: %s", strerror(errno));
  close(fd);
}

/* ---- namespaces ---------------------------------------------------------------------------- */

static const struct {
  const char *name;
  int type;
} NAMESPACES[] = {
    /* user first (the order join_namespaces starts from). */
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},      {"pid", CLONE_NEWPID},   {"net", CLONE_NEWNET},
    {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};
#define NAMESPACE_COUNT (sizeof NAMESPACES / sizeof NAMESPACES[0])

/* The target's namespace, or -1 when it is the caller's own (joining it again is not needed, and not allowed to a user). */
static int open_namespace(pid_t pid, const char *name) {
  char path[64], own[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, name);
  snprintf(own, sizeof own, "/proc/self/ns/%s", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !strcmp(name, "time")) return -1; /* a kernel without time namespaces */
    fail("cannot open %s: %s", path, strerror(errno));
  }
  struct stat theirs, ours;
  if (fstat(fd, &theirs) < 0) fail("cannot stat %s: %s", path, strerror(errno));
  if (stat(own, &ours) == 0 && ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino) {
    close(fd);
    return -1;
  }
  return fd;
}

static int same_file(int a, int b) {
  struct stat x, y;
  return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static void join(int fd, int type, const char *what, pid_t pid) {
  if (setns(fd, type) < 0) fail("cannot join the %s namespace of process %d: %s", what, pid, strerror(errno));
}

/*
 * Joins the target's namespaces. A namespace can only be joined with CAP_SYS_ADMIN in the user
 * namespace that owns it, which is not always the target's own: an unprivileged bwrap creates the
 * sandbox's namespaces in a first user namespace (mapping uid 0, to mount devpts) and then moves
 * into a nested one that maps the user's uid. So: the owner of the target's mount namespace first
 * (unless it is this process's), every namespace it owns, then the target's user namespace and
 * those it owns. Each user namespace joined is one the target descends from.
 */
static void join_namespaces(int namespaces[], pid_t pid) {
  int current = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  if (current < 0) fail("cannot open /proc/self/ns/user: %s", strerror(errno));
  int owners[NAMESPACE_COUNT];
  for (size_t n = 1; n < NAMESPACE_COUNT; n++) {
    owners[n] = -1;
    if (namespaces[n] < 0) continue;
    owners[n] = ioctl(namespaces[n], NS_GET_USERNS);
    if (owners[n] < 0) fail("cannot find the owner of the %s namespace of process %d: %s", NAMESPACES[n].name, pid, strerror(errno));
  }
  /* The mount namespace's owner, when it is neither this process's user namespace nor the target's. */
  int mount_owner = namespaces[1] >= 0 ? owners[1] : -1;
  if (mount_owner >= 0 && !same_file(mount_owner, current) && !(namespaces[0] >= 0 && same_file(mount_owner, namespaces[0]))) {
    join(mount_owner, CLONE_NEWUSER, "user (owner of the mount)", pid);
    close(current);
    current = dup(mount_owner);
  }
  for (int round = 0; round < 2; round++) {
    for (size_t n = 1; n < NAMESPACE_COUNT; n++) {
      if (namespaces[n] < 0 || !same_file(owners[n], current)) continue;
      join(namespaces[n], NAMESPACES[n].type, NAMESPACES[n].name, pid);
      close(namespaces[n]);
      namespaces[n] = -1;
    }
    if (round == 0 && namespaces[0] >= 0 && !same_file(namespaces[0], current)) {
      join(namespaces[0], CLONE_NEWUSER, "user", pid);
      close(current);
      current = dup(namespaces[0]);
    }
  }
  for (size_t n = 1; n < NAMESPACE_COUNT; n++)
    if (namespaces[n] >= 0) fail("cannot join the %s namespace of process %d: it belongs to another user namespace", NAMESPACES[n].name, pid);
  for (size_t n = 1; n < NAMESPACE_COUNT; n++)
    if (owners[n] >= 0) close(owners[n]);
  if (namespaces[0] >= 0) close(namespaces[0]);
  close(current);
}

/* ---- the program and its signals ----------------------------------------------------------- */

static volatile pid_t child_pid;

static void forward(int signal_number) {
  if (child_pid > 0) kill(child_pid, signal_number);
}

static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

int main(int argc, char **argv) {
  pid_t pid = 0;
  unsigned long long start = 0;
  long uid = -1, gid = -1, umask_value = -1;
  uint64_t caps = 0;
  int have_caps = 0;
  const char *chdir_to = "/";
  const char *groups_text = NULL;
  const char *cgroups[MAX_ITEMS];
  int seccomp_fds[MAX_ITEMS];
  char **env = calloc(MAX_ITEMS + 1, sizeof *env);
  int cgroup_count = 0, seccomp_count = 0, env_count = 0;
  if (!env) fail("out of memory");
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (i + 1 >= argc) fail("redwrap-enter: option %s needs a value", a);
    const char *value = argv[++i];
    if (!strcmp(a, "--pid")) pid = (pid_t)number(value, "pid", 1, INT_MAX, 10);
    else if (!strcmp(a, "--start")) start = (unsigned long long)number(value, "start time", 0, LONG_MAX, 10);
    else if (!strcmp(a, "--uid")) uid = number(value, "uid", 0, UINT32_MAX - 1, 10);
    else if (!strcmp(a, "--gid")) gid = number(value, "gid", 0, UINT32_MAX - 1, 10);
    else if (!strcmp(a, "--caps")) {
      char *end;
      errno = 0;
      caps = strtoull(value, &end, 16);
      if (errno || !*value || *end) fail("redwrap-enter: bad capability mask \"%s\"", value);
      have_caps = 1;
    } else if (!strcmp(a, "--groups")) groups_text = value;
    else if (!strcmp(a, "--umask")) umask_value = number(value, "umask", 0, 07777, 8);
    else if (!strcmp(a, "--chdir")) chdir_to = value;
    else if (!strcmp(a, "--error-fd")) {
      error_fd = (int)number(value, "error fd", 2, 1023, 10);
      if (fcntl(error_fd, F_SETFD, FD_CLOEXEC) < 0) fail("redwrap-enter: error fd %d: %s", error_fd, strerror(errno));
    } else if (!strcmp(a, "--cgroup")) {
      if (cgroup_count == MAX_ITEMS) fail("redwrap-enter: too many cgroups");
      cgroups[cgroup_count++] = value;
    } else if (!strcmp(a, "--seccomp-fd")) {
      if (seccomp_count == MAX_ITEMS) fail("redwrap-enter: too many seccomp filters");
      seccomp_fds[seccomp_count] = (int)number(value, "seccomp fd", 3, 1023, 10);
      if (fcntl(seccomp_fds[seccomp_count], F_SETFD, FD_CLOEXEC) < 0)
        fail("redwrap-enter: seccomp fd %s: %s", value, strerror(errno));
      seccomp_count++;
    } else if (!strcmp(a, "--setenv")) {
      if (env_count == MAX_ITEMS) fail("redwrap-enter: too many variables");
      if (!strchr(value, '=') || value[0] == '=') fail("redwrap-enter: --setenv needs KEY=VALUE, got \"%s\"", value);
      env[env_count++] = (char *)value;
    } else fail("redwrap-enter: unknown option %s", a);
  }
  if (!pid || uid < 0 || gid < 0 || !have_caps || error_fd < 0 || i >= argc)
    fail("redwrap-enter: --pid, --start, --uid, --gid, --caps, --error-fd and a program are required");
  char **program = argv + i;

  /* 1. Pin the target, then read everything of it, then check that it was the same process throughout. */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) fail("process %d: %s", pid, errno == ESRCH ? "it has ended" : strerror(errno));
  if (start_ticks(pid) != start) fail("process %d has ended (its pid is now another process's)", pid);
  int namespaces[NAMESPACE_COUNT];
  for (size_t n = 0; n < NAMESPACE_COUNT; n++) namespaces[n] = open_namespace(pid, NAMESPACES[n].name);
  char root_path[64];
  snprintf(root_path, sizeof root_path, "/proc/%d/root", pid);
  int root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail("cannot open %s: %s", root_path, strerror(errno));
  uint64_t target_bounding = bounding_set(pid);
  struct pollfd exited = {pidfd, POLLIN, 0};
  if (poll(&exited, 1, 0) != 0) fail("process %d has ended", pid);

  /* 2. The node's cgroups, while the host's cgroup file system is still this process's. */
  for (int c = 0; c < cgroup_count; c++) {
    int fd = open(cgroups[c], O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot join cgroup %s: %s", cgroups[c], strerror(errno));
    if (dprintf(fd, "%d", getpid()) < 0) fail("cannot join cgroup %s: %s", cgroups[c], strerror(errno));
    close(fd);
  }

  /* 3. Supplementary groups: the sandbox's, set while still privileged on the host (root only; a
   * user keeps its own, which the sandbox's user namespace maps the same way). */
  if (groups_text && geteuid() == 0) {
    gid_t list[256];
    size_t count = 0;
    char *copy = strdup(groups_text), *save = NULL;
    if (!copy) fail("out of memory");
    for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
      if (count == 256) fail("redwrap-enter: too many groups");
      list[count++] = (gid_t)number(g, "group", 0, UINT32_MAX - 1, 10);
    }
    if (setgroups(count, list) < 0) fail("setgroups: %s", strerror(errno));
    free(copy);
  }

  /* 4. No process of the sandbox may attach to this one before its limits are in place. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("cannot make this process non-dumpable: %s", strerror(errno));

  /* 5. The namespaces (join_namespaces). */
  join_namespaces(namespaces, pid);

  /* 6. A child, so that it is in the sandbox's pid (and time) namespace. */
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous);
  child_pid = fork();
  if (child_pid < 0) fail("cannot start a process in the sandbox: %s", strerror(errno));
  if (child_pid > 0) {
    close(error_fd);
    close(root_fd);
    for (size_t s = 0; s < sizeof FORWARDED / sizeof FORWARDED[0]; s++) {
      struct sigaction action = {0};
      action.sa_handler = forward;
      sigaction(FORWARDED[s], &action, NULL);
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    int status;
    while (waitpid(child_pid, &status, 0) < 0)
      if (errno != EINTR) fail("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
  }
  sigprocmask(SIG_SETMASK, &previous, NULL);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("PR_SET_PDEATHSIG: %s", strerror(errno));

  /* 7. The sandbox's root and working directory. */
  if (fchdir(root_fd) < 0 || chroot(".") < 0) fail("cannot change root to that of process %d: %s", pid, strerror(errno));
  close(root_fd);
  if (chdir(chdir_to) < 0) fail("cannot change directory to %s in the sandbox: %s", chdir_to, strerror(errno));
  if (umask_value >= 0) umask((mode_t)umask_value);

  /* 8. The sandbox's ids and at most its capabilities. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("PR_SET_KEEPCAPS: %s", strerror(errno));
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) fail("cannot set gid %ld: %s", gid, strerror(errno));
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) fail("cannot set uid %ld: %s", uid, strerror(errno));
  limit_caps(caps & target_bounding, uid != 0);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail("PR_SET_KEEPCAPS: %s", strerror(errno));

  /* 9. no_new_privs, then the node's filters, the last thing before the program. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
  for (int s = 0; s < seccomp_count; s++) install_filter(seccomp_fds[s]);
  environ = env;
  execvp(program[0], program);
  fail("cannot run %s in the sandbox: %s", program[0], strerror(errno));
  return ENTER_FAILED;
}
