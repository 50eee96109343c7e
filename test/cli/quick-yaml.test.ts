/**
 * The YAML library is a bundle of its own, dist/cli/yaml.cjs, loaded at its first use
 * (src/config/yaml-library.ts, scripts/build-bundles.mjs): tree, mergeconfig --json and
 * --dump-only on plain node files, read by config/yaml-scan.ts, never open it; a config in flow
 * style, a YAML error and mergeconfig's YAML output load it, and give what the full command line
 * gives. Its code cache grows by the commands that used it, as a bundle's does. Watched with
 * strace on the real executables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { createNode } from '../../src/node/factory.js';
import { copyPackageParts, PACKAGE_ROOT, QUICK_START_PARTS } from '../helpers/cli.js';
import { pinnedHost } from '../helpers/family.js';
import { runCommand, type Executable } from '../helpers/in-process.js';
import { hasStrace, traceBin, type Traced } from '../helpers/strace.js';
import { installedNames } from '../pkg/helpers/family.js';
import { makeNodeFamily } from '../pkg/helpers/nodes.js';

/** Whether a run opened dist/cli/NAME. */
const opened = (r: Traced, name: string) =>
  r.lines.some((l) => l.includes('openat(') && l.includes(`dist/cli/${name}"`));

/** A family root <- platform <- app, with node files as create-node writes them; `edit` rewrites app's. */
function family(dir: string, edit?: (text: string) => string): { root: string; app: string } {
  const root = join(dir, 'root');
  const app = join(root, 'platform/app');
  for (const redpath of [root, join(root, 'platform'), app]) createNode({ redpath, host: pinnedHost() });
  const config = join(app, 'etc/redpak.yaml');
  if (edit) writeFileSync(config, edit(readFileSync(config, 'utf8')));
  return { root, app };
}

describe('the YAML library, loaded at its first use', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-quick-yaml-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const plain = family(join(dir, 'plain'));
  // JSON is YAML in flow style: the scanner declines it, the library reads it.
  const flow = family(join(dir, 'flow'), (text) => `${JSON.stringify(parse(text))}\n`);
  const broken = family(join(dir, 'broken'), (text) => `${text}  name: [not closed\n`);
  // Without the read caches (docs/read-caches.md), so that each run reads the node files.
  const env = { REDWRAP_NO_CACHE: '1' };
  const trace = (bin: Executable, args: string[]) => traceBin(bin, args, { syscalls: ['openat'], env });

  it('is not opened by tree, mergeconfig --json and --dump-only on plain node files', () => {
    const lines: [Executable, string[]][] = [
      ['redmanager', ['tree', '--redroot', plain.root]],
      ['redmanager', ['tree', '--redroot', plain.root, '--json']],
      ['redmanager', ['mergeconfig', '--redpath', plain.app, '--json']],
      ['redwrap', ['--redpath', plain.app, '--dump-only', '--', '/bin/true']],
      ['redwrap', ['--redpath', plain.app, '--dump-only', '--json', '--', '/bin/true']],
    ];
    for (const [bin, args] of lines) {
      const r = trace(bin, args);
      const what = `${bin} ${args.join(' ')}`;
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.ok(opened(r, 'quick.cjs'), `${what}: the quick start ran`);
      assert.ok(!opened(r, 'yaml.cjs'), `${what}: the YAML library was not loaded`);
    }
  });

  it('is loaded for a config in flow style, a YAML error and mergeconfig YAML, which give what the full command line gives', async () => {
    const config = join(broken.app, 'etc/redpak.yaml');
    const lines: [Executable, string[], number][] = [
      ['redmanager', ['mergeconfig', '--redpath', plain.app], 0],
      ['redmanager', ['mergeconfig', '--redpath', flow.app, '--json'], 0],
      ['redmanager', ['tree', '--redroot', flow.root, '--json'], 0],
      ['redwrap', ['--redpath', flow.app, '--dump-only', '--', '/bin/true'], 0],
      ['redmanager', ['mergeconfig', '--redpath', broken.app], 4],
      ['redmanager', ['mergeconfig', '--redpath', broken.app, '--json'], 4],
      ['redwrap', ['--redpath', broken.app, '--dump-only', '--', '/bin/true'], 4],
    ];
    for (const [bin, args, status] of lines) {
      const r = trace(bin, args);
      const what = `${bin} ${args.join(' ')}`;
      assert.equal(r.status, status, `${what}: ${r.stderr}`);
      assert.ok(opened(r, 'quick.cjs') && opened(r, 'yaml.cjs'), `${what}: the quick start loaded the YAML library`);
      const full = await runCommand(bin, args, { env });
      assert.deepEqual([r.status, r.stdout, r.stderr], [full.status, full.stdout, full.stderr], what);
      if (status !== 0 && args.includes('--json')) {
        const { at } = JSON.parse(r.stdout).error;
        assert.ok(at.file === config && at.line > 0, `${what}: names the file and line`);
      } else if (status !== 0)
        assert.match(r.stderr, new RegExp(`${config}:\\d+:`), `${what}: names the file and line`);
    }
    const tree = trace('redmanager', ['tree', '--redroot', flow.root, '--json']);
    assert.equal(JSON.parse(tree.stdout).children?.[0]?.children?.[0]?.alias, 'app', 'the flow config was read');
  });

  it('is not opened by a transaction of the redwrap-dnf quick start', async () => {
    const f = await makeNodeFamily();
    try {
      const r = trace('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello']);
      assert.equal(r.status, 0, r.stderr);
      assert.ok((await installedNames(f.app)).includes('redhello'), 'control: it installed');
      assert.ok(opened(r, 'quick-dnf.cjs') && !opened(r, 'yaml.cjs'), 'the quick start ran without the YAML library');
    } finally {
      await f.cleanup();
    }
  });

  it('is in no bundle but its own', () => {
    // A message of the library's own composer, in whatever bundle holds its code.
    const marker = 'Implicit map keys need to be followed by map values';
    const bundle = (name: string) => readFileSync(join(PACKAGE_ROOT, 'dist/cli', `${name}.cjs`), 'utf8');
    assert.ok(bundle('yaml').includes(marker), 'control: the marker is the library');
    for (const name of ['quick', 'quick-dnf', 'redmanager', 'redwrap', 'redwrap-dnf'])
      assert.ok(!bundle(name).includes(marker), `${name}.cjs holds no copy of the YAML library`);
  });

  it('has a code cache of its own, written by the first command that uses it and grown by each other one', () => {
    const copy = join(dir, 'copy');
    copyPackageParts(copy, QUICK_START_PARTS);
    const cache = join(copy, 'dist/cli/yaml.cjs.v8-cache');
    const run = (...args: string[]) => {
      const r = spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), 'redmanager', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const commands = () => JSON.parse(readFileSync(`${cache}.json`, 'utf8')) as string[];
    const stamp = () => `${statSync(cache).ino}:${statSync(cache).size}`;
    run('mergeconfig', '--redpath', plain.app, '--json');
    assert.ok(!existsSync(cache), 'a command that did not use it writes no cache');
    assert.match(run('mergeconfig', '--redpath', plain.app), /^headers:/m);
    assert.deepEqual(commands(), ['quick redmanager mergeconfig']);
    const first = stamp();
    run('mergeconfig', '--redpath', plain.app);
    assert.equal(stamp(), first, 'the same command again leaves it alone');
    run('tree', '--redroot', flow.root);
    assert.deepEqual(commands(), ['quick redmanager mergeconfig', 'quick redmanager tree']);
  });
});
