"""Naming packages, reading their dependencies and matching package specs, as every mode does."""
import solv

NAME_SELECTION = (solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_CANON | solv.Selection.SELECTION_DOTARCH
                  | solv.Selection.SELECTION_REL | solv.Selection.SELECTION_GLOB)
CAPABILITY_SELECTION = (solv.Selection.SELECTION_PROVIDES | solv.Selection.SELECTION_FILELIST
                        | solv.Selection.SELECTION_REL | solv.Selection.SELECTION_GLOB)


def nevra(s: solv.XSolvable) -> str:
    return str(s)


def requirements(s: solv.XSolvable) -> list[solv.Dep]:
    # marker 0: all requirements, including Requires(pre/post) after the prereq marker.
    return [d for d in s.lookup_deparray(solv.SOLVABLE_REQUIRES, 0)
            if d.id != solv.SOLVABLE_PREREQMARKER and not d.str().startswith('rpmlib(')]


def dep_name(dep: solv.Dep) -> str:
    return dep.str().split(' ')[0]


def select(pool: solv.Pool, what: str, installed_only: bool) -> tuple[solv.Selection, bool]:
    """Name-like match first (what dnf does); capabilities and file paths only if no name matched."""
    extra = solv.Selection.SELECTION_INSTALLED_ONLY if installed_only else 0
    sel = pool.select(what, NAME_SELECTION | extra)
    if not sel.isempty():
        return sel, True
    return pool.select(what, CAPABILITY_SELECTION | extra), False
