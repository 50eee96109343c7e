/**
 * Launch latency and memory of `redwrap --redpath LEAF -- /bin/true`, side by side with bwrap run
 * directly with the same arguments, and with the other container runtimes where they run here.
 *
 *   npm run build && node dist/bench/launch.js [--runs 100]
 *
 * Two families: the demo family (system → platform → app from the shipped templates, whose
 * system node has two Execfd exports, /etc/passwd and /etc/group, run at every launch), and a
 * minimal one (a single node exporting /usr read-only, /proc, /dev, /tmp) that isolates what the
 * launcher itself costs. Latency is the median wall time of a spawn from this process; the same
 * spawn overhead is in every row. Memory is the peak resident set of the whole launch
 * (GNU time's %M, the largest process of the chain), when /usr/bin/time is installed.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BWRAP } from '../src/system/bwrap-path.js';
import { launchCacheDir, planFileName, planKey } from '../src/wrap/launch-cache.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const REDMANAGER = join(ROOT, 'bin/redmanager');
const REDWRAP = join(ROOT, 'bin/redwrap');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 100;

interface Row {
  name: string;
  median?: number;
  p90?: number;
  rssKb?: number;
  note?: string;
}

function timeRuns(count: number, once: () => { status: number | null }): { median: number; p90: number } {
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = process.hrtime.bigint();
    const result = once();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (result.status !== 0) throw new Error(`run ${i} exited with ${result.status}`);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(count / 2)], p90: samples[Math.floor(count * 0.9)] };
}

function peakRss(argv: string[], stdio?: StdioOptions): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const result = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { stdio: stdio ?? ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const last = String(result.stderr ?? '').trim().split('\n').pop();
  return last && /^\d+$/.test(last) ? Number(last) : undefined;
}

function run(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** bwrap with the arguments redwrap would give it, its Execfd files prepared beforehand. */
function bareBwrap(leaf: string, scratch: string): { argv: string[]; stdio: () => StdioOptions; close: () => void } {
  const dump = JSON.parse(run(REDWRAP, ['--redpath', leaf, '--dump-only', '--json', '--', '/bin/true']));
  const files = (dump.prepare.execfd as { fd: number; script: string }[]).map((f) => {
    const file = join(scratch, `fd-${f.fd}`);
    writeFileSync(file, run('/usr/bin/bash', ['-r', '-c', f.script]));
    return { fd: f.fd, file };
  });
  let open: number[] = [];
  return {
    argv: [DEFAULT_BWRAP, ...dump.bwrap, '/bin/true'],
    stdio: () => {
      const stdio: (number | 'ignore' | 'inherit')[] = ['ignore', 'ignore', 'inherit'];
      open = files.map(({ fd, file }) => (stdio[fd] = openSync(file, 'r')));
      return stdio as StdioOptions;
    },
    close: () => {
      for (const fd of open.splice(0)) closeSync(fd);
    },
  };
}

/** The cached plans of the bench's nodes (wrap/launch-cache.ts), removed with the scratch directory. */
function forgetPlans(leaf: string): void {
  const dir = launchCacheDir();
  if (!dir || !existsSync(dir)) return;
  const stem = planFileName(planKey(leaf, false, process.getuid!())).replace(/\.plan$/, '');
  for (const name of readdirSync(dir)) if (name.startsWith(`${stem}.`)) rmSync(join(dir, name), { force: true });
}

function measureFamily(title: string, leaf: string, scratch: string): Row[] {
  const rows: Row[] = [];
  // The first launch compiles and caches the plan (full CLI); every later one takes the fast path.
  run(REDWRAP, ['--redpath', leaf, '--', '/bin/true']);
  const bare = bareBwrap(leaf, scratch);
  const bareTime = timeRuns(runs, () => {
    const result = spawnSync(bare.argv[0], bare.argv.slice(1), { stdio: bare.stdio() });
    bare.close();
    return result;
  });
  const bareRss = peakRss(bare.argv, bare.stdio());
  bare.close();
  rows.push({ name: `${title}: bwrap, same arguments`, ...bareTime, rssKb: bareRss });
  const fast = timeRuns(runs, () => spawnSync(REDWRAP, ['--redpath', leaf, '--', '/bin/true'], { stdio: 'ignore' }));
  rows.push({ name: `${title}: redwrap`, ...fast, rssKb: peakRss([REDWRAP, '--redpath', leaf, '--', '/bin/true']) });
  const full = timeRuns(Math.min(runs, 10), () =>
    spawnSync('node', [join(ROOT, 'dist/src/cli/start.cjs'), 'redwrap', '--redpath', leaf, '--', '/bin/true'], { stdio: 'ignore' }),
  );
  rows.push({ name: `${title}: redwrap, full CLI (first launch, or after a config change)`, ...full });
  return rows;
}

function peers(scratch: string): Row[] {
  const rows: Row[] = [];
  const rootfs = join(scratch, 'peer-rootfs');
  for (const dir of ['usr', 'proc', 'dev', 'tmp', 'etc', 'sys']) mkdirSync(join(rootfs, dir), { recursive: true });
  for (const link of ['bin', 'lib', 'lib64', 'sbin']) spawnSync('ln', ['-s', `usr/${link}`, join(rootfs, link)]);
  writeFileSync(join(rootfs, 'etc/os-release'), 'ID=bench\n');
  if (existsSync('/usr/bin/systemd-nspawn')) {
    const argv = ['systemd-nspawn', '-q', '-D', rootfs, '--bind-ro=/usr', '--register=no', '--keep-unit', '--pipe', '/bin/true'];
    try {
      rows.push({ name: 'systemd-nspawn', ...timeRuns(Math.min(runs, 30), () => spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' })), rssKb: peakRss(argv) });
    } catch (error) {
      rows.push({ name: 'systemd-nspawn', note: `does not run here: ${(error as Error).message}` });
    }
  } else rows.push({ name: 'systemd-nspawn', note: 'not installed (apt-get install systemd-container)' });
  if (existsSync('/usr/bin/lxc-execute')) {
    const config = join(scratch, 'lxc.conf');
    writeFileSync(
      config,
      [
        `lxc.rootfs.path = dir:${rootfs}`,
        'lxc.mount.entry = /usr usr none ro,bind 0 0',
        'lxc.net.0.type = empty',
        'lxc.cgroup.relative = 1',
        'lxc.apparmor.profile = unconfined',
        '',
      ].join('\n'),
    );
    const argv = ['lxc-execute', '-n', `bench-${process.pid}`, '-f', config, '-P', scratch, '--', '/bin/true'];
    try {
      rows.push({ name: 'lxc-execute', ...timeRuns(Math.min(runs, 30), () => spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' })), rssKb: peakRss(argv) });
    } catch (error) {
      rows.push({ name: 'lxc-execute', note: `does not run here: ${(error as Error).message}` });
    }
  } else rows.push({ name: 'lxc-execute', note: 'not installed (apt-get install lxc)' });
  if (existsSync('/usr/bin/podman')) {
    const argv = ['podman', 'run', '--rm', '--rootfs', rootfs, '-v', '/usr:/usr:ro', '--network=none', '/bin/true'];
    const probe = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    rows.push(
      probe.status === 0
        ? { name: 'podman', ...timeRuns(Math.min(runs, 10), () => spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' })) }
        : { name: 'podman', note: `does not run here: ${(probe.stderr || '').trim().split('\n').pop()}` },
    );
  } else rows.push({ name: 'podman', note: 'not installed' });
  return rows;
}

function main(): void {
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-bench-'));
  try {
    const demo = join(scratch, 'demo', 'platform', 'app');
    run(REDMANAGER, ['create-node', '--redpath', join(scratch, 'demo', 'platform')]);
    run(REDMANAGER, ['create-node', '--redpath', demo]);
    const minimalConfig = join(scratch, 'minimal.yaml');
    writeFileSync(
      minimalConfig,
      [
        'headers:',
        '  alias: minimal',
        'exports:',
        '  - {mode: Restricted, mount: /usr}',
        '  - {mode: Symlink, mount: /bin, path: usr/bin}',
        '  - {mode: Symlink, mount: /lib, path: usr/lib}',
        '  - {mode: Symlink, mount: /lib64, path: usr/lib64}',
        '  - {mode: Procfs, mount: /proc}',
        '  - {mode: Devfs, mount: /dev}',
        '  - {mode: Tmpfs, mount: /tmp}',
        '',
      ].join('\n'),
    );
    const minimal = join(scratch, 'minimal', 'node');
    run(REDMANAGER, ['create-node', '--redpath', minimal, '--no-system-node', '--config', minimalConfig]);

    let rows: Row[];
    try {
      rows = [...measureFamily('demo family', demo, scratch), ...measureFamily('minimal node', minimal, scratch), ...peers(scratch)];
    } finally {
      forgetPlans(demo);
      forgetPlans(minimal);
    }
    const bareOf = (name: string) => rows.find((r) => r.name === `${name.split(':')[0]}: bwrap, same arguments`);
    console.log(`redwrap launch latency, ${runs} launches of /bin/true (median, p90 in ms), peak RSS in MB\n`);
    console.log(`${'what'.padEnd(64)} ${'median'.padStart(7)} ${'p90'.padStart(7)} ${'×bwrap'.padStart(7)} ${'RSS'.padStart(6)}`);
    for (const row of rows) {
      if (row.median === undefined) {
        console.log(`${row.name.padEnd(64)} ${row.note}`);
        continue;
      }
      const bare = bareOf(row.name) ?? rows.find((r) => r.name === 'minimal node: bwrap, same arguments')!;
      const ratio = row.median / bare.median!;
      const rss = row.rssKb ? (row.rssKb / 1024).toFixed(1) : '-';
      console.log(`${row.name.padEnd(64)} ${row.median.toFixed(2).padStart(7)} ${row.p90!.toFixed(2).padStart(7)} ${ratio.toFixed(2).padStart(7)} ${rss.padStart(6)}`);
    }
    console.log('\n×bwrap: against bwrap with the same arguments for the family rows, against the minimal node\'s bwrap for the peers.');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main();
