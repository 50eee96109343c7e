/**
 * redpak-ts as a library, imported by name (`import { loadFamily } from 'redpak-ts'`): the same
 * functions the three executables call, without the command line. docs/api.md documents every
 * export. Nothing here prints; failures are thrown as RedpakError.
 */

// Errors
export { EXIT_CODES, formatPosition, RedpakError, type ErrorCode, type SourcePosition } from './errors.js';

// What the running system contributes to a result
export type { HostFacts } from './config/expand.js';
export { inspectionHostFacts, liveHostFacts } from './system/host-facts.js';

// Configuration
export { parseNodeConfig } from './config/parse.js';
export type { ConfigKind, NodeConfig, NodeState } from './config/types.js';

// Nodes and families
export { createNode, removeNode, setNodeState, type CreatedNode, type CreateNodeRequest } from './node/factory.js';
export { Sysroot } from './node/layout.js';
export { assertEnabled, isNodeDir, loadFamily, loadTree, type TreeNode } from './node/load.js';
export type { Family, RedNode } from './node/types.js';

// The merged configuration of a family
export { mergeFamily, type MergeOptions } from './merge/merge.js';
export { originJson, type OriginJson } from './merge/origin-json.js';
export type { MergedConfig, Origin } from './merge/types.js';
export { mergedConfigJson, mergedConfigYaml, type MergeViewOptions } from './inspect/mergeconfig.js';
export { renderTree } from './inspect/tree.js';

// Launching a program in a node
export { compileLaunchPlan, type LaunchPlan, type PlanArg, type PlanOptions, type Probe } from './wrap/plan.js';
export { compileLaunch, executeLaunch, type CompiledLaunch, type LaunchRequest } from './wrap/launch.js';
export { probeHost } from './wrap/host-probe.js';
export { dumpJson, dumpText, type LaunchDump } from './wrap/dump.js';

// Package management
export {
  autoremove,
  downgrade,
  groupInfo,
  groupInstall,
  groupList,
  groupRemove,
  history,
  info,
  install,
  list,
  reinstall,
  remove,
  repoinfo,
  repolist,
  rollback,
  upgrade,
  type CommonOptions,
  type GroupStatus,
  type ListedPackage,
  type RepoDetail,
  type TransactionOptions,
  type TransactionResult,
} from './pkg/manager.js';
export { createPackageNode, type PackageNodeRequest, type PackageNodeResult } from './pkg/node-setup.js';

// Images
export { applyRecipe, type ApplyOptions, type ApplyResult } from './image/recipe-apply.js';
export {
  exportNode,
  importNode,
  type ExportOptions,
  type ExportResult,
  type ImportOptions,
  type ImportResult,
} from './image/archive.js';
export { makeSbom, type SbomOptions, type SbomResult } from './image/sbom.js';

// Audit
export { checkTree, type CheckOptions, type CheckResult, type Finding } from './audit/check.js';
export { explain, type ExplainOptions, type ExplainResult } from './audit/explain.js';
export { why, type WhyOptions, type WhyResult } from './audit/why.js';
