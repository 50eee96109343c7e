/**
 * Queries of one node's family, answered by the solver (docs/solver-protocol.md): list, info,
 * repoquery, search, provides, check-update. They read, take no lock, and change nothing.
 */
import { RedpakError } from '../errors.js';
import type { PackageFamily } from './family-context.js';
import { solvCacheDir, syncRepos } from './repos.js';
import { HOST_PROVIDES_PACKAGE } from './rpm.js';
import { query, prepareSolver, type PreparedSolver, type PackageInfo, type SearchField } from './solver.js';
import { type CommonOptions, cacheOf, loadedLine, openFamily, reposOf } from './family-ops.js';

/** A package in list/info/repoquery results; `node` is the owning node's path for installed ones. */
export type ListedPackage = PackageInfo;

export type ListScope = 'installed' | 'available' | 'family' | 'all';

export async function runQuery(
  options: CommonOptions,
  spec: Parameters<typeof query>[1],
  needRepos: boolean,
): Promise<{ pf: PackageFamily; packages: ListedPackage[] }> {
  // Python and libsolv load while the family is read and its repositories synced.
  const prepared = options.solver ?? prepareSolver('query');
  try {
    return await runQueryPrepared(options, spec, needRepos, prepared);
  } finally {
    prepared?.discard();
  }
}

async function runQueryPrepared(
  options: CommonOptions,
  spec: Parameters<typeof query>[1],
  needRepos: boolean,
  prepared: PreparedSolver | undefined,
): Promise<{ pf: PackageFamily; packages: ListedPackage[] }> {
  const pf = openFamily(options);
  const synced = needRepos ? await syncRepos(reposOf(pf, options), cacheOf(pf), options) : [];
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const packages = await query(
    {
      node: pf.nodeRoot,
      ancestors: pf.ancestors.map((a) => a.root),
      repos: synced.map((s) => s.solver),
      solvCache: solvCacheDir(pf.cacheDir),
    },
    spec,
    prepared,
  );
  for (const p of packages) {
    if (p.node) {
      const root = p.node;
      p.node = root === pf.nodeRoot ? pf.node.path : (pf.ancestors.find((a) => a.root === root)?.path ?? root);
    }
  }
  return { pf, packages: packages.filter((p) => p.name !== HOST_PROVIDES_PACKAGE || spec.scope !== 'available') };
}

/**
 * dnf list. installed: the node's own packages; family: the aggregated view, each package with
 * the node that owns it; available: the newest of each package in the repositories; all: both.
 */
export async function list(options: CommonOptions & { scope?: ListScope; specs?: string[] }): Promise<ListedPackage[]> {
  const scope = options.scope ?? 'all';
  const { packages } = await runQuery(
    options,
    { scope, names: options.specs, latest: scope === 'available' || scope === 'all' },
    scope === 'available' || scope === 'all',
  );
  return packages;
}

/** dnf info: details of installed (family view) and available packages matching the specs. */
export async function info(options: CommonOptions & { specs: string[] }): Promise<ListedPackage[]> {
  const { pf, packages } = await runQuery(
    options,
    { scope: 'all', names: options.specs, details: true, latest: true },
    true,
  );
  if (packages.length === 0) {
    throw new RedpakError(
      'package',
      `no package matches ${options.specs.join(', ')} in node ${pf.node.path} or its repositories`,
      {
        hint: `\`redwrap-dnf --redpath ${pf.node.path} list\` shows the packages`,
      },
    );
  }
  return packages;
}

export interface RepoqueryOptions extends CommonOptions {
  specs?: string[];
  whatprovides?: string;
  whatrequires?: string;
  /** The requirements of this package instead of packages. */
  requires?: string;
  /** Only installed packages (the family view). */
  installed?: boolean;
  /** Only packages of the repositories. */
  available?: boolean;
  /** With each package's details (info), or its files (list). */
  details?: boolean;
  files?: boolean;
}

/** dnf repoquery: packages (nevras) matching, or with `requires`, a package's requirements. */
export async function repoquery(
  options: RepoqueryOptions,
): Promise<{ packages: ListedPackage[]; requires?: string[] }> {
  const scope = options.installed ? 'family' : options.available ? 'available' : 'all';
  if (options.requires) {
    const { pf, packages } = await runQuery(
      options,
      { scope, names: [options.requires], details: true, latest: true },
      !options.installed,
    );
    if (packages.length === 0)
      throw new RedpakError('package', `no package matches ${options.requires} for node ${pf.node.path}`);
    return { packages, requires: [...new Set(packages.flatMap((p) => p.requires ?? []))].sort() };
  }
  const { packages } = await runQuery(
    options,
    {
      scope,
      names: options.specs,
      whatprovides: options.whatprovides,
      whatrequires: options.whatrequires,
      details: options.details,
      files: options.files,
    },
    !options.installed,
  );
  return { packages };
}

/** Where `search` found every term: dnf search's sections, best first. */
export type SearchMatch = 'name-exact' | 'name-and-summary' | 'name' | 'summary' | 'description-or-url';

export interface SearchedPackage extends ListedPackage {
  matched: SearchMatch;
}

/**
 * dnf search: the newest version of each package (installed in the family or available) where
 * every term is in the name or summary (with `all`, also the description or URL), case-insensitive,
 * each in the best of dnf's sections. No match is a package error.
 */
export async function search(options: CommonOptions & { terms: string[]; all?: boolean }): Promise<SearchedPackage[]> {
  const fields: SearchField[] = options.all ? ['name', 'summary', 'description', 'url'] : ['name', 'summary'];
  const { pf, packages } = await runQuery(
    options,
    { scope: 'all', search: { terms: options.terms, fields }, latest: true, details: options.all },
    true,
  );
  const seen = new Set<string>();
  const found: SearchedPackage[] = [];
  // Installed first (runQuery's order): a package shows once, as the family has it.
  for (const p of packages) {
    const key = `${p.name}.${p.arch}`;
    if (seen.has(key)) continue;
    seen.add(key);
    found.push({ ...p, matched: searchMatch(p, options.terms) });
  }
  if (found.length === 0)
    throw new RedpakError('package', `no package matches ${options.terms.join(' ')} for node ${pf.node.path}`, {
      hint: options.all ? undefined : '--all also searches descriptions and URLs',
    });
  const order: SearchMatch[] = ['name-exact', 'name-and-summary', 'name', 'summary', 'description-or-url'];
  return found.sort((a, b) => order.indexOf(a.matched) - order.indexOf(b.matched) || a.name.localeCompare(b.name));
}

function searchMatch(p: ListedPackage, terms: readonly string[]): SearchMatch {
  const lower = terms.map((t) => t.toLowerCase());
  const name = p.name.toLowerCase();
  const summary = p.summary.toLowerCase();
  if (lower.includes(name)) return 'name-exact';
  const inName = lower.every((t) => name.includes(t));
  const inSummary = lower.every((t) => summary.includes(t));
  if (inName && inSummary) return 'name-and-summary';
  if (inName) return 'name';
  if (lower.every((t) => name.includes(t) || summary.includes(t))) return 'summary';
  return 'description-or-url';
}

/** dnf provides: the packages (installed in the family or available) that provide a capability or file. */
export async function provides(options: CommonOptions & { what: string[] }): Promise<ListedPackage[]> {
  const found: ListedPackage[] = [];
  let node = '';
  for (const what of options.what) {
    const { pf, packages } = await runQuery(options, { scope: 'all', whatprovides: what }, true);
    node = pf.node.path;
    found.push(...packages.filter((p) => !found.some((f) => f.nevra === p.nevra && f.repo === p.repo)));
  }
  if (found.length === 0)
    throw new RedpakError('package', `no package provides ${options.what.join(', ')} for node ${node}`, {
      hint: 'a file is matched by its full path: /usr/bin/NAME, not NAME',
    });
  return found;
}

/** An update check-update found: the newest available version and the node's installed one. */
export interface AvailableUpdate extends ListedPackage {
  installed: string;
}

/**
 * dnf check-update: for the node's own packages (the ancestors' are theirs to upgrade), the newest
 * version the repositories have when it is newer than the installed one.
 */
export async function checkUpdate(options: CommonOptions & { specs?: string[] }): Promise<AvailableUpdate[]> {
  const { packages } = await runQuery(
    options,
    { scope: 'all', names: options.specs, upgrades: true, latest: true },
    true,
  );
  const { packages: own } = await runQuery(options, { scope: 'installed', names: options.specs }, false);
  return packages.map((p) => ({
    ...p,
    installed:
      own.find((o) => o.name === p.name && (o.arch === p.arch || 'noarch' === o.arch || 'noarch' === p.arch))?.evr ??
      '',
  }));
}
