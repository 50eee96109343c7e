/**
 * What every redwrap-dnf operation on a node shares (src/pkg/manager.ts lists them): the options
 * common to all, opening the family (interrupted transactions recovered first), the family lock,
 * the repositories an operation uses under the family's signature policy, and the lines told to
 * `onDetail`.
 */
import { RedpakError } from '../errors.js';
import { openPackageFamily, type OpenFamilyOptions, type PackageFamily } from './family-context.js';
import { acquireFamilyLock, type FamilyLock } from './lock.js';
import { familyRepos, familyGpgcheck, type NodeRepo, type RepoSelection, type SyncedRepo } from './repos.js';
import type { PreparedSolver, StepAction } from './solver.js';
import { recoverInterrupted } from './recovery.js';
import { assertMayChange } from './ownership.js';
import { assertOwnCacheDir, runsRootless } from './rootless.js';

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

/** The nodes whose databases a command on the node reads: the node, its ancestors, its descendants. */
function familyNodes(pf: PackageFamily): string[] {
  return [
    pf.nodeRoot,
    ...pf.ancestors.filter((a) => !a.hostDb).map((a) => a.root),
    ...pf.descendants.map((d) => d.node),
  ];
}

/** Completes or drops what interrupted transactions left in those nodes (src/pkg/recovery.ts). */
export function recoverFamily(pf: PackageFamily): void {
  recoverInterrupted(familyNodes(pf), pf.top.hostPath);
}

/** Every redwrap-dnf command opens the family this way: interrupted transactions are recovered first. */
export function openFamily(options: OpenFamilyOptions): PackageFamily {
  const pf = openPackageFamily(options);
  recoverFamily(pf);
  return pf;
}

/** The node's name in messages: alias and path. */
export function labelOf(pf: PackageFamily): string {
  return `${pf.node.alias} (${pf.node.path})`;
}

/** The package cache, checked to be the caller's own for an ordinary user (src/pkg/rootless.ts). */
export function cacheOf(pf: PackageFamily): string {
  if (runsRootless()) assertOwnCacheDir(pf.cacheDir);
  return pf.cacheDir;
}

/**
 * Before anything is fetched or changed: the node must be the caller's to change (an ordinary
 * user's ancestors are read, never written), and for an ordinary user the cache must be theirs.
 */
export function assertCanChange(pf: PackageFamily): void {
  assertMayChange(pf.nodeRoot, labelOf(pf));
  if (runsRootless()) assertOwnCacheDir(pf.cacheDir);
}

/** Map host paths in messages to node paths (they differ under --root) and add what to do next. */
/**
 * A package that is not found may be newer than the cached metadata (kept for metadata_expire,
 * 48 hours by default): say how old the oldest copy in use is, when it is older than an hour.
 */
export function staleMetadataNote(synced: readonly SyncedRepo[], now = Date.now()): string {
  const cached = synced.filter((s) => !s.fetched);
  if (cached.length === 0) return '';
  const oldest = cached.reduce((a, b) => (a.fetchedAt <= b.fetchedAt ? a : b));
  const hours = Math.floor((now - oldest.fetchedAt) / 3_600_000);
  if (hours < 1) return '';
  return `; the metadata of repository ${oldest.repo.id} was fetched ${hours} h ago: --refresh fetches it again`;
}

/** The enabled repositories the transaction or query uses. */
export function reposOf(pf: PackageFamily, options: CommonOptions): NodeRepo[] {
  return withGpgPolicy(pf, options).filter((r) => r.enabled);
}

/**
 * The node's repositories (gpgcheck from their .repo file, else the merged node config's or
 * dnf.conf's) and the given ones (--repo-dir: a directory the caller names, trusted like a local
 * .rpm file); all without signature checks under --nogpgcheck, which the family's gpgcheck
 * refuses.
 */
export function withGpgPolicy(pf: PackageFamily, options: CommonOptions): NodeRepo[] {
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

export async function withLock<T>(
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

export function loadedLine(s: SyncedRepo): string {
  const when = new Date(s.fetchedAt).toISOString();
  return `repository ${s.repo.id}: metadata from ${s.baseurl} (${s.fetched ? 'fetched now' : `cached, fetched ${when}`})`;
}
