/**
 * `redmanager tree`: the family tree below a node, read for the view (`readTree`), and drawn as
 * redpak's `redconf tree` draws it (`renderTree`).
 */
import { type Dirent, existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { nodeConfigAlias, parseNodeStatus } from '../config/parse.js';
import { type ConfigLimits, configLimits, configLimitsKey } from '../config/limits.js';
import { NORMAL_CONFIG, STATUS_FILE, Sysroot } from '../node/layout.js';
import { childNames, loadNode, nodeTarget, type TreeNode } from '../node/load.js';
import { processIds } from '../present.js';
import { readFileNoFollow } from '../system/no-follow-read.js';
import { dirStamp, fileStamp, MISSING } from '../system/cache-file.js';
import { type NodeStamps, TreeLabelCache } from './tree-cache.js';

/** What `tree` shows of a node. */
type Label = Pick<TreeNode, 'path' | 'alias' | 'state'>;

/**
 * A node file read without following a link, if it is a regular file within the size limit;
 * undefined for anything else (none, a link, another kind of file, an error), which is loadNode's
 * to judge.
 */
function readPlainFile(file: string, limits: ConfigLimits): string | undefined {
  try {
    return readFileNoFollow(file, (stats) => {
      if (!stats.isFile() || stats.size > limits.maxBytes) throw new Error('not a plain file');
    });
  } catch {
    return undefined;
  }
}

/**
 * The label of a node read the short way, from its status (read by the caller) and its normal
 * config, the config checked as parseNodeConfig checks it but not built. Whoever administers the
 * node writes these files and the directories on the way: `etc` must be a directory and not a
 * link in the node's own listing (what loadNode's lstat asks), both files are opened with
 * O_NOFOLLOW and must be regular files within the limit. Undefined for anything else, or on any
 * error: loadNode then reads the node, and gives its answer or its error.
 */
function quickLabel(
  targetPath: string,
  hostPath: string,
  statusText: string,
  entries: readonly Dirent[],
  limits: ConfigLimits,
): Label | undefined {
  const etc = entries.find((entry) => entry.name === 'etc');
  if (!etc?.isDirectory()) return undefined;
  const configFile = join(hostPath, NORMAL_CONFIG);
  try {
    const configText = readPlainFile(configFile, limits);
    if (configText === undefined) return undefined;
    const { state } = parseNodeStatus(statusText, join(hostPath, STATUS_FILE), limits, false);
    return { path: targetPath, alias: nodeConfigAlias(configText, configFile, limits), state };
  } catch {
    return undefined;
  }
}

/**
 * `join(dir, name)` for a normalised absolute `dir` and a relative `name` without `.` or `..`
 * parts, as the walk has them: a join normalises again, which took a tenth of a cached walk.
 */
const below = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * The family tree below a node, as node/load.ts `loadTree` gives it (the same tree, the same
 * errors: test/unit/tree-read.test.ts), reading each node's files once and checking its config
 * without building it. A node whose files are anything but plain is read by loadNode. With
 * `cacheDir` (the caller's trusted cache directory, system/caller-cache.ts), a node whose files
 * did not change since a previous walk is not read again (inspect/tree-cache.ts).
 */
export function readTree(
  redroot: string,
  options: { sysroot?: Sysroot; cwd?: string; cacheDir?: string } = {},
): TreeNode {
  const sysroot = options.sysroot ?? new Sysroot('/');
  const limits = configLimits(process.env);
  const rootPath = nodeTarget(sysroot, redroot, options.cwd);
  const cache =
    options.cacheDir === undefined
      ? undefined
      : TreeLabelCache.open(options.cacheDir, sysroot.toHost(rootPath), configLimitsKey(limits), processIds.euid());
  const childrenOf = (targetPath: string, names: readonly string[]): TreeNode[] => {
    const children: TreeNode[] = [];
    for (const name of names) {
      const child = walk(targetPath === '/' ? `/${name}` : `${targetPath}/${name}`);
      if (child) children.push(child);
    }
    return children;
  };
  const walk = (targetPath: string): TreeNode | undefined => {
    const hostPath = sysroot.toHost(targetPath);
    const statusFile = below(hostPath, STATUS_FILE);
    let stamps: NodeStamps | undefined;
    if (cache) {
      const status = fileStamp(statusFile);
      // Nothing there, not even a link, or nothing to look at: not a node, as isNodeDir says.
      if (status === MISSING || status === undefined) return undefined;
      // Stamped before anything is read, so that a recorded label is never newer than its stamps.
      stamps = [dirStamp(hostPath), status, fileStamp(below(hostPath, NORMAL_CONFIG))];
      const cached = cache.lookup(hostPath, stamps);
      if (cached)
        return {
          path: targetPath,
          alias: cached.alias,
          state: cached.state,
          children: childrenOf(targetPath, cached.children),
        };
    }
    // Nothing there to stat: not a node, as isNodeDir says (existsSync answers without an exception).
    if (!existsSync(statusFile)) return undefined;
    const statusText = readPlainFile(statusFile, limits);
    let entries: Dirent[] | undefined;
    try {
      entries = readdirSync(hostPath, { withFileTypes: true });
    } catch {
      entries = undefined;
    }
    const label =
      entries && statusText !== undefined ? quickLabel(targetPath, hostPath, statusText, entries, limits) : undefined;
    if (label) {
      const names = childNames(entries as Dirent[]);
      if (stamps) cache?.record(hostPath, stamps, { alias: label.alias, state: label.state, children: names });
      return { ...label, children: childrenOf(targetPath, names) };
    }
    const node = loadNode(sysroot, targetPath, { admin: false });
    if (!node) return undefined;
    const names = childNames(readdirSync(hostPath, { withFileTypes: true }));
    return { path: node.path, alias: node.alias, state: node.status.state, children: childrenOf(targetPath, names) };
  };
  const tree = walk(rootPath);
  if (!tree) {
    throw new RedpakError('not-a-node', `${rootPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(rootPath)})`);
  }
  cache?.save();
  return tree;
}

export function renderTree(tree: TreeNode): string {
  const lines = [dirname(tree.path)];
  const label = (node: TreeNode) =>
    `${basename(node.path)}  (${node.alias})${node.state === 'Enable' ? '' : ` [${node.state}]`}`;
  const walk = (node: TreeNode, prefix: string, last: boolean) => {
    lines.push(`${prefix}${last ? '└── ' : '├── '}${label(node)}`);
    const childPrefix = prefix + (last ? '    ' : '│   ');
    node.children.forEach((child, i) => {
      walk(child, childPrefix, i === node.children.length - 1);
    });
  };
  walk(tree, '  ', true);
  return lines.join('\n');
}
