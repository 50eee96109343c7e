/**
 * Launch latency and memory of `redwrap --redpath LEAF -- /bin/true`, interleaved with bwrap run
 * directly with the same arguments (the floor), and with the other container runtimes where they
 * run here.
 *
 *   npm run build && node dist/bench/launch.js [--rounds 100]
 *
 * Two families: the demo family (system → platform → app from the shipped templates, whose
 * system node has two Execfd exports, /etc/passwd and /etc/group, run at every launch), and a
 * minimal one (a single node exporting /usr read-only, /proc, /dev, /tmp) that isolates what the
 * launcher itself costs. `redwrap` is the installed executable (bin/redwrap: the C launcher, which
 * serves the launch from the cached plan); "full CLI" is the Node.js path a first launch, or one
 * after a config change, takes. Memory is the peak resident set of the whole chain (bench/lib.ts).
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync, type StdioOptions } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BWRAP } from '../src/system/bwrap-path.js';
import { callerCacheDir } from '../src/system/caller-cache.js';
import { planFileName, planKey } from '../src/wrap/launch-cache.js';
import { compare, type Contender, numberFlag, type Row, runWhenMain } from './lib.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const REDMANAGER = join(ROOT, 'bin/redmanager');
const REDWRAP = join(ROOT, 'bin/redwrap');

function run(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** bwrap with the arguments redwrap would give it, its Execfd files prepared beforehand. */
function bareBwrap(name: string, leaf: string, scratch: string): Contender {
  const dump = JSON.parse(run(REDWRAP, ['--redpath', leaf, '--dump-only', '--json', '--', '/bin/true'])) as {
    bwrap: string[];
    prepare: { execfd: { fd: number; script: string }[] };
  };
  const files = dump.prepare.execfd.map((f) => {
    const file = join(scratch, `${name.replace(/\W/g, '_')}-fd-${f.fd}`);
    writeFileSync(file, run('/usr/bin/bash', ['-r', '-c', f.script]));
    return { fd: f.fd, file };
  });
  let open: number[] = [];
  return {
    name,
    argv: [DEFAULT_BWRAP, ...dump.bwrap, '/bin/true'],
    before: () => {
      const stdio: (number | 'ignore')[] = ['ignore', 'ignore', 'ignore'];
      open = files.map(({ fd, file }) => {
        const opened = openSync(file, 'r');
        stdio[fd] = opened;
        return opened;
      });
      return stdio as StdioOptions;
    },
    after: () => {
      for (const fd of open.splice(0)) closeSync(fd);
    },
  };
}

/** The cached plans of the bench's nodes (wrap/launch-cache.ts), removed with the scratch directory. */
function forgetPlans(leaf: string): void {
  const dir = callerCacheDir();
  const uid = process.getuid?.() ?? 0;
  if (!dir || !existsSync(dir)) return;
  const stem = planFileName(planKey(leaf, false, uid)).replace(/\.plan$/, '');
  for (const name of readdirSync(dir)) if (name.startsWith(`${stem}.`)) rmSync(join(dir, name), { force: true });
}

function measureFamily(title: string, leaf: string, scratch: string, rounds: number): Row[] {
  // The first launch compiles and caches the plan (full CLI); every later one takes the fast path.
  run(REDWRAP, ['--redpath', leaf, '--', '/bin/true']);
  const contenders: Contender[] = [
    bareBwrap(`${title}: bwrap, same arguments`, leaf, scratch),
    { name: `${title}: redwrap`, argv: [REDWRAP, '--redpath', leaf, '--', '/bin/true'] },
    {
      name: `${title}: redwrap, full CLI`,
      argv: [process.execPath, join(ROOT, 'dist/src/cli/start.cjs'), 'redwrap', '--redpath', leaf, '--', '/bin/true'],
    },
  ];
  return compare('launch', contenders, rounds, { rss: true });
}

/** Other runtimes starting /bin/true in a rootfs with /usr, where they are installed and run here. */
function peers(scratch: string, floor: Contender, rounds: number): Row[] {
  const rootfs = join(scratch, 'peer-rootfs');
  for (const dir of ['usr', 'proc', 'dev', 'tmp', 'etc', 'sys']) mkdirSync(join(rootfs, dir), { recursive: true });
  for (const link of ['bin', 'lib', 'lib64', 'sbin']) spawnSync('ln', ['-s', `usr/${link}`, join(rootfs, link)]);
  writeFileSync(join(rootfs, 'etc/os-release'), 'ID=bench\n');
  const lxcConfig = join(scratch, 'lxc.conf');
  writeFileSync(
    lxcConfig,
    [
      `lxc.rootfs.path = dir:${rootfs}`,
      'lxc.mount.entry = /usr usr none ro,bind 0 0',
      'lxc.net.0.type = empty',
      'lxc.cgroup.relative = 1',
      'lxc.apparmor.profile = unconfined',
      '',
    ].join('\n'),
  );
  const candidates: { name: string; tool: string; argv: string[]; install: string }[] = [
    {
      name: 'systemd-nspawn',
      tool: '/usr/bin/systemd-nspawn',
      argv: [
        'systemd-nspawn',
        '-q',
        '-D',
        rootfs,
        '--bind-ro=/usr',
        '--register=no',
        '--keep-unit',
        '--pipe',
        '/bin/true',
      ],
      install: 'apt-get install systemd-container',
    },
    {
      name: 'lxc-execute',
      tool: '/usr/bin/lxc-execute',
      argv: ['lxc-execute', '-n', `bench-${process.pid}`, '-f', lxcConfig, '-P', scratch, '--', '/bin/true'],
      install: 'apt-get install lxc',
    },
    {
      name: 'podman',
      tool: '/usr/bin/podman',
      argv: ['podman', 'run', '--rm', '--rootfs', rootfs, '-v', '/usr:/usr:ro', '--network=none', '/bin/true'],
      install: 'apt-get install podman',
    },
  ];
  return candidates.flatMap((peer) => {
    if (!existsSync(peer.tool)) return [{ bench: 'launch', what: peer.name, note: `not installed (${peer.install})` }];
    const probe = spawnSync(peer.argv[0] ?? '', peer.argv.slice(1), { encoding: 'utf8' });
    if (probe.status !== 0) {
      return [
        {
          bench: 'launch',
          what: peer.name,
          note: `does not run here: ${(probe.stderr || '').trim().split('\n').pop()}`,
        },
      ];
    }
    return compare('launch', [floor, { name: peer.name, argv: peer.argv }], Math.min(rounds, 20), { rss: true }).slice(
      1,
    );
  });
}

export function launchBench(rounds: number): Row[] {
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-bench-'));
  const demo = join(scratch, 'demo', 'platform', 'app');
  const minimal = join(scratch, 'minimal', 'node');
  try {
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
    run(REDMANAGER, ['create-node', '--redpath', minimal, '--no-system-node', '--config', minimalConfig]);
    const minimalRows = measureFamily('minimal node', minimal, scratch, rounds);
    const demoRows = measureFamily('demo family', demo, scratch, rounds);
    return [...minimalRows, ...demoRows, ...peers(scratch, bareBwrap('minimal node: bwrap', minimal, scratch), rounds)];
  } finally {
    forgetPlans(demo);
    forgetPlans(minimal);
    rmSync(scratch, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, () => launchBench(numberFlag('--rounds', 100)));
