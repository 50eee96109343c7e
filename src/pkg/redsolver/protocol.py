"""The solver protocol (docs/solver-protocol.md): one JSON request on stdin, one JSON answer on
stdout. The request and answer of each mode are described by the JSON Schemas in schema/, the
same files src/pkg/solver.ts validates with; the types below follow them."""
import os
from typing import Literal, NotRequired, TypedDict, Union

# Bumped on any change an older peer would misread; both sides refuse a version they do not speak.
PROTOCOL_VERSION = 1
Mode = Literal['solve', 'query', 'check', 'audit', 'why']
MODES: tuple[Mode, ...] = ('solve', 'query', 'check', 'audit', 'why')
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'schema')


def schema_path(name: str) -> str:
    """name: '<mode>.request', '<mode>.answer' or 'error.answer'."""
    return os.path.join(SCHEMA_DIR, name + '.schema.json')


class ProtocolError(Exception):
    """The request is not one this solver understands: reported on stderr, exit status 2."""


class RequestError(Exception):
    """A well-formed request that cannot be carried out (unreadable database, repository…):
    answered with an error answer."""


# Requests.

class RepoSpec(TypedDict):
    id: str
    dir: str
    priority: NotRequired[int]
    cost: NotRequired[int]
    excludepkgs: NotRequired[list[str]]
    includepkgs: NotRequired[list[str]]


class DescendantSpec(TypedDict):
    node: str
    via: NotRequired[list[str]]


class JobSpec(TypedDict):
    op: Literal['install', 'erase', 'upgrade', 'reinstall', 'downgrade', 'upgrade-all', 'autoremove']
    what: NotRequired[str]


class SolveRequest(TypedDict):
    protocol: int
    mode: Literal['solve']
    node: str
    ancestors: list[str]
    descendants: NotRequired[list[Union[str, DescendantSpec]]]
    repos: list[RepoSpec]
    jobs: list[JobSpec]
    forcenode: NotRequired[bool]
    weak: NotRequired[bool]
    localFiles: NotRequired[list[str]]
    solvCache: NotRequired[str]
    reasons: NotRequired[dict[str, Literal['user', 'dependency']]]
    cleanDeps: NotRequired[bool]


class SearchSpec(TypedDict):
    terms: list[str]
    fields: list[Literal['name', 'summary', 'description', 'url']]


class QuerySpec(TypedDict):
    scope: Literal['installed', 'family', 'available', 'all']
    names: NotRequired[list[str]]
    whatprovides: NotRequired[str]
    whatrequires: NotRequired[str]
    upgrades: NotRequired[bool]
    search: NotRequired[SearchSpec]
    latest: NotRequired[bool]
    details: NotRequired[bool]
    files: NotRequired[bool]


class QueryRequest(TypedDict):
    protocol: int
    mode: Literal['query']
    node: str
    ancestors: list[str]
    repos: list[RepoSpec]
    solvCache: NotRequired[str]
    query: QuerySpec


class CheckRequest(TypedDict):
    protocol: int
    mode: Literal['check']
    ancestors: list[str]
    nodes: list[DescendantSpec]
    forcenode: NotRequired[bool]
    ignoreDuplicates: NotRequired[list[str]]


class TreeNode(TypedDict):
    node: str
    parent: NotRequired[str]


class AuditRequest(TypedDict):
    protocol: int
    mode: Literal['audit']
    nodes: list[TreeNode]
    outer: list[str]
    allowDuplicates: NotRequired[list[str]]


class WhyRequest(TypedDict):
    protocol: int
    mode: Literal['why']
    nodes: list[TreeNode]
    outer: list[str]
    focus: str
    capability: str


# Answers.

class Step(TypedDict):
    action: str
    nevra: str
    name: str
    evr: str
    arch: str
    node: str
    repo: NotRequired[str]
    href: NotRequired[str]
    location: NotRequired[str]
    size: NotRequired[int]
    checksum: NotRequired[Union[str, None]]
    replaces: NotRequired[list[str]]
    topDirs: NotRequired[list[str]]
    oldTopDirs: NotRequired[list[str]]
    reason: NotRequired[Literal['user', 'dependency', 'unused']]


class ReadOnlyPackage(TypedDict):
    package: str
    node: str


class Problem(TypedDict):
    message: str
    rules: list[str]
    solutions: list[list[str]]
    readOnly: list[ReadOnlyPackage]


class Violation(TypedDict):
    """A family rule broken: solve's violations, check's and audit's findings. Which optional
    fields are present depends on the rule (src/pkg/solver.ts documents each)."""
    rule: str
    message: str
    package: str
    node: str
    name: NotRequired[str]
    requirement: NotRequired[str]
    path: NotRequired[str]
    other: NotRequired[str]
    otherNode: NotRequired[str]
    removed: NotRequired[list[str]]
    ancestor: NotRequired[str]
    providedElsewhere: NotRequired[list[str]]


class SolveAnswer(TypedDict):
    protocol: int
    ok: bool
    steps: list[Step]
    problems: list[Problem]
    violations: list[Violation]
    namedInstalled: NotRequired[list[str]]


class PackageRecord(TypedDict):
    nevra: str
    name: str
    evr: str
    arch: str
    repo: str
    summary: str
    node: NotRequired[str]
    size: NotRequired[int]
    description: NotRequired[str]
    license: NotRequired[str]
    url: NotRequired[str]
    installsize: NotRequired[int]
    requires: NotRequired[list[str]]
    provides: NotRequired[list[str]]
    files: NotRequired[list[str]]


class QueryAnswer(TypedDict):
    protocol: int
    ok: bool
    packages: list[PackageRecord]


class CheckAnswer(TypedDict):
    protocol: int
    ok: bool
    violations: list[Violation]


class Unreadable(TypedDict):
    node: str
    error: str


class AuditAnswer(TypedDict):
    protocol: int
    ok: bool
    findings: list[Violation]
    unreadable: list[Unreadable]
    packages: dict[str, int]


class PackageRef(TypedDict):
    package: str
    name: str
    node: str


class Provider(PackageRef):
    provides: list[str]
    inView: bool


class Requirer(PackageRef):
    requirement: str
    satisfiedBy: list[PackageRef]


class WhyAnswer(TypedDict):
    protocol: int
    ok: bool
    providers: list[Provider]
    requirers: list[Requirer]
    unreadable: list[Unreadable]


class ErrorAnswer(TypedDict):
    protocol: int
    ok: Literal[False]
    error: str


Request = Union[SolveRequest, QueryRequest, CheckRequest, AuditRequest, WhyRequest]
Answer = Union[SolveAnswer, QueryAnswer, CheckAnswer, AuditAnswer, WhyAnswer, ErrorAnswer]
