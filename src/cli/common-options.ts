/**
 * The options every redwrap-dnf package command shares (cli/pkg-commands.ts `commonFlags`), as
 * parsed, turned into what the library takes (pkg/family-ops.ts CommonOptions). One place for
 * both ways of starting a command (the oclif commands and cli/quick-transaction.ts); it loads no oclif.
 */
import { callersNodeReadCache } from '../node/node-cache.js';
import type { CommonOptions } from '../pkg/manager.js';
import { takeSolverAhead } from './solver-ahead.js';

/** The values of cli/pkg-commands.ts `commonFlags`, as parsed. */
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
    readCache: callersNodeReadCache(),
    solver: takeSolverAhead(),
  };
}
