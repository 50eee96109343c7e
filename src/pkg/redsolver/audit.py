"""Mode `audit`: the family rules, checked on installed nodes (redmanager check). For every node,
each requirement of its packages satisfied by the node and its ancestors (rule 1), no package
whose name an ancestor has (rule 2), no conflict and no obsoletes between a package of the node
and one of its view, and no file of its packages that a package of an ancestor in the tree has
too (rule 5)."""
from typing import Optional

import solv

from redsolver.deps import dep_name, nevra, requirements
from redsolver.files import OwnersIndex, shadowed_files
from redsolver.protocol import PROTOCOL_VERSION, AuditAnswer, AuditRequest, Violation
from redsolver.tree import Tree


class Findings:
    def __init__(self) -> None:
        self.items: list[Violation] = []

    def add(self, rule: str, node: str, s: solv.XSolvable, message: str, requirement: Optional[str] = None,
            other: Optional[str] = None, other_node: str = '',
            elsewhere: Optional[list[str]] = None) -> None:
        rec = Violation(rule=rule, node=node, package=nevra(s), name=s.name, message=message)
        if requirement is not None:
            rec['requirement'] = requirement
        if other is not None:
            rec['other'] = other
            rec['otherNode'] = other_node
        if elsewhere is not None:
            rec['providedElsewhere'] = elsewhere
        self.items.append(rec)


def audit(req: AuditRequest) -> AuditAnswer:
    tree = Tree(req['nodes'], req['outer'])
    pool = tree.pool
    allowed = set(req.get('allowDuplicates', []))
    found = Findings()
    file_index: OwnersIndex = {}  # built when a node's files are first looked up
    for node in tree.order:
        own = tree.own[node]
        above = tree.above(node)
        view = own | above
        above_by_name: dict[str, list[int]] = {}
        for a in sorted(above):
            above_by_name.setdefault(pool.solvables[a].name, []).append(a)
        seen_names: dict[tuple[str, str], int] = {}
        for sid in sorted(own):
            s = pool.solvables[sid]
            key = (s.name, s.arch)
            if key in seen_names and s.name not in allowed and s.name != 'gpg-pubkey':
                twin = nevra(pool.solvables[seen_names[key]])
                found.add('duplicate', node, s, '%s is installed twice in the node (also as %s)' % (nevra(s), twin),
                          other=twin, other_node=node)
            seen_names.setdefault(key, sid)
            if s.name not in allowed and s.name != 'gpg-pubkey':
                for a in above_by_name.get(s.name, [])[:1]:
                    found.add('duplicate', node, s, '%s is also installed in ancestor node %s as %s'
                              % (nevra(s), tree.owner.get(a), nevra(pool.solvables[a])),
                              other=nevra(pool.solvables[a]), other_node=tree.owner[a])
            for dep in requirements(s):
                providers = set(p.id for p in pool.whatprovides(dep))
                if providers & view:
                    continue
                elsewhere = sorted(set(tree.owner[p] for p in providers if p in tree.owner))
                where = ' (provided in %s, not in this family line)' % ', '.join(elsewhere) if elsewhere else ''
                found.add('unsatisfied', node, s, '%s requires %s, which nothing in the node or its ancestors '
                          'provides%s' % (nevra(s), dep.str(), where), requirement=dep.str(), elsewhere=elsewhere)
        conflicts_and_obsoletes(tree, node, own, view, found)
        line = tree.chain(node)
        owned_by = dict((root, tree.own[root]) for root in line)
        for sid in sorted(own):
            s = pool.solvables[sid]
            for path, root, owner in shadowed_files(pool, s, line, owned_by, file_index):
                found.add('file-conflict', node, s, 'file %s of %s is also a file of %s in ancestor node %s: one hides '
                          'the other' % (path, nevra(s), nevra(owner), root), requirement=path, other=nevra(owner),
                          other_node=root)
    counts = dict((n, len(tree.own[n])) for n in tree.order)
    return AuditAnswer(protocol=PROTOCOL_VERSION, ok=True, findings=found.items, unreadable=tree.unreadable,
                       packages=counts)


def conflicts_and_obsoletes(tree: Tree, node: str, own: set[int], view: set[int], found: Findings) -> None:
    """Every pair with at least one side in the node, reported once."""
    pool = tree.pool
    pairs: set[tuple[int, int, str]] = set()
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
                found.add('conflict', node, mine, '%s (node %s) conflicts with %s (node %s): Conflicts: %s'
                          % (nevra(s), tree.owner.get(sid), nevra(p), tree.owner.get(p.id), dep.str()),
                          requirement=dep.str(), other=nevra(other), other_node=tree.owner[other.id])
        for dep in s.lookup_deparray(solv.SOLVABLE_OBSOLETES):
            for p in pool.whatprovides(dep):
                if p.id == sid or p.id not in view or p.name != dep_name(dep) or (sid not in own and p.id not in own):
                    continue
                if (sid, p.id, 'o') in pairs:
                    continue
                pairs.add((sid, p.id, 'o'))
                mine, other = (s, p) if sid in own else (p, s)
                found.add('obsoletes', node, mine, '%s (node %s) obsoletes %s (node %s), which is still installed: '
                          'Obsoletes: %s' % (nevra(s), tree.owner.get(sid), nevra(p), tree.owner.get(p.id), dep.str()),
                          requirement=dep.str(), other=nevra(other), other_node=tree.owner[other.id])
