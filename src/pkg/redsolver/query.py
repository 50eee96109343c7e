"""Mode `query`: read-only questions on the family view and the repositories (list, info, repoquery)."""
import solv

from redsolver.deps import CAPABILITY_SELECTION, nevra, requirements, select
from redsolver.family import Family
from redsolver.files import package_files
from redsolver.pool import repo_data
from redsolver.protocol import PROTOCOL_VERSION, PackageRecord, QueryAnswer, QueryRequest, SearchSpec


def describe(fam: Family, s: solv.XSolvable, details: bool, files: bool = False) -> PackageRecord:
    installed = s.repo == fam.system
    rec = PackageRecord(nevra=nevra(s), name=s.name, evr=s.evr, arch=s.arch,
                        repo='@System' if installed else repo_data(s).id,
                        summary=s.lookup_str(solv.SOLVABLE_SUMMARY) or '')
    if installed:
        rec['node'] = fam.owner(s.id)
    else:
        rec['size'] = s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE)
    if details:
        rec['description'] = s.lookup_str(solv.SOLVABLE_DESCRIPTION) or ''
        rec['license'] = s.lookup_str(solv.SOLVABLE_LICENSE) or ''
        rec['url'] = s.lookup_str(solv.SOLVABLE_URL) or ''
        rec['installsize'] = s.lookup_num(solv.SOLVABLE_INSTALLSIZE)
        rec['requires'] = [d.str() for d in requirements(s)]
        rec['provides'] = [d.str() for d in s.lookup_deparray(solv.SOLVABLE_PROVIDES)]
    if files:
        rec['files'] = sorted(package_files(s))
    return rec


SEARCH_KEYS = {'summary': solv.SOLVABLE_SUMMARY, 'description': solv.SOLVABLE_DESCRIPTION,
               'url': solv.SOLVABLE_URL}


def matches(s: solv.XSolvable, search: SearchSpec) -> bool:
    """Every term is in one of the fields (case-insensitive), as dnf search reads them."""
    texts = [(s.name if f == 'name' else s.lookup_str(SEARCH_KEYS[f]) or '').lower() for f in search['fields']]
    return all(any(term.lower() in text for text in texts) for term in search['terms'])


def upgrades_of(fam: Family, ids: set[int]) -> set[int]:
    """The candidates newer than a package of the node itself with the same name and arch (or noarch
    on either side): what an upgrade of the node could take. Ancestors' packages are theirs to upgrade."""
    own: dict[str, list[solv.XSolvable]] = {}
    for s in fam.node_packages():
        own.setdefault(s.name, []).append(s)
    pool = fam.pool
    newer: set[int] = set()
    for sid in ids:
        s = pool.solvables[sid]
        if s.repo == fam.system:
            continue
        for mine in own.get(s.name, []):
            if (s.arch == mine.arch or 'noarch' in (s.arch, mine.arch)) and s.evrcmp(mine) > 0:
                newer.add(sid)
                break
    return newer


def query(req: QueryRequest) -> QueryAnswer:
    fam = Family(req['node'], req['ancestors'], req['repos'])
    pool = fam.pool
    q = req['query']
    scope = q['scope']
    available = fam.offered()
    if scope == 'installed':
        cands = fam.node_packages()
    elif scope == 'family':
        cands = list(fam.system.solvables)
    elif scope == 'available':
        cands = available
    else:
        cands = list(fam.system.solvables) + available
    ids = set(s.id for s in cands)
    if q.get('names'):
        keep: set[int] = set()
        for what in q.get('names', []):
            sel, _ = select(pool, what, installed_only=False)
            keep |= set(s.id for s in sel.solvables())
        ids &= keep
    whatprovides = q.get('whatprovides')
    if whatprovides:
        sel = pool.select(whatprovides, CAPABILITY_SELECTION | solv.Selection.SELECTION_NAME)
        ids &= set(s.id for s in sel.solvables())
    target = q.get('whatrequires')
    if target:
        sel, _ = select(pool, target, installed_only=False)
        providers = set(s.id for s in sel.solvables())
        requiring: set[int] = set()
        for sid in ids:
            for dep in requirements(pool.solvables[sid]):
                if dep.str().split(' ')[0] == target or providers & set(p.id for p in pool.whatprovides(dep)):
                    requiring.add(sid)
                    break
        ids = requiring
    if q.get('upgrades'):
        ids &= upgrades_of(fam, ids)
    search = q.get('search')
    if search:
        ids = set(sid for sid in ids if matches(pool.solvables[sid], search))
    if q.get('latest'):
        best: dict[tuple[str, str, bool], int] = {}
        for sid in ids:
            s = pool.solvables[sid]
            key = (s.name, s.arch, s.repo == fam.system)
            if key not in best or s.evrcmp(pool.solvables[best[key]]) > 0:
                best[key] = sid
        ids = set(best.values())
    out = [describe(fam, pool.solvables[sid], q.get('details', False), q.get('files', False)) for sid in ids]
    out.sort(key=lambda r: (r['name'], r['repo'] != '@System', r['nevra']))
    return QueryAnswer(protocol=PROTOCOL_VERSION, ok=True, packages=out)
