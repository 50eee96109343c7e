"""Mode `why`: which packages provide a capability in the view of `focus`, and which packages of
the tree require it, each with the providers that satisfy it in its own node's view."""
import solv

from redsolver.deps import CAPABILITY_SELECTION, NAME_SELECTION, dep_name, requirements
from redsolver.protocol import PROTOCOL_VERSION, Provider, Requirer, WhyAnswer, WhyRequest
from redsolver.tree import Tree


def why(req: WhyRequest) -> WhyAnswer:
    tree = Tree(req['nodes'], req['outer'])
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

    def provides_entries(s: solv.XSolvable) -> list[str]:
        hits = [d.str() for d in s.lookup_deparray(solv.SOLVABLE_PROVIDES) if dep_name(d) == cap_name]
        if not hits and cap_name.startswith('/'):
            hits = [cap_name]
        return hits

    providers: list[Provider] = []
    for sid in sorted(matched):
        if tree.owner[sid] not in nodes_in_scope:
            continue
        ref = tree.rec(sid)
        providers.append(Provider(package=ref['package'], name=ref['name'], node=ref['node'],
                                  provides=provides_entries(pool.solvables[sid]), inView=sid in focus_view))
    requirers: list[Requirer] = []
    for node in nodes_in_scope:
        view = tree.view(node)
        for sid in sorted(tree.own[node]):
            s = pool.solvables[sid]
            for dep in requirements(s):
                text = dep.str()
                # A plain requirement names it first; a rich one ("(a or b)") anywhere.
                mentions = dep_name(dep) == cap_name or (text.startswith('(')
                                                         and cap_name in [t.strip('()') for t in text.split()])
                dep_providers = set(p.id for p in pool.whatprovides(dep))
                through_package = bool(named and (dep_providers & named))
                if not mentions and not through_package:
                    continue
                ref = tree.rec(sid)
                requirers.append(Requirer(package=ref['package'], name=ref['name'], node=ref['node'], requirement=text,
                                          satisfiedBy=[tree.rec(p) for p in sorted(dep_providers & view)]))
    return WhyAnswer(protocol=PROTOCOL_VERSION, ok=True, providers=providers, requirers=requirers,
                     unreadable=tree.unreadable)
