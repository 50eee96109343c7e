"""Loading rpm databases and rpm-md repositories into libsolv pools, through a cache of .solv
files (libsolv's own format, read in a millisecond where parsing takes tens)."""
import fnmatch
import os
from typing import Callable, Optional
from xml.parsers import expat

try:  # CPython's own SHA-256: hashlib would load OpenSSL first, some 5 ms of every run.
    from _sha2 import sha256  # type: ignore  # Python 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore  # Python 3.11
    except ImportError:
        from hashlib import sha256

import solv

from redsolver.protocol import RepoSpec, RequestError

RPMDB_FLAGS = solv.Repo.REPO_USE_ROOTDIR | solv.Repo.REPO_REUSE_REPODATA | solv.Repo.REPO_NO_INTERNALIZE
REPOMD_NS = 'http://linux.duke.edu/metadata/repo '
# The files whose state (inode, size, mtime) identifies an rpm database's content.
RPMDB_FILES = ('rpmdb.sqlite', 'rpmdb.sqlite-wal', 'Packages', 'Packages.db')


class RepoData:
    """What a repository's solvables carry (Repo.appdata): where their packages are. (A plain class:
    importing dataclasses would cost every run more than the rest of the start-up.)"""
    __slots__ = ('id', 'dir', 'filelists')

    def __init__(self, id: str, dir: str, filelists: bool) -> None:
        self.id = id
        self.dir = dir
        # Without filelists.xml a package's file list is partial (primary's /etc and bin paths only).
        self.filelists = filelists


# Where parsed databases and repositories are kept as .solv files: the request's `solvCache`.
_solv_cache: Optional[str] = None


def use_solv_cache(directory: Optional[str]) -> None:
    global _solv_cache
    _solv_cache = directory


def new_pool() -> solv.Pool:
    pool = solv.Pool()
    pool.setdisttype(solv.Pool.DISTTYPE_RPM)
    pool.setarch()
    return pool


def has_rpmdb(root: str) -> bool:
    db = os.path.join(root, 'var/lib/rpm')
    return any(os.path.exists(os.path.join(db, f)) for f in ('rpmdb.sqlite', 'Packages', 'Packages.db'))


def digest(text: str) -> str:
    return sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:16]


def rpmdb_state(root: str) -> str:
    state: list[str] = []
    for f in RPMDB_FILES:
        try:
            st = os.stat(os.path.join(root, 'var/lib/rpm', f))
        except OSError:
            continue
        state.append('%s:%d:%d:%d' % (f, st.st_ino, st.st_size, st.st_mtime_ns))
    return ' '.join(state)


def add_solv_file(repo: solv.Repo, path: str) -> bool:
    f = solv.xfopen(path)
    if f is None:
        return False
    try:
        return bool(repo.add_solv(f))
    finally:
        f.close()


def write_solv_file(repo: solv.Repo, path: str, stale_prefix: str) -> bool:
    """Best effort: a cache that cannot be written only costs time."""
    tmp = '%s.%d.tmp' % (path, os.getpid())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = solv.xfopen(tmp, 'w')
        if f is None:
            return False
        ok = repo.write(f)
        f.close()
        if not ok:
            os.unlink(tmp)
            return False
        os.replace(tmp, path)
        directory, base = os.path.split(stale_prefix)
        for old in os.listdir(directory):
            # Older copies of the same database or repository; not another writer's file in progress.
            if old.startswith(base) and old.endswith('.solv') and os.path.join(directory, old) != path:
                try:
                    os.unlink(os.path.join(directory, old))
                except FileNotFoundError:
                    pass  # swept by another writer
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


# Repositories parsed in this run whose .solv files are written once the answer is out:
# (their pool, kept alive with them: freeing it frees the repository; repo, path, stale prefix).
_unwritten: list[tuple[solv.Pool, solv.Repo, str, str]] = []


def write_pending_solv_files() -> None:
    """Writes the .solv files of the repositories this run parsed (after the answer: the caller
    does not wait for them). Written as the pool holds them: file provides libsolv added are
    facts about the packages, and a later pool re-checks them (REPOSITORY_ADDEDFILEPROVIDES)."""
    while _unwritten:
        _pool, repo, path, prefix = _unwritten.pop(0)
        write_solv_file(repo, path, prefix)


def load_cached(pool: solv.Pool, repo: solv.Repo, kind: str, ident: str, state: str,
                fill: Callable[[solv.Repo], None], own: bool = False) -> range:
    """Append to repo the solvables fill(repo) would add, through the .solv cache: the file for
    (kind, ident) is valid while `state` is unchanged. Return the ids added (one run: libsolv
    appends a repository's solvables at the end of the pool).

    Parsed, never read back: a repository of its own (`own`: nothing else goes into it) is
    written after the answer; the first database of a shared one (@System) at once, before the
    next is added; a later one in a repository of its own first, written, then read into `repo`."""
    first = len(pool.solvables)
    if _solv_cache is None:
        fill(repo)
        repo.internalize()
        return range(first, len(pool.solvables))
    prefix = os.path.join(_solv_cache, '%s-%s-' % (kind, digest(ident)))
    path = prefix + digest(state) + '.solv'
    if os.path.exists(path) and add_solv_file(repo, path):
        return range(first, len(pool.solvables))
    if own or repo.nsolvables == 0:
        fill(repo)
        repo.internalize()
        if own:
            _unwritten.append((pool, repo, path, prefix))
        else:
            write_solv_file(repo, path, prefix)
        return range(first, len(pool.solvables))
    fresh = pool.add_repo('@fill')
    fill(fresh)
    fresh.internalize()
    written = write_solv_file(fresh, path, prefix)
    fresh.free(True)
    first = len(pool.solvables)
    if not (written and add_solv_file(repo, path)):
        fill(repo)
    repo.internalize()
    return range(first, len(pool.solvables))


def load_rpmdb(pool: solv.Pool, repo: solv.Repo, root: str) -> range:
    """Append root's rpmdb to repo; return the ids of the solvables it added."""
    if not has_rpmdb(root):
        return range(len(pool.solvables), len(pool.solvables))  # a node without a database has no packages yet

    def fill(target: solv.Repo) -> None:
        # Debian's libsolv reads ~/.rpmdb unless told to use the rootdir.
        pool.set_rootdir(root)
        try:
            if not target.add_rpmdb(RPMDB_FLAGS):
                raise RequestError('cannot read the rpm database of node %s' % root)
        finally:
            pool.set_rootdir('')
    return load_cached(pool, repo, 'rpmdb', os.path.abspath(root), rpmdb_state(root), fill)


def repomd_locations(repomd_bytes: bytes) -> dict[str, str]:
    """The metadata files repomd.xml names: for each <data type="T"> child of the root, the href of
    its first <location> child (a later <data> of the same type wins). Read with expat itself:
    ElementTree's import costs some 4 ms of every run. A document type declaration is refused
    (repomd.xml has none; entities are what one would bring)."""
    locations: dict[str, str] = {}
    depth = 0
    kind: Optional[str] = None
    href: Optional[str] = None
    located = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, kind, href, located
        depth += 1
        if depth == 2 and name == REPOMD_NS + 'data':
            kind, href, located = attrs.get('type'), None, False
        elif depth == 3 and kind is not None and not located and name == REPOMD_NS + 'location':
            href, located = attrs.get('href'), True

    def end(name: str) -> None:
        nonlocal depth, kind
        if depth == 2 and kind is not None:
            if href is not None:
                locations[kind] = href
            kind = None
        depth -= 1

    def doctype(*_: object) -> None:
        raise ValueError('a document type declaration is not allowed')

    parser = expat.ParserCreate(namespace_separator=' ')
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.Parse(repomd_bytes, True)
    return locations


def load_rpmmd(pool: solv.Pool, spec: RepoSpec) -> solv.Repo:
    repo = pool.add_repo(spec['id'])
    # dnf: a lower priority number wins; libsolv: a higher priority wins. The same for cost.
    repo.priority = -int(spec.get('priority', 99))
    repo.subpriority = -int(spec.get('cost', 1000))
    directory = spec['dir']
    repomd = os.path.join(directory, 'repodata', 'repomd.xml')
    try:
        with open(repomd, 'rb') as f:
            repomd_bytes = f.read()
        locations = repomd_locations(repomd_bytes)
    except (OSError, expat.ExpatError, ValueError) as e:
        raise RequestError('repository %s: cannot read %s: %s' % (spec['id'], repomd, e))
    if 'primary' not in locations:
        raise RequestError('repository %s: %s lists no primary metadata' % (spec['id'], repomd))
    repo.appdata = RepoData(spec['id'], directory, 'filelists' in locations)

    def fill(target: solv.Repo) -> None:
        for kind, flags in (('primary', 0), ('filelists', solv.Repo.REPO_EXTEND_SOLVABLES)):
            if kind not in locations:
                continue
            f = solv.xfopen(os.path.join(directory, locations[kind]))
            if f is None:
                raise RequestError('repository %s: cannot open %s' % (spec['id'], locations[kind]))
            target.add_rpmmd(f, None, flags)
            f.close()
    # repomd.xml names every metadata file by its checksum: its bytes are the repository's state.
    load_cached(pool, repo, 'repo', os.path.abspath(directory), sha256(repomd_bytes).hexdigest(), fill,
                own=True)
    return repo


def filtered_out(repo: solv.Repo, spec: RepoSpec) -> list[int]:
    """The solvables of repo that its excludepkgs name, or that its includepkgs (when given) do
    not: globs on the package name, as dnf matches them."""
    excludes = spec.get('excludepkgs', [])
    includes = spec.get('includepkgs', [])
    if not excludes and not includes:
        return []
    out = []
    for s in repo.solvables:
        if any(fnmatch.fnmatchcase(s.name, g) for g in excludes) or (
                includes and not any(fnmatch.fnmatchcase(s.name, g) for g in includes)):
            out.append(s.id)
    return out


def repo_data(s: solv.XSolvable) -> RepoData:
    data: RepoData = s.repo.appdata
    return data
