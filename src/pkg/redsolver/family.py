"""The family view of one node: @System holds the node's rpmdb plus every ancestor's, each
solvable remembering which node owns it; the repositories and local .rpm files are the candidates."""
from typing import Optional, Sequence, Union

import solv

from redsolver.deps import nevra, requirements
from redsolver.pool import RepoData, filtered_out, load_rpmdb, load_rpmmd, new_pool
from redsolver.protocol import DescendantSpec, RepoSpec, RequestError


def descendant_roots(spec: Union[str, DescendantSpec]) -> list[str]:
    """A descendant node and the nodes between it and the solved node; a plain path is a direct child."""
    return [spec] if isinstance(spec, str) else [spec['node']] + list(spec.get('via', []))


class Family:
    def __init__(self, node: str, ancestors: Sequence[str], repos: Sequence[RepoSpec],
                 local_files: Optional[Sequence[str]] = None) -> None:
        self.pool = pool = new_pool()
        self.system = pool.add_repo('@System')
        self.node = node
        self.ancestors = list(ancestors)
        # Each database's solvables are one run of ids in @System, the node's first: who owns a
        # solvable is a range test, never a table as large as the installed base.
        self.spans: list[tuple[range, str]] = [(load_rpmdb(pool, self.system, root), root)
                                               for root in [node] + self.ancestors]
        self.node_ids = self.spans[0][0]
        self.ancestor_ids = range(self.node_ids.stop, len(pool.solvables))
        self.installed_ids = range(self.node_ids.start, len(pool.solvables))
        self.requested: set[int] = set()  # solvables an install job named (reason 'user')
        self.cleaned: set[int] = set()  # node solvables erased because nothing needs them (reason 'unused')
        self.set_aside: dict[int, str] = {}  # ancestor solvable id -> its name, while set apart
        self.system.internalize()
        pool.installed = self.system
        self.repos = [load_rpmmd(pool, spec) for spec in repos]
        # excludepkgs/includepkgs: what a repository does not offer is never considered.
        self.hidden = hidden = set(sid for repo, spec in zip(self.repos, repos) for sid in filtered_out(repo, spec))
        self.local: dict[str, solv.XSolvable] = {}  # path -> solvable, for .rpm files given on the command line
        if local_files:
            cmdline = pool.add_repo('@commandline')
            cmdline.appdata = RepoData('@commandline', '', True)
            for path in local_files:
                s = cmdline.add_rpm(path, solv.Repo.REPO_REUSE_REPODATA | solv.Repo.REPO_NO_INTERNALIZE)
                if s is None:
                    raise RequestError('cannot read package file %s: %s' % (path, pool.errstr))
                self.local[path] = s
            cmdline.internalize()
        if hidden:
            # Ids 0 and 1 are libsolv's own (no solvable, the system).
            pool.set_considered_list([sid for sid in range(2, len(pool.solvables)) if sid not in hidden])
        pool.addfileprovides()
        pool.createwhatprovides()

    def set_apart(self, names: set[str]) -> None:
        """Give the ancestors' packages of these names another name until `restore_names`: libsolv
        then takes none of them for the node's package of that name (an install by name would be
        'already installed') nor for the same package (the node's copy of the very version would be
        'cannot install both'). They keep their provides and their locks, so what needs them is
        still satisfied and nothing may change them. Found by name, never by a walk of the ancestors."""
        for name in sorted(names):
            found = self.pool.select(name, solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_INSTALLED_ONLY)
            for s in found.solvables():
                if s.id in self.ancestor_ids and s.id not in self.set_aside and s.name == name:
                    self.set_aside[s.id] = s.name
                    s.name = s.name + ' (ancestor copy)'  # a space: no package is named so

    def restore_names(self) -> None:
        for sid, name in self.set_aside.items():
            self.pool.solvables[sid].name = name
        self.set_aside.clear()

    def offered(self) -> list[solv.XSolvable]:
        """What the repositories offer: their packages but those excludepkgs/includepkgs (and --exclude) leave out."""
        return [s for r in self.repos for s in r.solvables if s.id not in self.hidden]

    def owner(self, sid: int) -> str:
        """The node whose database holds installed solvable `sid`; the solved node for any other."""
        return next((root for ids, root in self.spans if sid in ids), self.node)

    def is_ancestor_owned(self, s: solv.XSolvable) -> bool:
        return s.id in self.ancestor_ids

    def node_packages(self) -> list[solv.XSolvable]:
        return [self.pool.solvables[sid] for sid in self.node_ids]

    def unneeded(self, removing: set[int], reasons: dict[str, str],
                 descendants: Sequence[Union[str, DescendantSpec]]) -> set[int]:
        """The node's packages installed as dependencies (reasons: 'dependency') that nothing needs
        once `removing` (node solvable ids) is gone: not reachable through requirements and
        recommendations from the node's other packages nor from any descendant's. Every provider
        of a requirement counts as needed, so the answer errs on the side of keeping."""
        view = new_pool()
        repo = view.add_repo('@view')
        own = load_rpmdb(view, repo, self.node)
        for root in self.ancestors:
            load_rpmdb(view, repo, root)  # providers only: an ancestor never needs the node
        roots: list[int] = []
        for spec in descendants:
            for root in descendant_roots(spec):
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
        return set(sid for sid in self.node_ids if nevra(self.pool.solvables[sid]) in unused)
