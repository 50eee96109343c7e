/**
 * Benchmark (not a test): `redwrap-dnf install redhello` into a leaf whose ancestors hold 2,000
 * packages, against `dnf --installroot` installing the same package into a flat root holding the
 * same 2,000 packages, side by side on this machine. Prints both medians and the ratio.
 *
 *   npm run build && node dist/bench/install.js [--runs N] [--keep]
 *
 * Needs root. Installs Debian's dnf with apt-get when it is missing. The 2,000 filler packages
 * come from one spec with 2,000 sub-packages (one rpmbuild run), cached in
 * $TMPDIR/redpak-bench-fillers, and are registered --justdb.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixtureRepo } from '../src/pkg/fixture-repo.js';
import { detectHostProvides, initDb, installPackages, registerHostProvides } from '../src/pkg/rpm.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const FILLERS = 2000;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const keep = process.argv.includes('--keep'); // leave the family and flat roots for profiling

function sh(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

function fillerRpms(): string[] {
  const dir = join(tmpdir(), 'redpak-bench-fillers', String(FILLERS));
  const rpmDir = join(dir, 'RPMS', 'noarch');
  if (!existsSync(join(dir, 'done'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const lines = ['Name: filler', 'Version: 1', 'Release: 1', 'Summary: filler', 'License: MIT', 'BuildArch: noarch', '%description', 'filler'];
    for (let i = 0; i < FILLERS; i += 1) {
      const n = String(i).padStart(4, '0');
      lines.push(`%package -n filler${n}`, `Summary: filler ${n}`, `Provides: filler-cap${n} = 1`, `%description -n filler${n}`, 'filler', `%files -n filler${n}`);
    }
    writeFileSync(join(dir, 'filler.spec'), `${lines.join('\n')}\n`);
    process.stderr.write(`building ${FILLERS} filler packages (once)…\n`);
    sh('rpmbuild', ['--define', `_topdir ${dir}`, '--define', `_dbpath ${join(dir, 'db')}`, '--nodeps', '-bb', join(dir, 'filler.spec')]);
    writeFileSync(join(dir, 'done'), '');
  }
  return readdirSync(rpmDir).filter((f) => f.startsWith('filler0') || /^filler\d{4}-/.test(f)).map((f) => join(rpmDir, f));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (spawnSync('which', ['dnf']).status !== 0) {
    process.stderr.write('installing dnf with apt-get…\n');
    sh('apt-get', ['install', '-y', 'dnf'], { DEBIAN_FRONTEND: 'noninteractive' });
  }
  const repo = await buildFixtureRepo();
  const fillers = fillerRpms();
  const half = Math.ceil(fillers.length / 2);
  const base = [repo.rpms['libredfoo-1.0-1.x86_64.rpm']!, repo.rpms['redfoo-conf-1.0-1.noarch.rpm']!];
  const host = await detectHostProvides();
  const work = mkdtempSync(join(tmpdir(), 'redpak-bench-'));
  try {
    // redpak family: system (host capabilities + 1,000 fillers) → platform (1,000 fillers + libredfoo + conf) → app.
    const bin = join(ROOT, 'bin');
    const sys = join(work, 'fam/redpak');
    const platform = join(sys, 'platform');
    sh(join(bin, 'redmanager'), ['create-node', '--redpath', platform]);
    await initDb(sys);
    await initDb(platform);
    await registerHostProvides(sys, host);
    await installPackages(sys, fillers.slice(0, half), { justdb: true, noscripts: true });
    await installPackages(platform, [...fillers.slice(half), ...base], { justdb: true, noscripts: true });
    mkdirSync(join(sys, 'etc/yum.repos.d'), { recursive: true });
    writeFileSync(join(sys, 'etc/yum.repos.d/fx.repo'), `[fx]\nname=fx\nbaseurl=file://${repo.repoDir}\ngpgcheck=0\nmetadata_expire=never\n`);

    // dnf flat root: same 2,000 + host capabilities + libredfoo + conf in one database.
    const flatTemplate = join(work, 'flat');
    await initDb(flatTemplate);
    await registerHostProvides(flatTemplate, host);
    await installPackages(flatTemplate, [...fillers, ...base], { justdb: true, noscripts: true });
    const cfg = join(work, 'dnfcfg');
    mkdirSync(join(cfg, 'repos.d'), { recursive: true });
    mkdirSync(join(work, 'rpmhome'));
    writeFileSync(join(work, 'rpmhome/.rpmmacros'), '%_dbpath /var/lib/rpm\n');
    writeFileSync(join(cfg, 'dnf.conf'), `[main]\ngpgcheck=0\ninstall_weak_deps=False\nreposdir=${cfg}/repos.d\n`);
    writeFileSync(join(cfg, 'repos.d/fx.repo'), `[fx]\nname=fx\nbaseurl=file://${repo.repoDir}\ngpgcheck=0\nmetadata_expire=never\n`);
    const dnfArgs = (root: string) => ['-q', '-c', join(cfg, 'dnf.conf'), `--setopt=reposdir=${cfg}/repos.d`, '--disablerepo=*', '--enablerepo=fx', '--nogpgcheck', '-y', '--releasever=1', `--installroot=${root}`, 'install', 'redhello'];
    const dnfEnv = { HOME: join(work, 'rpmhome') };

    const redpak: number[] = [];
    const dnf: number[] = [];
    // One warm-up each (metadata caches), then alternate runs.
    for (let i = -1; i < runs; i += 1) {
      const app = join(platform, `app${i + 1}`);
      sh(join(bin, 'redmanager'), ['create-node', '--redpath', app]);
      const tr = timeIt(() => sh(join(bin, 'redwrap-dnf'), ['--redpath', app, '-y', 'install', 'redhello']));
      const flat = join(work, `flat${i + 1}`);
      cpSync(flatTemplate, flat, { recursive: true });
      if (i === -1) mkdirSync(join(flat, 'var/cache/dnf'), { recursive: true });
      const td = timeIt(() => sh('dnf', dnfArgs(flat), dnfEnv));
      if (i >= 0) {
        redpak.push(tr);
        dnf.push(td);
      }
    }
    const check = execFileSync('rpm', ['--root', join(platform, 'app1'), '--dbpath', '/var/lib/rpm', '-qa'], { encoding: 'utf8' }).trim();
    const r = median(redpak);
    const d = median(dnf);
    const result = { fillers: fillers.length, runs, redpakMs: Math.round(r), dnfMs: Math.round(d), ratio: Number((r / d).toFixed(2)), appPackages: check.split('\n') };
    console.log(JSON.stringify(result, null, 2));
    console.log(`redwrap-dnf install (ancestors: ${fillers.length} packages): ${r.toFixed(0)} ms; dnf --installroot (flat root): ${d.toFixed(0)} ms; ratio ${(r / d).toFixed(2)}`);
  } finally {
    if (keep) console.log(`kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
