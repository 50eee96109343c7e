"""Mode `check`: would these nodes (already on disk, e.g. unpacked from an archive) keep the family
rules under `ancestors`? For each node: no package whose name an ancestor has (rule 2, unless
`forcenode`), every requirement satisfied by the node, the nodes between it and the ancestors
(`via`) and the ancestors (rule 1), and no conflict with an ancestor's package in either
direction (rule 5)."""
import solv

from redsolver.deps import nevra, requirements
from redsolver.pool import load_rpmdb, new_pool
from redsolver.protocol import PROTOCOL_VERSION, CheckAnswer, CheckRequest, Violation


def check_placement(req: CheckRequest) -> CheckAnswer:
    pool = new_pool()
    owner: dict[int, str] = {}
    anc_repo = pool.add_repo('@ancestors')
    for root in req['ancestors']:
        for sid in load_rpmdb(pool, anc_repo, root):
            owner[sid] = root
    anc_repo.internalize()
    anc_ids = set(owner)
    repos: dict[str, set[int]] = {}
    for spec in req['nodes']:
        for root in [spec['node']] + list(spec.get('via', [])):
            if root in repos:
                continue
            repo = pool.add_repo('@node:' + root)
            ids = load_rpmdb(pool, repo, root)
            repo.internalize()
            repos[root] = set(ids)
            for sid in ids:
                owner[sid] = root
    loaded: list[tuple[str, set[int], set[int]]] = []
    for spec in req['nodes']:
        view: set[int] = set()
        for root in [spec['node']] + list(spec.get('via', [])):
            view |= repos[root]
        loaded.append((spec['node'], repos[spec['node']], view))
    pool.addfileprovides()
    pool.createwhatprovides()
    ignored = set(req.get('ignoreDuplicates', []))
    out: list[Violation] = []
    for node, own_ids, view_ids in loaded:
        for sid in sorted(own_ids):
            s = pool.solvables[sid]
            if not req.get('forcenode') and s.name not in ignored:
                for a in sorted(anc_ids):
                    if pool.solvables[a].name == s.name:
                        out.append(Violation(
                            rule='duplicate',
                            message='node %s: package %s is already installed in ancestor node %s as %s'
                                    % (node, nevra(s), owner[a], nevra(pool.solvables[a])),
                            node=node, package=nevra(s), name=s.name, ancestor=owner[a]))
                        break
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if providers & (view_ids | anc_ids):
                    continue
                out.append(Violation(
                    rule='unsatisfied',
                    message='node %s: %s requires %s, which nothing in the node or its ancestors provides'
                            % (node, nevra(s), dep.str()),
                    node=node, package=nevra(s), name=s.name, requirement=dep.str()))
            for dep in s.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id in anc_ids:
                        out.append(Violation(
                            rule='conflict',
                            message='node %s: %s conflicts with %s of ancestor node %s (Conflicts: %s)'
                                    % (node, nevra(s), nevra(p), owner[p.id], dep.str()),
                            node=node, package=nevra(s), name=s.name, requirement=dep.str(), ancestor=owner[p.id]))
        for a in sorted(anc_ids):
            s = pool.solvables[a]
            for dep in s.lookup_deparray(solv.SOLVABLE_CONFLICTS):
                for p in pool.whatprovides(dep):
                    if p.id in own_ids:
                        out.append(Violation(
                            rule='conflict',
                            message='node %s: %s conflicts with it: %s of ancestor node %s has Conflicts: %s'
                                    % (node, nevra(p), nevra(s), owner[a], dep.str()),
                            node=node, package=nevra(p), name=p.name, requirement=dep.str(), ancestor=owner[a]))
    return CheckAnswer(protocol=PROTOCOL_VERSION, ok=not out, violations=out)
