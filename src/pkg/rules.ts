/**
 * Family rules checked in TypeScript from rpm query data, for paths that do not go through
 * the solver (local .rpm files given on the command line, consistency checks of a family).
 * Pure functions: the caller queries the databases (rpm.ts queryPackages).
 */
import { RedpakError } from '../errors.js';

export interface NodePackages {
  /** Node path (or alias) used in messages. */
  node: string;
  packages: readonly { name: string; nevra: string }[];
}

export interface AncestorOwner {
  name: string;
  nevra: string;
  node: string;
}

/** The closest ancestor that has a package named `name` installed, if any. `ancestors`: closest first. */
export function findAncestorOwner(name: string, ancestors: readonly NodePackages[]): AncestorOwner | undefined {
  for (const ancestor of ancestors) {
    const pkg = ancestor.packages.find((p) => p.name === name);
    if (pkg) return { name, nevra: pkg.nevra, node: ancestor.node };
  }
  return undefined;
}

/**
 * Rule 2 (no duplicates): refuse to install into `node` any package whose name an ancestor has
 * installed, unless `forcenode`. Throws a 'family-rule' RedpakError naming every such package
 * and its ancestor.
 */
export function assertNoAncestorDuplicates(node: string, names: readonly string[], ancestors: readonly NodePackages[], forcenode = false): void {
  if (forcenode) return;
  const owners = names.map((n) => findAncestorOwner(n, ancestors)).filter((o): o is AncestorOwner => o !== undefined);
  if (owners.length === 0) return;
  throw new RedpakError(
    'family-rule',
    `node ${node} cannot install ${owners.map((o) => `${o.name} (already installed in ancestor node ${o.node} as ${o.nevra})`).join(', ')}`,
    { hint: 'install it in the ancestor instead, or pass --forcenode to install a copy in this node' },
  );
}

/**
 * Rule 3 (ancestors read-only): refuse to erase/upgrade/downgrade in `node` a package that only
 * an ancestor has; a name installed nowhere in the node is a 'package' error.
 */
export function assertNodeOwns(node: string, op: string, names: readonly string[], own: NodePackages, ancestors: readonly NodePackages[]): void {
  for (const name of names) {
    if (own.packages.some((p) => p.name === name)) continue;
    const owner = findAncestorOwner(name, ancestors);
    if (owner) {
      throw new RedpakError('family-rule', `cannot ${op} ${owner.nevra} from node ${node}: it belongs to ancestor node ${owner.node}, which is read-only`);
    }
    throw new RedpakError('package', `package ${name} is not installed in node ${node}`);
  }
}

export interface DuplicateName {
  name: string;
  /** Every node (leaf first) holding a package of that name. */
  holders: { node: string; nevra: string }[];
}

/** Names installed in more than one node of a chain (e.g. left by --forcenode): for status/check reports. */
export function findFamilyDuplicates(chain: readonly NodePackages[]): DuplicateName[] {
  const holders = new Map<string, { node: string; nevra: string }[]>();
  for (const { node, packages } of chain) {
    for (const p of packages) {
      const list = holders.get(p.name) ?? [];
      if (!list.some((h) => h.node === node)) list.push({ node, nevra: p.nevra });
      holders.set(p.name, list);
    }
  }
  return [...holders].filter(([, list]) => list.length > 1).map(([name, list]) => ({ name, holders: list }));
}
