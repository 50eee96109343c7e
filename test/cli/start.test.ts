/**
 * How the executables start (src/cli/start.cts): the bundle runs through V8's code cache, which is
 * written by the first run, grown when a command runs for the first time, left alone otherwise,
 * and replaced when V8 refuses it. Runs a copy of the built bundle in a temp directory, so that
 * the cache of the checkout is not touched. The quick start (src/cli/quick.ts) runs tree,
 * mergeconfig and redwrap --dump-only without the executable's bundle, and gives what oclif gives
 * for every command line, taken or declined. Also checks bin/redwrap-dnf's hand-over of
 * NODE_EXTRA_CA_CERTS, and that each built executable gives what the in-process runner the other
 * CLI tests use gives (test/helpers/in-process.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createNode } from '../../src/node/factory.js';
import { copyPackageParts, QUICK_START_PARTS, runBin, START_PARTS } from '../helpers/cli.js';
import { pinnedHost } from '../helpers/family.js';
import { runCommand } from '../helpers/in-process.js';

describe('start.cjs and the code cache', () => {
  const root = mkdtempSync(join(tmpdir(), 'redpak-start-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  copyPackageParts(root, [
    ...START_PARTS,
    'dist/cli/redwrap-dnf.cjs',
    'dist/src/pkg/solver-command.cjs',
    'dist/oclif/redwrap-dnf',
  ]);
  const cache = join(root, 'dist/cli/redwrap-dnf.cjs.v8-cache');
  const run = (...args: string[]) => {
    const result = spawnSync('node', [join(root, 'dist/src/cli/start.cjs'), 'redwrap-dnf', ...args], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  const commands = () => JSON.parse(readFileSync(`${cache}.json`, 'utf8')) as string[];
  const stamp = () => `${statSync(cache).ino}:${statSync(cache).size}`;

  it('the first run writes the cache; the same command again leaves it alone', () => {
    // --help, not --version: start.cjs answers a plain --version without the bundle.
    assert.match(run('--help'), /USAGE/);
    assert.deepEqual(commands(), ['']);
    const first = stamp();
    run('--help');
    assert.equal(stamp(), first);
  });

  it('a command not run before grows it, once', () => {
    const before = statSync(cache).size;
    assert.match(run('repolist', '--help'), /USAGE/);
    assert.deepEqual(commands(), ['', 'repolist']);
    assert.ok(statSync(cache).size > before, 'the cache holds more compiled code');
    const grown = stamp();
    run('repolist', '--help');
    assert.equal(stamp(), grown);
  });

  it('a cache V8 refuses is replaced, and the command runs all the same', () => {
    writeFileSync(cache, 'not a code cache');
    assert.match(run('--help'), /USAGE/);
    assert.notEqual(readFileSync(cache, 'utf8'), 'not a code cache');
    assert.deepEqual(commands(), ['']);
  });
});

describe('the executables and NODE_EXTRA_CA_CERTS', () => {
  it('starts Node without it (Node would load the file eagerly, and warn about a missing one)', () => {
    const plain = spawnSync('node', ['-e', '0'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    assert.match(
      plain.stderr,
      /Ignoring extra certs from `\/nonexistent\/ca.pem`/,
      'control: plain node reads it at start-up',
    );
    for (const bin of ['redwrap-dnf', 'redmanager', 'redwrap'] as const) {
      const probe = runBin(bin, ['--help'], { env: { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' } });
      assert.equal(probe.status, 0, probe.stderr);
      assert.doesNotMatch(probe.stderr, /extra certs/, bin);
    }
  });
});

describe('a usage error', () => {
  it('exits 2 with the message and the usage of the command at fault, never a stack trace', () => {
    const cases: [Parameters<typeof runBin>[0], string[], RegExp][] = [
      ['redwrap', ['--bogus'], /usage: redwrap --redpath NODE .*\[--\] PROGRAM \[ARG\.\.\.\]/],
      ['redwrap-dnf', ['--redpath', '/tmp', 'install', '--bogus'], /usage: redwrap-dnf install PACKAGES\.\.\./],
      ['redmanager', ['tree', '--bogus'], /usage: redmanager tree /],
    ];
    for (const [bin, args, usage] of cases) {
      const r = runBin(bin, args);
      assert.equal(r.status, 2, `${bin} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Nonexistent flag: --bogus/);
      assert.match(r.stdout + r.stderr, usage);
      assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'no stack trace');
    }
  });
});

describe('each built executable, and the in-process runner alike', () => {
  it('--version (redwrap: --help), a --json error, a usage error: same status, output and document', async () => {
    const notNode = mkdtempSync(join(tmpdir(), 'redpak-smoke-'));
    after(() => rmSync(notNode, { recursive: true, force: true }));
    const cases: [Parameters<typeof runBin>[0], string[], number][] = [
      ['redmanager', ['--version'], 0],
      ['redmanager', ['tree', '--redroot', notNode, '--json'], 3],
      ['redmanager', ['tree', '--redroot', notNode], 3],
      ['redmanager', ['tree', '--bogus'], 2],
      ['redwrap-dnf', ['--version'], 0],
      ['redwrap-dnf', ['--redpath', notNode, 'list', '--json'], 3],
      ['redwrap-dnf', ['--redpath', notNode, 'install', '--bogus'], 2],
      ['redwrap', ['--help'], 0],
      ['redwrap', ['--redpath', notNode, '--dump-only', '--json', '--', '/bin/true'], 3],
      ['redwrap', ['--bogus', '--json'], 2],
    ];
    for (const [bin, args, status] of cases) {
      const real = runBin(bin, args);
      const what = `${bin} ${args.join(' ')}`;
      assert.equal(real.status, status, `${what}: ${real.stderr}`);
      if (args.includes('--json')) assert.equal(typeof real.json?.error?.code, 'string', what);
      if (args.includes('--version')) assert.match(real.stdout, /^redpak-ts\/\d+\.\d+\.\d+ /, what);
      assert.deepEqual(await runCommand(bin, args), real, what);
    }
  });
});

describe('the quick start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-quick-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const host = pinnedHost();
  const root = join(dir, 'root');
  const app = join(root, 'platform/app');
  for (const redpath of [root, join(root, 'platform'), app]) createNode({ redpath, host });
  writeFileSync(join(root, 'platform/etc/redpak.yaml'), 'headers:\n  alias: "bad alias"\n');
  const quickCases: [Parameters<typeof runBin>[0], string[]][] = [
    ['redmanager', ['tree', '--redroot', root]],
    ['redmanager', ['tree', '--json', '-r', app]],
    ['redmanager', ['tree', `--redpath=${app}`]],
    ['redmanager', ['tree', '--redroot', dir, '--json']],
    ['redmanager', ['tree', '--redroot', join(dir, 'missing')]],
    ['redmanager', ['mergeconfig', '--redpath', app, '--json']],
    ['redmanager', ['mergeconfig', '--rp', app, '-a', '--expand']],
    ['redmanager', ['mergeconfig', '--redpath', join(root, 'platform'), '--json']],
    ['redwrap', ['--redpath', join(root, 'platform'), '--dump-only', '--', '/bin/true']],
    ['redwrap', ['--redpath', app, '--dump-only']],
    ['redwrap', ['--redpath', root, '--dump-only', '--json', '--', '/bin/true']],
    ['redwrap', ['--redpath', root, '-D', '--', '/bin/true']],
  ];
  const declined: [Parameters<typeof runBin>[0], string[]][] = [
    ['redmanager', ['tree', '--help']],
    ['redmanager', ['tree', '--redroot', root, '--redroot', root]],
    ['redmanager', ['tree', '--bogus']],
    ['redmanager', ['tree', '--redroot']],
    ['redmanager', ['tree', 'extra']],
    ['redmanager', ['mergeconfig', '--json']],
    ['redmanager', ['mergeconfig', '--redpath', app, '--json', '--yaml']],
    ['redmanager', ['--redpath', app, 'mergeconfig']],
    ['redmanager', ['check', '--redpath', app]],
    ['redwrap', ['--help']],
    ['redwrap', ['--redpath', app, '--dump-only', '--bogus', '--', '/bin/true']],
  ];

  it('gives what oclif gives, for the command lines it takes and those it declines', async () => {
    for (const [bin, args] of [...quickCases, ...declined]) {
      const what = `${bin} ${args.join(' ')}`;
      assert.deepEqual(runBin(bin, args), await runCommand(bin, args), what);
    }
  });

  it('runs without oclif what it takes, and declines the rest to the full bundle', () => {
    // A copy of the package without the executables' bundles: only the quick start can answer.
    const copy = join(dir, 'copy');
    copyPackageParts(copy, QUICK_START_PARTS);
    const run = (bin: Parameters<typeof runBin>[0], args: string[]) =>
      spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), bin, ...args], { encoding: 'utf8' });
    for (const [bin, args] of quickCases) {
      const result = run(bin, args);
      assert.doesNotMatch(result.stderr, /is missing: build the package first/, `${bin} ${args.join(' ')}`);
      assert.equal(result.status, runBin(bin, args).status, `${bin} ${args.join(' ')}`);
    }
    for (const [bin, args] of declined) {
      assert.match(
        run(bin, args).stderr,
        /redmanager\.cjs is missing|redwrap\.cjs is missing/,
        `${bin} ${args.join(' ')}`,
      );
    }
    // oclif's own variables are oclif's to read.
    const scoped = spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), 'redmanager', 'tree', '--redroot', root], {
      encoding: 'utf8',
      env: { ...process.env, REDMANAGER_CONTENT_TYPE: 'json' },
    });
    assert.match(scoped.stderr, /redmanager\.cjs is missing/);
    // The product's own are not: without the read caches, the quick start still answers.
    for (const [bin, args] of quickCases) {
      const uncached = spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), bin, ...args], {
        encoding: 'utf8',
        env: { ...process.env, REDWRAP_NO_CACHE: '1' },
      });
      assert.doesNotMatch(uncached.stderr, /is missing: build the package first/, `${bin} ${args.join(' ')}`);
    }
  });
});

describe('the quick start of a launch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-quick-launch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const node = join(dir, 'node');
  createNode({ redpath: node, host: pinnedHost() });

  it('runs it without oclif as oclif runs it: output, status, warnings, --json, errors', () => {
    // A copy of the package without redwrap's bundle: only the quick start can answer.
    const copy = join(dir, 'copy');
    copyPackageParts(copy, [...QUICK_START_PARTS, 'dist/bwrap-path']);
    const launches: string[][] = [
      ['--redpath', node, '--', '/bin/sh', '-c', 'echo out; echo err >&2; exit 3'],
      ['--redpath', node, '--json', '--', '/bin/true'],
      ['--rp', node, '--strict', '--', '/bin/sh', '-c', 'kill -TERM $$'],
      ['--redpath', join(dir, 'missing'), '--', '/bin/true'],
      ['--redpath', join(dir, 'missing'), '--json', '--', '/bin/true'],
    ];
    for (const args of launches) {
      const what = args.join(' ');
      const quick = spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), 'redwrap', ...args], {
        encoding: 'utf8',
        env: { ...process.env, REDWRAP_NO_CACHE: '1' },
      });
      assert.doesNotMatch(quick.stderr, /is missing: build the package first/, what);
      // Under a variable of oclif's the quick start leaves the line to oclif: the full bundle's launch.
      const full = runBin('redwrap', args, { env: { REDWRAP_NO_CACHE: '1', REDWRAP_OCLIF_SCOPED: '1' } });
      assert.deepEqual([quick.status, quick.stdout, quick.stderr], [full.status, full.stdout, full.stderr], what);
    }
  });
});

describe('--version alone', () => {
  it('is answered by start.cjs without any bundle, with the line oclif prints; anything more goes to the bundle', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'redpak-version-'));
    try {
      copyPackageParts(copy, [...START_PARTS, 'dist/src/cli/version-line.cjs']);
      const run = (bin: string, args: string[]) =>
        spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), bin, ...args], { encoding: 'utf8' });
      for (const bin of ['redmanager', 'redwrap-dnf', 'redwrap'] as const) {
        const quick = run(bin, ['--version']);
        const oclif = await runCommand(bin, ['--version']);
        assert.equal(oclif.status, 0, oclif.stderr);
        assert.deepEqual([quick.status, quick.stdout, quick.stderr], [0, oclif.stdout, ''], bin);
        assert.match(run(bin, ['--version', '--json']).stderr, /\.cjs is missing: build the package first/, bin);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
