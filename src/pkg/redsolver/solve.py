"""Mode `solve`: a transaction for one node, resolved against its family view.

- Ancestors are read-only: every ancestor solvable gets a SOLVER_LOCK job, so the solver must
  satisfy requests without erasing, upgrading or obsoleting them (conflicts and obsoletes
  across the family are thereby honoured). Jobs that explicitly target an ancestor's package
  are refused before solving, naming the owner.
- No duplicates: installing a package whose name an ancestor has installed is refused unless
  `forcenode`, which installs the node its own copy alongside, the ancestor's very version
  included: the ancestors' copies are set apart for the solve (Family.set_apart), as they are
  for a name the node has already (its copy is the node's own, upgraded or removed as any).
- Descendants are protected: after solving, every requirement of every descendant package
  that was satisfied before must still be satisfied by the descendant's own view afterwards.
"""
import os
from typing import Iterator

import solv

from redsolver.deps import nevra, requirements, select
from redsolver.family import Family, descendant_roots
from redsolver.files import OwnersIndex, package_files, shadowed_files, spellings, top_dirs
from redsolver.pool import load_rpmdb, repo_data
from redsolver.protocol import PROTOCOL_VERSION, Problem, ReadOnlyPackage, SolveAnswer, SolveRequest, Step, Violation


class Jobs:
    """Request jobs translated into libsolv jobs, with the rule violations and 'no match' problems found."""

    def __init__(self) -> None:
        self.jobs: list[solv.Job] = []
        self.violations: list[Violation] = []
        self.problems: list[Problem] = []


def no_solution(message: str) -> Problem:
    return Problem(message=message, rules=[], solutions=[], readOnly=[])


class EvrKey:
    def __init__(self, s: solv.XSolvable) -> None:
        self.s = s

    def __lt__(self, other: 'EvrKey') -> bool:
        return self.s.evrcmp(other.s) < 0


def build_jobs(fam: Family, req: SolveRequest) -> Jobs:
    pool = fam.pool
    forcenode = bool(req.get('forcenode'))
    out = Jobs()
    erasing: set[int] = set()  # node packages the jobs erase
    autoremove = False
    for job in req['jobs']:
        op, what = job['op'], job.get('what', '')
        if op == 'upgrade-all':
            for s in fam.node_packages():
                out.jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_UPDATE, s.id))
            continue
        if op == 'autoremove':
            autoremove = True
            continue
        if op == 'install' and what in fam.local:
            sel = pool.Selection()
            sel.add_raw(solv.Job.SOLVER_SOLVABLE, fam.local[what].id)
            by_name = True
        else:
            sel, by_name = select(pool, what, installed_only=(op != 'install'))
        if sel.isempty():
            out.problems.append(no_solution('No match for argument: %s' % what))
            continue
        matched = sel.solvables()
        if op == 'install':
            # Only a request by name is a duplicate: asking for a capability an ancestor
            # already provides is simply satisfied (a no-op), as dnf would do.
            wanted_names = set(m.name for m in matched) if by_name else set()
            ancestor_same_name = [s for name in sorted(wanted_names)
                                  for s in pool.select(name, solv.Selection.SELECTION_NAME
                                                       | solv.Selection.SELECTION_INSTALLED_ONLY).solvables()
                                  if fam.is_ancestor_owned(s)]
            if ancestor_same_name and not forcenode:
                for s in ancestor_same_name:
                    out.violations.append(Violation(
                        rule='duplicate',
                        message='package %s is already installed in ancestor node %s; node %s cannot install its own '
                                'copy (use forcenode to override)' % (s.name, fam.owner(s.id), fam.node),
                        package=nevra(s), name=s.name, node=fam.owner(s.id)))
                continue
            if ancestor_same_name:
                fam.set_apart(wanted_names)
                if what not in fam.local:
                    sel, by_name = select(pool, what, installed_only=False)
                    matched = sel.solvables()
                if not any(m.repo != fam.system for m in matched):
                    out.problems.append(no_solution('No match for argument: %s in the enabled repositories (the '
                                                    'node\'s own copy comes from a repository)' % what))
                    continue
            fam.requested.update(m.id for m in matched)
            out.jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
            continue
        # erase / upgrade / reinstall / downgrade act on installed packages: only the node's own.
        own = [s for s in matched if not fam.is_ancestor_owned(s)]
        for s in matched:
            if fam.is_ancestor_owned(s) and not any(o.name == s.name for o in own):
                out.violations.append(Violation(
                    rule='ancestor-read-only',
                    message='cannot %s %s: it belongs to ancestor node %s, which is read-only from node %s'
                            % (op, nevra(s), fam.owner(s.id), fam.node),
                    package=nevra(s), name=s.name, node=fam.owner(s.id)))
        if not own:
            continue
        if op == 'erase' or op == 'upgrade':
            how = solv.Job.SOLVER_ERASE if op == 'erase' else solv.Job.SOLVER_UPDATE
            for s in own:
                out.jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | how, s.id))
            if op == 'erase':
                erasing.update(s.id for s in own)
            continue
        # reinstall: the same EVR from a repository; downgrade: the best older EVR.
        for s in own:
            candidates = [c for c in pool.select(s.name, solv.Selection.SELECTION_NAME).solvables()
                          if c.repo != fam.system and c.arch == s.arch
                          and (c.evrcmp(s) == 0 if op == 'reinstall' else c.evrcmp(s) < 0)]
            if not candidates:
                out.problems.append(no_solution('Package %s of node %s is not available in the enabled repositories '
                                                'for %s' % (nevra(s), fam.node, op)))
                continue
            best = max(candidates, key=EvrKey)
            out.jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_INSTALL, best.id))
    if autoremove or (erasing and req.get('cleanDeps')):
        # dnf's clean_requirements_on_remove: what the erased packages alone needed goes too;
        # autoremove: every dependency nothing needs any more.
        reasons: dict[str, str] = dict(req.get('reasons', {}))
        descendants = req.get('descendants', [])
        unused = fam.unneeded(erasing, reasons, descendants)
        if not autoremove:
            unused -= fam.unneeded(set(), reasons, descendants)
        for sid in sorted(unused - erasing):
            fam.cleaned.add(sid)
            out.jobs.append(pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_ERASE, sid))
    # A name the node and an ancestor both have (an earlier forcenode copy): the node's copy is its own package.
    fam.set_apart(set(s.name for s in fam.node_packages()))
    return out


def describe_problems(fam: Family, problems: list[solv.Problem]) -> list[Problem]:
    """Problems as dnf shows them: the problem, its rules, and possible solutions. Solutions that
    would unlock an ancestor's package are dropped: they are never allowed; we name the
    read-only ancestor package instead. Job i < the number of ancestor packages locks the i-th."""
    locks = fam.ancestor_ids
    out: list[Problem] = []
    for p in problems:
        rules: list[str] = []
        for r in p.findallproblemrules():
            text = r.info().problemstr()
            if text not in rules:
                rules.append(text)
        solutions: list[list[str]] = []
        read_only: list[ReadOnlyPackage] = []
        for sol in p.solutions():
            elements = sol.elements(True)
            locked = [fam.pool.solvables[locks[e.jobidx]] for e in elements
                      if e.type == solv.Solver.SOLVER_SOLUTION_JOB and e.jobidx < len(locks)]
            if locked:
                for s in locked:
                    entry = ReadOnlyPackage(package=nevra(s), node=fam.owner(s.id))
                    if entry not in read_only:
                        read_only.append(entry)
                continue
            solutions.append([e.str() for e in elements])
        out.append(Problem(message=str(p), rules=rules, solutions=solutions, readOnly=read_only))
    return out


STEP_MODE = (solv.Transaction.SOLVER_TRANSACTION_SHOW_ACTIVE | solv.Transaction.SOLVER_TRANSACTION_SHOW_ALL
             | solv.Transaction.SOLVER_TRANSACTION_SHOW_OBSOLETES
             | solv.Transaction.SOLVER_TRANSACTION_SHOW_MULTIINSTALL)
STEP_ACTIONS = {
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


def step_records(fam: Family, trans: solv.Transaction) -> list[Step]:
    steps: list[Step] = []
    for s in trans.steps():
        action = STEP_ACTIONS.get(trans.steptype(s, STEP_MODE))
        if action is None:
            continue  # the "upgraded/obsoleted" halves are reported via `replaces`
        rec = Step(action=action, nevra=nevra(s), name=s.name, evr=s.evr, arch=s.arch, node=fam.node)
        if action == 'erase':
            rec['node'] = fam.owner(s.id)
            rec['reason'] = 'unused' if s.id in fam.cleaned else 'user'
            # From the node's database (complete file lists): rpm can only remove what the view shows.
            rec['oldTopDirs'] = top_dirs(s)
        else:
            data = repo_data(s)
            location = s.lookup_location()[0]
            checksum = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
            local = [path for path, ls in fam.local.items() if ls.id == s.id]
            replaced = trans.allothersolvables(s)
            rec['repo'] = data.id
            rec['href'] = location
            rec['location'] = local[0] if local else os.path.join(data.dir, location)
            rec['size'] = s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE)
            rec['checksum'] = str(checksum) if checksum else None
            rec['replaces'] = [nevra(o) for o in replaced]
            if data.filelists:
                rec['topDirs'] = top_dirs(s)
            if replaced:
                rec['oldTopDirs'] = sorted(set(d for o in replaced for d in top_dirs(o)))
            if action in ('install', 'obsolete'):
                rec['reason'] = 'user' if s.id in fam.requested else 'dependency'
        steps.append(rec)
    return steps


def file_conflicts(fam: Family, trans: solv.Transaction) -> list[Violation]:
    """Rule 5 for files: what the node gets must not own a file an ancestor's package has."""
    roots = fam.ancestors
    owned_by = {root: ids for ids, root in fam.spans[1:]}
    out: list[Violation] = []
    index: OwnersIndex = {}
    for s in trans.newsolvables():
        for path, root, owner in shadowed_files(fam.pool, s, roots, owned_by, index):
            out.append(Violation(
                rule='file-conflict',
                message='file %s of %s conflicts with the file of %s in ancestor node %s: the node\'s copy would '
                        'hide it' % (path, nevra(s), nevra(owner), root),
                package=nevra(s), name=s.name, node=fam.node, path=path, other=nevra(owner), otherNode=root))
    return out


def touched_ancestors(fam: Family, trans: solv.Transaction) -> list[Violation]:
    """Defensive re-check of rule 3 on the solved transaction (locks should already prevent it)."""
    return [Violation(rule='ancestor-read-only',
                      message='the transaction would change %s, which belongs to ancestor node %s'
                              % (nevra(s), fam.owner(s.id)),
                      package=nevra(s), name=s.name, node=fam.owner(s.id))
            for s in trans.steps() if fam.is_ancestor_owned(s)]


def into_descendants(fam: Family, req: SolveRequest, trans: solv.Transaction) -> list[Violation]:
    """A package of the node must not write into a descendant node's directory (its configs, its
    own files): each incoming file path is checked against the descendants' directories."""
    prefixes: list[tuple[str, str]] = []
    for spec in req.get('descendants', []):
        node = descendant_roots(spec)[0]
        rel = os.path.relpath(node, fam.node)
        if not rel.startswith('..'):
            prefixes.append(('/' + rel, node))
    if not prefixes:
        return []
    out: list[Violation] = []
    for s in trans.newsolvables():
        for path in package_files(s):
            hit = None
            for landed in spellings(path):
                hit = next((node for prefix, node in prefixes
                            if landed == prefix or landed.startswith(prefix + '/')), None)
                if hit:
                    break
            if hit:
                out.append(Violation(rule='descendant-directory', package=nevra(s), node=fam.node, name=s.name,
                                     path=path,
                                     message='%s would write %s into the directory of descendant node %s'
                                             % (nevra(s), path, hit)))
                break
    return out


def check_descendants(fam: Family, req: SolveRequest, trans: solv.Transaction) -> list[Violation]:
    """Rule 4. Loaded only now, after solving, so descendants' packages can never be picked as
    install candidates. A descendant sees its own db, the dbs between it and the node (`via`),
    and the node's family view."""
    pool = fam.pool
    specs = req.get('descendants', [])
    if not specs:
        return []
    before = set(fam.installed_ids)
    # Installed packages in the transaction's steps are the ones it erases or replaces.
    removed = set(s.id for s in trans.steps() if s.id in fam.installed_ids)
    after = (before - removed) | set(s.id for s in trans.newsolvables())
    loaded: list[tuple[str, range, set[int]]] = []
    for spec in specs:
        roots = descendant_roots(spec)
        own_ids = range(0)
        view_ids: set[int] = set()
        for root in roots:
            repo = pool.add_repo('@descendant:' + root)
            ids = load_rpmdb(pool, repo, root)
            repo.internalize()
            view_ids.update(ids)
            if root == roots[0]:
                own_ids = ids
        loaded.append((roots[0], own_ids, view_ids))
    pool.addfileprovides()
    pool.createwhatprovides()
    out: list[Violation] = []
    new_ids = set(s.id for s in trans.newsolvables())
    for node, own_ids, view_ids in loaded:
        out += descendant_conflicts(fam, node, own_ids, new_ids)
        seen_before, seen_after = before | view_ids, after | view_ids
        for sid in own_ids:
            s = pool.solvables[sid]
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if providers.isdisjoint(seen_before):
                    continue  # already unsatisfied before: not this transaction's doing
                if not providers.isdisjoint(seen_after):
                    continue
                lost = sorted(nevra(pool.solvables[p]) for p in providers & removed)
                out.append(Violation(
                    rule='descendant-broken',
                    message='descendant node %s: %s requires %s, which would no longer be provided once %s is removed '
                            'from node %s' % (node, nevra(s), dep.str(), ', '.join(lost) or 'its provider', fam.node),
                    node=node, package=nevra(s), requirement=dep.str(), removed=lost))
    return out


def descendant_conflicts(fam: Family, node: str, own_ids: range, new_ids: set[int]) -> Iterator[Violation]:
    """Rules 2 and 5 across the family: what the transaction brings in must not be a package a
    descendant has, conflict with a descendant's package (nor one of them with it), nor share a
    file with it."""
    pool = fam.pool
    for nid in new_ids:
        n = pool.solvables[nid]
        for dep in n.lookup_deparray(solv.SOLVABLE_CONFLICTS):
            for p in pool.whatprovides(dep):
                if p.id in own_ids:
                    yield Violation(
                        rule='descendant-conflict',
                        message='descendant node %s: %s conflicts with %s, which node %s would get (%s)'
                                % (node, nevra(p), nevra(n), fam.node, 'its Conflicts: ' + dep.str()),
                        node=node, package=nevra(p), requirement=dep.str(), removed=[])
    for sid in own_ids:
        d = pool.solvables[sid]
        for dep in d.lookup_deparray(solv.SOLVABLE_CONFLICTS):
            for p in pool.whatprovides(dep):
                if p.id in new_ids:
                    yield Violation(
                        rule='descendant-conflict',
                        message='descendant node %s: %s conflicts with %s (Conflicts: %s), which node %s would get'
                                % (node, nevra(d), nevra(p), dep.str(), fam.node),
                        node=node, package=nevra(d), requirement=dep.str(), removed=[])
    # Rule 2 seen from above: a name new to the node's view that a descendant already has would
    # make the descendant's copy a duplicate of its ancestor's (check's rule duplicate).
    own_by_name = {pool.solvables[sid].name: pool.solvables[sid] for sid in own_ids}
    for nid in sorted(new_ids):
        n = pool.solvables[nid]
        mine = own_by_name.get(n.name)
        # @System is the view before the transaction; the descendants' repositories are not installed.
        if mine is not None and pool.select(n.name, solv.Selection.SELECTION_NAME
                                            | solv.Selection.SELECTION_INSTALLED_ONLY).isempty():
            yield Violation(
                rule='descendant-duplicate',
                message='descendant node %s already has its own %s; node %s cannot install %s above it (remove it '
                        'from %s first, or install it there only)' % (node, nevra(mine), fam.node, nevra(n), node),
                node=node, package=nevra(mine), name=n.name, removed=[])
    for nid in new_ids:
        for path, _root, owner in shadowed_files(pool, pool.solvables[nid], [node], {node: set(own_ids)}):
            yield Violation(
                rule='descendant-file-conflict',
                message='descendant node %s: its %s has file %s, which %s would bring into node %s (one would hide '
                        'the other)' % (node, nevra(owner), path, nevra(pool.solvables[nid]), fam.node),
                node=node, package=nevra(owner), requirement=path, removed=[])


def solve(req: SolveRequest) -> SolveAnswer:
    fam = Family(req['node'], req['ancestors'], req['repos'], req.get('localFiles'))
    pool = fam.pool
    built = build_jobs(fam, req)
    if built.violations or built.problems:
        return SolveAnswer(protocol=PROTOCOL_VERSION, ok=False, steps=[], problems=built.problems,
                           violations=built.violations)
    # One lock job per ancestor package, made from the id range (no solvable objects): libsolv solves
    # these faster than one job locking them all (SOLVER_SOLVABLE_ONE_OF or _REPO: ~40 ms more at
    # 10,000 packages), and a problem's solution then names the package it would have to change.
    locks = [pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_LOCK, sid) for sid in fam.ancestor_ids]
    solver = pool.Solver()
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if req.get('weak') else 1)
    found = solver.solve(locks + built.jobs)
    # Once solved (the transaction holds what it computed from the names), the reports name them rightly.
    trans = None if found else solver.transaction()
    fam.restore_names()
    if found or trans is None:
        return SolveAnswer(protocol=PROTOCOL_VERSION, ok=False, steps=[],
                           problems=describe_problems(fam, found), violations=[])
    trans.order()
    violations = (touched_ancestors(fam, trans) + file_conflicts(fam, trans) + into_descendants(fam, req, trans)
                  + check_descendants(fam, req, trans))
    # Installed packages of the node an install job named: dnf then records them as asked for.
    named = sorted(set(pool.solvables[sid].name for sid in fam.requested if sid in fam.node_ids))
    return SolveAnswer(protocol=PROTOCOL_VERSION, ok=not violations, steps=step_records(fam, trans), problems=[],
                       violations=violations, namedInstalled=named)
