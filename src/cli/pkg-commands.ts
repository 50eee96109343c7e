/**
 * What the redwrap-dnf commands share: their flags and the way a transaction is run from the
 * command line (table, confirmation, progress, outcome). Kept here so the commands stay thin.
 */
import { Flags, type Command } from '@oclif/core';
import { redpathFlag, sysrootFlag } from './base-command.js';
import type { CommonOptions, RepoDetail, TransactionOptions, TransactionResult } from '../pkg/manager.js';
import { InterruptedError, signalNameOf } from '../pkg/interrupt.js';
import { askConfirmation, renderOutcome, renderTransactionTable, TransactionProgress } from './pkg-ui.js';

/** dnf's output levels, on every redwrap-dnf command. */
export const outputFlags = {
  quiet: Flags.boolean({
    char: 'q',
    description: 'no progress or informational lines: only results, warnings and errors',
    exclusive: ['verbose'],
  }),
  verbose: Flags.boolean({
    char: 'v',
    description: 'more detail on stderr: the repositories loaded, the solver decisions',
    exclusive: ['quiet'],
  }),
};

export const commonFlags = {
  ...outputFlags,
  redpath: redpathFlag,
  root: sysrootFlag,
  'repo-dir': Flags.string({
    description: 'also use this local repository directory (holding repodata/), in addition to the .repo files',
    multiple: true,
    // One DIR per --repo-dir: the package specs that follow are not taken for more directories.
    multipleNonGreedy: true,
    helpValue: 'DIR',
  }),
  'no-repo-files': Flags.boolean({
    description: 'ignore the etc/yum.repos.d/*.repo files of the family (use only --repo-dir)',
  }),
  refresh: Flags.boolean({ description: 'refetch repository metadata even if the cached copy has not expired' }),
  cacheonly: Flags.boolean({ char: 'C', description: 'use the cached metadata only; never fetch' }),
  nogpgcheck: Flags.boolean({
    description:
      "do not check package signatures (overrides gpgcheck of the .repo files; refused where the family's node config sets gpgcheck: true)",
  }),
  releasever: Flags.string({
    description:
      '$releasever of the repository URLs (default: dnf.conf, the vars files, the host os-release VERSION_ID)',
    helpValue: 'VERSION',
  }),
  enablerepo: Flags.string({
    description: 'enable these repositories (ids or globs, comma-separated; applied after --disablerepo)',
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'REPO',
  }),
  disablerepo: Flags.string({
    description: "disable these repositories (ids or globs, comma-separated; '*' for every one)",
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'REPO',
  }),
  repo: Flags.string({
    description: 'use only these repositories (ids or globs, comma-separated)',
    aliases: ['repoid'],
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'REPO',
  }),
  setopt: Flags.string({
    description: 'set a dnf.conf [main] option (KEY=VALUE) or a repository option (REPO.KEY=VALUE, REPO a glob)',
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'OPTION=VALUE',
  }),
  exclude: Flags.string({
    char: 'x',
    description:
      "leave these packages out of the repositories for this run (names or globs, comma-separated; as a .repo file's excludepkgs=)",
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'PKG',
  }),
  'lock-wait': Flags.integer({
    description: 'seconds to wait when another transaction holds the family lock (default: fail at once)',
    default: 0,
    helpValue: 'SECONDS',
  }),
};

export const transactionFlags = {
  ...commonFlags,
  assumeyes: Flags.boolean({
    char: 'y',
    description: 'answer yes: apply the transaction without asking',
    exclusive: ['assumeno'],
  }),
  assumeno: Flags.boolean({
    description: 'answer no: show the transaction and change nothing',
    exclusive: ['assumeyes'],
  }),
  downloadonly: Flags.boolean({
    description: "download and verify the packages into the node's cache, and change nothing else",
    exclusive: ['assumeno'],
  }),
  forcenode: Flags.boolean({
    description: 'install the node its own copy of a package an ancestor already has (breaks rule 2 on purpose)',
  }),
  noscripts: Flags.boolean({ description: "do not run the packages' scriptlets" }),
  'weak-deps': Flags.boolean({ description: 'also install weak dependencies (Recommends, Supplements)' }),
  'keep-generations': Flags.integer({
    description: 'generations of the node to keep after the transaction (plus the newest known-good)',
    default: 5,
    min: 1,
  }),
};

export interface CommonFlagValues {
  redpath: string;
  root?: string;
  'repo-dir'?: string[];
  'no-repo-files'?: boolean;
  refresh?: boolean;
  cacheonly?: boolean;
  nogpgcheck?: boolean;
  releasever?: string;
  enablerepo?: string[];
  disablerepo?: string[];
  repo?: string[];
  setopt?: string[];
  exclude?: string[];
  'lock-wait'?: number;
  quiet?: boolean;
  verbose?: boolean;
}

/** dnf's lists (repositories, --exclude): the option repeated, or comma-separated. */
const repoList = (values?: string[]) => values?.flatMap((v) => v.split(',')).filter((v) => v !== '');

export function commonOptions(flags: CommonFlagValues): CommonOptions {
  return {
    releasever: flags.releasever,
    enableRepos: repoList(flags.enablerepo),
    disableRepos: repoList(flags.disablerepo),
    onlyRepos: repoList(flags.repo),
    setopt: flags.setopt,
    exclude: repoList(flags.exclude),
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
    ...(flags.verbose ? { onDetail: (message: string) => process.stderr.write(`${message}\n`) } : {}),
    redpath: flags.redpath,
    sysroot: flags.root,
    repoDirs: flags['repo-dir'],
    noRepoFiles: flags['no-repo-files'],
    refresh: flags.refresh,
    cacheOnly: flags.cacheonly,
    nogpgcheck: flags.nogpgcheck,
    lockWait: flags['lock-wait'],
  };
}

export interface TransactionFlagValues extends CommonFlagValues {
  assumeyes?: boolean;
  assumeno?: boolean;
  downloadonly?: boolean;
  forcenode?: boolean;
  noscripts?: boolean;
  'weak-deps'?: boolean;
  'keep-generations'?: number;
}

/** Run a transaction for a command: table, confirmation, progress (not under --json), outcome. */
export async function runTransactionCommand(
  command: Command,
  flags: TransactionFlagValues,
  body: (options: TransactionOptions) => Promise<TransactionResult>,
): Promise<TransactionResult> {
  const json = command.jsonEnabled();
  const out = (text: string) => {
    if (!json) process.stdout.write(`${text}\n`);
  };
  // -q: the table only when it is asked about or is the point (--assumeno), no progress, no outcome lines.
  const quietly = flags.quiet && flags.assumeyes;
  const progress = new TransactionProgress({ silent: json || flags.quiet });
  let started = false;
  // SIGINT/SIGTERM abort the transaction (downloads and rpm included); it ends with exit 130/143.
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const options: TransactionOptions = {
    signal: controller.signal,
    ...commonOptions(flags),
    assumeno: flags.assumeno,
    downloadOnly: flags.downloadonly,
    forcenode: flags.forcenode,
    noscripts: flags.noscripts,
    weak: flags['weak-deps'],
    keepGenerations: flags['keep-generations'],
    onPlan: (plan) => {
      if (!quietly) out(renderTransactionTable(plan));
    },
    confirm: async (plan) => {
      const ok = flags.assumeyes || (await askConfirmation());
      if (ok) {
        progress.start(plan);
        started = true;
      }
      return ok;
    },
    onProgress: progress.onProgress,
  };
  let result: TransactionResult;
  try {
    result = await body(options);
  } catch (error) {
    if (started) await progress.finish(error);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (started) await progress.finish();
  if (!flags.quiet) out(renderOutcome(result));
  else if (!json) for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  const name = signalNameOf(controller.signal);
  // The signal came during the merge, which signals wait for: the transaction is complete.
  if (name)
    throw new InterruptedError(
      name,
      `interrupted by ${name} once the transaction was applied: node ${result.node} has its new state`,
      'nothing to do',
    );
  return result;
}

/** repo list/info and repoinfo: which repositories by state. */
export const repoStateFlags = {
  all: Flags.boolean({ description: 'enabled and disabled repositories', exclusive: ['enabled', 'disabled'] }),
  enabled: Flags.boolean({ description: 'only enabled repositories (the default)', exclusive: ['all', 'disabled'] }),
  disabled: Flags.boolean({ description: 'only disabled repositories', exclusive: ['all', 'enabled'] }),
};

/** The repositories --all/--enabled/--disabled keep. */
export function byState(repos: RepoDetail[], flags: { all?: boolean; disabled?: boolean }): RepoDetail[] {
  return repos.filter((r) => flags.all || (flags.disabled ? !r.enabled : r.enabled));
}
