/**
 * `redwrap-dnf install redhello` into a leaf whose ancestors hold N packages, interleaved with
 * `dnf --installroot` installing the same package into a flat root holding the same N packages,
 * at N = 0, 2,000 and 10,000, with each tool's metadata cache warm (kept from the previous run) and
 * cold (emptied before each run).
 *
 *   npm run build && node dist/bench/install.js [--rounds N] [--sizes 0,2000,10000]
 *
 * Needs root; installs Debian's dnf with apt-get when it is missing. The filler packages come from
 * one spec with N sub-packages (one rpmbuild run, cached in $TMPDIR/redpak-bench-fillers), each
 * owning a file and providing a capability, and are registered --justdb (their file lists are in
 * the databases, as on a device). The redpak family splits them between the system and platform
 * nodes; the flat root holds them all.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode } from '../src/node/factory.js';
import { NORMAL_CONFIG } from '../src/node/layout.js';
import { acceptUnsignedPackages } from '../src/pkg/node-setup.js';
import { buildFixtureRepo } from '../src/pkg/fixture-repo.js';
import { detectHostProvides, initDb, installPackages, registerHostProvides } from '../src/pkg/rpm.js';
import { inspectionHostFacts } from '../src/system/host-facts.js';
import { compare, type Contender, numberFlag, type Row, runWhenMain } from './lib.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const REDWRAP_DNF = join(ROOT, 'bin/redwrap-dnf');

function sh(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    encoding: 'utf8',
    // rpmbuild of 10,000 sub-packages writes megabytes (a line per file and per package written).
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/** N filler packages, each owning /usr/share/redpak-filler/fNNNNN and providing filler-capNNNNN. */
function fillerRpms(count: number): string[] {
  if (count === 0) return [];
  const dir = join(tmpdir(), 'redpak-bench-fillers', String(count));
  const rpmDir = join(dir, 'RPMS', 'noarch');
  if (!existsSync(join(dir, 'done'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: count }, (_, i) => String(i).padStart(5, '0'));
    const lines = [
      'Name: filler',
      'Version: 1',
      'Release: 1',
      'Summary: filler',
      'License: MIT',
      'BuildArch: noarch',
      '%description',
      'filler',
    ];
    for (const n of names) {
      lines.push(
        `%package -n filler${n}`,
        `Summary: filler ${n}`,
        `Provides: filler-cap${n} = 1`,
        `%description -n filler${n}`,
        'filler',
      );
    }
    lines.push('%install', 'mkdir -p %{buildroot}/usr/share/redpak-filler');
    lines.push(
      `awk 'BEGIN { for (i = 0; i < ${count}; i++) printf "%%05d\\n", i }' | while read i; do echo $i > %{buildroot}/usr/share/redpak-filler/f$i; done`,
    );
    for (const n of names) lines.push(`%files -n filler${n}`, `/usr/share/redpak-filler/f${n}`);
    writeFileSync(join(dir, 'filler.spec'), `${lines.join('\n')}\n`);
    process.stderr.write(`building ${count} filler packages (once)…\n`);
    sh('rpmbuild', [
      '--define',
      `_topdir ${dir}`,
      '--define',
      `_dbpath ${join(dir, 'db')}`,
      '--nodeps',
      '-bb',
      join(dir, 'filler.spec'),
    ]);
    writeFileSync(join(dir, 'done'), '');
  }
  return readdirSync(rpmDir)
    .filter((f) => /^filler\d{5}-/.test(f))
    .map((f) => join(rpmDir, f));
}

interface Setup {
  /** redpak: the platform node, under which each run creates a fresh app node. */
  platform: string;
  /** redpak: the family's metadata cache (the system node's cachedir). */
  redpakCache: string;
  /** dnf: a flat root holding everything, copied afresh before each run. */
  flatTemplate: string;
  dnfArgs: (root: string) => string[];
  dnfEnv: NodeJS.ProcessEnv;
}

async function setUp(work: string, fillers: string[]): Promise<Setup> {
  const repo = await buildFixtureRepo();
  const base = ['libredfoo-1.0-1.x86_64.rpm', 'redfoo-conf-1.0-1.noarch.rpm'].map((name) => {
    const path = repo.rpms[name];
    if (!path) throw new Error(`fixture ${name} was not built`);
    return path;
  });
  const host = await detectHostProvides();
  const half = Math.ceil(fillers.length / 2);
  const hostFacts = inspectionHostFacts();
  const system = join(work, 'fam/redpak');
  const platform = join(system, 'platform');
  createNode({ redpath: platform, host: hostFacts });
  await initDb(system);
  await initDb(platform);
  await registerHostProvides(system, host);
  await installPackages(system, fillers.slice(0, half), { justdb: true, noscripts: true });
  await installPackages(platform, [...fillers.slice(half), ...base], { justdb: true, noscripts: true });
  const repoFile = `[fx]\nname=fx\nbaseurl=file://${repo.repoDir}\ngpgcheck=0\nmetadata_expire=never\n`;
  mkdirSync(join(system, 'etc/yum.repos.d'), { recursive: true });
  writeFileSync(join(system, 'etc/yum.repos.d/fx.repo'), repoFile);
  acceptUnsignedPackages(join(system, NORMAL_CONFIG)); // the fixture packages are unsigned

  const flatTemplate = join(work, 'flat');
  await initDb(flatTemplate);
  await registerHostProvides(flatTemplate, host);
  await installPackages(flatTemplate, [...fillers, ...base], { justdb: true, noscripts: true });
  const cfg = join(work, 'dnfcfg');
  mkdirSync(join(cfg, 'repos.d'), { recursive: true });
  mkdirSync(join(work, 'rpmhome'));
  writeFileSync(join(work, 'rpmhome/.rpmmacros'), '%_dbpath /var/lib/rpm\n');
  writeFileSync(join(cfg, 'dnf.conf'), `[main]\ngpgcheck=0\ninstall_weak_deps=False\nreposdir=${cfg}/repos.d\n`);
  writeFileSync(join(cfg, 'repos.d/fx.repo'), repoFile);
  return {
    platform,
    redpakCache: join(system, 'var/cache/dnf'),
    flatTemplate,
    // dnf puts its cachedir under the installroot: the cache lives in <root>/var/cache/dnf.
    dnfArgs: (root) => [
      'dnf',
      '-q',
      '-c',
      join(cfg, 'dnf.conf'),
      `--setopt=reposdir=${cfg}/repos.d`,
      '--disablerepo=*',
      '--enablerepo=fx',
      '--nogpgcheck',
      '-y',
      '--releasever=1',
      `--installroot=${root}`,
      'install',
      'redhello',
    ],
    dnfEnv: { ...process.env, HOME: join(work, 'rpmhome') },
  };
}

function contenders(work: string, setup: Setup, cache: 'warm' | 'cold'): Contender[] {
  const app = join(setup.platform, 'app');
  const flat = join(work, 'flat-run');
  const dnfCache = join(work, 'dnf-cache-warm');
  return [
    {
      name: `dnf --installroot, cache ${cache}`,
      argv: setup.dnfArgs(flat),
      env: setup.dnfEnv,
      before: () => {
        rmSync(flat, { recursive: true, force: true });
        cpSync(setup.flatTemplate, flat, { recursive: true });
        if (cache === 'warm' && existsSync(dnfCache))
          cpSync(dnfCache, join(flat, 'var/cache/dnf'), { recursive: true });
        return undefined;
      },
      after: () => {
        // The warm-up run leaves the cache that later warm runs start with.
        if (cache === 'warm' && !existsSync(dnfCache))
          cpSync(join(flat, 'var/cache/dnf'), dnfCache, { recursive: true });
      },
    },
    {
      name: `redwrap-dnf install, cache ${cache}`,
      argv: [REDWRAP_DNF, '--redpath', app, '-y', 'install', 'redhello'],
      before: () => {
        rmSync(app, { recursive: true, force: true });
        createNode({ redpath: app, host: inspectionHostFacts() });
        if (cache === 'cold') rmSync(setup.redpakCache, { recursive: true, force: true });
        return undefined;
      },
    },
  ];
}

export async function installBench(rounds: number, sizes: number[]): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('the install bench runs as root');
  if (spawnSync('which', ['dnf']).status !== 0) {
    process.stderr.write('installing dnf with apt-get…\n');
    sh('apt-get', ['install', '-y', 'dnf'], { DEBIAN_FRONTEND: 'noninteractive' });
  }
  const rows: Row[] = [];
  for (const size of sizes) {
    const work = mkdtempSync(join(tmpdir(), 'redpak-bench-install-'));
    try {
      const setup = await setUp(work, fillerRpms(size));
      for (const cache of ['warm', 'cold'] as const) {
        const bench = `install, ${size} installed`;
        rows.push(...compare(bench, contenders(work, setup, cache), rounds, { rss: true }));
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return rows;
}

runWhenMain(import.meta.url, () => {
  const index = process.argv.indexOf('--sizes');
  const sizes = index >= 0 ? (process.argv[index + 1] ?? '').split(',').map(Number) : [0, 2000, 10000];
  return installBench(numberFlag('--rounds', 7), sizes);
});
