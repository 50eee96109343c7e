/**
 * redwrap-dnf as a library: package transactions and queries on one node of a family. The
 * commands in commands/redwrap-dnf are thin wrappers around these functions.
 *
 * A transaction: open the family (admin mode, enabled nodes only) → take the family lock →
 * sync repository metadata (checksums) → solve with libsolv against the family view (rules 1–5)
 * → show/confirm the plan → fetch packages (checksums, signatures) → run rpm inside the family
 * view on a staging layer and merge it into the node (rules 7–8) → record history.
 * Nothing before the merge changes the node.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RedpakError } from '../errors.js';
import { RPMDB_DIR } from '../node/layout.js';
import {
  describeRoot,
  HISTORY_FILE,
  openPackageFamily,
  type OpenFamilyOptions,
  type PackageFamily,
} from './family-context.js';
import { appendHistory, readHistory, undoJobs, type HistoryEntry } from './history.js';
import { acquireFamilyLock, type FamilyLock } from './lock.js';
import {
  addRepoFile,
  cleanCache,
  familyRepos,
  fetchPackage,
  solvCacheDir,
  syncRepos,
  verifySignatures,
  type AddedRepoFile,
  type CleanKind,
  type CleanOutcome,
  type FetchedPackage,
  familyGpgcheck,
  matchesRepoGlob,
  type NodeRepo,
  type RepoSelection,
  type SyncedRepo,
} from './repos.js';
import {
  detectHostProvides,
  registerHostProvides,
  HOST_PROVIDES_PACKAGE,
  packageFiles,
  stagedTransactionArgs,
} from './rpm.js';
import { rpmSupportsForceDebian } from './rpm-probe.js';
import { queryPackages } from './installed.js';
import {
  assertSolved,
  checkPlacement,
  query,
  prepareSolver,
  solve,
  type PreparedSolver,
  type PackageInfo,
  type SolveResult,
  type SearchField,
  type SolverJob,
  type StepAction,
  type TransactionStep,
} from './solver.js';
import { packageTopDirs, pathIntoDescendant, runStaged, type RpmCommand } from './view.js';
import { recoverInterrupted } from './recovery.js';
import { assertMayChange } from './ownership.js';
import { assertOwnCacheDir, chooseStaging, runsRootless } from './rootless.js';
import { abortable, InterruptedError, signalNameOf } from './interrupt.js';
import { nextReasons, readReasons, REASONS_FILE, reasonsText, writeReasons, type InstallReason } from './reasons.js';
import {
  GROUPS_FILE,
  groupRecordText,
  nextGroupRecord,
  readGroupRecord,
  writeGroupRecord,
  type GroupChange,
  type InstalledGroup,
} from './group-record.js';
import { groupInstallNames, matchGroups, mergeComps, repoGroups, type CompsGroup } from './comps.js';
import { closestWord } from '../closest-word.js';
import {
  generationDatabase,
  listGenerations,
  markGood,
  pruneGenerations,
  rollbackTo,
  type Generation,
} from './generations.js';

// ---------------------------------------------------------------------------------------------
// Options and results

export interface CommonOptions extends OpenFamilyOptions, RepoSelection {
  /** Local repository directories (holding repodata/) used in addition to the node's .repo files. */
  repoDirs?: string[];
  /** Ignore the .repo files of the family: only `repoDirs`. */
  noRepoFiles?: boolean;
  /** Refetch repository metadata even when the cached copy has not expired. */
  refresh?: boolean;
  /** Use cached metadata only, never fetch. */
  cacheOnly?: boolean;
  /** Seconds to wait for the family lock (default 0: fail at once). */
  lockWait?: number;
  /** dnf --nogpgcheck: no signature check, refused where the family's config requires it. */
  nogpgcheck?: boolean;
  /** Told, one line each, the repositories skipped (skip_if_unavailable) and the mirrors dropped. */
  onWarning?: (message: string) => void;
  /** Told more detail, one line each (dnf -v): the repositories loaded and the solver's decisions. */
  onDetail?: (message: string) => void;
  /**
   * A solver started ahead (solver.ts prepareSolver, adoptSolver): the operation's first solver
   * call of its mode (a transaction's solve, a query) uses it; one of another mode is killed.
   * Without, the operation starts one as it begins. Discarded if unused.
   */
  solver?: PreparedSolver;
}

/** Progress of a transaction, for a UI. */
export type ProgressEvent =
  | { phase: 'download'; nevra: string; done: number; total: number }
  | { phase: 'downloaded'; nevra: string; bytes: number }
  | { phase: 'verified'; count: number }
  | { phase: 'apply-start'; nevras: string[] }
  | { phase: 'applied'; nevra: string }
  | { phase: 'merged' };

export interface TransactionOptions extends CommonOptions {
  /** Allow a node its own copy of a package an ancestor has (rule 2 override). */
  forcenode?: boolean;
  /** Do not run scriptlets. */
  noscripts?: boolean;
  /** Also install weak dependencies. */
  weak?: boolean;
  /** Stop after showing the plan (dnf --assumeno). */
  assumeno?: boolean;
  /** Stop once the packages are downloaded and verified, leaving them in the cache (dnf --downloadonly). */
  downloadOnly?: boolean;
  /**
   * Asked with the plan once it is solved, before anything is fetched or changed; false cancels.
   * Without it the transaction proceeds (library callers, `-y`).
   */
  confirm?: (plan: TransactionPlan) => boolean | Promise<boolean>;
  /** Shown the plan (before `confirm`). */
  onPlan?: (plan: TransactionPlan) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** Aborts before the merge; by default SIGINT/SIGTERM do that while the transaction runs. */
  signal?: AbortSignal;
  /** Generations of the node kept after the transaction (default 5, plus the newest known-good). */
  keepGenerations?: number;
  /** Removing packages also removes the dependencies nothing needs any more (dnf's clean_requirements_on_remove). */
  cleanDeps?: boolean;
}

/** One row of the transaction table. */
export interface PlannedPackage {
  action: StepAction;
  name: string;
  arch: string;
  /** [epoch:]version-release */
  evr: string;
  nevra: string;
  /** Repository id; '@commandline' for a local file; '@System' for an erase. */
  repo: string;
  /** Download size in bytes (0 for erasures). */
  size: number;
  /** Installed packages this one replaces. */
  replaces: string[];
  /** Asked for ('user'), pulled in ('dependency'), or removed because nothing needs it ('unused'). */
  reason?: 'user' | 'dependency' | 'unused';
}

export interface TransactionPlan {
  /** Target path of the node, and its alias. */
  node: string;
  alias: string;
  packages: PlannedPackage[];
  /** Total download size in bytes. */
  downloadSize: number;
}

export interface TransactionResult extends TransactionPlan {
  /**
   * done: applied; nothing-to-do: the request is already satisfied; cancelled: not confirmed /
   * --assumeno; downloaded: --downloadonly, the packages are in `files`.
   */
  status: 'done' | 'nothing-to-do' | 'cancelled' | 'downloaded';
  /** With downloadOnly: the verified package files (in the node's cache), in the plan's order. */
  files?: { nevra: string; path: string }[];
  /** Id of the history entry written (status done). */
  historyId?: number;
  /** Bytes downloaded by this run. */
  downloaded: number;
  /** rpm's warnings (e.g. a failing %post scriptlet). */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// Transactions

/**
 * Install packages into a node. `specs` are names, name-version, name.arch, capabilities, file
 * paths provided by a package, or local .rpm files. Never prompts unless `confirm` is given.
 *
 *   await install({ redpath: '/var/redpak/platform/app', specs: ['redhello'], repoDirs: ['/srv/repo'] })
 */
export async function install(options: TransactionOptions & { specs: string[] }): Promise<TransactionResult> {
  const groups = options.specs.filter((s) => s.startsWith('@')).map((s) => s.slice(1));
  const jobs: SolverJob[] = options.specs.filter((s) => !s.startsWith('@')).map((what) => ({ op: 'install', what }));
  if (groups.length === 0) return transact(options, 'install', jobs);
  const planned = await groupInstallJobs(options, groups, false);
  return transact(
    options,
    'install',
    [...jobs, ...planned.jobs],
    ['install', ...options.specs].join(' '),
    planned.change,
  );
}

/**
 * Erase the node's own packages, and (unless `cleanDeps: false`) the dependencies they alone
 * needed; refused for an ancestor's package and when a descendant would break.
 */
export async function remove(options: TransactionOptions & { specs: string[] }): Promise<TransactionResult> {
  const groups = options.specs.filter((s) => s.startsWith('@')).map((s) => s.slice(1));
  const jobs: SolverJob[] = options.specs.filter((s) => !s.startsWith('@')).map((what) => ({ op: 'erase', what }));
  const cleanDeps = options.cleanDeps ?? true;
  if (groups.length === 0) return transact({ ...options, cleanDeps }, 'remove', jobs);
  const planned = await groupRemoveJobs(options, groups);
  const all = [...jobs, ...planned.jobs];
  return transact({ ...options, cleanDeps }, 'remove', all, ['remove', ...options.specs].join(' '), planned.change);
}

/** Erase the node's dependencies that no package of the node or of a descendant needs any more. */
export function autoremove(options: TransactionOptions): Promise<TransactionResult> {
  return transact(options, 'autoremove', [{ op: 'autoremove' }]);
}

/** Upgrade the given packages of the node, or every package of the node without specs. */
export function upgrade(options: TransactionOptions & { specs?: string[] }): Promise<TransactionResult> {
  const jobs: SolverJob[] = options.specs?.length
    ? options.specs.map((what) => ({ op: 'upgrade', what }))
    : [{ op: 'upgrade-all' }];
  return transact(options, 'upgrade', jobs);
}

export function reinstall(options: TransactionOptions & { specs: string[] }): Promise<TransactionResult> {
  return transact(
    options,
    'reinstall',
    options.specs.map((what) => ({ op: 'reinstall', what })),
  );
}

export function downgrade(options: TransactionOptions & { specs: string[] }): Promise<TransactionResult> {
  return transact(
    options,
    'downgrade',
    options.specs.map((what) => ({ op: 'downgrade', what })),
  );
}

/**
 * Several kinds of jobs as one transaction of one node (redmanager apply: a node's installs,
 * version pins and prunes together). `command` is what the history records.
 */
export function transactJobs(
  options: TransactionOptions & { jobs: SolverJob[]; command: string },
): Promise<TransactionResult> {
  return transact(
    options,
    options.command,
    options.jobs.map((j) => ({ ...j })),
    options.command,
  );
}

/** Undo history entry `id` of the node: what it installed is removed, what it removed or replaced comes back. */
export async function historyUndo(options: TransactionOptions & { id: number }): Promise<TransactionResult> {
  const pf = openFamily(options);
  const entry = readHistory(pf.historyFile).find((e) => e.id === options.id);
  if (!entry) {
    throw new RedpakError('package', `node ${pf.node.path} has no history entry ${options.id}`, {
      hint: `list them with: redwrap-dnf --redpath ${pf.node.path} history`,
    });
  }
  const jobs = undoJobs(entry);
  return transact(options, `history undo ${options.id}`, jobs, `history undo ${options.id}`);
}

/** The nodes whose databases a command on the node reads: the node, its ancestors, its descendants. */
function familyNodes(pf: PackageFamily): string[] {
  return [
    pf.nodeRoot,
    ...pf.ancestors.filter((a) => !a.hostDb).map((a) => a.root),
    ...pf.descendants.map((d) => d.node),
  ];
}

/** Completes or drops what interrupted transactions left in those nodes (src/pkg/recovery.ts). */
function recoverFamily(pf: PackageFamily): void {
  recoverInterrupted(familyNodes(pf), pf.top.hostPath);
}

/** Every redwrap-dnf command opens the family this way: interrupted transactions are recovered first. */
function openFamily(options: OpenFamilyOptions): PackageFamily {
  const pf = openPackageFamily(options);
  recoverFamily(pf);
  return pf;
}

/** The node's name in messages: alias and path. */
function labelOf(pf: PackageFamily): string {
  return `${pf.node.alias} (${pf.node.path})`;
}

/** The package cache, checked to be the caller's own for an ordinary user (src/pkg/rootless.ts). */
function cacheOf(pf: PackageFamily): string {
  if (runsRootless()) assertOwnCacheDir(pf.cacheDir);
  return pf.cacheDir;
}

/**
 * Before anything is fetched or changed: the node must be the caller's to change (an ordinary
 * user's ancestors are read, never written), and for an ordinary user the cache must be theirs.
 */
function assertCanChange(pf: PackageFamily): void {
  assertMayChange(pf.nodeRoot, labelOf(pf));
  if (runsRootless()) assertOwnCacheDir(pf.cacheDir);
}

function planOf(pf: PackageFamily, steps: readonly TransactionStep[]): TransactionPlan {
  const packages = steps.map((s) => ({
    action: s.action,
    name: s.name,
    arch: s.arch,
    evr: s.evr,
    nevra: s.nevra,
    repo: s.action === 'erase' ? '@System' : (s.repo ?? ''),
    size: s.action === 'erase' ? 0 : (s.size ?? 0),
    replaces: s.replaces ?? [],
    ...(s.reason ? { reason: s.reason } : {}),
  }));
  return { node: pf.node.path, alias: pf.node.alias, packages, downloadSize: packages.reduce((n, p) => n + p.size, 0) };
}

function commandText(kind: string, jobs: readonly SolverJob[]): string {
  return [kind, ...jobs.filter((j) => j.what).map((j) => j.what)].join(' ');
}

/** Map host paths in messages to node paths (they differ under --root) and add what to do next. */
/**
 * A package that is not found may be newer than the cached metadata (kept for metadata_expire,
 * 48 hours by default): say how old the oldest copy in use is, when it is older than an hour.
 */
function staleMetadataNote(synced: readonly SyncedRepo[], now = Date.now()): string {
  const cached = synced.filter((s) => !s.fetched);
  if (cached.length === 0) return '';
  const oldest = cached.reduce((a, b) => (a.fetchedAt <= b.fetchedAt ? a : b));
  const hours = Math.floor((now - oldest.fetchedAt) / 3_600_000);
  if (hours < 1) return '';
  return `; the metadata of repository ${oldest.repo.id} was fetched ${hours} h ago: --refresh fetches it again`;
}

function explainSolveFailure(pf: PackageFamily, result: SolveResult, synced: readonly SyncedRepo[] = []): void {
  try {
    assertSolved(result, describeRoot(pf, pf.nodeRoot));
  } catch (error) {
    if (!(error instanceof RedpakError)) throw error;
    let message = error.message;
    for (const root of [pf.nodeRoot, ...pf.ancestors.map((a) => a.root), ...pf.descendants.map((d) => d.node)]) {
      if (!pf.sysroot.isHost) message = message.split(root).join(pf.sysroot.toTarget(root));
    }
    let hint = error.hint;
    if (!hint && error.code === 'solver') {
      const noMatch = result.problems.every((p) => p.message.startsWith('No match for argument'));
      const hostCap = result.problems.some((p) =>
        /nothing provides (\/bin\/sh|\/usr\/bin\/|lib[\w.+-]*\.so|rtld)/.test([p.message, ...p.rules].join('\n')),
      );
      hint = noMatch
        ? `check the name; \`redwrap-dnf --redpath ${pf.node.path} list --available\` shows what the repositories offer${staleMetadataNote(synced)}`
        : hostCap
          ? `the family does not provide a host capability: register the host's with \`redwrap-dnf --redpath ${pf.top.path} host-provides\``
          : 'apply one of the possible solutions above (e.g. do not ask for that package), or install the missing provider in the right node first';
    }
    if (!hint && error.code === 'family-rule' && result.violations.some((v) => v.rule === 'descendant-directory'))
      hint = DESCENDANT_DIRECTORY_HINT;
    if (!hint && error.code === 'family-rule' && result.violations.some((v) => v.rule.startsWith('descendant'))) {
      hint = 'remove or adapt the descendant packages named above first';
    }
    if (!hint && error.code === 'family-rule' && result.violations.some((v) => v.rule === 'file-conflict')) {
      hint = 'the ancestor already has that file: leave the package to the ancestor node, or change the ancestor first';
    }
    if (!hint && error.code === 'family-rule' && result.violations.some((v) => v.rule === 'ancestor-read-only')) {
      hint = 'change it from the ancestor node that owns it';
    }
    throw new RedpakError(error.code, message, { hint });
  }
}

/**
 * No payload path of a package may land in a descendant node's directory (its configs, its
 * files): checked again on the downloaded packages themselves, whose file lists the repository
 * metadata may not have given (or may have given wrong: repositories are untrusted).
 */
async function refuseIntoDescendants(pf: PackageFamily, fetched: readonly FetchedPackage[]): Promise<void> {
  if (pf.descendants.length === 0 || fetched.length === 0) return;
  const lists = await packageFiles(fetched.map((f) => f.path));
  fetched.forEach((f, i) => {
    const hit = pathIntoDescendant(
      pf.nodeRoot,
      pf.descendants.map((d) => d.node),
      lists[i] ?? [],
    );
    if (hit) {
      throw new RedpakError(
        'family-rule',
        `transaction for node ${describeRoot(pf, pf.nodeRoot)} breaks family rules:\n  ${f.step.nevra} would write ${hit.path} into the directory of descendant node ${describeRoot(pf, hit.descendant)}`,
        {
          hint: DESCENDANT_DIRECTORY_HINT,
        },
      );
    }
  });
}

const DESCENDANT_DIRECTORY_HINT =
  'a package may not write into a descendant node: install it in that node instead, or use a package whose files stay out of it';

/** The enabled repositories the transaction or query uses. */
function reposOf(pf: PackageFamily, options: CommonOptions): NodeRepo[] {
  return withGpgPolicy(pf, options).filter((r) => r.enabled);
}

/**
 * The node's repositories (gpgcheck from their .repo file, else the merged node config's or
 * dnf.conf's) and the given ones (--repo-dir: a directory the caller names, trusted like a local
 * .rpm file); all without signature checks under --nogpgcheck, which the family's gpgcheck
 * refuses.
 */
function withGpgPolicy(pf: PackageFamily, options: CommonOptions): NodeRepo[] {
  if (options.nogpgcheck && familyGpgcheck(pf)) {
    throw new RedpakError(
      'usage',
      `--nogpgcheck refused: the family of node ${pf.node.path} requires signature checks (gpgcheck: true in its node config)`,
      {
        hint: 'sign the packages and name the key with gpgkey= in the .repo file, or have the administrator of the family set gpgcheck: false in the config of the node that sets it',
      },
    );
  }
  const repos = familyRepos(pf, options);
  return options.nogpgcheck ? repos.map((r) => ({ ...r, gpgcheck: false })) : repos;
}

async function withLock<T>(
  pf: PackageFamily,
  options: CommonOptions,
  command: string,
  body: (lock: FamilyLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireFamilyLock(pf.top.hostPath, {
    command: `redwrap-dnf --redpath ${pf.node.path} ${command}`,
    waitSeconds: options.lockWait,
    topLabel: `${pf.top.alias} (${pf.top.path})`,
  });
  try {
    return await body(lock);
  } finally {
    lock.release();
  }
}

async function transact(
  options: TransactionOptions,
  kind: string,
  jobs: SolverJob[],
  text = commandText(kind, jobs),
  groupChange?: GroupChange,
): Promise<TransactionResult> {
  // Python and libsolv load while the family is read and locked and its repositories synced.
  const prepared = options.solver ?? prepareSolver('solve');
  try {
    return await transactPrepared(options, jobs, text, prepared, groupChange);
  } finally {
    prepared?.discard();
  }
}

async function transactPrepared(
  options: TransactionOptions,
  jobs: SolverJob[],
  text: string,
  prepared: PreparedSolver | undefined,
  groupChange?: GroupChange,
): Promise<TransactionResult> {
  const pf = openFamily({ ...options, changesLeaf: true });
  assertCanChange(pf);
  // Probed while the lock is taken and the solver runs; awaited, errors included, where rpm's
  // argv is built (view.ts). It reads nothing of the family, so it may run before the lock.
  rpmSupportsForceDebian().catch(() => undefined);
  const staging = chooseStaging(pf.cacheDir, labelOf(pf));
  // SIGINT/SIGTERM abort everything before the merge; during the (synchronous) merge they wait.
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(sig);
  const handle = options.signal === undefined;
  const signal = options.signal ?? controller.signal;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const interrupted = () => {
    const name = signalNameOf(signal);
    return new InterruptedError(
      name,
      `interrupted${name ? ` by ${name}` : ''}: nothing was changed in node ${pf.node.path}`,
    );
  };
  const checkAbort = () => {
    if (signal.aborted) throw interrupted();
  };
  // The solver writes its cache while the transaction goes on; done before the lock is released.
  const solverExits: Promise<void>[] = [];
  try {
    return await withLock(pf, options, text, async () => {
      try {
        return await transactLocked();
      } finally {
        await Promise.all(solverExits);
      }
    });
  } finally {
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  async function transactLocked(): Promise<TransactionResult> {
    recoverFamily(pf);
    let reasons = readReasons(pf.nodeRoot);
    const groupsBefore = readGroupRecord(pf.nodeRoot);
    const localFiles = jobs
      .filter(
        (j): j is SolverJob & { what: string } =>
          j.op === 'install' &&
          j.what !== undefined &&
          j.what.endsWith('.rpm') &&
          existsSync(resolve(options.cwd ?? process.cwd(), j.what)),
      )
      .map((j) => {
        const path = resolve(options.cwd ?? process.cwd(), j.what);
        j.what = path;
        return path;
      });
    const needRepos = jobs.some((j) => j.op !== 'erase');
    // The signal also stops metadata downloads (SyncOptions.signal, where repos.ts takes it).
    const syncOptions = { ...options, signal };
    const synced: SyncedRepo[] = needRepos
      ? await abortable(syncRepos(reposOf(pf, options), pf.cacheDir, syncOptions), signal, interrupted)
      : [];
    for (const s of synced) options.onDetail?.(loadedLine(s));
    checkAbort();
    const result = await abortable(
      solve(
        {
          node: pf.nodeRoot,
          ancestors: pf.ancestors.map((a) => a.root),
          descendants: pf.descendants,
          repos: synced.map((s) => s.solver),
          jobs,
          forcenode: options.forcenode,
          weak: options.weak,
          localFiles,
          solvCache: solvCacheDir(pf.cacheDir),
          reasons,
          cleanDeps: options.cleanDeps,
        },
        solverExits,
        prepared,
      ),
      signal,
      interrupted,
    );
    explainSolveFailure(pf, result, synced);
    for (const step of result.steps) options.onDetail?.(decisionLine(step));
    const plan = planOf(pf, result.steps);
    const base = { ...plan, downloaded: 0, warnings: [] as string[] };
    // Asking to install what the node has as a dependency makes it asked for (dnf does the same):
    // with the transaction, or at once when there is nothing else to do.
    const promoted = (result.namedInstalled ?? []).filter((name) => reasons[name] === 'dependency');
    reasons = { ...reasons, ...Object.fromEntries(promoted.map((name) => [name, 'user' as const])) };
    const groupNames = new Set(groupChange?.kind === 'install' ? groupChange.groups.flatMap((g) => g.members) : []);
    const groupsAfter = nextGroupRecord(groupsBefore, result.steps, {
      change: groupChange,
      userNamed: [
        ...result.steps.filter((s) => s.action !== 'erase' && s.reason === 'user').map((s) => s.name),
        ...(result.namedInstalled ?? []),
      ].filter((name) => !groupNames.has(name)),
      adopted: promoted,
    });
    const groupsChanged = groupRecordText(groupsAfter) !== groupRecordText(groupsBefore);
    if (result.steps.length === 0) {
      if (promoted.length > 0 && !options.assumeno) writeReasons(pf.nodeRoot, reasons);
      if (groupsChanged && !options.assumeno) writeGroupRecord(pf.nodeRoot, groupsAfter);
      return { ...base, status: 'nothing-to-do' as const };
    }
    options.onPlan?.(plan);
    if (options.assumeno) return { ...base, status: 'cancelled' as const };
    if (options.confirm && !(await options.confirm(plan))) return { ...base, status: 'cancelled' as const };
    checkAbort();

    const byId = new Map(synced.map((s) => [s.repo.id, s]));
    const incoming = result.steps.filter((s) => s.action !== 'erase');
    const fetched: FetchedPackage[] = [];
    for (const step of incoming) {
      checkAbort();
      const got = await abortable(
        fetchPackage(step, step.repo === '@commandline' ? undefined : byId.get(step.repo ?? ''), pf.cacheDir, {
          onProgress: (done, total) => options.onProgress?.({ phase: 'download', nevra: step.nevra, done, total }),
          signal,
        }),
        signal,
        interrupted,
      );
      options.onProgress?.({ phase: 'downloaded', nevra: step.nevra, bytes: got.downloaded });
      fetched.push(got);
    }
    await verifySignatures(fetched, synced);
    await refuseIntoDescendants(pf, fetched);
    options.onProgress?.({ phase: 'verified', count: fetched.length });
    checkAbort();
    if (options.downloadOnly) {
      return {
        ...base,
        status: 'downloaded' as const,
        downloaded: fetched.reduce((n, f) => n + f.downloaded, 0),
        files: fetched.map((f) => ({ nevra: f.step.nevra, path: f.path })),
      };
    }

    const erased = result.steps.filter((s) => s.action === 'erase').map((s) => s.nevra);
    const reads = fetched.map((f) => f.path);
    const commands: RpmCommand[] = stagedTransactionArgs(pf.nodeRoot, reads, erased, {
      noscripts: options.noscripts,
      oldpackage: incoming.some((s) => s.action === 'downgrade'),
      replacepkgs: incoming.some((s) => s.action === 'reinstall'),
    }).map((args) => (args[0] === '-U' ? { args, reads } : { args }));

    const history = appendHistory(readHistory(pf.historyFile), {
      time: new Date().toISOString(),
      command: text,
      steps: result.steps.map((s) => ({
        action: s.action,
        nevra: s.nevra,
        name: s.name,
        ...(s.replaces?.length ? { replaces: s.replaces } : {}),
        ...(s.reason ? { reason: s.reason } : {}),
      })),
    });
    const nevras = result.steps.map((s) => s.nevra);
    options.onProgress?.({ phase: 'apply-start', nevras });
    const seen = new Set<string>();
    const staged = await runStaged(
      {
        staging,
        node: pf.nodeRoot,
        ancestors: pf.ancestors.map((a) => a.root),
        commands,
        extraFiles: {
          [HISTORY_FILE]: `${JSON.stringify(history, null, 2)}\n`,
          [REASONS_FILE]: reasonsText(nextReasons(reasons, result.steps)),
          ...(groupsChanged ? { [GROUPS_FILE]: groupRecordText(groupsAfter) } : {}),
        },
        generation: { command: text, historyId: history[history.length - 1].id },
        signal,
        pruneEmptyTopDirs: result.steps.filter((s) => s.action === 'erase').flatMap((s) => s.oldTopDirs ?? []),
        onLine: (line) => {
          const trimmed = line.trim();
          const hit = result.steps.find(
            (s) =>
              !seen.has(s.nevra) &&
              (trimmed === s.nevra || trimmed.startsWith(`${s.nevra} `) || trimmed === s.nevra.replace(/\.[^.]+$/, '')),
          );
          if (hit) {
            seen.add(hit.nevra);
            options.onProgress?.({ phase: 'applied', nevra: hit.nevra });
          }
        },
      },
      // From the repository's file lists; rpm reads the package only where metadata lists no files.
      // What is removed or replaced too: rpm removes only the files the view shows it.
      [
        ...incoming.flatMap((s) => s.topDirs ?? []),
        ...result.steps.flatMap((s) => s.oldTopDirs ?? []),
        ...(await packageTopDirs(fetched.filter((f) => !f.step.topDirs).map((f) => f.path))),
      ],
    ).catch((error: unknown) => {
      checkAbort(); // names the signal
      throw error;
    });
    for (const n of nevras) if (!seen.has(n)) options.onProgress?.({ phase: 'applied', nevra: n });
    options.onProgress?.({ phase: 'merged' });
    pruneGenerations(pf.nodeRoot, options.keepGenerations);
    return {
      ...base,
      status: 'done' as const,
      historyId: history[history.length - 1].id,
      downloaded: fetched.reduce((n, f) => n + f.downloaded, 0),
      warnings: staged.warnings,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Queries

/** A package in list/info/repoquery results; `node` is the owning node's path for installed ones. */
export type ListedPackage = PackageInfo;

export type ListScope = 'installed' | 'available' | 'family' | 'all';

async function runQuery(
  options: CommonOptions,
  spec: Parameters<typeof query>[1],
  needRepos: boolean,
): Promise<{ pf: PackageFamily; packages: ListedPackage[] }> {
  // Python and libsolv load while the family is read and its repositories synced.
  const prepared = options.solver ?? prepareSolver('query');
  try {
    return await runQueryPrepared(options, spec, needRepos, prepared);
  } finally {
    prepared?.discard();
  }
}

async function runQueryPrepared(
  options: CommonOptions,
  spec: Parameters<typeof query>[1],
  needRepos: boolean,
  prepared: PreparedSolver | undefined,
): Promise<{ pf: PackageFamily; packages: ListedPackage[] }> {
  const pf = openFamily(options);
  const synced = needRepos ? await syncRepos(reposOf(pf, options), cacheOf(pf), options) : [];
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const packages = await query(
    {
      node: pf.nodeRoot,
      ancestors: pf.ancestors.map((a) => a.root),
      repos: synced.map((s) => s.solver),
      solvCache: solvCacheDir(pf.cacheDir),
    },
    spec,
    prepared,
  );
  for (const p of packages) {
    if (p.node) {
      const root = p.node;
      p.node = root === pf.nodeRoot ? pf.node.path : (pf.ancestors.find((a) => a.root === root)?.path ?? root);
    }
  }
  return { pf, packages: packages.filter((p) => p.name !== HOST_PROVIDES_PACKAGE || spec.scope !== 'available') };
}

/**
 * dnf list. installed: the node's own packages; family: the aggregated view, each package with
 * the node that owns it; available: the newest of each package in the repositories; all: both.
 */
export async function list(options: CommonOptions & { scope?: ListScope; specs?: string[] }): Promise<ListedPackage[]> {
  const scope = options.scope ?? 'all';
  const { packages } = await runQuery(
    options,
    { scope, names: options.specs, latest: scope === 'available' || scope === 'all' },
    scope === 'available' || scope === 'all',
  );
  return packages;
}

/** dnf info: details of installed (family view) and available packages matching the specs. */
export async function info(options: CommonOptions & { specs: string[] }): Promise<ListedPackage[]> {
  const { pf, packages } = await runQuery(
    options,
    { scope: 'all', names: options.specs, details: true, latest: true },
    true,
  );
  if (packages.length === 0) {
    throw new RedpakError(
      'package',
      `no package matches ${options.specs.join(', ')} in node ${pf.node.path} or its repositories`,
      {
        hint: `\`redwrap-dnf --redpath ${pf.node.path} list\` shows the packages`,
      },
    );
  }
  return packages;
}

export interface RepoqueryOptions extends CommonOptions {
  specs?: string[];
  whatprovides?: string;
  whatrequires?: string;
  /** The requirements of this package instead of packages. */
  requires?: string;
  /** Only installed packages (the family view). */
  installed?: boolean;
  /** Only packages of the repositories. */
  available?: boolean;
  /** With each package's details (info), or its files (list). */
  details?: boolean;
  files?: boolean;
}

/** dnf repoquery: packages (nevras) matching, or with `requires`, a package's requirements. */
export async function repoquery(
  options: RepoqueryOptions,
): Promise<{ packages: ListedPackage[]; requires?: string[] }> {
  const scope = options.installed ? 'family' : options.available ? 'available' : 'all';
  if (options.requires) {
    const { pf, packages } = await runQuery(
      options,
      { scope, names: [options.requires], details: true, latest: true },
      !options.installed,
    );
    if (packages.length === 0)
      throw new RedpakError('package', `no package matches ${options.requires} for node ${pf.node.path}`);
    return { packages, requires: [...new Set(packages.flatMap((p) => p.requires ?? []))].sort() };
  }
  const { packages } = await runQuery(
    options,
    {
      scope,
      names: options.specs,
      whatprovides: options.whatprovides,
      whatrequires: options.whatrequires,
      details: options.details,
      files: options.files,
    },
    !options.installed,
  );
  return { packages };
}

/** Where `search` found every term: dnf search's sections, best first. */
export type SearchMatch = 'name-exact' | 'name-and-summary' | 'name' | 'summary' | 'description-or-url';

export interface SearchedPackage extends ListedPackage {
  matched: SearchMatch;
}

/**
 * dnf search: the newest version of each package (installed in the family or available) where
 * every term is in the name or summary (with `all`, also the description or URL), case-insensitive,
 * each in the best of dnf's sections. No match is a package error.
 */
export async function search(options: CommonOptions & { terms: string[]; all?: boolean }): Promise<SearchedPackage[]> {
  const fields: SearchField[] = options.all ? ['name', 'summary', 'description', 'url'] : ['name', 'summary'];
  const { pf, packages } = await runQuery(
    options,
    { scope: 'all', search: { terms: options.terms, fields }, latest: true, details: options.all },
    true,
  );
  const seen = new Set<string>();
  const found: SearchedPackage[] = [];
  // Installed first (runQuery's order): a package shows once, as the family has it.
  for (const p of packages) {
    const key = `${p.name}.${p.arch}`;
    if (seen.has(key)) continue;
    seen.add(key);
    found.push({ ...p, matched: searchMatch(p, options.terms) });
  }
  if (found.length === 0)
    throw new RedpakError('package', `no package matches ${options.terms.join(' ')} for node ${pf.node.path}`, {
      hint: options.all ? undefined : '--all also searches descriptions and URLs',
    });
  const order: SearchMatch[] = ['name-exact', 'name-and-summary', 'name', 'summary', 'description-or-url'];
  return found.sort((a, b) => order.indexOf(a.matched) - order.indexOf(b.matched) || a.name.localeCompare(b.name));
}

function searchMatch(p: ListedPackage, terms: readonly string[]): SearchMatch {
  const lower = terms.map((t) => t.toLowerCase());
  const name = p.name.toLowerCase();
  const summary = p.summary.toLowerCase();
  if (lower.includes(name)) return 'name-exact';
  const inName = lower.every((t) => name.includes(t));
  const inSummary = lower.every((t) => summary.includes(t));
  if (inName && inSummary) return 'name-and-summary';
  if (inName) return 'name';
  if (lower.every((t) => name.includes(t) || summary.includes(t))) return 'summary';
  return 'description-or-url';
}

/** dnf provides: the packages (installed in the family or available) that provide a capability or file. */
export async function provides(options: CommonOptions & { what: string[] }): Promise<ListedPackage[]> {
  const found: ListedPackage[] = [];
  let node = '';
  for (const what of options.what) {
    const { pf, packages } = await runQuery(options, { scope: 'all', whatprovides: what }, true);
    node = pf.node.path;
    found.push(...packages.filter((p) => !found.some((f) => f.nevra === p.nevra && f.repo === p.repo)));
  }
  if (found.length === 0)
    throw new RedpakError('package', `no package provides ${options.what.join(', ')} for node ${node}`, {
      hint: 'a file is matched by its full path: /usr/bin/NAME, not NAME',
    });
  return found;
}

/** An update check-update found: the newest available version and the node's installed one. */
export interface AvailableUpdate extends ListedPackage {
  installed: string;
}

/**
 * dnf check-update: for the node's own packages (the ancestors' are theirs to upgrade), the newest
 * version the repositories have when it is newer than the installed one.
 */
export async function checkUpdate(options: CommonOptions & { specs?: string[] }): Promise<AvailableUpdate[]> {
  const { packages } = await runQuery(
    options,
    { scope: 'all', names: options.specs, upgrades: true, latest: true },
    true,
  );
  const { packages: own } = await runQuery(options, { scope: 'installed', names: options.specs }, false);
  return packages.map((p) => ({
    ...p,
    installed:
      own.find((o) => o.name === p.name && (o.arch === p.arch || 'noarch' === o.arch || 'noarch' === p.arch))?.evr ??
      '',
  }));
}

export interface RepoStatus {
  id: string;
  name: string;
  enabled: boolean;
  baseurl: string[];
  /** Where the mirrors come from when baseurl is empty. */
  mirrorlist?: string;
  metalink?: string;
  gpgcheck: boolean;
  priority: number;
  /** Among repositories of one priority, the cheaper is preferred. */
  cost: number;
  /** Globs on package names the repository does not offer, and (when not empty) the only ones it offers. */
  excludepkgs: string[];
  includepkgs: string[];
  /** Left out with a warning when its metadata cannot be fetched. */
  skipIfUnavailable: boolean;
  /** Seconds, null for never. */
  metadataExpire: number | null;
  /** The .repo file, and the node whose etc/yum.repos.d holds it. */
  file: string;
  definedBy: string;
}

/** dnf repolist: the repositories the node uses (its own, else the closest ancestor's). */
export function repolist(options: CommonOptions & { all?: boolean }): RepoStatus[] {
  const pf = openFamily(options);
  const repos = withGpgPolicy(pf, options);
  return repos
    .filter((r) => options.all || r.enabled)
    .map((r) => ({
      id: r.id,
      name: r.name,
      enabled: r.enabled,
      baseurl: r.baseurl,
      ...(r.mirrorlist ? { mirrorlist: r.mirrorlist } : {}),
      ...(r.metalink ? { metalink: r.metalink } : {}),
      gpgcheck: r.gpgcheck,
      priority: r.priority,
      cost: r.cost,
      excludepkgs: r.excludepkgs,
      includepkgs: r.includepkgs,
      skipIfUnavailable: r.skipIfUnavailable,
      metadataExpire: r.metadataExpire,
      file: r.file,
      definedBy: r.definedBy,
    }));
}

/**
 * dnf config-manager --add-repo URL: a `.repo` file fetched from URL, or a repository with URL as
 * its baseurl, added to the node's own etc/yum.repos.d (under the family lock).
 */
export async function addRepo(options: CommonOptions & { url: string; id?: string }): Promise<AddedRepoFile> {
  const pf = openFamily(options);
  return withLock(pf, options, `config-manager --add-repo ${options.url}`, () =>
    addRepoFile(pf, options.url, options.id),
  );
}

/** dnf makecache: fetch the metadata of every enabled repository into the node's cachedir. */
export async function makecache(
  options: CommonOptions,
): Promise<{ cacheDir: string; repos: { id: string; baseurl: string; fetched: boolean }[] }> {
  const pf = openFamily(options);
  return withLock(pf, options, 'makecache', async () => {
    const synced = await syncRepos(reposOf(pf, options), cacheOf(pf), options);
    return {
      cacheDir: pf.cacheDir,
      repos: synced.map((s) => ({ id: s.repo.id, baseurl: s.baseurl, fetched: s.fetched })),
    };
  });
}

/** dnf clean KIND (default all): drop cached metadata, packages or parsed copies of the node's repositories. */
export async function clean(
  options: CommonOptions & { kind?: CleanKind },
): Promise<{ cacheDir: string; kind: CleanKind } & CleanOutcome> {
  const pf = openFamily(options);
  const kind = options.kind ?? 'all';
  return withLock(pf, options, `clean ${kind}`, async () => ({
    cacheDir: pf.cacheDir,
    kind,
    ...(await cleanCache(cacheOf(pf), reposOf(pf, options), kind)),
  }));
}

/** The node's generations (its state before each transaction), oldest first. */
export function generations(options: OpenFamilyOptions): Generation[] {
  return listGenerations(openFamily(options).nodeRoot);
}

/**
 * Rolls the node back to generation `id` (default: the newest, undoing the last transaction):
 * the transactions from the newest down to it are undone, files and rpm database restored.
 */
export async function rollback(
  options: CommonOptions & { id?: number },
): Promise<{ node: string; undone: Generation[] }> {
  const pf = openFamily(options);
  assertCanChange(pf);
  return withLock(pf, options, 'history rollback', async () => {
    const all = listGenerations(pf.nodeRoot);
    const id = options.id ?? all.at(-1)?.id;
    if (id === undefined)
      throw new RedpakError('package', `node ${pf.node.path} has no generation to roll back to`, {
        hint: 'generations are kept from the next transaction on',
      });
    await assertDescendantsKeep(pf, generationDatabase(pf.nodeRoot, id));
    return { node: pf.node.path, undone: rollbackTo(pf.nodeRoot, id) };
  });
}

/**
 * Rule 4 for a rollback: the node's packages as the generation kept them (`database`, an rpm
 * database directory) must still satisfy every descendant's packages.
 */
async function assertDescendantsKeep(pf: PackageFamily, database: string | undefined): Promise<void> {
  if (!database || pf.descendants.length === 0) return;
  const view = mkdtempSync(join(tmpdir(), 'redpak-rollback-'));
  try {
    cpSync(database, join(view, RPMDB_DIR), { recursive: true });
    const violations = (
      await checkPlacement({ ancestors: [view, ...pf.ancestors.map((a) => a.root)], nodes: pf.descendants })
    ).filter((v) => v.rule !== 'duplicate');
    if (violations.length) {
      throw new RedpakError(
        'family-rule',
        `rolling back node ${pf.node.path} would break its descendants:\n${violations.map((v) => `  ${v.node}: ${v.message}`).join('\n')}`,
        { hint: "remove or change the descendants' packages first, or roll back to a later generation" },
      );
    }
  } finally {
    rmSync(view, { recursive: true, force: true });
  }
}

/** Marks a generation (default: the newest) as known-good: pruning keeps the newest such one. */
export function markGoodGeneration(options: OpenFamilyOptions & { id?: number }): Generation {
  const pf = openFamily(options);
  assertCanChange(pf);
  const id = options.id ?? listGenerations(pf.nodeRoot).at(-1)?.id;
  if (id === undefined) throw new RedpakError('package', `node ${pf.node.path} has no generation yet`);
  return markGood(pf.nodeRoot, id);
}

/** The node's own transactions, oldest first. */
export function history(options: OpenFamilyOptions): HistoryEntry[] {
  return readHistory(openFamily(options).historyFile);
}

/**
 * dnf mark install|remove: record the node's packages as asked for ('user') or as dependencies
 * ('dependency': `autoremove` and `remove` may then take them away once nothing needs them).
 */
export async function mark(
  options: CommonOptions & { names: string[]; reason: InstallReason },
): Promise<{ node: string; reason: InstallReason; marked: string[] }> {
  const pf = openFamily(options);
  assertCanChange(pf);
  const verb = options.reason === 'user' ? 'install' : 'remove';
  return withLock(pf, options, `mark ${verb} ${options.names.join(' ')}`, async () => {
    const installed = new Set((await queryPackages(pf.nodeRoot)).map((p) => p.name));
    const missing = options.names.filter((n) => !installed.has(n));
    if (missing.length > 0) {
      throw new RedpakError('package', `not installed in node ${pf.node.path}: ${missing.join(', ')}`, {
        hint: `mark applies to the node's own packages (redwrap-dnf --redpath ${pf.node.path} list --installed)`,
      });
    }
    writeReasons(pf.nodeRoot, {
      ...readReasons(pf.nodeRoot),
      ...Object.fromEntries(options.names.map((n) => [n, options.reason])),
    });
    return { node: pf.node.path, reason: options.reason, marked: options.names };
  });
}

export interface HostProvidesResult {
  node: string;
  nevra: string;
  /** Capabilities registered. */
  provides: string[];
}

/**
 * Registers what the host provides (/bin/sh, libc sonames, …) in the node's own database, as the
 * virtual package redpak-host-provides: for hosts without an rpm database (Debian), on the
 * family's root node. `extra` capabilities are added to the detected ones.
 */
export async function registerHost(
  options: CommonOptions & { extra?: string[]; detect?: boolean },
): Promise<HostProvidesResult> {
  const pf = openFamily(options);
  assertCanChange(pf);
  return withLock(pf, options, 'host-provides', async () => {
    const provides = [
      ...new Set([...(options.detect === false ? [] : await detectHostProvides()), ...(options.extra ?? [])]),
    ].sort();
    if (provides.length === 0)
      throw new RedpakError('usage', 'no capability to register', { hint: 'give capabilities with --provide CAP' });
    const { nevra } = await registerHostProvides(pf.nodeRoot, provides);
    return { node: pf.node.path, nevra, provides };
  });
}

// ---------------------------------------------------------------------------------------------
// Detail lines (dnf -v)

function loadedLine(s: SyncedRepo): string {
  const when = new Date(s.fetchedAt).toISOString();
  return `repository ${s.repo.id}: metadata from ${s.baseurl} (${s.fetched ? 'fetched now' : `cached, fetched ${when}`})`;
}

function decisionLine(step: TransactionStep): string {
  const why =
    step.reason === 'user'
      ? 'asked for'
      : step.reason === 'dependency'
        ? 'needed as a dependency'
        : step.reason === 'unused'
          ? 'no longer needed'
          : step.action;
  const from = step.action === 'erase' ? '' : ` from ${step.repo ?? '?'}`;
  const replacing = step.replaces?.length ? `, replacing ${step.replaces.join(', ')}` : '';
  return `solver: ${step.action} ${step.nevra}${from} (${why}${replacing})`;
}

// ---------------------------------------------------------------------------------------------
// Groups (comps)

/** A group as `group list` and `group info` show it. */
export interface GroupStatus {
  id: string;
  name: string;
  description: string;
  uservisible: boolean;
  /** Installed in the node (the node's group record names it). */
  installed: boolean;
  /** The repositories whose comps define it; empty for an installed group no repository has any more. */
  repos: string[];
  /** group info: its packages, with their type (mandatory, default, optional, conditional). */
  packages?: CompsGroup['packages'];
  /** group info of an installed group: the packages its installation brought into the node. */
  installedPackages?: string[];
}

/** The groups of the node's repositories (merged by id, by repository priority) and the node's record. */
async function loadGroups(
  options: CommonOptions,
): Promise<{ pf: PackageFamily; groups: CompsGroup[]; record: Record<string, InstalledGroup> }> {
  const pf = openFamily(options);
  const synced = await syncRepos(reposOf(pf, options), cacheOf(pf), options);
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const ordered = [...synced].sort((a, b) => a.repo.priority - b.repo.priority);
  return { pf, groups: mergeComps(ordered.map(repoGroups)), record: readGroupRecord(pf.nodeRoot) };
}

function statusOf(g: CompsGroup | undefined, installed: InstalledGroup | undefined): GroupStatus {
  const id = g?.id ?? installed?.id ?? '';
  return {
    id,
    name: g?.name ?? installed?.name ?? id,
    description: g?.description ?? '',
    uservisible: g?.uservisible ?? true,
    installed: installed !== undefined,
    repos: g?.repos ?? [],
  };
}

/** A group pattern that matched nothing: a package error naming it, with the closest ids. */
function noGroup(pf: PackageFamily, pattern: string, ids: readonly string[], installed: boolean): RedpakError {
  const closest = closestWord(pattern, ids);
  const where = installed ? 'among the installed groups' : 'in the repositories';
  const list = `\`redwrap-dnf --redpath ${pf.node.path} group list ${installed ? '--installed' : '--hidden'}\` lists them`;
  return new RedpakError('package', `no group matches '${pattern}' ${where} of node ${pf.node.path}`, {
    hint: closest ? `did you mean '${closest}'? (${list})` : list,
  });
}

/**
 * The groups the patterns name (id or name, globs), each once, in the order named; a pattern that
 * names none is an error suggesting the closest of `suggested` ids.
 */
function chooseGroups<G extends Pick<CompsGroup, 'id' | 'name'>>(
  pf: PackageFamily,
  candidates: readonly G[],
  patterns: readonly string[],
  suggested: { ids: readonly string[]; installed: boolean },
): G[] {
  const chosen: G[] = [];
  for (const pattern of patterns) {
    const matched = matchGroups(candidates, pattern);
    if (matched.length === 0) throw noGroup(pf, pattern, suggested.ids, suggested.installed);
    for (const g of matched) if (!chosen.some((c) => c.id === g.id)) chosen.push(g);
  }
  return chosen;
}

/**
 * dnf group list: the groups of the node's repositories, and the groups installed in the node.
 * Hidden groups (uservisible false) only with `hidden` or when a pattern names them.
 */
export async function groupList(
  options: CommonOptions & { patterns?: string[]; installed?: boolean; available?: boolean; hidden?: boolean },
): Promise<GroupStatus[]> {
  const { groups, record } = await loadGroups(options);
  const all = [
    ...groups.map((g) => statusOf(g, record[g.id])),
    ...Object.values(record)
      .filter((r) => !groups.some((g) => g.id === r.id))
      .map((r) => statusOf(undefined, r)),
  ];
  const patterns = options.patterns ?? [];
  return all.filter(
    (g) =>
      (patterns.length === 0
        ? options.hidden || g.uservisible
        : patterns.some((p) => matchGroups([g], p).length > 0)) &&
      (!options.installed || g.installed) &&
      (!options.available || !g.installed),
  );
}

/** dnf group info: each group a pattern names (id or name, globs), with its packages; an unknown one is an error. */
export async function groupInfo(options: CommonOptions & { patterns: string[] }): Promise<GroupStatus[]> {
  const { pf, groups, record } = await loadGroups(options);
  // An installed group no repository has any more still has its record.
  const gone = Object.values(record).filter((r) => !groups.some((g) => g.id === r.id));
  const chosen = chooseGroups(pf, [...groups, ...gone], options.patterns, {
    ids: groups.map((g) => g.id),
    installed: false,
  });
  return chosen.map((g) => {
    const installed = record[g.id];
    const comps = groups.find((c) => c.id === g.id);
    return {
      ...statusOf(comps, installed),
      packages: comps?.packages ?? [],
      ...(installed ? { installedPackages: installed.packages } : {}),
    };
  });
}

/**
 * The install jobs of groups: their mandatory and default packages (optional ones with
 * `withOptional`, conditional ones whose package the family has or gets). What an ancestor has
 * is left to it; a package no repository has is skipped with a warning, as dnf does.
 */
async function groupInstallJobs(
  options: CommonOptions,
  patterns: readonly string[],
  withOptional: boolean,
): Promise<{ jobs: SolverJob[]; change: GroupChange }> {
  // The transaction that follows tells the repositories it loads (-v): once is enough.
  const quiet = { ...options, onDetail: undefined };
  const { pf, groups } = await loadGroups(quiet);
  const chosen = chooseGroups(pf, groups, patterns, { ids: groups.map((g) => g.id), installed: false });
  const { packages: family } = await runQuery(quiet, { scope: 'family' }, false);
  const present = new Set(family.map((p) => p.name));
  const inAncestors = new Set(family.filter((p) => p.node !== pf.node.path).map((p) => p.name));
  const wanted = chosen.map((g) => ({ g, names: groupInstallNames(g, { withOptional, present }) }));
  const allNames = [...new Set(wanted.flatMap((w) => w.names))];
  const { packages: offered } = allNames.length
    ? await runQuery(quiet, { scope: 'available', names: allNames }, true)
    : { packages: [] };
  const available = new Set(offered.map((p) => p.name));
  const jobs: SolverJob[] = [];
  for (const name of allNames) {
    if (inAncestors.has(name)) {
      options.onDetail?.(`group package ${name}: an ancestor node has it`);
      continue;
    }
    if (!present.has(name) && !available.has(name)) {
      const owners = wanted.filter((w) => w.names.includes(name)).map((w) => w.g.id);
      options.onWarning?.(`no match for package ${name} of group ${owners.join(', ')}: skipped`);
      continue;
    }
    jobs.push({ op: 'install', what: name });
  }
  const taken = new Set(jobs.map((j) => j.what));
  return {
    jobs,
    change: {
      kind: 'install',
      groups: wanted.map((w) => ({ id: w.g.id, name: w.g.name, members: w.names.filter((n) => taken.has(n)) })),
    },
  };
}

/**
 * The erase jobs of removing installed groups: the packages their installation brought in that no
 * other installed group has, that the user has not asked for by name since, and that no other
 * package of the node requires (dnf's group remove). The record names only plain package names,
 * and only those the node has installed are taken.
 */
async function groupRemoveJobs(
  options: CommonOptions,
  patterns: readonly string[],
): Promise<{ jobs: SolverJob[]; change: GroupChange }> {
  const pf = openFamily(options);
  const record = readGroupRecord(pf.nodeRoot);
  const installed = Object.values(record);
  const ids = chooseGroups(pf, installed, patterns, { ids: installed.map((r) => r.id), installed: true }).map(
    (r) => r.id,
  );
  const kept = new Set(installed.filter((r) => !ids.includes(r.id)).flatMap((r) => [...r.packages, ...r.members]));
  const own = new Set((await queryPackages(pf.nodeRoot)).map((p) => p.name));
  const candidates = new Set(ids.flatMap((id) => record[id]?.packages ?? []).filter((n) => own.has(n) && !kept.has(n)));
  const requirers = new Map<string, string[]>();
  for (const name of candidates) {
    const { packages } = await runQuery(options, { scope: 'installed', whatrequires: name }, false);
    requirers.set(
      name,
      packages.map((p) => p.name).filter((n) => n !== name),
    );
  }
  // A package another package of the node needs stays, and so does what it needs among them.
  let changed = true;
  while (changed) {
    changed = false;
    for (const name of candidates) {
      const outside = (requirers.get(name) ?? []).find((r) => !candidates.has(r));
      if (outside === undefined) continue;
      options.onDetail?.(`group package ${name} stays: ${outside} requires it`);
      candidates.delete(name);
      changed = true;
    }
  }
  return { jobs: [...candidates].map((what) => ({ op: 'erase', what })), change: { kind: 'remove', ids } };
}

/** dnf group install: the groups' packages as one transaction; the node records the groups. */
export async function groupInstall(
  options: TransactionOptions & { patterns: string[]; withOptional?: boolean },
): Promise<TransactionResult> {
  const planned = await groupInstallJobs(options, options.patterns, options.withOptional ?? false);
  return transact(
    options,
    'group install',
    planned.jobs,
    `group install ${options.patterns.join(' ')}`,
    planned.change,
  );
}

/** dnf group remove: the packages the groups brought in and nothing else holds, and their unused dependencies. */
export async function groupRemove(options: TransactionOptions & { patterns: string[] }): Promise<TransactionResult> {
  const planned = await groupRemoveJobs(options, options.patterns);
  return transact(
    { ...options, cleanDeps: options.cleanDeps ?? true },
    'group remove',
    planned.jobs,
    `group remove ${options.patterns.join(' ')}`,
    planned.change,
  );
}

// ---------------------------------------------------------------------------------------------
// Repository details (dnf repoinfo, dnf5 repo info)

export interface RepoDetail extends RepoStatus {
  /** Enabled repositories: packages in the metadata, their total download size, the newest metadata timestamp. */
  packages?: number;
  size?: number;
  updated?: string;
  /** When the metadata in use was fetched, and from which baseurl. */
  fetchedAt?: string;
  metadataFrom?: string;
}

/** dnf repoinfo: the repositories (`ids`: ids or globs) with their metadata's package count, size and age. */
export async function repoinfo(options: CommonOptions & { all?: boolean; ids?: string[] }): Promise<RepoDetail[]> {
  const statuses = repolist({ ...options, all: options.all || Boolean(options.ids?.length) }).filter(
    (r) => !options.ids?.length || options.ids.some((glob) => matchesRepoGlob(r.id, glob)),
  );
  const enabled = statuses.filter((r) => r.enabled).map((r) => r.id);
  if (enabled.length === 0) return statuses;
  const pf = openFamily(options);
  const synced = await syncRepos(
    reposOf(pf, options).filter((r) => enabled.includes(r.id)),
    cacheOf(pf),
    options,
  );
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const packages = await query(
    { node: pf.nodeRoot, ancestors: [], repos: synced.map((s) => s.solver), solvCache: solvCacheDir(pf.cacheDir) },
    { scope: 'available' },
  );
  return statuses.map((r) => {
    const s = synced.find((x) => x.repo.id === r.id);
    if (!s) return r;
    const mine = packages.filter((p) => p.repo === r.id);
    return {
      ...r,
      packages: mine.length,
      size: mine.reduce((n, p) => n + (p.size ?? 0), 0),
      ...metadataUpdated(s),
      fetchedAt: new Date(s.fetchedAt).toISOString(),
      metadataFrom: s.baseurl,
    };
  });
}

/** The newest timestamp repomd.xml gives its files (dnf's "Repo-updated"). */
function metadataUpdated(s: SyncedRepo): { updated?: string } {
  const xml = readFileSync(join(s.solver.dir, 'repodata/repomd.xml'), 'utf8');
  const stamps = [...xml.matchAll(/<timestamp>\s*(\d{1,12})\s*<\/timestamp>/g)].map((m) => Number(m[1]));
  return stamps.length ? { updated: new Date(Math.max(...stamps) * 1000).toISOString() } : {};
}

export type { SolverJob };
