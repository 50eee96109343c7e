#!/usr/bin/python3
"""redpak family-aware dependency resolution with libsolv (python3-solv).

Reads one JSON request on stdin, writes one JSON answer on stdout (see src/pkg/solver.ts for
the types). Must run under /usr/bin/python3: that is where Debian's `solv` module lives.

The model:
- @System is the family view: the node's rpmdb plus every ancestor's, each solvable
  remembering which node owns it.
- Ancestors are read-only: every ancestor solvable gets a SOLVER_LOCK job, so the solver must
  satisfy requests without erasing, upgrading or obsoleting them (conflicts and obsoletes
  across the family are thereby honoured). Jobs that explicitly target an ancestor's package
  are refused before solving, naming the owner.
- No duplicates: installing a package whose name an ancestor has installed is refused unless
  `forcenode`, which installs the node's own copy alongside (the name is made multiversion).
- Descendants are protected: after solving, every requirement of every descendant package
  that was satisfied before must still be satisfied by the descendant's own view afterwards.
"""
import hashlib
import json
import os
import stat
import sys
import xml.etree.ElementTree as ET

import solv

RPMDB_FLAGS = solv.Repo.REPO_USE_ROOTDIR | solv.Repo.REPO_REUSE_REPODATA | solv.Repo.REPO_NO_INTERNALIZE
REPOMD_NS = '{http://linux.duke.edu/metadata/repo}'

NAME_SELECTION = (solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_CANON | solv.Selection.SELECTION_DOTARCH
                  | solv.Selection.SELECTION_REL | solv.Selection.SELECTION_GLOB)
CAPABILITY_SELECTION = (solv.Selection.SELECTION_PROVIDES | solv.Selection.SELECTION_FILELIST
                        | solv.Selection.SELECTION_REL | solv.Selection.SELECTION_GLOB)


class RequestError(Exception):
    pass


def has_rpmdb(root):
    db = os.path.join(root, 'var/lib/rpm')
    return any(os.path.exists(os.path.join(db, f)) for f in ('rpmdb.sqlite', 'Packages', 'Packages.db'))


# Where parsed databases and repositories are kept as .solv files (libsolv's own format, read in
# a millisecond where parsing takes tens): set by main() from the request's `solvCache`.
SOLV_CACHE = None
# The files whose state (inode, size, mtime) identifies an rpm database's content.
RPMDB_FILES = ('rpmdb.sqlite', 'rpmdb.sqlite-wal', 'Packages', 'Packages.db')


def digest(text):
    return hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:16]


def rpmdb_state(root):
    state = []
    for f in RPMDB_FILES:
        try:
            st = os.stat(os.path.join(root, 'var/lib/rpm', f))
        except OSError:
            continue
        state.append('%s:%d:%d:%d' % (f, st.st_ino, st.st_size, st.st_mtime_ns))
    return ' '.join(state)


def add_solv_file(repo, path):
    f = solv.xfopen(path)
    if f is None:
        return False
    try:
        return bool(repo.add_solv(f))
    finally:
        f.close()


def write_solv_file(repo, path, stale_prefix):
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


def load_cached(pool, repo, kind, ident, state, fill):
    """Append to repo the solvables fill(repo) would add, through the .solv cache: the file for
    (kind, ident) is valid while `state` is unchanged. Return the ids added."""
    first = len(pool.solvables)
    if SOLV_CACHE is None:
        fill(repo)
        repo.internalize()
        return list(range(first, len(pool.solvables)))
    prefix = os.path.join(SOLV_CACHE, '%s-%s-' % (kind, digest(ident)))
    path = prefix + digest(state) + '.solv'
    if not (os.path.exists(path) and add_solv_file(repo, path)):
        fresh = pool.add_repo('@fill')
        fill(fresh)
        fresh.internalize()
        written = write_solv_file(fresh, path, prefix)
        fresh.free(True)
        first = len(pool.solvables)
        if not (written and add_solv_file(repo, path)):
            fill(repo)
        repo.internalize()
    return list(range(first, len(pool.solvables)))


def load_rpmdb(pool, repo, root):
    """Append root's rpmdb to repo; return the ids of the solvables it added."""
    if not has_rpmdb(root):
        return []  # a node without a database simply has no packages yet

    def fill(target):
        # Debian's libsolv reads ~/.rpmdb unless told to use the rootdir (toolchain.md §0.5).
        pool.set_rootdir(root)
        try:
            if not target.add_rpmdb(RPMDB_FLAGS):
                raise RequestError('cannot read the rpm database of node %s' % root)
        finally:
            pool.set_rootdir('')
    return load_cached(pool, repo, 'rpmdb', os.path.abspath(root), rpmdb_state(root), fill)


def load_rpmmd(pool, spec):
    repo = pool.add_repo(spec['id'])
    # dnf: a lower priority number wins; libsolv: a higher priority wins.
    repo.priority = -int(spec.get('priority', 99))
    repo.appdata = spec
    directory = spec['dir']
    repomd = os.path.join(directory, 'repodata', 'repomd.xml')
    try:
        with open(repomd, 'rb') as f:
            repomd_bytes = f.read()
        root = ET.fromstring(repomd_bytes)
    except (OSError, ET.ParseError) as e:
        raise RequestError('repository %s: cannot read %s: %s' % (spec['id'], repomd, e))
    locations = {}
    for data in root.findall(REPOMD_NS + 'data'):
        loc = data.find(REPOMD_NS + 'location')
        if loc is not None:
            locations[data.get('type')] = loc.get('href')
    if 'primary' not in locations:
        raise RequestError('repository %s: %s lists no primary metadata' % (spec['id'], repomd))

    def fill(target):
        for kind, flags in (('primary', 0), ('filelists', solv.Repo.REPO_EXTEND_SOLVABLES)):
            if kind not in locations:
                continue
            f = solv.xfopen(os.path.join(directory, locations[kind]))
            if f is None:
                raise RequestError('repository %s: cannot open %s' % (spec['id'], locations[kind]))
            target.add_rpmmd(f, None, flags)
            f.close()
    # Without filelists.xml a package's file list is partial (primary's /etc and bin paths only).
    spec['filelists'] = 'filelists' in locations
    # repomd.xml names every metadata file by its checksum: its bytes are the repository's state.
    load_cached(pool, repo, 'repo', os.path.abspath(directory), hashlib.sha256(repomd_bytes).hexdigest(), fill)
    return repo


def nevra(s):
    return str(s)


class Family:
    def __init__(self, req):
        self.req = req
        self.pool = pool = solv.Pool()
        pool.setdisttype(solv.Pool.DISTTYPE_RPM)
        pool.setarch()
        self.system = pool.add_repo('@System')
        self.node = req['node']
        self.owner = {}  # solvable id -> owning node path
        self.ancestor_ids = set()
        self.requested = set()  # solvables an install job named (reason 'user')
        self.cleaned = set()  # node solvables erased because nothing needs them (reason 'unused')
        for root in [self.node] + list(req.get('ancestors', [])):
            ids = load_rpmdb(pool, self.system, root)
            for sid in ids:
                self.owner[sid] = root
            if root != self.node:
                self.ancestor_ids.update(ids)
        self.system.internalize()
        pool.installed = self.system
        self.repos = [load_rpmmd(pool, spec) for spec in req.get('repos', [])]
        self.local = {}  # path -> solvable, for .rpm files given on the command line
        if req.get('localFiles'):
            cmdline = pool.add_repo('@commandline')
            cmdline.appdata = {'id': '@commandline', 'dir': '', 'filelists': True}
            for path in req['localFiles']:
                s = cmdline.add_rpm(path, solv.Repo.REPO_REUSE_REPODATA | solv.Repo.REPO_NO_INTERNALIZE)
                if s is None:
                    raise RequestError('cannot read package file %s: %s' % (path, pool.errstr))
                self.local[path] = s
            cmdline.internalize()
        pool.addfileprovides()
        pool.createwhatprovides()

    def is_ancestor_owned(self, s):
        return s.id in self.ancestor_ids

    def unneeded(self, removing):
        """The node's packages installed as dependencies (reasons: 'dependency') that nothing needs
        once `removing` (node solvable ids) is gone: not reachable through requirements and
        recommendations from the node's other packages nor from any descendant's. Every provider
        of a requirement counts as needed, so the answer errs on the side of keeping."""
        reasons = self.req.get('reasons') or {}
        view = solv.Pool()
        view.setdisttype(solv.Pool.DISTTYPE_RPM)
        view.setarch()
        repo = view.add_repo('@view')
        own = load_rpmdb(view, repo, self.node)
        for root in self.req.get('ancestors', []):
            load_rpmdb(view, repo, root)  # providers only: an ancestor never needs the node
        roots = []
        for spec in self.req.get('descendants', []):
            for root in [spec] if isinstance(spec, str) else [spec['node']] + list(spec.get('via', [])):
                roots += load_rpmdb(view, repo, root)
        view.addfileprovides()
        view.createwhatprovides()
        # The main pool and this one number solvables differently: match the node's by NEVRA.
        gone = set(nevra(self.pool.solvables[sid]) for sid in removing)
        own_by_nevra = {nevra(view.solvables[sid]): sid for sid in own}
        removed = set(own_by_nevra[n] for n in gone if n in own_by_nevra)
        candidates = set(sid for sid in own if reasons.get(view.solvables[sid].name) == 'dependency') - removed
        roots += [sid for sid in own if sid not in candidates and sid not in removed]
        reached = set(roots)
        queue = list(roots)
        while queue:
            s = view.solvables[queue.pop()]
            deps = requirements(s) + list(s.lookup_deparray(solv.SOLVABLE_RECOMMENDS))
            for dep in deps:
                for p in view.whatprovides(dep):
                    if p.id not in reached and p.id not in removed:
                        reached.add(p.id)
                        queue.append(p.id)
        unused = set(nevra(view.solvables[sid]) for sid in candidates - reached)
        return set(sid for sid, owner in self.owner.items()
                   if owner == self.node and nevra(self.pool.solvables[sid]) in unused)

    def ancestor_packages(self):
        return [self.pool.solvables[sid] for sid in sorted(self.ancestor_ids)]

    def node_packages(self):
        return [s for s in self.system.solvables if s.id not in self.ancestor_ids]


def select(pool, what, installed_only):
    """Name-like match first (what dnf does); capabilities and file paths only if no name matched."""
    extra = solv.Selection.SELECTION_INSTALLED_ONLY if installed_only else 0
    sel = pool.select(what, NAME_SELECTION | extra)
    if not sel.isempty():
        return sel, True
    return pool.select(what, CAPABILITY_SELECTION | extra), False


def violation(rule, message, **fields):
    out = {'rule': rule, 'message': message}
    out.update(fields)
    return out


def build_jobs(fam, forcenode):
    """Translate request jobs into libsolv jobs; collect rule violations and 'no match' problems."""
    pool = fam.pool
    jobs, violations, problems = [], [], []
    multiversion_names = set()
    erasing = set()  # node packages the jobs erase
    autoremove = False
    for job in fam.req.get('jobs', []):
        op, what = job['op'], job.get('what', '')
        if op == 'upgrade-all':
            for s in fam.node_packages():
                jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_UPDATE, s.id))
            continue
        if op == 'autoremove':
            autoremove = True
            continue
        if op not in ('install', 'erase', 'upgrade', 'reinstall', 'downgrade'):
            raise RequestError('unknown job operation %r' % op)
        if op == 'install' and what in fam.local:
            sel = pool.Selection()
            sel.add_raw(solv.Job.SOLVER_SOLVABLE, fam.local[what].id)
            by_name = True
        else:
            sel, by_name = select(pool, what, installed_only=(op != 'install'))
        if sel.isempty():
            problems.append({'message': 'No match for argument: %s' % what,
                             'rules': [], 'solutions': [], 'readOnly': []})
            continue
        matched = sel.solvables()
        if op == 'install':
            # Only a request by name is a duplicate: asking for a capability an ancestor
            # already provides is simply satisfied (a no-op), as dnf would do.
            wanted_names = set(m.name for m in matched) if by_name else set()
            installed_by_name = solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_INSTALLED_ONLY
            ancestor_same_name = [s for name in sorted(wanted_names)
                                  for s in pool.select(name, installed_by_name).solvables()
                                  if fam.is_ancestor_owned(s)]
            if ancestor_same_name and not forcenode:
                for s in ancestor_same_name:
                    violations.append(violation(
                        'duplicate',
                        'package %s is already installed in ancestor node %s; node %s cannot install its own copy'
                        ' (use forcenode to override)'
                        % (s.name, fam.owner[s.id], fam.node),
                        package=nevra(s), name=s.name, node=fam.owner[s.id]))
                continue
            if ancestor_same_name:
                multiversion_names.update(s.name for s in ancestor_same_name)
            fam.requested.update(m.id for m in matched)
            jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
            continue
        # erase / upgrade / reinstall / downgrade act on installed packages: only the node's own.
        own = [s for s in matched if not fam.is_ancestor_owned(s)]
        for s in matched:
            if fam.is_ancestor_owned(s) and not any(o.name == s.name for o in own):
                violations.append(violation(
                    'ancestor-read-only',
                    'cannot %s %s: it belongs to ancestor node %s, which is read-only from node %s'
                    % (op, nevra(s), fam.owner[s.id], fam.node),
                    package=nevra(s), name=s.name, node=fam.owner[s.id]))
        if not own:
            continue
        how = {'erase': solv.Job.SOLVER_ERASE, 'upgrade': solv.Job.SOLVER_UPDATE,
               'reinstall': solv.Job.SOLVER_INSTALL, 'downgrade': solv.Job.SOLVER_INSTALL}[op]
        if op == 'erase' or op == 'upgrade':
            for s in own:
                jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | how, s.id))
            if op == 'erase':
                erasing.update(s.id for s in own)
        else:
            # reinstall: the same EVR from a repository; downgrade: the best older EVR.
            for s in own:
                candidates = [c for c in pool.select(s.name, solv.Selection.SELECTION_NAME).solvables()
                              if c.repo != fam.system and c.arch == s.arch
                              and (c.evrcmp(s) == 0 if op == 'reinstall' else c.evrcmp(s) < 0)]
                if not candidates:
                    problems.append({'message': 'Package %s of node %s is not available'
                                                ' in the enabled repositories for %s'
                                     % (nevra(s), fam.node, op), 'rules': [], 'solutions': [], 'readOnly': []})
                    continue
                best = max(candidates, key=EvrKey)
                jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_INSTALL, best.id))
    if autoremove or (erasing and fam.req.get('cleanDeps')):
        # dnf's clean_requirements_on_remove: what the erased packages alone needed goes too;
        # autoremove: every dependency nothing needs any more.
        unused = fam.unneeded(erasing) - (set() if autoremove else fam.unneeded(set()))
        for sid in sorted(unused - erasing):
            fam.cleaned.add(sid)
            jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_ERASE, sid))
    for name in multiversion_names:
        sel = pool.select(name, solv.Selection.SELECTION_NAME)
        jobs += sel.jobs(solv.Job.SOLVER_MULTIVERSION)
    # Names installed twice in the family (earlier forcenode copies) must stay installable side by side.
    seen = {}
    for s in fam.system.solvables:
        seen[s.name] = seen.get(s.name, 0) + 1
    for name, count in seen.items():
        if count > 1 and name not in multiversion_names:
            jobs += pool.select(name, solv.Selection.SELECTION_NAME).jobs(solv.Job.SOLVER_MULTIVERSION)
    return jobs, violations, problems


class EvrKey:
    def __init__(self, s):
        self.s = s

    def __lt__(self, other):
        return self.s.evrcmp(other.s) < 0


def describe_problems(fam, solver, problems, lock_jobs):
    """Problems as dnf shows them: the problem, its rules, and possible solutions. Solutions that
    would unlock an ancestor's package are dropped: they are never allowed; we name the
    read-only ancestor package instead."""
    out = []
    for p in problems:
        rules = []
        for r in p.findallproblemrules():
            text = r.info().problemstr()
            if text not in rules:
                rules.append(text)
        solutions, read_only = [], []
        for sol in p.solutions():
            elements = sol.elements(True)
            locked = [lock_jobs[e.jobidx] for e in elements
                      if e.type == solv.Solver.SOLVER_SOLUTION_JOB and e.jobidx in lock_jobs]
            if locked:
                for s in locked:
                    entry = {'package': nevra(s), 'node': fam.owner[s.id]}
                    if entry not in read_only:
                        read_only.append(entry)
                continue
            solutions.append([e.str() for e in elements])
        out.append({'message': str(p), 'rules': rules, 'solutions': solutions, 'readOnly': read_only})
    return out


def step_records(fam, trans):
    mode = (solv.Transaction.SOLVER_TRANSACTION_SHOW_ACTIVE | solv.Transaction.SOLVER_TRANSACTION_SHOW_ALL
            | solv.Transaction.SOLVER_TRANSACTION_SHOW_OBSOLETES
            | solv.Transaction.SOLVER_TRANSACTION_SHOW_MULTIINSTALL)
    names = {
        solv.Transaction.SOLVER_TRANSACTION_INSTALL: 'install',
        solv.Transaction.SOLVER_TRANSACTION_MULTIINSTALL: 'install',
        solv.Transaction.SOLVER_TRANSACTION_UPGRADE: 'upgrade',
        solv.Transaction.SOLVER_TRANSACTION_DOWNGRADE: 'downgrade',
        solv.Transaction.SOLVER_TRANSACTION_REINSTALL: 'reinstall',
        solv.Transaction.SOLVER_TRANSACTION_MULTIREINSTALL: 'reinstall',
        solv.Transaction.SOLVER_TRANSACTION_CHANGE: 'reinstall',
        solv.Transaction.SOLVER_TRANSACTION_OBSOLETES: 'obsolete',
        solv.Transaction.SOLVER_TRANSACTION_ERASE: 'erase',
    }
    steps = []
    for s in trans.steps():
        t = trans.steptype(s, mode)
        action = names.get(t)
        if action is None:
            continue  # the "upgraded/obsoleted" halves are reported via `replaces`
        rec = {'action': action, 'nevra': nevra(s), 'name': s.name, 'evr': s.evr, 'arch': s.arch,
               'node': fam.node}
        if action == 'erase':
            rec['node'] = fam.owner.get(s.id, fam.node)
            rec['reason'] = 'unused' if s.id in fam.cleaned else 'user'
            # From the node's database (complete file lists): rpm can only remove what the view shows.
            rec['oldTopDirs'] = top_dirs(s)
        else:
            spec = s.repo.appdata
            location = s.lookup_location()[0]
            checksum = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
            local = [path for path, ls in fam.local.items() if ls.id == s.id]
            rec.update({'repo': spec['id'], 'href': location,
                        'location': local[0] if local else os.path.join(spec['dir'], location),
                        'size': s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE),
                        'checksum': str(checksum) if checksum else None,
                        'replaces': [nevra(o) for o in trans.allothersolvables(s)]})
            if spec.get('filelists'):
                rec['topDirs'] = top_dirs(s)
            replaced = trans.allothersolvables(s)
            if replaced:
                rec['oldTopDirs'] = sorted(set(d for o in replaced for d in top_dirs(o)))
            if action in ('install', 'obsolete'):
                rec['reason'] = 'user' if s.id in fam.requested else 'dependency'
        steps.append(rec)
    return steps


FILE_SEARCH = solv.Dataiterator.SEARCH_FILES | solv.Dataiterator.SEARCH_COMPLETE_FILELIST


def package_files(s):
    return [d.str for d in s.Dataiterator(solv.SOLVABLE_FILELIST, None, FILE_SEARCH)]


def top_dirs(s):
    """The top-level directories a package has files in (usr, etc, opt, …)."""
    return sorted(set(path.split('/')[1] for path in package_files(s) if path.startswith('/') and path.split('/')[1]))


# The host's merged-/usr links, which the staged apply reproduces: a package's /bin/x lands in usr/bin/x.
USR_LINKS = dict((name, os.readlink('/' + name).strip('/'))
                 for name in ('bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32')
                 if os.path.islink('/' + name))


def spellings(path):
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


def shadowed_files(pool, s, roots, owned_by, owners_index=None):
    """Files of incoming package `s` that a package of another node (roots, in order; owned_by:
    root -> ids of its packages) already has there as a file or link: the node's copy would hide
    it, or be hidden by it. A package of the same name (a forcenode copy) may.
    `owners_index` (root -> path -> solvables) is filled on first need and may be shared between
    calls. Yields (path, root, owner)."""
    owners_index = {} if owners_index is None else owners_index

    def owners_of(root, path):
        if root not in owners_index:
            index = owners_index[root] = {}
            for sid in owned_by[root]:
                o = pool.solvables[sid]
                for f in package_files(o):
                    index.setdefault(f, []).append(o)
        return owners_index[root].get(path, [])

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


def file_conflicts(fam, trans):
    """Rule 5 for files: what the node gets must not own a file an ancestor's package has."""
    roots = list(fam.req.get('ancestors', []))
    owned_by = {root: set() for root in roots}
    for sid in fam.ancestor_ids:
        owned_by[fam.owner[sid]].add(sid)
    out = []
    index = {}
    for s in trans.newsolvables():
        for path, root, owner in shadowed_files(fam.pool, s, roots, owned_by, index):
            out.append(violation('file-conflict',
                                 'file %s of %s conflicts with the file of %s in ancestor node %s:'
                                 ' the node\'s copy would hide it'
                                 % (path, nevra(s), nevra(owner), root), package=nevra(s), name=s.name, node=fam.node,
                                 path=path, other=nevra(owner), otherNode=root))
    return out


def touched_ancestors(fam, trans):
    """Defensive re-check of rule 3 on the solved transaction (locks should already prevent it)."""
    out = []
    for s in trans.steps():
        if fam.is_ancestor_owned(s):
            out.append(violation('ancestor-read-only',
                                 'the transaction would change %s, which belongs to ancestor node %s'
                                 % (nevra(s), fam.owner[s.id]), package=nevra(s), name=s.name, node=fam.owner[s.id]))
    return out


def requirements(s):
    # marker 0: all requirements, including Requires(pre/post) after the prereq marker.
    return [d for d in s.lookup_deparray(solv.SOLVABLE_REQUIRES, 0)
            if d.id != solv.SOLVABLE_PREREQMARKER and not d.str().startswith('rpmlib(')]


def into_descendants(fam, trans):
    """A package of the node must not write into a descendant node's directory (its configs, its
    own files): each incoming file path is checked against the descendants' directories."""
    prefixes = []
    for spec in fam.req.get('descendants', []):
        node = spec if isinstance(spec, str) else spec['node']
        rel = os.path.relpath(node, fam.node)
        if not rel.startswith('..'):
            prefixes.append(('/' + rel, node))
    if not prefixes:
        return []
    out = []
    for s in trans.newsolvables():
        for path in package_files(s):
            hit = None
            for landed in spellings(path):
                hit = next((node for prefix, node in prefixes
                            if landed == prefix or landed.startswith(prefix + '/')), None)
                if hit:
                    break
            if hit:
                out.append({'rule': 'descendant-directory', 'package': nevra(s), 'node': fam.node, 'name': s.name,
                            'path': path,
                            'message': '%s would write %s into the directory of descendant node %s'
                            % (nevra(s), path, hit)})
                break
    return out


def check_descendants(fam, trans):
    """Rule 4. Loaded only now, after solving, so descendants' packages can never be picked as
    install candidates. A descendant sees its own db, the dbs between it and the node (`via`),
    and the node's family view."""
    pool = fam.pool
    specs = fam.req.get('descendants', [])
    if not specs:
        return []
    before = set(s.id for s in fam.system.solvables)
    kept = set(s.id for s in trans.keptsolvables())
    after = kept | set(s.id for s in trans.newsolvables())
    removed = before - after
    loaded = []
    for spec in specs:
        if isinstance(spec, str):
            spec = {'node': spec, 'via': []}
        own_ids, view_ids = [], set()
        for root in [spec['node']] + list(spec.get('via', [])):
            repo = pool.add_repo('@descendant:' + root)
            ids = load_rpmdb(pool, repo, root)
            repo.internalize()
            view_ids.update(ids)
            if root == spec['node']:
                own_ids = ids
        loaded.append((spec['node'], own_ids, view_ids))
    pool.addfileprovides()
    pool.createwhatprovides()
    out = []
    new_ids = set(s.id for s in trans.newsolvables())
    for node, own_ids, view_ids in loaded:
        # Rule 5 across the family: what the transaction brings in must not conflict with a
        # descendant's package, nor a descendant's package with it.
        for nid in new_ids:
            n = pool.solvables[nid]
            for dep in n.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id in own_ids:
                        out.append(violation(
                            'descendant-conflict',
                            'descendant node %s: %s conflicts with %s, which node %s would get (%s)'
                            % (node, nevra(p), nevra(n), fam.node, 'its Conflicts: ' + dep.str()),
                            node=node, package=nevra(p), requirement=dep.str(), removed=[]))
        for sid in own_ids:
            d = pool.solvables[sid]
            for dep in d.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                hit = [p for p in pool.whatprovides(dep) if p.id in new_ids]
                for p in hit:
                    out.append(violation(
                        'descendant-conflict',
                        'descendant node %s: %s conflicts with %s (Conflicts: %s), which node %s would get'
                        % (node, nevra(d), nevra(p), dep.str(), fam.node),
                        node=node, package=nevra(d), requirement=dep.str(), removed=[]))
        for nid in new_ids:
            for path, root, owner in shadowed_files(pool, pool.solvables[nid], [node], {node: set(own_ids)}):
                out.append(violation(
                    'descendant-file-conflict',
                    'descendant node %s: its %s has file %s, which %s would bring into node %s'
                    ' (one would hide the other)'
                    % (node, nevra(owner), path, nevra(pool.solvables[nid]), fam.node),
                    node=node, package=nevra(owner), requirement=path, removed=[]))
        for sid in own_ids:
            s = pool.solvables[sid]
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if not providers & (before | view_ids):
                    continue  # already unsatisfied before: not this transaction's doing
                if providers & (after | view_ids):
                    continue
                lost = sorted(nevra(pool.solvables[p]) for p in providers & removed)
                out.append(violation(
                    'descendant-broken',
                    'descendant node %s: %s requires %s,'
                    ' which would no longer be provided once %s is removed from node %s'
                    % (node, nevra(s), dep.str(), ', '.join(lost) or 'its provider', fam.node),
                    node=node, package=nevra(s), requirement=dep.str(), removed=lost))
    return out


def solve(req):
    fam = Family(req)
    pool = fam.pool
    forcenode = bool(req.get('forcenode'))
    jobs, violations, problems = build_jobs(fam, forcenode)
    if violations or problems:
        return {'ok': False, 'steps': [], 'problems': problems, 'violations': violations}
    lock_jobs = {}
    all_jobs = []
    for s in fam.ancestor_packages():
        lock_jobs[len(all_jobs)] = s
        all_jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_LOCK, s.id))
    all_jobs += jobs
    solver = pool.Solver()
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if req.get('weak') else 1)
    found = solver.solve(all_jobs)
    if found:
        return {'ok': False, 'steps': [], 'problems': describe_problems(fam, solver, found, lock_jobs),
                'violations': []}
    trans = solver.transaction()
    trans.order()
    violations = (touched_ancestors(fam, trans) + file_conflicts(fam, trans) + into_descendants(fam, trans)
                  + check_descendants(fam, trans))
    # Installed packages of the node an install job named: dnf then records them as asked for.
    named = sorted(set(fam.pool.solvables[sid].name for sid in fam.requested if fam.owner.get(sid) == fam.node))
    return {'ok': not violations, 'steps': step_records(fam, trans), 'problems': [], 'violations': violations,
            'namedInstalled': named}


def describe(fam, s, details):
    installed = s.repo == fam.system
    rec = {'nevra': nevra(s), 'name': s.name, 'evr': s.evr, 'arch': s.arch,
           'repo': '@System' if installed else s.repo.appdata['id'],
           'summary': s.lookup_str(solv.SOLVABLE_SUMMARY) or ''}
    if installed:
        rec['node'] = fam.owner.get(s.id, fam.node)
    else:
        rec['size'] = s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE)
    if details:
        rec.update({'description': s.lookup_str(solv.SOLVABLE_DESCRIPTION) or '',
                    'license': s.lookup_str(solv.SOLVABLE_LICENSE) or '',
                    'url': s.lookup_str(solv.SOLVABLE_URL) or '',
                    'installsize': s.lookup_num(solv.SOLVABLE_INSTALLSIZE),
                    'requires': [d.str() for d in requirements(s)],
                    'provides': [d.str() for d in s.lookup_deparray(solv.SOLVABLE_PROVIDES)]})
    return rec


def query(req):
    """Read-only questions on the family view and the repositories: list, info, repoquery."""
    fam = Family(req)
    pool = fam.pool
    q = req.get('query', {})
    scope = q.get('scope', 'all')  # installed | available | family | all
    if scope == 'installed':
        cands = fam.node_packages()
    elif scope == 'family':
        cands = list(fam.system.solvables)
    elif scope == 'available':
        cands = [s for r in fam.repos for s in r.solvables]
    else:
        cands = list(fam.system.solvables) + [s for r in fam.repos for s in r.solvables]
    ids = set(s.id for s in cands)
    if q.get('names'):
        keep = set()
        for what in q['names']:
            sel, _ = select(pool, what, installed_only=False)
            keep |= set(s.id for s in sel.solvables())
        ids &= keep
    if q.get('whatprovides'):
        sel = pool.select(q['whatprovides'], CAPABILITY_SELECTION | solv.Selection.SELECTION_NAME)
        ids &= set(s.id for s in sel.solvables())
    if q.get('whatrequires'):
        target = q['whatrequires']
        sel, _ = select(pool, target, installed_only=False)
        providers = set(s.id for s in sel.solvables())
        keep = set()
        for sid in ids:
            for dep in requirements(pool.solvables[sid]):
                if dep.str().split(' ')[0] == target or providers & set(p.id for p in pool.whatprovides(dep)):
                    keep.add(sid)
                    break
        ids = keep
    if q.get('latest'):
        best = {}
        for sid in ids:
            s = pool.solvables[sid]
            key = (s.name, s.arch, s.repo == fam.system)
            if key not in best or s.evrcmp(pool.solvables[best[key]]) > 0:
                best[key] = sid
        ids = set(best.values())
    out = [describe(fam, pool.solvables[sid], q.get('details', False)) for sid in ids]
    out.sort(key=lambda r: (r['name'], r['repo'] != '@System', r['nevra']))
    return {'ok': True, 'packages': out}


def check_placement(req):
    """Would these nodes (already on disk, e.g. unpacked from an archive) keep the family rules
    under `ancestors`? For each node: no package whose name an ancestor has (rule 2, unless
    `forcenode`), every requirement satisfied by the node, the nodes between it and the
    ancestors (`via`) and the ancestors (rule 1), and no conflict with an ancestor's package in
    either direction (rule 5)."""
    pool = solv.Pool()
    pool.setdisttype(solv.Pool.DISTTYPE_RPM)
    pool.setarch()
    ancestors = list(req.get('ancestors', []))
    owner = {}
    anc_repo = pool.add_repo('@ancestors')
    for root in ancestors:
        for sid in load_rpmdb(pool, anc_repo, root):
            owner[sid] = root
    anc_repo.internalize()
    anc_ids = set(owner)
    loaded = []
    repos = {}
    for spec in req.get('nodes', []):
        for root in [spec['node']] + list(spec.get('via', [])):
            if root in repos:
                continue
            repo = pool.add_repo('@node:' + root)
            ids = load_rpmdb(pool, repo, root)
            repo.internalize()
            repos[root] = set(ids)
            for sid in ids:
                owner[sid] = root
    for spec in req.get('nodes', []):
        view = set()
        for root in [spec['node']] + list(spec.get('via', [])):
            view |= repos[root]
        loaded.append((spec['node'], repos[spec['node']], view))
    pool.addfileprovides()
    pool.createwhatprovides()
    ignored = set(req.get('ignoreDuplicates', []))
    out = []
    for node, own_ids, view_ids in loaded:
        for sid in sorted(own_ids):
            s = pool.solvables[sid]
            if not req.get('forcenode') and s.name not in ignored:
                for a in sorted(anc_ids):
                    if pool.solvables[a].name == s.name:
                        out.append(violation(
                            'duplicate',
                            'node %s: package %s is already installed in ancestor node %s as %s'
                            % (node, nevra(s), owner[a], nevra(pool.solvables[a])),
                            node=node, package=nevra(s), name=s.name, ancestor=owner[a]))
                        break
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if providers & (view_ids | anc_ids):
                    continue
                out.append(violation(
                    'unsatisfied',
                    'node %s: %s requires %s, which nothing in the node or its ancestors provides'
                    % (node, nevra(s), dep.str()),
                    node=node, package=nevra(s), name=s.name, requirement=dep.str()))
            for dep in s.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id in anc_ids:
                        out.append(violation(
                            'conflict',
                            'node %s: %s conflicts with %s of ancestor node %s (Conflicts: %s)'
                            % (node, nevra(s), nevra(p), owner[p.id], dep.str()),
                            node=node, package=nevra(s), name=s.name, requirement=dep.str(), ancestor=owner[p.id]))
        for a in sorted(anc_ids):
            s = pool.solvables[a]
            for dep in s.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id in own_ids:
                        out.append(violation(
                            'conflict',
                            'node %s: %s conflicts with it: %s of ancestor node %s has Conflicts: %s'
                            % (node, nevra(p), nevra(s), owner[a], dep.str()),
                            node=node, package=nevra(p), name=p.name, requirement=dep.str(), ancestor=owner[a]))
    return {'ok': not out, 'violations': out}


class Tree:
    """Every node of a tree of nodes (plus `outer` databases above its top, closest first), each
    node's database in its own repo so that each node's view (itself, its parents up the tree,
    then `outer`) can be told apart. A database that cannot be read is reported, never fatal."""

    def __init__(self, req):
        self.pool = pool = solv.Pool()
        pool.setdisttype(solv.Pool.DISTTYPE_RPM)
        pool.setarch()
        self.owner = {}
        self.own = {}
        self.parent = {}
        self.order = []
        self.unreadable = []
        outer_ids = set()
        for root in req.get('outer', []):
            outer_ids |= self._load(root)
        for spec in req.get('nodes', []):
            self.parent[spec['node']] = spec.get('parent')
            self.order.append(spec['node'])
            self.own[spec['node']] = self._load(spec['node'])
        self.outer = outer_ids
        pool.addfileprovides()
        pool.createwhatprovides()

    def _load(self, root):
        repo = self.pool.add_repo('@node:' + root)
        try:
            ids = load_rpmdb(self.pool, repo, root)
        except RequestError as e:
            self.pool.set_rootdir('')
            self.unreadable.append({'node': root, 'error': str(e)})
            ids = []
        repo.internalize()
        for sid in ids:
            self.owner[sid] = root
        return set(ids)

    def chain(self, node):
        """The node's ancestors within the tree, closest first."""
        out = []
        p = self.parent.get(node)
        while p is not None:
            out.append(p)
            p = self.parent.get(p)
        return out

    def above(self, node):
        ids = set(self.outer)
        for a in self.chain(node):
            ids |= self.own[a]
        return ids

    def view(self, node):
        return self.own[node] | self.above(node)

    def rec(self, sid):
        s = self.pool.solvables[sid]
        return {'package': nevra(s), 'name': s.name, 'node': self.owner.get(sid)}


def dep_name(dep):
    return dep.str().split(' ')[0]


def audit(req):
    """The family rules, checked on installed nodes (redmanager check): for every node, each
    requirement of its packages satisfied by the node and its ancestors (rule 1), no package
    whose name an ancestor has (rule 2), no conflict and no obsoletes between a package of the
    node and one of its view, and no file of its packages that a package of an ancestor in the
    tree has too (rule 5)."""
    tree = Tree(req)
    pool = tree.pool
    allowed = set(req.get('allowDuplicates', []))
    out = []
    file_index = {}  # node -> path -> packages, built when a node's files are first looked up

    def add(rule, node, s, message, **extra):
        rec = {'rule': rule, 'node': node, 'package': nevra(s), 'name': s.name, 'message': message}
        rec.update(extra)
        out.append(rec)

    for node in tree.order:
        own = tree.own[node]
        above = tree.above(node)
        view = own | above
        above_by_name = {}
        for a in sorted(above):
            above_by_name.setdefault(pool.solvables[a].name, []).append(a)
        seen_names = {}
        for sid in sorted(own):
            s = pool.solvables[sid]
            key = (s.name, s.arch)
            if key in seen_names and s.name not in allowed and s.name != 'gpg-pubkey':
                earlier = nevra(pool.solvables[seen_names[key]])
                add('duplicate', node, s, '%s is installed twice in the node (also as %s)' % (nevra(s), earlier),
                    other=earlier, otherNode=node)
            seen_names.setdefault(key, sid)
            if s.name not in allowed and s.name != 'gpg-pubkey':
                for a in above_by_name.get(s.name, [])[:1]:
                    add('duplicate', node, s, '%s is also installed in ancestor node %s as %s'
                        % (nevra(s), tree.owner.get(a), nevra(pool.solvables[a])),
                        other=nevra(pool.solvables[a]), otherNode=tree.owner.get(a))
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if providers & view:
                    continue
                elsewhere = sorted(set(tree.owner[p] for p in providers if p in tree.owner))
                add('unsatisfied', node, s, '%s requires %s, which nothing in the node or its ancestors provides%s'
                    % (nevra(s), dep.str(),
                       ' (provided in %s, not in this family line)' % ', '.join(elsewhere) if elsewhere else ''),
                    requirement=dep.str(), providedElsewhere=elsewhere)
        # Conflicts and obsoletes: every pair with at least one side in the node, reported once.
        pairs = set()
        for sid in sorted(view):
            s = pool.solvables[sid]
            for dep in s.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id == sid or p.id not in view or (sid not in own and p.id not in own):
                        continue
                    if (sid, p.id, 'c') in pairs:
                        continue
                    pairs.add((sid, p.id, 'c'))
                    mine, other = (s, p) if sid in own else (p, s)
                    add('conflict', node, mine, '%s (node %s) conflicts with %s (node %s): Conflicts: %s'
                        % (nevra(s), tree.owner.get(sid), nevra(p), tree.owner.get(p.id), dep.str()),
                        requirement=dep.str(), other=nevra(other), otherNode=tree.owner.get(other.id))
            for dep in s.lookup_deparray(solv.SOLVABLE_OBSOLETES):
                for p in pool.whatprovides(dep):
                    if (p.id == sid or p.id not in view or p.name != dep_name(dep)
                            or (sid not in own and p.id not in own)):
                        continue
                    if (sid, p.id, 'o') in pairs:
                        continue
                    pairs.add((sid, p.id, 'o'))
                    mine, other = (s, p) if sid in own else (p, s)
                    add('obsoletes', node, mine,
                        '%s (node %s) obsoletes %s (node %s), which is still installed: Obsoletes: %s'
                        % (nevra(s), tree.owner.get(sid), nevra(p), tree.owner.get(p.id), dep.str()),
                        requirement=dep.str(), other=nevra(other), otherNode=tree.owner.get(other.id))
        line = tree.chain(node)
        owned_by = dict((root, tree.own[root]) for root in line)
        for sid in sorted(own):
            s = pool.solvables[sid]
            for path, root, owner in shadowed_files(pool, s, line, owned_by, file_index):
                add('file-conflict', node, s,
                    'file %s of %s is also a file of %s in ancestor node %s: one hides the other'
                    % (path, nevra(s), nevra(owner), root), requirement=path, other=nevra(owner), otherNode=root)
    counts = dict((n, len(tree.own[n])) for n in tree.order)
    return {'ok': True, 'findings': out, 'unreadable': tree.unreadable, 'packages': counts}


def why(req):
    """Which packages provide a capability in the view of `focus`, and which packages of the
    tree require it, each with the providers that satisfy it in its own node's view."""
    tree = Tree(req)
    pool = tree.pool
    focus = req['focus']
    cap = req['capability']
    everything = set(tree.owner)
    sel = pool.select(cap, CAPABILITY_SELECTION | solv.Selection.SELECTION_NAME)
    matched = set(s.id for s in sel.solvables()) & everything
    named = set(s.id for s in pool.select(cap, NAME_SELECTION).solvables()) & everything
    cap_name = cap.split(' ')[0]
    focus_view = tree.view(focus)
    nodes_in_scope = [focus] + tree.chain(focus) + [n for n in tree.order if focus in tree.chain(n)]

    def provides_entries(s):
        hits = [d.str() for d in s.lookup_deparray(solv.SOLVABLE_PROVIDES) if dep_name(d) == cap_name]
        if not hits and cap_name.startswith('/'):
            hits = [cap_name]
        return hits

    providers = []
    for sid in sorted(matched):
        if tree.owner[sid] not in nodes_in_scope:
            continue
        rec = tree.rec(sid)
        rec['provides'] = provides_entries(pool.solvables[sid])
        rec['inView'] = sid in focus_view
        providers.append(rec)
    requirers = []
    for node in nodes_in_scope:
        view = tree.view(node)
        for sid in sorted(tree.own[node]):
            s = pool.solvables[sid]
            for dep in requirements(s):
                text = dep.str()
                # A plain requirement names it first; a rich one ("(a or b)") anywhere.
                mentions = dep_name(dep) == cap_name or (
                    text.startswith('(') and cap_name in [t.strip('()') for t in text.split()])
                dep_providers = set(p.id for p in pool.whatprovides(dep))
                through_package = bool(named and (dep_providers & named))
                if not mentions and not through_package:
                    continue
                rec = tree.rec(sid)
                rec['requirement'] = text
                rec['satisfiedBy'] = [tree.rec(p) for p in sorted(dep_providers & view)]
                requirers.append(rec)
    return {'ok': True, 'providers': providers, 'requirers': requirers, 'unreadable': tree.unreadable}


def main():
    try:
        req = json.load(sys.stdin)
        global SOLV_CACHE
        SOLV_CACHE = req.get('solvCache')
        mode = req.get('mode')
        handlers = {'query': query, 'check': check_placement, 'audit': audit, 'why': why}
        answer = handlers.get(mode, solve)(req)
    except RequestError as e:
        answer = {'ok': False, 'error': str(e)}
    except (KeyError, TypeError, ValueError) as e:
        answer = {'ok': False, 'error': 'malformed solver request: %r' % (e,)}
    json.dump(answer, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
