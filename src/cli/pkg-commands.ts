/**
 * What the redwrap-dnf commands share: their flags (the way a transaction runs from the command
 * line, without oclif, is cli/transaction-command.ts). Kept here so the commands stay thin.
 */
import { Flags } from '@oclif/core';
import { redpathFlag, sysrootFlag } from './base-command.js';
import type { RepoDetail } from '../pkg/manager.js';

export { commonOptions } from './common-options.js';

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
