/**
 * Family-aware dependency resolution. The work is done on libsolv (python3-solv) by the Python
 * package src/pkg/redsolver: this module finds it, runs it under /usr/bin/python3 (PATH's python3
 * may be pyenv's, without the Debian `solv` module), and exchanges one JSON request and one JSON
 * answer with it, both checked against the protocol's schemas (docs/solver-protocol.md), which it
 * turns into typed results and RedpakErrors.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { adoptTool, type StartedTool, startTool } from './exec.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { solverArguments, solverDirectory, solverPython } from './solver-command.cjs';
import * as protocol from './solver-validators.js';

export type JobOp = 'install' | 'erase' | 'upgrade' | 'reinstall' | 'downgrade' | 'upgrade-all' | 'autoremove';

export interface SolverJob {
  op: JobOp;
  /** Package name, name-version, name.arch, capability or file path (unused for upgrade-all and autoremove). */
  what?: string;
}

export interface SolverRepo {
  id: string;
  /** Local directory holding repodata/ (a file:// baseurl's path). */
  dir: string;
  /** dnf semantics: lower wins; default 99. */
  priority?: number;
  /** dnf semantics: among repositories of one priority, the cheaper is preferred; default 1000. */
  cost?: number;
  /** Globs on package names: what the repository does not offer; when given, the only ones it offers. */
  excludepkgs?: string[];
  includepkgs?: string[];
}

/** A descendant node and the descendant nodes between it and the solved node (closest to it first). */
export interface DescendantView {
  node: string;
  via?: string[];
}

export interface SolveRequest {
  /** Host path of the node the transaction is for. */
  node: string;
  /** Host paths of its ancestors, closest first. */
  ancestors: string[];
  /** Descendant nodes whose requirements must survive the transaction. A plain path is a direct child. */
  descendants?: (string | DescendantView)[];
  repos: SolverRepo[];
  jobs: SolverJob[];
  /** Allow installing the node's own copy of a package an ancestor already has. */
  forcenode?: boolean;
  /** Also install weak dependencies (Recommends/Supplements). */
  weak?: boolean;
  /** Local .rpm files; a job `install` whose `what` is one of these paths installs that file. */
  localFiles?: string[];
  /**
   * A directory where the solver keeps each database and repository it parsed as a .solv file,
   * reused while the database files (inode, size, mtime) or the repomd.xml bytes are unchanged.
   */
  solvCache?: string;
  /** Why the node's packages are installed, by name (reasons.ts); a name not given counts as 'user'. */
  reasons?: Record<string, 'user' | 'dependency'>;
  /** Erase jobs also erase the node's dependencies that nothing needs any more once they are done. */
  cleanDeps?: boolean;
}

export type StepAction = 'install' | 'upgrade' | 'downgrade' | 'reinstall' | 'obsolete' | 'erase';

export interface TransactionStep {
  action: StepAction;
  nevra: string;
  name: string;
  evr: string;
  arch: string;
  /** The node whose database changes. */
  node: string;
  /** For everything but erase: where the package comes from. */
  repo?: string;
  /** The package's location relative to the repository's baseurl (repodata's location href). */
  href?: string;
  location?: string;
  size?: number;
  checksum?: string | null;
  /** Installed packages this one upgrades, downgrades or obsoletes. */
  replaces?: string[];
  /** Incoming packages: the top-level directories it has files in, when the metadata lists them all. */
  topDirs?: string[];
  /** Erasures, and the installed packages an incoming one replaces: the top-level directories they have files in (node database). */
  oldTopDirs?: string[];
  /**
   * install, obsolete: 'user' when a job named it, 'dependency' when pulled in; erase: 'user' when
   * a job named it, 'unused' for a dependency nothing needs any more (cleanDeps, autoremove).
   */
  reason?: 'user' | 'dependency' | 'unused';
}

export interface SolverProblem {
  message: string;
  /** Every rule involved, as libsolv words them (what dnf lists under "Problem:"). */
  rules: string[];
  /** Each solution is a list of actions (libsolv's wording, as dnf shows them). */
  solutions: string[][];
  /** Ancestor packages a solution would have had to change: never allowed, so named instead. */
  readOnly: { package: string; node: string }[];
}

export type FamilyRule =
  | 'duplicate'
  | 'ancestor-read-only'
  | 'file-conflict'
  | 'descendant-broken'
  | 'descendant-conflict'
  | 'descendant-duplicate'
  | 'descendant-file-conflict'
  | 'descendant-directory';

export interface RuleViolation {
  rule: FamilyRule;
  message: string;
  /** NEVRA of the package at fault (for descendant-broken: the descendant's package). */
  package: string;
  /** The node owning `package`. */
  node: string;
  name?: string;
  /** descendant-broken: the broken requirement; descendant-conflict: the Conflicts entry; descendant-file-conflict: the path. */
  requirement?: string;
  /** file-conflict: the path, the ancestor's package that has it, and that ancestor. */
  path?: string;
  other?: string;
  otherNode?: string;
  removed?: string[];
}

export interface SolveResult {
  ok: boolean;
  steps: TransactionStep[];
  problems: SolverProblem[];
  violations: RuleViolation[];
  /** Names of the node's installed packages that an install job named (already there). */
  namedInstalled?: string[];
}

export { solverPython };

/** The protocol version this side speaks; src/pkg/redsolver/protocol.py has the same number. */
export const SOLVER_PROTOCOL = 1;

export type SolverMode = 'solve' | 'query' | 'check' | 'audit' | 'why';

/** What each mode answers, besides `protocol` and `ok` (the schemas in src/pkg/redsolver/schema/). */
export interface SolverAnswers {
  solve: SolveResult;
  query: { packages: PackageInfo[] };
  check: { violations: PlacementViolation[] };
  audit: AuditAnswer;
  why: WhyAnswer;
}

export type SolverAnswer<M extends SolverMode> = SolverAnswers[M] & { protocol: number; ok: boolean };

const REQUEST_SCHEMAS: Record<SolverMode, ValidateFunction> = {
  solve: protocol.solve_request,
  query: protocol.query_request,
  check: protocol.check_request,
  audit: protocol.audit_request,
  why: protocol.why_request,
};

const ANSWER_SCHEMAS: { [M in SolverMode]: ValidateFunction<SolverAnswer<M>> } = {
  solve: protocol.solve_answer,
  query: protocol.query_answer,
  check: protocol.check_answer,
  audit: protocol.audit_answer,
  why: protocol.why_answer,
};

/**
 * The solver's Python package (solver-command.cts): an error when REDPAK_SOLVER_DIR names a
 * directory that is not one.
 */
export function solverPackagePath(): string {
  const dir = solverDirectory(PACKAGE_ROOT);
  if (!existsSync(join(dir, '__main__.py'))) {
    throw new RedpakError('tool-missing', `the solver package is not in ${dir} (no __main__.py)`, {
      hint: process.env.REDPAK_SOLVER_DIR ? 'REDPAK_SOLVER_DIR must name a copy of src/pkg/redsolver' : undefined,
    });
  }
  return dir;
}

function schemaErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

/** The request as sent: `protocol` and `mode` added, checked against the mode's request schema. */
export function solverRequest(mode: SolverMode, request: object): string {
  const message = { ...request, protocol: SOLVER_PROTOCOL, mode };
  const validate = REQUEST_SCHEMAS[mode];
  if (!validate(message)) {
    const where = schemaErrors(validate.errors);
    throw new RedpakError(
      'solver',
      `internal error: a ${mode} request that does not follow the solver protocol: ${where}`,
    );
  }
  return JSON.stringify(message);
}

/**
 * The solver's answer to a `mode` request, from what it printed: its protocol version must be
 * ours, an error answer becomes a 'solver' RedpakError, anything else must match the mode's
 * answer schema ('tool-failed' otherwise).
 */
export function solverAnswer<M extends SolverMode>(mode: M, stdout: string): SolverAnswer<M> {
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch (error) {
    const start = stdout.slice(0, 200);
    throw new RedpakError('tool-failed', `the solver printed something that is not JSON: ${start}`, { cause: error });
  }
  const version = typeof answer === 'object' && answer !== null && 'protocol' in answer ? answer.protocol : undefined;
  if (version !== SOLVER_PROTOCOL) {
    const got = JSON.stringify(version);
    throw new RedpakError(
      'tool-failed',
      `the solver answered in protocol version ${got}, expected ${SOLVER_PROTOCOL}`,
      {
        hint: process.env.REDPAK_SOLVER_DIR ? 'REDPAK_SOLVER_DIR names a solver of another version' : undefined,
      },
    );
  }
  if (protocol.error_answer(answer)) throw new RedpakError('solver', answer.error);
  const validate = ANSWER_SCHEMAS[mode];
  if (!validate(answer)) {
    const where = schemaErrors(validate.errors);
    throw new RedpakError('tool-failed', `the solver's ${mode} answer does not follow the solver protocol: ${where}`);
  }
  return answer;
}

/** The interpreter and arguments that run the solver; a missing interpreter is 'tool-missing'. */
function solverCommand(prepare?: SolverMode): { python: string; args: string[] } {
  const python = solverPython();
  if (!existsSync(python)) {
    throw new RedpakError(
      'tool-missing',
      `${python} not found: dependency resolution needs python3 with the solv module`,
      {
        hint: 'apt-get install python3-solv (or set REDPAK_PYTHON)',
      },
    );
  }
  return { python, args: solverArguments(solverPackagePath(), prepare) };
}

/**
 * A solver started before its request is known: Python and libsolv load while the caller reads
 * the family and its repositories (docs/solver-protocol.md, "Started ahead"). Given to `solve`
 * (which discards one of another mode), or discarded: killed before it read anything.
 */
export interface PreparedSolver {
  readonly mode: SolverMode;
  /** The process, to observe its end; `take` is how a solve gets it. */
  readonly started: StartedTool;
  /** The process the first time, undefined after (or once discarded): one request per solver. */
  take(): StartedTool | undefined;
  discard(): void;
}

/** Undefined where the solver cannot be found: the call that needs it then says why. */
export function prepareSolver(mode: SolverMode): PreparedSolver | undefined {
  let command: { python: string; args: string[] };
  try {
    command = solverCommand(mode);
  } catch {
    return undefined;
  }
  return preparedOf(mode, startTool(command.python, command.args, { answerOnStdoutEnd: true }));
}

/** A solver for `mode` that cli/start.cts started ahead (solver-command.cts `startSolverAhead`). */
export function adoptSolver(child: ChildProcessWithoutNullStreams, mode: SolverMode): PreparedSolver {
  const started = adoptTool(child, child.spawnfile, child.spawnargs.slice(1), { answerOnStdoutEnd: true });
  return preparedOf(mode, started);
}

function preparedOf(mode: SolverMode, started: StartedTool): PreparedSolver {
  let taken = false;
  return {
    mode,
    started,
    take() {
      if (taken) return undefined;
      taken = true;
      return started;
    },
    discard() {
      taken = true;
      started.discard();
    },
  };
}

/**
 * Runs the solver on one request. The solver writes the repositories it parsed to its .solv cache
 * after answering: with `exits`, the answer is taken as soon as it is printed and the solver's exit
 * is pushed there for the caller to await before its work is done; without, it is awaited here.
 * `prepared`, of the same mode and not used yet, is used instead of starting a solver; else killed.
 */
async function callSolver<M extends SolverMode>(
  mode: M,
  request: object,
  node: string,
  exits?: Promise<void>[],
  prepared?: PreparedSolver,
): Promise<SolverAnswer<M>> {
  const input = solverRequest(mode, request);
  const purpose = `resolve dependencies for node ${node}`;
  const ready = prepared?.mode === mode ? prepared.take() : undefined;
  if (!ready) prepared?.discard();
  let started = ready;
  if (!started) {
    const { python, args } = solverCommand();
    started = startTool(python, args, { answerOnStdoutEnd: exits !== undefined });
  }
  started.send(input, purpose);
  const { stdout, exited } = await started.result;
  // A prepared solver answers before its exit: a caller without `exits` waits for it here.
  if (exited) {
    if (exits) exits.push(exited);
    else await exited;
  }
  return solverAnswer(mode, stdout);
}

/** One package as `query` describes it. */
export interface PackageInfo {
  nevra: string;
  name: string;
  evr: string;
  arch: string;
  /** '@System' for an installed package, else the repository id. */
  repo: string;
  summary: string;
  /** Installed packages: the host path of the node whose database holds it. */
  node?: string;
  /** Available packages: download size in bytes. */
  size?: number;
  /** With `details`. */
  description?: string;
  license?: string;
  url?: string;
  installsize?: number;
  requires?: string[];
  provides?: string[];
  /** With `files`. */
  files?: string[];
}

export type SearchField = 'name' | 'summary' | 'description' | 'url';

export interface QuerySpec {
  /** installed: the node's own packages; family: node + ancestors; available: the repositories; all: everything. */
  scope: 'installed' | 'family' | 'available' | 'all';
  /** Names, globs, name-version, name.arch (dnf's package specs); empty: every package. */
  names?: string[];
  whatprovides?: string;
  whatrequires?: string;
  /** Only available packages newer than a package of the node itself (same name and arch, or noarch). */
  upgrades?: boolean;
  /** Only packages where every term is a case-insensitive substring of one of the fields. */
  search?: { terms: string[]; fields: SearchField[] };
  /** Keep only the newest version per name, arch and installed/available. */
  latest?: boolean;
  details?: boolean;
  /** Give each package's file list. */
  files?: boolean;
}

/** Read-only questions on the family view and repositories (list, info, repoquery); `prepared`: see callSolver. */
export async function query(
  request: Pick<SolveRequest, 'node' | 'ancestors' | 'repos' | 'solvCache'>,
  spec: QuerySpec,
  prepared?: PreparedSolver,
): Promise<PackageInfo[]> {
  const { node, ancestors, repos, solvCache } = request;
  const answer = await callSolver(
    'query',
    { node, ancestors, repos, solvCache, query: spec },
    node,
    undefined,
    prepared,
  );
  return answer.packages;
}

/**
 * Resolve `request` against the family view. Never throws for unsolvable requests: see `ok`.
 * `exits`: see callSolver (the answer before the solver's cache is written).
 */
export async function solve(
  request: SolveRequest,
  exits?: Promise<void>[],
  prepared?: PreparedSolver,
): Promise<SolveResult> {
  const answer = await callSolver('solve', request, request.node, exits, prepared);
  return {
    ok: answer.ok,
    steps: answer.steps,
    problems: answer.problems,
    violations: answer.violations,
    ...(answer.namedInstalled ? { namedInstalled: answer.namedInstalled } : {}),
  };
}

/** Problems the way dnf prints them: "Problem N: …", the rules as " - …", then the solutions. */
export function formatProblems(problems: readonly SolverProblem[]): string {
  const lines: string[] = [];
  problems.forEach((problem, index) => {
    lines.push(`${problems.length > 1 ? ` Problem ${index + 1}` : ' Problem'}: ${problem.message}`);
    for (const rule of problem.rules) if (rule !== problem.message) lines.push(`  - ${rule}`);
    for (const ro of problem.readOnly)
      lines.push(`  - ${ro.package} belongs to ancestor node ${ro.node} and cannot be changed from here`);
    if (problem.solutions.length > 0) {
      lines.push('  Possible solutions:');
      for (const solution of problem.solutions) lines.push(`   - ${solution.join('; ')}`);
    }
  });
  return lines.join('\n');
}

export function formatViolations(violations: readonly RuleViolation[]): string {
  return violations.map((v) => ` - ${v.message}`).join('\n');
}

/** Throw when the result cannot be applied: family rules first ('family-rule'), then solver problems ('solver'). */
export function assertSolved(result: SolveResult, node: string): void {
  if (result.violations.length > 0) {
    throw new RedpakError(
      'family-rule',
      `transaction for node ${node} breaks family rules:\n${formatViolations(result.violations)}`,
      {
        hint: result.violations.some((v) => v.rule === 'duplicate')
          ? 'install it in the ancestor instead, or pass --forcenode to install a copy in this node'
          : undefined,
      },
    );
  }
  if (result.problems.length > 0) {
    throw new RedpakError(
      'solver',
      `cannot resolve dependencies for node ${node}:\n${formatProblems(result.problems)}`,
    );
  }
}

/** A node on disk (e.g. unpacked from an archive) and the nodes between it and `ancestors`, closest first. */
export interface PlacedNode {
  node: string;
  via?: string[];
}

export interface PlacementViolation {
  rule: 'duplicate' | 'unsatisfied' | 'conflict';
  message: string;
  /** Host path of the placed node at fault. */
  node: string;
  /** NEVRA of its package at fault. */
  package: string;
  name: string;
  /** unsatisfied: the requirement; conflict: the Conflicts entry. */
  requirement?: string;
  /** duplicate, conflict: the ancestor's host path. */
  ancestor?: string;
}

/**
 * Whether nodes that are already on disk keep the family rules under the given ancestors
 * (closest first): no duplicate of an ancestor's package (rule 2), every requirement satisfied
 * by the node, its `via` nodes and the ancestors (rule 1), no conflict with an ancestor (rule 5).
 */
export async function checkPlacement(request: {
  ancestors: string[];
  nodes: PlacedNode[];
  forcenode?: boolean;
  ignoreDuplicates?: string[];
}): Promise<PlacementViolation[]> {
  const answer = await callSolver('check', request, request.nodes[0]?.node ?? '');
  return answer.violations;
}

/** A node of a tree of installed nodes, and its parent within the tree (host paths). */
export interface TreeDb {
  node: string;
  parent?: string;
}

/** Which family rule an installed node breaks (redmanager check). */
export type AuditRule = 'unsatisfied' | 'duplicate' | 'conflict' | 'obsoletes' | 'file-conflict';

export interface AuditFinding {
  rule: AuditRule;
  /** Host path of the node at fault. */
  node: string;
  /** NEVRA of its package at fault. */
  package: string;
  name: string;
  message: string;
  /** unsatisfied: the requirement; conflict, obsoletes: the Conflicts/Obsoletes entry; file-conflict: the path. */
  requirement?: string;
  /** duplicate, conflict, obsoletes, file-conflict: the other package and its node. */
  other?: string;
  otherNode?: string;
  /** unsatisfied: nodes outside the family line that do provide it. */
  providedElsewhere?: string[];
}

export interface AuditAnswer {
  findings: AuditFinding[];
  /** Databases libsolv could not read (their packages count as absent). */
  unreadable: { node: string; error: string }[];
  /** Packages per node (host path). */
  packages: Record<string, number>;
}

/**
 * The family rules checked on nodes as installed: each node of `nodes` (parents before children)
 * sees itself, its parents up the tree, then `outer` (databases above the tree's top, closest
 * first). Rules 1 (requirements), 2 (duplicates, except `allowDuplicates`) and 5 (conflicts,
 * obsoletes).
 */
export async function auditTree(request: {
  nodes: TreeDb[];
  outer: string[];
  allowDuplicates?: string[];
}): Promise<AuditAnswer> {
  const answer = await callSolver('audit', request, request.nodes[0]?.node ?? '');
  return { findings: answer.findings, unreadable: answer.unreadable, packages: answer.packages };
}

export interface WhyPackage {
  package: string;
  name: string;
  /** Host path of the node whose database holds it. */
  node: string;
}

export interface WhyAnswer {
  /** Packages of the focus node's family line and of its descendants providing the capability. */
  providers: (WhyPackage & { provides: string[]; inView: boolean })[];
  /** Packages whose requirement names the capability (or is met by the package of that name). */
  requirers: (WhyPackage & { requirement: string; satisfiedBy: WhyPackage[] })[];
  unreadable: { node: string; error: string }[];
}

/** Who provides `capability` in the view of `focus`, and who requires it, in `nodes` (a tree holding focus, its ancestors and its descendants). */
export async function whyCapability(request: {
  nodes: TreeDb[];
  outer: string[];
  focus: string;
  capability: string;
}): Promise<WhyAnswer> {
  const answer = await callSolver('why', request, request.focus);
  return { providers: answer.providers, requirers: answer.requirers, unreadable: answer.unreadable };
}
