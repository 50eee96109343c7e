/**
 * Real .rpm files for the declarative solver cases (test/pkg/solver-cases/), built from their
 * descriptions with rpmbuild: noarch, no automatic dependencies, empty files. Every package of
 * every case goes into a few specs (one subpackage per package, a name at most once per spec),
 * built once and cached under the temp directory by a hash of the descriptions.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/pkg/exec.js';

export interface CasePackage {
  name: string;
  version: string;
  provides?: string[];
  requires?: string[];
  conflicts?: string[];
  obsoletes?: string[];
  /** Absolute paths of (empty) files the package owns. */
  files?: string[];
}

/** name-version, the way cases name a package. */
export const packageKey = (p: Pick<CasePackage, 'name' | 'version'>): string => `${p.name}-${p.version}`;

function subpackage(p: CasePackage): string {
  const deps = (tag: string, values: string[] = []) => values.map((v) => `${tag}: ${v}\n`).join('');
  return (
    `%package -n ${p.name}\nVersion: ${p.version}\nSummary: solver case package ${packageKey(p)}\n` +
    deps('Provides', p.provides) +
    deps('Requires', p.requires) +
    deps('Conflicts', p.conflicts) +
    deps('Obsoletes', p.obsoletes) +
    `%description -n ${p.name}\n${packageKey(p)}\n`
  );
}

function spec(index: number, packages: CasePackage[]): string {
  const files = packages.flatMap((p) => p.files ?? []);
  return [
    `Name: solver-cases-${index}\nVersion: 0\nRelease: 1\nSummary: solver cases\nLicense: Apache-2.0\n`,
    'BuildArch: noarch\nAutoReqProv: no\n',
    '%description\nsolver cases\n',
    ...packages.map(subpackage),
    '%install\n',
    ...files.map((f) => `mkdir -p "%{buildroot}$(dirname '${f}')"\ntouch "%{buildroot}${f}"\n`),
    ...packages.map((p) => `%files -n ${p.name}\n${(p.files ?? []).join('\n')}\n`),
  ].join('');
}

/** Build `packages` (distinct name-versions); the .rpm path of each, by name-version. */
export async function buildCasePackages(packages: readonly CasePackage[]): Promise<Map<string, string>> {
  // Spread the packages over specs so that no spec has a name twice.
  const specs: CasePackage[][] = [];
  for (const p of [...packages].sort((a, b) => packageKey(a).localeCompare(packageKey(b)))) {
    const free = specs.find((s) => !s.some((q) => q.name === p.name));
    if (free) free.push(p);
    else specs.push([p]);
  }
  const texts = specs.map((s, i) => spec(i, s));
  const hash = createHash('sha256').update(texts.join('\0')).digest('hex').slice(0, 16);
  const root = join(tmpdir(), 'redpak-solver-cases');
  const dir = join(root, hash);
  if (!existsSync(dir)) {
    const work = join(root, `.build-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    for (const [i, text] of texts.entries()) {
      writeFileSync(join(work, `cases-${i}.spec`), text);
      const args = [
        '--define',
        `_topdir ${join(work, 'top')}`,
        '--define',
        `_dbpath ${join(work, 'db')}`,
        '--nodeps',
        '-bb',
        join(work, `cases-${i}.spec`),
      ];
      await run('rpmbuild', args, { purpose: 'build the solver case packages' });
    }
    mkdirSync(join(work, 'rpms'));
    for (const file of readdirSync(join(work, 'top/RPMS/noarch')))
      renameSync(join(work, 'top/RPMS/noarch', file), join(work, 'rpms', file));
    rmSync(join(work, 'top'), { recursive: true, force: true });
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another run finished first: same content
    }
  }
  return new Map(packages.map((p) => [packageKey(p), join(dir, 'rpms', `${packageKey(p)}-1.noarch.rpm`)]));
}
