/** Reading one node from disk, and finding its family (docs/node-layout.md, "Reading a node", "The family"). */
import { type Dirent, lstatSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { RedpakError } from '../errors.js';
import { readFileNoFollow } from '../system/no-follow-read.js';
import { parseNodeConfig, parseNodeStatus } from '../config/parse.js';
import { assertConfigSize, type ConfigLimits, configLimits, configLimitsKey } from '../config/limits.js';
import type { NodeConfig } from '../config/types.js';
import { configPath, NORMAL_CONFIG, STATUS_FILE, statusPath, Sysroot } from './layout.js';
import type { NodeReadCache } from './node-cache.js';
import type { Family, RedNode } from './types.js';

/**
 * Refuses a symbolic link on the way from a node directory to one of its files (`etc`, `var`, …,
 * the file itself): whoever administers a node can plant `etc -> /etc` or
 * `etc/redpak.yaml -> /etc/shadow`, and the node's files must be the node's.
 */
export function assertNoLinkBelow(nodeHostPath: string, file: string): void {
  const parts = relative(nodeHostPath, file).split('/').filter(Boolean);
  let current = nodeHostPath;
  for (const part of parts) {
    current = join(current, part);
    let isLink = false;
    try {
      isLink = lstatSync(current).isSymbolicLink();
    } catch {
      return; // missing from here on: nothing below to follow
    }
    if (isLink) {
      throw new RedpakError(
        'io',
        `${current} is a symbolic link: a node's own files and directories must not be links`,
        {
          at: { file: current, line: 0, col: 0 },
          hint: 'replace the link by the file or directory itself',
        },
      );
    }
  }
}

/**
 * Reads a node file: not through a link (see assertNoLinkBelow; O_NOFOLLOW for the last one),
 * a regular file, and no larger than the limit, checked before a byte is read.
 */
function readNodeFile(nodeHostPath: string, file: string, limits: ConfigLimits): string {
  assertNoLinkBelow(nodeHostPath, file);
  try {
    return readFileNoFollow(file, (stats) => {
      if (!stats.isFile())
        throw new RedpakError('io', `${file} is not a regular file`, { at: { file, line: 0, col: 0 } });
      assertConfigSize(stats.size, file, limits);
    });
  } catch (error) {
    if (error instanceof RedpakError) throw error;
    throw new RedpakError('io', `cannot read ${file}: ${(error as Error).message}`);
  }
}

export function isNodeDir(hostPath: string): boolean {
  try {
    return statSync(statusPath(hostPath)).isFile();
  } catch {
    return false;
  }
}

/**
 * Loads the node at `targetPath`, or returns undefined when the directory is not a node (no
 * status file). A node with a broken file is an error, never skipped.
 */
export function loadNode(
  sysroot: Sysroot,
  targetPath: string,
  options: { admin: boolean; cache?: NodeReadCache },
): RedNode | undefined {
  const hostPath = sysroot.toHost(targetPath);
  if (!isNodeDir(hostPath)) return undefined;
  const limits = configLimits(process.env);
  const remembered = options.cache?.lookup(hostPath, targetPath, options.admin, configLimitsKey(limits));
  if (remembered && 'node' in remembered) return remembered.node;
  const read = (file: string) => readNodeFile(hostPath, file, limits);
  const statusFile = statusPath(hostPath);
  const status = parseNodeStatus(read(statusFile), statusFile, limits);
  const normalFile = configPath(hostPath, 'normal');
  if (!normalFile) {
    throw new RedpakError('not-a-node', `node ${targetPath} has ${STATUS_FILE} but no ${NORMAL_CONFIG}`, {
      hint: `recreate it with: redmanager create-node --redpath ${targetPath} --update`,
    });
  }
  const normal = parseNodeConfig(read(normalFile), normalFile, 'normal', limits);
  let admin: NodeConfig | undefined;
  if (options.admin) {
    const adminFile = configPath(hostPath, 'admin');
    if (adminFile) admin = parseNodeConfig(read(adminFile), adminFile, 'admin', limits);
  }
  const node: RedNode = {
    path: targetPath,
    hostPath,
    alias: normal.headers.alias,
    status,
    statusFile,
    normal,
    ...(admin ? { admin } : {}),
  };
  if (remembered) options.cache?.record(remembered.unread, node);
  return node;
}

export function parentTarget(targetPath: string): string {
  return dirname(targetPath);
}

/**
 * The leaf and its ancestors. Walks up from the leaf; directories that are not nodes are
 * skipped (redpak's code behaviour); `/` is never a node. `cache`: nodes read before
 * (docs/read-caches.md); `cacheLeaf: false` reads the leaf from its files only, for a caller about
 * to change the leaf's directory (a transaction), whose entry would never be used again.
 */
export function loadFamily(
  redpath: string,
  options: { sysroot?: Sysroot; admin?: boolean; cwd?: string; cache?: NodeReadCache; cacheLeaf?: boolean } = {},
): Family {
  const sysroot = options.sysroot ?? new Sysroot('/');
  const admin = options.admin ?? false;
  const cache = options.cache;
  const leafPath = nodeTarget(sysroot, redpath, options.cwd);
  const leaf = loadNode(sysroot, leafPath, { admin, cache: options.cacheLeaf === false ? undefined : cache });
  if (!leaf) {
    throw new RedpakError(
      'not-a-node',
      `${leafPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(leafPath)})`,
      {
        hint: `create it with: redmanager create-node --redpath ${leafPath}`,
      },
    );
  }
  assertWhereRecorded(leaf, sysroot.targetPath(redpath, options.cwd));
  const nodes: RedNode[] = [leaf];
  for (let dir = parentTarget(leafPath); dir !== '/'; dir = parentTarget(dir)) {
    const node = loadNode(sysroot, dir, { admin, cache });
    if (node) nodes.push(node);
  }
  return { sysroot: sysroot.dir, admin, nodes };
}

/**
 * The target path of a node the user names, symbolic links followed (Sysroot.resolveTarget): the
 * family of a node is that of the directory it really is in, never that of the text of a link
 * to it (a link would otherwise drop every ancestor, and their restrictions).
 */
export function nodeTarget(sysroot: Sysroot, given: string, cwd?: string): string {
  return sysroot.resolveTarget(sysroot.targetPath(given, cwd));
}

/**
 * A node reached through a link must be where its status says it was created (`realpath`):
 * otherwise it was moved or copied, and which family the link meant is a guess; refused. A node
 * named by its own path is taken where it is (a moved or restored tree keeps working).
 */
function assertWhereRecorded(node: RedNode, givenPath: string): void {
  if (givenPath === node.path || node.status.realpath === node.path) return;
  throw new RedpakError(
    'not-a-node',
    `${givenPath} leads to the node ${node.alias} at ${node.path}, but its status says it lives at ${node.status.realpath}`,
    {
      at: { file: node.statusFile, line: 0, col: 0 },
      hint: `name the node by its real path, or record where it is now: redmanager create-node --redpath ${node.path} --update`,
    },
  );
}

/** Refuses a family with a node that is not `Enable`, naming the first such node from the leaf. */
export function assertEnabled(family: Family): void {
  for (const node of family.nodes) {
    if (node.status.state !== 'Enable') {
      const role = node === family.nodes[0] ? 'node' : `ancestor of ${family.nodes[0].path}:`;
      throw new RedpakError(
        'node-disabled',
        `${role} ${node.alias} (${node.path}) is ${node.status.state === 'Disable' ? 'disabled' : `in state ${node.status.state}`}`,
        {
          at: { file: node.statusFile, line: 0, col: 0 },
          hint: `enable it with: redmanager enable --redpath ${node.path}`,
        },
      );
    }
  }
}

export interface TreeNode {
  path: string;
  alias: string;
  state: string;
  children: TreeNode[];
}

/**
 * The family tree below a node. Children are sub-directories that are nodes, sorted by name;
 * like redpak, a directory that is not a node ends that branch.
 */
export function loadTree(redroot: string, options: { sysroot?: Sysroot; cwd?: string } = {}): TreeNode {
  const sysroot = options.sysroot ?? new Sysroot('/');
  const rootPath = nodeTarget(sysroot, redroot, options.cwd);
  const walk = (targetPath: string): TreeNode | undefined => {
    const node = loadNode(sysroot, targetPath, { admin: false });
    if (!node) return undefined;
    const children: TreeNode[] = [];
    for (const name of childDirectories(node.hostPath)) {
      const child = walk(targetPath === '/' ? `/${name}` : `${targetPath}/${name}`);
      if (child) children.push(child);
    }
    return { path: node.path, alias: node.alias, state: node.status.state, children };
  };
  const tree = walk(rootPath);
  if (!tree) {
    throw new RedpakError('not-a-node', `${rootPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(rootPath)})`);
  }
  return tree;
}

export function childDirectories(hostPath: string): string[] {
  return childNames(readdirSync(hostPath, { withFileTypes: true }));
}

/** The entries of a node directory that may be child nodes: directories (not links), not hidden; sorted. */
export function childNames(entries: readonly Dirent[]): string[] {
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/** Target paths of the nodes below a node (any depth), parents before children. */
export function descendantPaths(tree: TreeNode): string[] {
  return tree.children.flatMap((child) => [child.path, ...descendantPaths(child)]);
}
