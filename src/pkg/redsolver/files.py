"""Package file lists, and where a package's files land in a node."""
import os
import stat
from typing import Collection, Iterator, Mapping, Optional

import solv

FILE_SEARCH = solv.Dataiterator.SEARCH_FILES | solv.Dataiterator.SEARCH_COMPLETE_FILELIST

# path -> packages having it, per node root; filled on first need.
OwnersIndex = dict[str, dict[str, list[solv.XSolvable]]]


def package_files(s: solv.XSolvable) -> list[str]:
    return [d.str for d in s.Dataiterator(solv.SOLVABLE_FILELIST, None, FILE_SEARCH)]


def top_dirs(s: solv.XSolvable) -> list[str]:
    """The top-level directories a package has files in (usr, etc, opt, …)."""
    return sorted(set(path.split('/')[1] for path in package_files(s) if path.startswith('/') and path.split('/')[1]))


# The host's merged-/usr links, which the staged apply reproduces: a package's /bin/x lands in usr/bin/x.
USR_LINKS = dict((name, os.readlink('/' + name).strip('/'))
                 for name in ('bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32') if os.path.islink('/' + name))


def spellings(path: str) -> list[str]:
    """Where a package path lands in a node (first), and every other path rpm may record for it."""
    parts = path.split('/', 2)
    if len(parts) == 3 and parts[1] in USR_LINKS:
        landed = '/%s/%s' % (USR_LINKS[parts[1]], parts[2])
    else:
        landed = path
    out = [landed]
    for name, target in USR_LINKS.items():
        prefix = '/%s/' % target
        if landed.startswith(prefix):
            out.append('/%s/%s' % (name, landed[len(prefix):]))
    return out + ([path] if path not in out else [])


def shadowed_files(pool: solv.Pool, s: solv.XSolvable, roots: list[str], owned_by: Mapping[str, Collection[int]],
                   owners_index: Optional[OwnersIndex] = None) -> Iterator[tuple[str, str, solv.XSolvable]]:
    """Files of incoming package `s` that a package of another node (roots, in order; owned_by:
    root -> ids of its packages) already has there as a file or link: the node's copy would hide
    it, or be hidden by it. A package of the same name (a forcenode copy) may.
    `owners_index` is filled on first need and may be shared between calls. Yields (path, root, owner)."""
    index: OwnersIndex = {} if owners_index is None else owners_index

    def owners_of(root: str, path: str) -> list[solv.XSolvable]:
        if root not in index:
            by_path: dict[str, list[solv.XSolvable]] = {}
            index[root] = by_path
            for sid in owned_by[root]:
                o = pool.solvables[sid]
                for f in package_files(o):
                    by_path.setdefault(f, []).append(o)
        return index[root].get(path, [])

    for path in package_files(s):
        names = spellings(path)
        for root in roots:
            try:
                st = os.lstat(root + names[0])
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                break
            owners = [o for name in names for o in owners_of(root, name) if o.name != s.name]
            if owners:
                yield path, root, owners[0]
            break
