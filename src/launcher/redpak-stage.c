/*
 * redpak-stage: the mounts of a package transaction's staged view, and the reading of what
 * overlayfs marked opaque in it, without a shell, mount(8) or Python (docs/transactions.md,
 * "How the view is mounted"). src/pkg/stage-runner.ts builds its command lines:
 *
 *   redpak-stage run [--map-root-user] [--overlay OPTIONS TARGET]... [--ro-binds-stdin]
 *                    [--opaque-after UPPER ATTRIBUTE] -- PROGRAM [ARG]...
 *     A private mount namespace (with --map-root-user, first a user namespace in which root is
 *     the caller, as `unshare --user --map-root-user` makes it), every mount in it made private,
 *     each overlay mounted in order (OPTIONS verbatim: the caller escapes ':' ',' '\'), then the
 *     read-only binds read from stdin (SOURCE\0TARGET\0 pairs, copy-up staging), then PROGRAM
 *     (an absolute path) replaces this process, with stdin on /dev/null when the binds read it.
 *     With --opaque-after, PROGRAM runs in a child instead and this process waits for it; when
 *     it exits 0, UPPER is walked as `opaque` walks it and the list written to descriptor 3
 *     (which PROGRAM does not inherit), saving the caller a process. This process dies with its
 *     parent (as PROGRAM, bwrap --die-with-parent, then dies with it).
 *
 *   redpak-stage opaque [--map-root-user] UPPER ATTRIBUTE
 *     Prints the UPPER-relative paths of the directories whose extended attribute ATTRIBUTE is
 *     "y" (an overlay's opaque directories), each followed by a NUL, and does not walk below
 *     them. --map-root-user reads as root mapped onto the caller, who may then read every
 *     directory of their own whatever its mode.
 *
 * Trust: TARGET directories and the binds' targets lie in the node's stage, and UPPER is the
 * stage's upper layer: rpm and its scriptlets wrote it (their sandbox has ended when `opaque`
 * runs: its pid namespace died with bwrap), and anything running in the node (admin mode
 * included) can write the node's directory while we read it. So no path is ever resolved
 * through a symbolic link: mount targets and bind sources are opened component by component
 * with O_NOFOLLOW and mounted through their descriptors, and UPPER is walked with openat and
 * fdopendir, never by path, never following a link nor crossing into another filesystem.
 *
 * Exit status: PROGRAM's own once it runs; before that 2 for a usage error, 125 when a step
 * failed (namespace, mount, walk), 126 when PROGRAM could not be run (127: it does not exist).
 * Every failure is one line on stderr starting with "redpak-stage: ".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_FAILED 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127
#define MAX_OVERLAYS 256
/* The longest UPPER-relative path walked: the merge could not apply a longer one (PATH_MAX). */
#define MAX_RELATIVE PATH_MAX
/* The read-only binds' list on stdin. */
#define MAX_BINDS_BYTES (64 * 1024 * 1024)

static void fail_with(int status, const char *format, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail_with(int status, const char *format, ...) {
  char message[2048];
  va_list ap;
  va_start(ap, format);
  vsnprintf(message, sizeof message, format, ap);
  va_end(ap);
  dprintf(2, "redpak-stage: %s\n", message);
  _exit(status);
}

#define fail(...) fail_with(EXIT_FAILED, __VA_ARGS__)
#define usage(...) fail_with(EXIT_USAGE, __VA_ARGS__)

/* ---- user namespace ------------------------------------------------------------------------- */

static void write_proc(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: %s", path, strerror(errno));
  size_t length = strlen(text);
  ssize_t n = write(fd, text, length);
  if (n < 0 || (size_t)n != length) fail("cannot write %s: %s", path, n < 0 ? strerror(errno) : "short write");
  if (close(fd) < 0) fail("cannot write %s: %s", path, strerror(errno));
}

/* unshare(flags) and, with map_root, root in the new user namespace mapped onto the caller. */
static void enter_namespaces(int flags, int map_root) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (map_root) flags |= CLONE_NEWUSER;
  if (unshare(flags) < 0)
    fail("cannot create a %s namespace: %s", map_root ? "user and mount" : "mount", strerror(errno));
  if (!map_root) return;
  char map[64];
  /* setgroups must be denied before an unprivileged process may write gid_map. */
  write_proc("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
  write_proc("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
  write_proc("/proc/self/gid_map", map);
}

/* ---- paths resolved without links ---------------------------------------------------------- */

/*
 * An O_PATH descriptor of the absolute `path`, each component opened with O_NOFOLLOW from the
 * one before: a symbolic link anywhere on the way is refused (errno ELOOP), as is '.' or '..'.
 */
static int open_no_links(const char *path) {
  if (path[0] != '/') {
    errno = EINVAL;
    return -1;
  }
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  const char *p = path;
  char component[NAME_MAX + 1];
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    size_t n = strcspn(p, "/");
    if (n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
      close(fd);
      errno = n > NAME_MAX ? ENAMETOOLONG : EINVAL;
      return -1;
    }
    memcpy(component, p, n);
    component[n] = 0;
    p += n;
    int next = openat(fd, component, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(fd);
    if (next < 0) {
      errno = saved;
      return -1;
    }
    struct stat st;
    if (fstat(next, &st) < 0) {
      saved = errno;
      close(next);
      errno = saved;
      return -1;
    }
    if (S_ISLNK(st.st_mode)) {
      close(next);
      errno = ELOOP;
      return -1;
    }
    fd = next;
  }
  return fd;
}

/*
 * open_no_links for many paths in few directories (the read-only binds: hundreds of entries of
 * the host's /usr/bin): the parent directory is resolved once and kept open, and each entry is
 * opened from it with O_NOFOLLOW. A directory swapped for a link after it was resolved is not
 * followed either: the kept descriptor is the directory itself.
 */
struct parent_cache {
  char *dir;
  int fd;
  int error;
};

static int open_entry_no_links(struct parent_cache *cache, const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (path[0] != '/' || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    errno = EINVAL;
    return -1;
  }
  size_t length = (size_t)(slash - path);
  if (!cache->dir || strlen(cache->dir) != length || memcmp(cache->dir, path, length) != 0) {
    if (cache->fd >= 0) close(cache->fd);
    free(cache->dir);
    cache->dir = strndup(path, length);
    if (!cache->dir) fail("out of memory");
    cache->fd = open_no_links(length ? cache->dir : "/");
    cache->error = cache->fd < 0 ? errno : 0;
  }
  if (cache->fd < 0) {
    errno = cache->error;
    return -1;
  }
  int fd = openat(cache->fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  if (S_ISLNK(st.st_mode)) {
    close(fd);
    errno = ELOOP;
    return -1;
  }
  return fd;
}

static struct parent_cache sources = {NULL, -1, 0}, targets = {NULL, -1, 0};

/* The path through which the kernel reaches exactly the file behind `fd`. */
static void fd_path(int fd, char *buffer, size_t size) { snprintf(buffer, size, "/proc/self/fd/%d", fd); }

static const char *resolve_error(int error) {
  return error == ELOOP ? "a component is a symbolic link" : strerror(error);
}

/* ---- run ----------------------------------------------------------------------------------- */

static void mount_overlay(const char *options, const char *target) {
  int fd = open_no_links(target);
  if (fd < 0) fail("cannot mount an overlay on %s: %s", target, resolve_error(errno));
  char at[64];
  fd_path(fd, at, sizeof at);
  if (mount("overlay", at, "overlay", 0, options) < 0)
    fail("cannot mount an overlay on %s: %s", target, strerror(errno));
  close(fd);
}

/* Read to EOF; the returned buffer ends with a NUL of its own. */
static char *read_stdin(size_t *length) {
  size_t capacity = 1 << 16, used = 0;
  char *data = malloc(capacity + 1);
  if (!data) fail("out of memory");
  for (;;) {
    if (used == capacity) {
      if (capacity >= MAX_BINDS_BYTES) fail("the read-only binds on stdin exceed %d bytes", MAX_BINDS_BYTES);
      capacity *= 2;
      data = realloc(data, capacity + 1);
      if (!data) fail("out of memory");
    }
    ssize_t n = read(0, data + used, capacity - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read the read-only binds on stdin: %s", strerror(errno));
    if (n == 0) break;
    used += (size_t)n;
  }
  data[used] = 0;
  *length = used;
  return data;
}

/*
 * Binds `source` read-only on `target` (an empty entry the view made for it). A bind keeps its
 * source's locked flags (noexec and the atime ones), which a remount in a user namespace must
 * repeat; nosuid and nodev are added. A source gone since the view was composed (a host's
 * /etc/group.lock while an account is added) is gone from the view too, as overlayfs would show
 * it: the empty target is removed.
 */
static void bind_read_only(const char *source, const char *target) {
  int to = open_entry_no_links(&targets, target);
  if (to < 0) fail("cannot bind %s read-only on %s: %s", source, target, resolve_error(errno));
  int from = open_entry_no_links(&sources, source);
  if (from < 0) {
    if (errno != ENOENT) fail("cannot bind %s read-only on %s: %s", source, target, resolve_error(errno));
    close(to);
    if (rmdir(target) < 0 && (errno != ENOTDIR || unlink(target) < 0))
      fail("cannot remove %s, whose source %s is gone: %s", target, source, strerror(errno));
    return;
  }
  char from_at[64], to_at[64];
  fd_path(from, from_at, sizeof from_at);
  fd_path(to, to_at, sizeof to_at);
  if (mount(from_at, to_at, NULL, MS_BIND, NULL) < 0)
    fail("cannot bind %s read-only on %s: %s", source, target, strerror(errno));
  close(from);
  close(to);
  /* The target again: the descriptor opened before names what the bind now covers. */
  int bound = open_entry_no_links(&targets, target);
  if (bound < 0) fail("cannot remount %s read-only: %s", target, resolve_error(errno));
  struct statvfs vfs;
  if (fstatvfs(bound, &vfs) < 0) fail("cannot read the mount flags of %s: %s", target, strerror(errno));
  unsigned long kept = 0;
  if (vfs.f_flag & ST_NOEXEC) kept |= MS_NOEXEC;
  if (vfs.f_flag & ST_NOATIME) kept |= MS_NOATIME;
  if (vfs.f_flag & ST_NODIRATIME) kept |= MS_NODIRATIME;
  if (vfs.f_flag & ST_RELATIME) kept |= MS_RELATIME;
  char bound_at[64];
  fd_path(bound, bound_at, sizeof bound_at);
  if (mount(NULL, bound_at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept, NULL) < 0)
    fail("cannot remount %s read-only: %s", target, strerror(errno));
  close(bound);
}

static void bind_from_stdin(void) {
  size_t length;
  char *data = read_stdin(&length);
  if (length > 0 && data[length - 1] != 0) fail("the read-only binds on stdin do not end with a NUL");
  size_t fields = 0;
  for (size_t i = 0; i < length; i++) fields += data[i] == 0;
  if (fields % 2) fail("the read-only binds on stdin are not SOURCE and TARGET pairs");
  for (char *p = data; p < data + length;) {
    char *source = p;
    char *target = source + strlen(source) + 1;
    p = target + strlen(target) + 1;
    if (source[0] != '/' || target[0] != '/') fail("a read-only bind is not between absolute paths: %s on %s", source, target);
    bind_read_only(source, target);
  }
  free(data);
  /* PROGRAM gets no stdin of ours. */
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0) fail("cannot open /dev/null as stdin: %s", strerror(errno));
  close(null);
}

static void walk_opaque(const char *upper, const char *attribute, FILE *out);
static void check_walk_arguments(const char *command, const char *upper, const char *attribute);

/* The descriptor `run --opaque-after` writes its list to. */
#define OPAQUE_FD 3

/*
 * Runs PROGRAM in a child and waits for it. Returns when it exited 0; otherwise ends this process
 * as PROGRAM ended: with its status, or killed by its signal.
 */
static void run_and_wait(char **program) {
  pid_t parent = getppid();
  /* Dies with the caller; PROGRAM (bwrap --die-with-parent) then dies with this process. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("cannot ask to die with the caller: %s", strerror(errno));
  if (getppid() != parent) _exit(EXIT_FAILED); /* the caller is gone already */
  pid_t child = fork();
  if (child < 0) fail("cannot fork: %s", strerror(errno));
  if (child == 0) {
    execv(program[0], program);
    fail_with(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "cannot run %s: %s", program[0], strerror(errno));
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) fail("cannot wait for %s: %s", program[0], strerror(errno));
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) != 0) _exit(WEXITSTATUS(status));
    return;
  }
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  raise(sig);
  _exit(128 + sig);
}

static int run(int argc, char **argv) {
  int map_root = 0, binds = 0;
  const char *walk_upper = NULL, *walk_attribute = NULL;
  const char *options[MAX_OVERLAYS], *targets[MAX_OVERLAYS];
  int overlays = 0;
  int i = 0;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) break;
    if (strcmp(arg, "--map-root-user") == 0) {
      if (map_root) usage("run: --map-root-user given twice");
      map_root = 1;
    } else if (strcmp(arg, "--ro-binds-stdin") == 0) {
      if (binds) usage("run: --ro-binds-stdin given twice");
      binds = 1;
    } else if (strcmp(arg, "--opaque-after") == 0) {
      if (walk_upper) usage("run: --opaque-after given twice");
      if (i + 2 >= argc) usage("run: --opaque-after needs UPPER and ATTRIBUTE");
      walk_upper = argv[i + 1];
      walk_attribute = argv[i + 2];
      check_walk_arguments("run --opaque-after", walk_upper, walk_attribute);
      i += 2;
    } else if (strcmp(arg, "--overlay") == 0) {
      if (i + 2 >= argc) usage("run: --overlay needs OPTIONS and TARGET");
      if (overlays == MAX_OVERLAYS) usage("run: more than %d overlays", MAX_OVERLAYS);
      if (!argv[i + 1][0]) usage("run: --overlay with empty OPTIONS");
      if (argv[i + 2][0] != '/') usage("run: overlay target \"%s\" is not an absolute path", argv[i + 2]);
      options[overlays] = argv[i + 1];
      targets[overlays] = argv[i + 2];
      overlays++;
      i += 2;
    } else {
      usage("run: unknown option \"%s\"", arg);
    }
  }
  if (i == argc) usage("run: no \"--\" before PROGRAM");
  char **program = argv + i + 1;
  if (!program[0]) usage("run: no PROGRAM after \"--\"");
  if (program[0][0] != '/') usage("run: PROGRAM \"%s\" is not an absolute path", program[0]);

  FILE *walk_out = NULL;
  if (walk_upper) {
    /* The list's descriptor, which PROGRAM must not inherit. */
    int flags = fcntl(OPAQUE_FD, F_GETFD);
    if (flags < 0) usage("run: --opaque-after needs descriptor %d open for the list", OPAQUE_FD);
    if (fcntl(OPAQUE_FD, F_SETFD, flags | FD_CLOEXEC) < 0 || !(walk_out = fdopen(OPAQUE_FD, "w")))
      fail("cannot use descriptor %d: %s", OPAQUE_FD, strerror(errno));
  }

  enter_namespaces(CLONE_NEWNS, map_root);
  /* Nothing mounted here reaches the host's namespace, nor the other way. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("cannot make every mount private: %s", strerror(errno));
  for (int k = 0; k < overlays; k++) mount_overlay(options[k], targets[k]);
  if (binds) bind_from_stdin();
  if (walk_upper) {
    run_and_wait(program);
    /* PROGRAM's sandbox has ended (its pid namespace died with bwrap): UPPER no longer changes. */
    walk_opaque(walk_upper, walk_attribute, walk_out);
    return 0;
  }
  execv(program[0], program);
  fail_with(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "cannot run %s: %s", program[0], strerror(errno));
}

/* ---- opaque -------------------------------------------------------------------------------- */

struct walk {
  FILE *out;
  const char *upper;
  const char *attribute;
  dev_t device;
  char path[MAX_RELATIVE + 1];
};

/* UPPER/RELATIVE/NAME for a message (RELATIVE: w->path[0..length), maybe empty; NAME maybe NULL). */
static const char *shown(struct walk *w, size_t length, const char *name) {
  static char text[MAX_RELATIVE + NAME_MAX + PATH_MAX + 3];
  snprintf(text, sizeof text, "%s%s%.*s%s%s", w->upper, length ? "/" : "", (int)length, w->path,
           name ? "/" : "", name ? name : "");
  return text;
}

static int is_opaque(struct walk *w, int fd, size_t length) {
  char value[2];
  ssize_t n = fgetxattr(fd, w->attribute, value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP || errno == ERANGE) return 0; /* absent, or longer than "y" */
    fail("cannot read %s of %s: %s", w->attribute, shown(w, length, NULL), strerror(errno));
  }
  return n == 1 && value[0] == 'y';
}

/* Walks the directory `fd` (its UPPER-relative path is w->path[0..length)); closes fd. */
static void walk_directory(struct walk *w, int fd, size_t length) {
  DIR *dir = fdopendir(fd);
  if (!dir) fail("cannot read %s: %s", shown(w, length, NULL), strerror(errno));
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (!entry) {
      if (errno) fail("cannot read %s: %s", shown(w, length, NULL), strerror(errno));
      break;
    }
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) continue;
    size_t name_length = strlen(name);
    size_t child_length = length + (length ? 1 : 0) + name_length;
    if (child_length > MAX_RELATIVE)
      fail("a directory path in %s is longer than %d bytes (%.64s...): no merge could apply it", w->upper, MAX_RELATIVE,
           w->path);
    /* O_NOFOLLOW|O_DIRECTORY: a symbolic link or anything but a directory is not opened. */
    int child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (child < 0) {
      if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT) continue; /* not a directory, or gone */
      if (errno == EMFILE)
        fail("the directories of %s are nested deeper than this process may open (%s)", w->upper, strerror(errno));
      fail("cannot open %s: %s", shown(w, length, name), strerror(errno));
    }
    struct stat st;
    if (fstat(child, &st) < 0) fail("cannot read %s: %s", shown(w, length, name), strerror(errno));
    if (st.st_dev != w->device) {
      close(child); /* another filesystem mounted there: not the layer's */
      continue;
    }
    if (length) w->path[length] = '/';
    memcpy(w->path + length + (length ? 1 : 0), name, name_length);
    if (is_opaque(w, child, child_length)) {
      close(child);
      if (fwrite(w->path, 1, child_length, w->out) != child_length || putc(0, w->out) == EOF)
        fail("cannot write the opaque directories: %s", strerror(errno));
    } else {
      walk_directory(w, child, child_length);
    }
  }
  closedir(dir);
}

/* Writes the UPPER-relative paths of UPPER's opaque directories to `out`, each followed by a NUL. */
static void walk_opaque(const char *upper, const char *attribute, FILE *out) {
  /* One descriptor per level: as many as the deepest path the walk accepts. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0) fail("cannot raise the open files limit: %s", strerror(errno));
  }
  int top = open_no_links(upper);
  if (top < 0) fail("cannot open %s: %s", upper, resolve_error(errno));
  int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: %s", upper, strerror(errno));
  close(top);
  struct stat st;
  if (fstat(fd, &st) < 0) fail("cannot read %s: %s", upper, strerror(errno));
  static struct walk w;
  w.out = out;
  w.upper = upper;
  w.attribute = attribute;
  w.device = st.st_dev;
  walk_directory(&w, fd, 0);
  if (fflush(out) != 0 || ferror(out)) fail("cannot write the opaque directories: %s", strerror(errno));
}

/* The checks of UPPER and ATTRIBUTE that `opaque` and `run --opaque-after` share. */
static void check_walk_arguments(const char *command, const char *upper, const char *attribute) {
  if (upper[0] != '/') usage("%s: UPPER \"%s\" is not an absolute path", command, upper);
  if (!attribute[0] || strchr(attribute, '.') == NULL)
    usage("%s: \"%s\" is not an extended attribute name", command, attribute);
}

static int opaque(int argc, char **argv) {
  int map_root = 0;
  int i = 0;
  if (i < argc && strcmp(argv[i], "--map-root-user") == 0) {
    map_root = 1;
    i++;
  }
  if (argc - i != 2) usage("opaque: needs UPPER and ATTRIBUTE");
  const char *upper = argv[i], *attribute = argv[i + 1];
  check_walk_arguments("opaque", upper, attribute);
  if (map_root) enter_namespaces(0, 1);
  walk_opaque(upper, attribute, stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage("usage: redpak-stage run|opaque ... (src/launcher/redpak-stage.c)");
  if (strcmp(argv[1], "run") == 0) return run(argc - 2, argv + 2);
  if (strcmp(argv[1], "opaque") == 0) return opaque(argc - 2, argv + 2);
  usage("unknown command \"%s\": run or opaque", argv[1]);
}
