// The library used as a package, by name, as docs/api.md shows it: no command line involved.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Family, HostFacts, LaunchPlan, MergedConfig } from 'redpak-ts';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { tempDir } from '../helpers/family.js';

test('the package name resolves, through package.json exports, to the compiled library', () => {
  assert.equal(import.meta.resolve('redpak-ts'), pathToFileURL(join(PACKAGE_ROOT, 'dist/src/index.js')).href);
  assert.ok(existsSync(join(PACKAGE_ROOT, 'dist/src/index.d.ts')), 'the types the package declares exist');
});

test('importing the package loads no command-line code (oclif, listr2, src/cli)', () => {
  // A module resolve hook in a child process lists every module the import pulls in.
  const hooks = `export async function resolve(specifier, context, next) {
    const resolved = await next(specifier, context);
    process.stderr.write('resolved ' + resolved.url + '\\n');
    return resolved;
  }`;
  const register = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;
  const importHook = `data:text/javascript,${encodeURIComponent(register)}`;
  const argv = ['--import', importHook, '--input-type=module', '-e', "await import('redpak-ts')"];
  const child = spawnSync(process.execPath, argv, { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const loaded = child.stderr.split('\n').filter((line) => line.startsWith('resolved '));
  assert.ok(
    loaded.some((line) => line.endsWith('/dist/src/index.js')),
    'the hook saw the library load',
  );
  assert.ok(
    loaded.some((line) => line.includes('/node_modules/')),
    'the hook saw its dependencies load',
  );
  assert.deepEqual(
    loaded.filter((line) => /@oclif|listr2|\/dist\/src\/cli\//.test(line)),
    [],
  );
});

test('create a family, load it, merge it and compile a launch plan, through the package API', async (t) => {
  const api = await import('redpak-ts');
  const dir = tempDir(t, 'redpak-api-');
  const app = join(dir, 'family/app');
  const host: HostFacts = api.inspectionHostFacts({
    env: { USER: 'tester', HOME: '/home/tester', HOSTNAME: 'testhost' },
    uid: 1000,
    gid: 1000,
    now: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
  });

  const created = api.createNode({ redpath: app, alias: 'app', host });
  assert.deepEqual(
    created.map((n) => [n.alias, n.path]),
    [
      ['system', join(dir, 'family')],
      ['app', app],
    ],
    'a node without an ancestor gets its parent as the system node',
  );

  const family: Family = api.loadFamily(app);
  assert.deepEqual(
    family.nodes.map((n) => n.alias),
    ['app', 'system'],
  );
  assert.match(api.renderTree(api.loadTree(join(dir, 'family'))), /└── app {2}\(app\)/);

  const merged: MergedConfig = api.mergeFamily(family, { host });
  assert.equal(merged.leaf.alias, 'app');
  assert.deepEqual(
    merged.family.map((n) => n.alias),
    ['app', 'system'],
  );

  const probe = api.probeHost(api.Sysroot.open(undefined));
  const plan: LaunchPlan = api.compileLaunchPlan(family, merged, { host, probe });
  const database = plan.args.indexOf(join(app, 'var/lib/rpm'));
  const binding = plan.args.slice(database - 1, database + 2);
  assert.deepEqual(binding, ['--bind', join(app, 'var/lib/rpm'), '/var/lib/rpm'], 'the node sees its own rpm database');
  const from = plan.provenance.filter((p) => p.arg <= database).at(-1);
  assert.ok(from, 'the binding has a provenance');
  assert.equal(api.originJson(from.origin).alias, 'app');
});

test('failures are the package RedpakError, with a stable code', async (t) => {
  const api = await import('redpak-ts');
  const dir = tempDir(t, 'redpak-api-');
  assert.throws(
    () => api.loadFamily(dir),
    (error: unknown) => error instanceof api.RedpakError && error.code === 'not-a-node' && error.message.includes(dir),
  );
});
