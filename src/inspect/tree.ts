/**
 * `redmanager tree`: the family tree below a node, read for the view (`readTree`), and drawn as
 * redpak's `redconf tree` draws it (`renderTree`).
 */
import { closeSync, constants, type Dirent, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { type ConfigLimits, configLimits, nodeConfigAlias, parseNodeStatus } from '../config/parse.js';
import { NORMAL_CONFIG, STATUS_FILE, Sysroot } from '../node/layout.js';
import { childNames, loadNode, nodeTarget, type TreeNode } from '../node/load.js';

/** What `tree` shows of a node. */
type Label = Pick<TreeNode, 'path' | 'alias' | 'state'>;

/**
 * A node file opened without following a link (O_NOFOLLOW), if it is a regular file within the
 * size limit; undefined for anything else (none, a link, another kind of file, an error), which
 * is loadNode's to judge.
 */
function readPlainFile(file: string, limits: ConfigLimits): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > limits.maxBytes) return undefined;
    const buffer = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    for (let read = 1; filled < stats.size && read > 0; filled += read)
      read = readSync(fd, buffer, filled, stats.size - filled, null);
    return buffer.toString('utf8', 0, filled);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
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
 * The family tree below a node, as node/load.ts `loadTree` gives it (the same tree, the same
 * errors: test/unit/tree-read.test.ts), reading each node's files once and checking its config
 * without building it. A node whose files are anything but plain is read by loadNode.
 */
export function readTree(redroot: string, options: { sysroot?: Sysroot; cwd?: string } = {}): TreeNode {
  const sysroot = options.sysroot ?? new Sysroot('/');
  const limits = configLimits(process.env);
  const rootPath = nodeTarget(sysroot, redroot, options.cwd);
  const walk = (targetPath: string): TreeNode | undefined => {
    const hostPath = sysroot.toHost(targetPath);
    // Nothing there to stat: not a node, as isNodeDir says (existsSync answers without an exception).
    if (!existsSync(join(hostPath, STATUS_FILE))) return undefined;
    const statusText = readPlainFile(join(hostPath, STATUS_FILE), limits);
    let entries: Dirent[] | undefined;
    try {
      entries = readdirSync(hostPath, { withFileTypes: true });
    } catch {
      entries = undefined;
    }
    let label =
      entries && statusText !== undefined ? quickLabel(targetPath, hostPath, statusText, entries, limits) : undefined;
    if (!label) {
      const node = loadNode(sysroot, targetPath, { admin: false });
      if (!node) return undefined;
      label = { path: node.path, alias: node.alias, state: node.status.state };
      entries = readdirSync(hostPath, { withFileTypes: true });
    }
    const children: TreeNode[] = [];
    for (const name of childNames(entries as Dirent[])) {
      const child = walk(targetPath === '/' ? `/${name}` : `${targetPath}/${name}`);
      if (child) children.push(child);
    }
    return { ...label, children };
  };
  const tree = walk(rootPath);
  if (!tree) {
    throw new RedpakError('not-a-node', `${rootPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(rootPath)})`);
  }
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
