/**
 * redwrap-dnf as a library: package transactions and queries on one node of a family. The
 * commands in commands/redwrap-dnf are thin wrappers around these functions, which live in one
 * module per kind of operation:
 *
 *   - pkg/family-ops.ts: the options and results they share, opening the family, the lock;
 *   - pkg/transactions.ts: install, remove, autoremove, upgrade, reinstall, downgrade, groups
 *     installed or removed, a history entry undone;
 *   - pkg/queries.ts: list, info, repoquery, search, provides, check-update;
 *   - pkg/repo-ops.ts: repolist, repoinfo, config-manager --add-repo, makecache, clean;
 *   - pkg/node-ops.ts: generations and rollback, history, mark, the host's capabilities;
 *   - pkg/group-ops.ts: group list and info, and the jobs of a group install or remove.
 */
export type {
  CommonOptions,
  PlannedPackage,
  ProgressEvent,
  TransactionOptions,
  TransactionPlan,
  TransactionResult,
} from './family-ops.js';
export {
  autoremove,
  downgrade,
  groupInstall,
  groupRemove,
  historyUndo,
  install,
  reinstall,
  remove,
  transactJobs,
  upgrade,
} from './transactions.js';
export {
  checkUpdate,
  info,
  list,
  provides,
  repoquery,
  search,
  type AvailableUpdate,
  type ListedPackage,
  type SearchMatch,
  type SearchedPackage,
} from './queries.js';
export {
  addRepo,
  clean,
  makecache,
  repoinfo,
  repolist,
  type RepoDetail,
  type RepoStatus,
} from './repo-ops.js';
export {
  generations,
  history,
  mark,
  markGoodGeneration,
  registerHost,
  rollback,
  type HostProvidesResult,
} from './node-ops.js';
export {
  groupInfo,
  groupList,
  type GroupStatus,
} from './group-ops.js';
