/**
 * Package transactions on one node of a family: install, remove, autoremove, upgrade, reinstall,
 * downgrade, groups installed or removed, a history entry undone.
 *
 * Open the family (admin mode, enabled nodes only) → take the family lock → sync repository
 * metadata (checksums) → solve with libsolv against the family view (rules 1–5) → show/confirm
 * the plan → fetch packages (checksums, signatures) → run rpm inside the family view on a staging
 * layer and merge it into the node (rules 7–8) → record history. Nothing before the merge changes
 * the node.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { RedpakError } from '../errors.js';
import { describeRoot, HISTORY_FILE, type PackageFamily } from './family-context.js';
import { appendHistory, readHistory, undoJobs } from './history.js';
import {
  fetchPackage,
  solvCacheDir,
  syncRepos,
  verifySignatures,
  type FetchedPackage,
  type SyncedRepo,
} from './repos.js';
import { packageFiles, stagedTransactionArgs } from './rpm.js';
import { rpmSupportsForceDebian } from './rpm-probe.js';
import {
  assertSolved,
  prepareSolver,
  solve,
  type PreparedSolver,
  type SolveResult,
  type SolverJob,
  type TransactionStep,
} from './solver.js';
import { packageTopDirs, pathIntoDescendant, runStaged, type RpmCommand } from './view.js';
import { chooseStaging } from './rootless.js';
import { abortable, InterruptedError, signalNameOf } from './interrupt.js';
import { nextReasons, readReasons, REASONS_FILE, reasonsText, writeReasons } from './reasons.js';
import {
  GROUPS_FILE,
  groupRecordText,
  nextGroupRecord,
  readGroupRecord,
  writeGroupRecord,
  type GroupChange,
} from './group-record.js';
import { pruneGenerations } from './generations.js';
import {
  type TransactionOptions,
  type TransactionPlan,
  type TransactionResult,
  assertCanChange,
  labelOf,
  loadedLine,
  openFamily,
  recoverFamily,
  reposOf,
  staleMetadataNote,
  withLock,
} from './family-ops.js';
import { groupInstallJobs, groupRemoveJobs } from './group-ops.js';

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
