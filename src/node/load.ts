/** Reading one node from disk, and finding its family (redpak-semantics §1.4–1.5). */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { RedpakError } from '../errors.js';
import { parseNodeConfig, parseNodeStatus } from '../config/parse.js';
import type { NodeConfig } from '../config/types.js';
import { configPath, NORMAL_CONFIG, STATUS_FILE, statusPath, Sysroot } from './layout.js';
import type { Family, RedNode } from './types.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RedpakError('io', `cannot read ${file}: ${(error as Error).message}`);
  }
}

export function readConfigFile(file: string, kind: 'normal' | 'admin'): NodeConfig {
  return parseNodeConfig(readText(file), file, kind);
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
export function loadNode(sysroot: Sysroot, targetPath: string, options: { admin: boolean }): RedNode | undefined {
  const hostPath = sysroot.toHost(targetPath);
  if (!isNodeDir(hostPath)) return undefined;
  const statusFile = statusPath(hostPath);
  const status = parseNodeStatus(readText(statusFile), statusFile);
  const normalFile = configPath(hostPath, 'normal');
  if (!normalFile) {
    throw new RedpakError('not-a-node', `node ${targetPath} has ${STATUS_FILE} but no ${NORMAL_CONFIG}`, {
      hint: `recreate it with: redmanager create-node --redpath ${targetPath} --update`,
    });
  }
  const normal = readConfigFile(normalFile, 'normal');
  let admin: NodeConfig | undefined;
  if (options.admin) {
    const adminFile = configPath(hostPath, 'admin');
    if (adminFile) admin = readConfigFile(adminFile, 'admin');
  }
  return { path: targetPath, hostPath, alias: normal.headers.alias, status, statusFile, normal, ...(admin ? { admin } : {}) };
}

export function parentTarget(targetPath: string): string {
  return dirname(targetPath);
}

/**
 * The leaf and its ancestors. Walks up from the leaf; directories that are not nodes are
 * skipped (redpak's code behaviour); `/` is never a node.
 */
export function loadFamily(redpath: string, options: { sysroot?: Sysroot; admin?: boolean; cwd?: string } = {}): Family {
  const sysroot = options.sysroot ?? new Sysroot('/');
  const admin = options.admin ?? false;
  const leafPath = sysroot.targetPath(redpath, options.cwd);
  const leaf = loadNode(sysroot, leafPath, { admin });
  if (!leaf) {
    throw new RedpakError('not-a-node', `${leafPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(leafPath)})`, {
      hint: `create it with: redmanager create-node --redpath ${leafPath}`,
    });
  }
  const nodes: RedNode[] = [leaf];
  for (let dir = parentTarget(leafPath); dir !== '/'; dir = parentTarget(dir)) {
    const node = loadNode(sysroot, dir, { admin });
    if (node) nodes.push(node);
  }
  return { sysroot: sysroot.dir, admin, nodes };
}

/** Refuses a family with a node that is not `Enable`, naming the first such node from the leaf. */
export function assertEnabled(family: Family): void {
  for (const node of family.nodes) {
    if (node.status.state !== 'Enable') {
      const role = node === family.nodes[0] ? 'node' : `ancestor of ${family.nodes[0].path}:`;
      throw new RedpakError('node-disabled', `${role} ${node.alias} (${node.path}) is ${node.status.state === 'Disable' ? 'disabled' : `in state ${node.status.state}`}`, {
        at: { file: node.statusFile, line: 0, col: 0 },
        hint: `enable it with: redmanager enable --redpath ${node.path}`,
      });
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
  const rootPath = sysroot.targetPath(redroot, options.cwd);
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
  return readdirSync(hostPath, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/** Target paths of the nodes below a node (any depth), parents before children. */
export function descendantPaths(tree: TreeNode): string[] {
  return tree.children.flatMap((child) => [child.path, ...descendantPaths(child)]);
}

