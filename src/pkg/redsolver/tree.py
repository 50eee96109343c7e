"""A tree of installed nodes, for the modes that look at nodes as they are (audit, why)."""
from typing import Optional, Sequence

from redsolver.deps import nevra
from redsolver.pool import load_rpmdb, new_pool
from redsolver.protocol import PackageRef, RequestError, TreeNode, Unreadable


class Tree:
    """Every node of a tree of nodes (plus `outer` databases above its top, closest first), each
    node's database in its own repo so that each node's view (itself, its parents up the tree,
    then `outer`) can be told apart. A database that cannot be read is reported, never fatal."""

    def __init__(self, nodes: Sequence[TreeNode], outer: Sequence[str]) -> None:
        self.pool = pool = new_pool()
        self.owner: dict[int, str] = {}
        self.own: dict[str, set[int]] = {}
        self.parent: dict[str, Optional[str]] = {}
        self.order: list[str] = []
        self.unreadable: list[Unreadable] = []
        outer_ids: set[int] = set()
        for root in outer:
            outer_ids |= self._load(root)
        for spec in nodes:
            self.parent[spec['node']] = spec.get('parent')
            self.order.append(spec['node'])
            self.own[spec['node']] = self._load(spec['node'])
        self.outer = outer_ids
        pool.addfileprovides()
        pool.createwhatprovides()

    def _load(self, root: str) -> set[int]:
        repo = self.pool.add_repo('@node:' + root)
        try:
            ids = load_rpmdb(self.pool, repo, root)
        except RequestError as e:
            self.pool.set_rootdir('')
            self.unreadable.append(Unreadable(node=root, error=str(e)))
            ids = []
        repo.internalize()
        for sid in ids:
            self.owner[sid] = root
        return set(ids)

    def chain(self, node: str) -> list[str]:
        """The node's ancestors within the tree, closest first."""
        out: list[str] = []
        p = self.parent.get(node)
        while p is not None:
            out.append(p)
            p = self.parent.get(p)
        return out

    def above(self, node: str) -> set[int]:
        ids = set(self.outer)
        for a in self.chain(node):
            ids |= self.own[a]
        return ids

    def view(self, node: str) -> set[int]:
        return self.own[node] | self.above(node)

    def rec(self, sid: int) -> PackageRef:
        s = self.pool.solvables[sid]
        return PackageRef(package=nevra(s), name=s.name, node=self.owner[sid])
