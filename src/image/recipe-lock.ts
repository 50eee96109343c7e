/**
 * The lock file of a recipe (RECIPE.lock.yaml): per node, the exact packages it holds (NEVRA,
 * sha256 of the .rpm, repository and location) and the repository metadata it resolved from
 * (repomd.xml revision and sha256). `apply` writes it; `apply --frozen` checks it against the
 * recipe and installs exactly those files from a local mirror, each checked against its sha256.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedpakError } from '../errors.js';
import { toYaml } from '../config/serialize.js';
import { yamlLibrary } from '../config/yaml-library.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { run } from '../pkg/exec.js';
import { unsafeHref } from '../pkg/repos.js';
import { solverPython, type SolverRepo } from '../pkg/solver.js';
import { pinMatches, type Recipe } from './recipe.js';
import type { LockedPackageFile } from './recipe-plan.js';

export const LOCK_VERSION = 1;

export interface LockPackage {
  nevra: string;
  name: string;
  /** sha256 of the .rpm file; null when no repository knows the package (installed from a local file). */
  sha256: string | null;
  /** Repository id and location (relative to its baseurl) it came from. */
  repo: string | null;
  href: string | null;
}

export interface LockRepository {
  id: string;
  baseurl: string;
  /** repomd.xml's <revision>, null when it has none. */
  revision: string | null;
  /** sha256 of repomd.xml. */
  repomd: string;
}

export interface LockNode {
  path: string;
  alias: string;
  /** The repositories the node resolves from (its own .repo files, else its closest ancestor's). */
  repositories: LockRepository[];
  /** The node's own packages, sorted by NEVRA. */
  packages: LockPackage[];
}

export interface LockFile {
  version: number;
  recipe: { file: string; sha256: string };
  redroot: string;
  nodes: LockNode[];
}

/** RECIPE.yaml → RECIPE.lock.yaml, next to it. */
export function defaultLockPath(recipeFile: string): string {
  const dir = dirname(recipeFile);
  const name = basename(recipeFile).replace(/\.ya?ml$/i, '');
  return join(dir, `${name}.lock.yaml`);
}

export function serializeLock(lock: LockFile): string {
  return `# Written by redmanager apply: the exact packages of each node. Used by apply --frozen; do not edit.\n${toYaml(lock)}`;
}

/** Writes the lock when its content changed; returns whether it did. Atomic (temp file + rename). */
export function writeLock(file: string, lock: LockFile): boolean {
  const text = serializeLock(lock);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  try {
    writeFileAtomic(file, text);
  } catch (error) {
    throw new RedpakError('io', `cannot write the lock file ${file}: ${(error as Error).message}`);
  }
  return true;
}

export function readLock(file: string): LockFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RedpakError('io', `cannot read the lock file ${file}: ${(error as Error).message}`, {
      hint: 'run redmanager apply without --frozen first: it writes the lock file',
    });
  }
  let raw: unknown;
  try {
    raw = yamlLibrary().parse(text);
  } catch (error) {
    throw new RedpakError(
      'yaml-syntax',
      `lock file ${file}: invalid YAML: ${(error as Error).message.split('\n')[0]}`,
      { at: { file, line: 0, col: 0 } },
    );
  }
  const bad = (what: string): never => {
    throw new RedpakError('schema', `lock file ${file}: ${what}`, {
      at: { file, line: 0, col: 0 },
      hint: 'regenerate it with redmanager apply (without --frozen)',
    });
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(raw)) return bad('not a mapping');
  if (raw.version !== LOCK_VERSION) bad(`version ${String(raw.version)} is not ${LOCK_VERSION}`);
  if (typeof raw.redroot !== 'string') bad('no redroot');
  if (!Array.isArray(raw.nodes)) bad('no nodes list');
  (raw.nodes as unknown[]).forEach((n, i) => {
    if (
      !isObj(n) ||
      typeof n.path !== 'string' ||
      typeof n.alias !== 'string' ||
      !Array.isArray(n.packages) ||
      !Array.isArray(n.repositories)
    )
      bad(`nodes[${i}] needs path, alias, repositories and packages`);
    (n as { packages: unknown[] }).packages.forEach((p, j) => {
      if (!isObj(p) || typeof p.nevra !== 'string' || typeof p.name !== 'string')
        bad(`nodes[${i}].packages[${j}] needs nevra and name`);
    });
  });
  return raw as unknown as LockFile;
}

// ---------------------------------------------------------------------------------------------
// Building a lock from what is installed

/** repomd.xml of a synced repository: revision and sha256. */
export function repomdInfo(repoDir: string): { revision: string | null; repomd: string } {
  const bytes = readFileSync(join(repoDir, 'repodata/repomd.xml'));
  const revision = /<revision>\s*([^<]*?)\s*<\/revision>/.exec(bytes.toString('utf8'))?.[1] ?? null;
  return { revision, repomd: createHash('sha256').update(bytes).digest('hex') };
}

const LOOKUP_SCRIPT = `
import json, os, sys
import xml.etree.ElementTree as ET
import solv
NS = '{http://linux.duke.edu/metadata/repo}'
req = json.load(sys.stdin)
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.setarch()
out = {}
for spec in sorted(req['repos'], key=lambda r: r.get('priority', 99)):
    repo = pool.add_repo(spec['id'])
    root = ET.parse(os.path.join(spec['dir'], 'repodata', 'repomd.xml')).getroot()
    for data in root.findall(NS + 'data'):
        if data.get('type') == 'primary':
            f = solv.xfopen(os.path.join(spec['dir'], data.find(NS + 'location').get('href')))
            repo.add_rpmmd(f, None, 0)
            f.close()
    for s in repo.solvables:
        key = str(s)
        if key in out:
            continue
        c = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
        out[key] = {'repo': spec['id'], 'href': s.lookup_location()[0], 'checksum': str(c) if c else None}
json.dump(out, sys.stdout)
`;

/** Every package of the given (synced) repositories: NEVRA → repository, location, checksum (`type:hex`). */
export async function repositoryIndex(
  repos: readonly SolverRepo[],
): Promise<Record<string, { repo: string; href: string; checksum: string | null }>> {
  if (repos.length === 0) return {};
  const { stdout } = await run(solverPython(), ['-c', LOOKUP_SCRIPT], {
    input: JSON.stringify({ repos }),
    purpose: 'read the repository metadata for the lock file',
  });
  return JSON.parse(stdout) as Record<string, { repo: string; href: string; checksum: string | null }>;
}

// ---------------------------------------------------------------------------------------------
// Frozen: the lock against the recipe, and the files from the mirror

/** Every way the lock does not describe the recipe; empty when it matches. */
export function lockDifferences(recipe: Recipe, lock: LockFile): string[] {
  const out: string[] = [];
  if (lock.redroot !== recipe.redroot)
    out.push(`the redroot is ${recipe.redroot} in the recipe, ${lock.redroot} in the lock`);
  const locked = new Map(lock.nodes.map((n) => [n.path, n]));
  for (const node of recipe.nodes) {
    const ln = locked.get(node.path);
    if (!ln) {
      out.push(`node ${node.alias} (${node.path}) is not in the lock`);
      continue;
    }
    if (ln.alias !== node.alias) out.push(`node ${node.path} is ${node.alias} in the recipe, ${ln.alias} in the lock`);
    const ancestors = recipe.nodes
      .filter((a) => node.path.startsWith(`${a.path}/`))
      .map((a) => locked.get(a.path))
      .filter((a): a is LockNode => !!a);
    for (const spec of node.packages) {
      const own = ln.packages.find((p) => p.name === spec.name);
      const reused = ancestors.flatMap((a) => a.packages).find((p) => p.name === spec.name);
      const have = own ?? reused;
      if (!have) out.push(`package ${spec.text} of node ${node.alias} is not in the lock`);
      else if (spec.pin && !pinMatches(spec.pin, evrOf(have.nevra)))
        out.push(`package ${spec.text} of node ${node.alias} is locked at ${have.nevra}`);
    }
  }
  for (const ln of lock.nodes)
    if (!recipe.nodes.some((n) => n.path === ln.path))
      out.push(`node ${ln.alias} (${ln.path}) is in the lock but not in the recipe`);
  for (const repo of recipe.repositories) {
    const uses = lock.nodes.flatMap((n) => n.repositories).filter((r) => r.id === repo.id);
    if (uses.length === 0) out.push(`repository ${repo.id} is not in the lock`);
    const otherUse = uses.find((r) => r.baseurl !== repo.baseurl[0]);
    if (uses.length !== 0 && otherUse)
      out.push(`repository ${repo.id} has baseurl ${repo.baseurl[0]} in the recipe, ${otherUse.baseurl} in the lock`);
  }
  return out;
}

/** `name-[e:]v-r.arch` → `[e:]v-r`. */
export function evrOf(nevra: string): string {
  const noArch = nevra.slice(0, nevra.lastIndexOf('.'));
  const release = noArch.lastIndexOf('-');
  const version = noArch.lastIndexOf('-', release - 1);
  return noArch.slice(version + 1);
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The .rpm of every locked package, each checked against its sha256. With mirrors, only there
 * (`DIR/HREF`, `DIR/FILE`, `DIR/REPO/packages/FILE`: a repository copy, a flat directory, or a
 * dnf cache); without, in the locked repositories' file:// directories, and then a repository
 * whose repomd.xml differs from the locked one is a difference too. Throws naming every problem.
 */
export function lockedFiles(lock: LockFile, mirrors: readonly string[]): Record<string, LockedPackageFile[]> {
  const problems: string[] = [];
  const out: Record<string, LockedPackageFile[]> = {};
  const checkedRepos = new Set<string>();
  for (const node of lock.nodes) {
    for (const repo of node.repositories) {
      if (mirrors.length || checkedRepos.has(`${repo.id} ${repo.baseurl}`) || !repo.baseurl.startsWith('file://'))
        continue;
      checkedRepos.add(`${repo.id} ${repo.baseurl}`);
      const dir = fileURLToPath(repo.baseurl);
      if (!existsSync(join(dir, 'repodata/repomd.xml'))) continue;
      const now = repomdInfo(dir);
      if (now.repomd !== repo.repomd) {
        problems.push(
          `repository ${repo.id} (${repo.baseurl}) is at metadata revision ${now.revision ?? '?'} (repomd.xml sha256 ${now.repomd.slice(0, 12)}…), the lock has revision ${repo.revision ?? '?'} (${repo.repomd.slice(0, 12)}…)`,
        );
      }
    }
    out[node.path] = node.packages.map((pkg) => {
      if (!pkg.sha256 || !pkg.href) {
        problems.push(
          `node ${node.alias}: ${pkg.nevra} has no checksum in the lock (it came from no repository): it cannot be reproduced`,
        );
        return { nevra: pkg.nevra, name: pkg.name, file: '' };
      }
      // The lock file is written by apply from repository metadata: its hrefs are joined to the
      // mirrors, so one that leaves them is refused like a repository's.
      const href = pkg.href;
      const why = unsafeHref(href);
      if (why) {
        problems.push(`node ${node.alias}: the location of ${pkg.nevra} (${JSON.stringify(pkg.href)}) ${why}`);
        return { nevra: pkg.nevra, name: pkg.name, file: '' };
      }
      const file = basename(pkg.href);
      const repoDirs = node.repositories
        .filter((r) => r.id === pkg.repo && r.baseurl.startsWith('file://'))
        .map((r) => fileURLToPath(r.baseurl));
      const candidates = [
        ...mirrors.flatMap((m) => [
          join(m, href),
          join(m, file),
          ...(pkg.repo ? [join(m, pkg.repo, 'packages', file)] : []),
        ]),
        ...(mirrors.length ? [] : repoDirs.map((d) => join(d, href))),
      ];
      const found = candidates.filter((c) => existsSync(c));
      if (found.length === 0) {
        problems.push(
          `node ${node.alias}: ${pkg.nevra} not found (looked for ${candidates.join(', ') || `${file}: no mirror given`})`,
        );
        return { nevra: pkg.nevra, name: pkg.name, file: '' };
      }
      const good = found.find((c) => sha256File(c) === pkg.sha256);
      if (!good) {
        problems.push(
          `node ${node.alias}: ${found[0]} is not the locked ${pkg.nevra} (sha256 ${sha256File(found[0])}, the lock has ${pkg.sha256})`,
        );
        return { nevra: pkg.nevra, name: pkg.name, file: '' };
      }
      return { nevra: pkg.nevra, name: pkg.name, file: good };
    });
  }
  if (problems.length) {
    throw new RedpakError(
      'package',
      `--frozen: the mirror does not hold what the lock file says:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      {
        hint: 'point --mirror at the snapshot the lock was made from, or run apply without --frozen to update the lock file',
      },
    );
  }
  return out;
}
