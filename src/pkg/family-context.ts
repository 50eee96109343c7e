/**
 * The package-management view of a family: which rpm databases the solver aggregates (rule 1),
 * which descendants it must protect (rule 4), where the node caches metadata and packages, and
 * how node paths are named in messages. Discovery itself is src/node/load.ts's.
 */
import { dirname, join } from 'node:path';
import { expand, type HostFacts } from '../config/expand.js';
import { nodeFacts } from '../merge/merge.js';
import { Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily, loadTree, type TreeNode } from '../node/load.js';
import type { NodeReadCache } from '../node/node-cache.js';
import type { Family, RedNode } from '../node/types.js';
import { liveHostFacts } from '../system/host-facts.js';
import { hasRpmDb } from './rpm.js';
import { runsRootless, userCacheDir } from './rootless.js';
import type { DescendantView } from './solver.js';

export interface DbRoot {
  /** The node's path as seen on the target (or the host-db directory above the root node). */
  path: string;
  /** Where its files are on this machine: its rpm database is `root/var/lib/rpm`. */
  root: string;
  alias: string;
  /** True for the host database one level above a root node, which is not a node. */
  hostDb?: boolean;
}

export interface PackageFamily {
  family: Family;
  sysroot: Sysroot;
  /** The node the command works on. */
  node: RedNode;
  /** Host path of the node (its rpm database is `nodeRoot/var/lib/rpm`). */
  nodeRoot: string;
  /** Every ancestor database, closest first; the host database above the root node last, when it exists. */
  ancestors: DbRoot[];
  /** The root-most node: the family lock lives there. */
  top: RedNode;
  /** Descendants of the node (host paths), each with the nodes between it and the node. */
  descendants: DescendantView[];
  /** Where repository metadata and packages are cached (host path). */
  cacheDir: string;
  /** Where the node keeps its transaction history (host path). */
  historyFile: string;
  host: HostFacts;
}

export interface OpenFamilyOptions {
  redpath: string;
  /** SYSROOT of an image being built; default the running system. */
  sysroot?: string;
  cwd?: string;
  host?: HostFacts;
  /** Nodes read before (docs/read-caches.md): the executables pass the caller's (node/node-cache.ts callersNodeReadCache). */
  readCache?: NodeReadCache;
  /** The leaf is about to change (a transaction): read it from its files, keep no entry for it. */
  changesLeaf?: boolean;
}

/**
 * The rpm databases above a family, outermost last, each given by the directory holding
 * `var/lib/rpm`: redpak's appendFamilyDb (the database one level above the top-most node, a root
 * created with --no-system-node on an rpm host), then the host's own (`/var/lib/rpm`, of the
 * sysroot when there is one): on an rpm-based host whatever the host has installed is the top
 * of every family's view. They are root's on the host; a family only reads them.
 */
export function outerDatabases(sysroot: Sysroot, topPath: string): { path: string; root: string }[] {
  const out: { path: string; root: string }[] = [];
  const above = dirname(topPath);
  if (topPath !== '/' && hasRpmDb(sysroot.toHost(above))) out.push({ path: above, root: sysroot.toHost(above) });
  if (topPath !== '/' && above !== '/' && hasRpmDb(sysroot.toHost('/')))
    out.push({ path: '/', root: sysroot.toHost('/') });
  return out;
}

/**
 * Loads the family in admin mode (redpak forces it for package management), refuses disabled
 * nodes, and works out the databases, descendants and cache directory.
 */
export function openPackageFamily(options: OpenFamilyOptions): PackageFamily {
  const sysroot = Sysroot.open(options.sysroot);
  const family = loadFamily(options.redpath, {
    sysroot,
    admin: true,
    cwd: options.cwd,
    cache: options.readCache,
    cacheLeaf: !options.changesLeaf,
  });
  assertEnabled(family);
  const host = options.host ?? liveHostFacts();
  const [node, ...ancestorNodes] = family.nodes as [RedNode, ...RedNode[]];
  const top = family.nodes[family.nodes.length - 1];
  const ancestors: DbRoot[] = ancestorNodes.map((n) => ({ path: n.path, root: n.hostPath, alias: n.alias }));
  for (const outer of outerDatabases(sysroot, top.path))
    ancestors.push({ path: outer.path, root: outer.root, alias: `host database ${outer.path}`, hostDb: true });

  const descendants: DescendantView[] = [];
  const walk = (tree: TreeNode, via: string[]) => {
    for (const child of tree.children) {
      const hostPath = sysroot.toHost(child.path);
      descendants.push(via.length ? { node: hostPath, via } : { node: hostPath });
      walk(child, [hostPath, ...via]);
    }
  };
  walk(loadTree(node.path, { sysroot }), []);

  return {
    family,
    sysroot,
    node,
    nodeRoot: node.hostPath,
    ancestors,
    top,
    descendants,
    cacheDir: cacheDirOf(family, sysroot, host),
    historyFile: join(node.hostPath, HISTORY_FILE),
    host,
  };
}

/** Relative to the node: where its transaction history is kept. */
export const HISTORY_FILE = 'var/lib/dnf/redpak-history.json';

/**
 * redpak: the first node leaf→root whose config defines `cachedir` (admin file first), expanded
 * in that node's context; without one, the leaf's own var/cache/dnf. For an ordinary user, the
 * user's own cache (src/pkg/rootless.ts): a configured cachedir is root's.
 */
export function cacheDirOf(family: Family, sysroot: Sysroot, host: HostFacts): string {
  if (runsRootless()) return userCacheDir(host.env, family.nodes[0].hostPath);
  const leaf = nodeFacts(family.nodes[0]);
  for (const n of family.nodes) {
    for (const config of [n.admin, n.normal]) {
      const written = config?.config.cachedir;
      if (written) return sysroot.toHost(expand(written, { host, node: nodeFacts(n), leaf, commands: true }));
    }
  }
  return join(family.nodes[0].hostPath, 'var/cache/dnf');
}

/** Names a database root (host path) in messages by its target path and alias. */
export function describeRoot(pf: PackageFamily, hostPath: string): string {
  if (hostPath === pf.nodeRoot) return `${pf.node.alias} (${pf.node.path})`;
  const anc = pf.ancestors.find((a) => a.root === hostPath);
  if (anc) return anc.hostDb ? anc.alias : `${anc.alias} (${anc.path})`;
  return pf.sysroot.toTarget(hostPath);
}
