# The part of libsolv's Python binding (python3-solv, a SWIG module without type information)
# that src/pkg/redsolver uses. Constants are ints; objects are described as far as they are used.
from __future__ import annotations

from typing import Any, Iterator, Optional

SOLVABLE_REQUIRES: int
SOLVABLE_RECOMMENDS: int
SOLVABLE_CONFLICTS: int
SOLVABLE_OBSOLETES: int
SOLVABLE_PROVIDES: int
SOLVABLE_PREREQMARKER: int
SOLVABLE_CHECKSUM: int
SOLVABLE_DOWNLOADSIZE: int
SOLVABLE_INSTALLSIZE: int
SOLVABLE_FILELIST: int
SOLVABLE_SUMMARY: int
SOLVABLE_DESCRIPTION: int
SOLVABLE_LICENSE: int
SOLVABLE_URL: int


class SolvFp:
    def close(self) -> None: ...


def xfopen(path: str, mode: str = ...) -> Optional[SolvFp]: ...


class Dep:
    id: int
    def str(self) -> str: ...


class Chksum:
    ...


class Datamatch:
    str: str


class XSolvable:
    id: int
    name: str
    evr: str
    arch: str
    repo: Repo
    def evrcmp(self, other: XSolvable) -> int: ...
    def lookup_deparray(self, keyname: int, marker: int = ...) -> list[Dep]: ...
    def lookup_location(self) -> tuple[str, int]: ...
    def lookup_checksum(self, keyname: int) -> Optional[Chksum]: ...
    def lookup_num(self, keyname: int, notfound: int = ...) -> int: ...
    def lookup_str(self, keyname: int) -> Optional[str]: ...
    def Dataiterator(self, key: int, match: Optional[str], flags: int = ...) -> Iterator[Datamatch]: ...


class Repo:
    REPO_USE_ROOTDIR: int
    REPO_REUSE_REPODATA: int
    REPO_NO_INTERNALIZE: int
    REPO_EXTEND_SOLVABLES: int
    priority: int
    subpriority: int
    appdata: Any
    nsolvables: int
    solvables: Iterator[XSolvable]
    def add_rpmdb(self, flags: int = ...) -> bool: ...
    def add_rpmmd(self, fp: SolvFp, language: Optional[str], flags: int = ...) -> bool: ...
    def add_solv(self, fp: SolvFp, flags: int = ...) -> bool: ...
    def add_rpm(self, path: str, flags: int = ...) -> Optional[XSolvable]: ...
    def internalize(self) -> None: ...
    def write(self, fp: SolvFp) -> bool: ...
    def free(self, reuseids: bool = ...) -> None: ...


class Job:
    SOLVER_SOLVABLE: int
    SOLVER_INSTALL: int
    SOLVER_ERASE: int
    SOLVER_UPDATE: int
    SOLVER_LOCK: int
    SOLVER_MULTIVERSION: int


class Selection:
    SELECTION_NAME: int
    SELECTION_CANON: int
    SELECTION_DOTARCH: int
    SELECTION_REL: int
    SELECTION_GLOB: int
    SELECTION_PROVIDES: int
    SELECTION_FILELIST: int
    SELECTION_INSTALLED_ONLY: int
    def isempty(self) -> bool: ...
    def solvables(self) -> list[XSolvable]: ...
    def jobs(self, flags: int) -> list[Job]: ...
    def add_raw(self, how: int, what: int) -> None: ...


class Ruleinfo:
    def problemstr(self) -> str: ...


class XRule:
    def info(self) -> Ruleinfo: ...


class Solutionelement:
    type: int
    jobidx: int
    def str(self) -> str: ...


class Solution:
    def elements(self, expandreplaces: bool = ...) -> list[Solutionelement]: ...


class Problem:
    def findallproblemrules(self, unfiltered: bool = ...) -> list[XRule]: ...
    def solutions(self) -> list[Solution]: ...


class Transaction:
    SOLVER_TRANSACTION_SHOW_ACTIVE: int
    SOLVER_TRANSACTION_SHOW_ALL: int
    SOLVER_TRANSACTION_SHOW_OBSOLETES: int
    SOLVER_TRANSACTION_SHOW_MULTIINSTALL: int
    SOLVER_TRANSACTION_INSTALL: int
    SOLVER_TRANSACTION_MULTIINSTALL: int
    SOLVER_TRANSACTION_UPGRADE: int
    SOLVER_TRANSACTION_DOWNGRADE: int
    SOLVER_TRANSACTION_REINSTALL: int
    SOLVER_TRANSACTION_MULTIREINSTALL: int
    SOLVER_TRANSACTION_CHANGE: int
    SOLVER_TRANSACTION_OBSOLETES: int
    SOLVER_TRANSACTION_ERASE: int
    def order(self, flags: int = ...) -> None: ...
    def steps(self) -> list[XSolvable]: ...
    def steptype(self, s: XSolvable, mode: int) -> int: ...
    def allothersolvables(self, s: XSolvable) -> list[XSolvable]: ...
    def keptsolvables(self) -> list[XSolvable]: ...
    def newsolvables(self) -> list[XSolvable]: ...


class Solver:
    SOLVER_FLAG_IGNORE_RECOMMENDED: int
    SOLVER_SOLUTION_JOB: int
    def set_flag(self, flag: int, value: int) -> int: ...
    def solve(self, jobs: list[Job]) -> list[Problem]: ...
    def transaction(self) -> Transaction: ...


class Dataiterator:
    SEARCH_FILES: int
    SEARCH_COMPLETE_FILELIST: int


class Pool_solvable_iterator:
    def __getitem__(self, sid: int) -> XSolvable: ...
    def __len__(self) -> int: ...


class Pool:
    DISTTYPE_RPM: int
    solvables: Pool_solvable_iterator
    installed: Optional[Repo]
    errstr: str
    def setdisttype(self, disttype: int) -> int: ...
    def setarch(self, arch: Optional[str] = ...) -> None: ...
    def set_rootdir(self, rootdir: str) -> None: ...
    def set_considered_list(self, ids: list[int]) -> None: ...
    def add_repo(self, name: str) -> Repo: ...
    def addfileprovides(self) -> None: ...
    def createwhatprovides(self) -> None: ...
    def whatprovides(self, dep: Dep) -> list[XSolvable]: ...
    def select(self, name: str, flags: int) -> Selection: ...
    def Selection(self) -> Selection: ...
    def Job(self, how: int, what: int) -> Job: ...
    def Solver(self) -> Solver: ...
