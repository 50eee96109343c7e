/**
 * Installable by a user: the package as `npm pack` makes it, installed by an ordinary user into
 * ~/.local with no registry (--offline: every run-time dependency is inside the tarball,
 * bundleDependencies), finds its templates, launcher and solver, and makes and runs a family in
 * the user's home. The tarball carries the LICENSE and every document the help text points to,
 * and no test or bench build. Real npm, a real user (useradd), real bwrap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT } from '../helpers/redwrap.js';
import { runAs, throwawayUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';

const WITHOUT_NPM = spawnSync('npm', ['--version']).status === 0 ? undefined : 'npm is not installed';

describe('installed by a user with npm', { skip: WITHOUT_THROWAWAY_USER ?? WITHOUT_NPM }, () => {
  it('npm pack, npm install -g --prefix ~/.local --offline as the user, then create-node and redwrap as the user', (t) => {
    const packed = tempDir(t, 'redpak-pack-');
    const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', packed], {
      cwd: PACKAGE_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(pack.status, 0, pack.stderr);
    const [{ filename, files, bundled }] = JSON.parse(pack.stdout) as {
      filename: string;
      files: { path: string }[];
      bundled: string[];
    }[];
    const paths = new Set(files.map((f) => f.path));
    for (const needed of [
      'LICENSE',
      'README.md',
      'dist/bin/redwrap-launch',
      'dist/bwrap-path',
      'templates/system-normal.yaml',
    ]) {
      assert.ok(paths.has(needed), `${needed} is in the tarball`);
    }
    assert.ok(paths.has('src/pkg/redsolver/__main__.py'), 'the solver is in the tarball');
    assert.match(readFileSync(join(PACKAGE_ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    // Every document the commands' help points to.
    for (const executable of ['redmanager', 'redwrap', 'redwrap-dnf']) {
      const manifest = readFileSync(join(PACKAGE_ROOT, 'dist/oclif', executable, 'oclif.manifest.json'), 'utf8');
      for (const doc of new Set(manifest.match(/docs\/[\w-]+\.md/g) ?? []))
        assert.ok(paths.has(doc), `${doc} is in the tarball`);
    }
    assert.equal([...paths].filter((p) => p.startsWith('dist/test/') || p.startsWith('dist/bench/')).length, 0);
    const dependencies = Object.keys(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).dependencies);
    for (const dependency of dependencies) assert.ok(bundled.includes(dependency), `${dependency} is bundled`);

    const user = throwawayUser(t);
    const tarball = join(user.home, filename);
    copyFileSync(join(packed, filename), tarball);
    chownSync(tarball, user.uid, user.gid);
    const local = join(user.home, '.local');
    const env = { PATH: `${local}/bin:/usr/local/bin:/usr/bin:/bin`, npm_config_update_notifier: 'false' };
    const install = runAs(
      user,
      ['npm', 'install', '--global', '--prefix', local, '--offline', '--no-audit', '--no-fund', tarball],
      { env, timeout: 120_000 },
    );
    assert.equal(install.status, 0, install.stderr);
    const installed = join(local, 'lib/node_modules/redpak-ts');
    assert.deepEqual(readdirSync(join(local, 'bin')).sort(), [
      'redconf',
      'redmanager',
      'redmicrodnf',
      'redwrap',
      'redwrap-dnf',
    ]);
    assert.ok(existsSync(join(installed, 'src/pkg/redsolver/__main__.py')));

    // The commands the README's "Rootless" section gives, run from the user's PATH.
    const app = join(user.home, 'r/app');
    const made = runAs(user, ['redmanager', 'create-node', '--redpath', app], { env });
    assert.equal(made.status, 0, made.stderr);
    assert.match(readFileSync(join(app, 'etc/redpak.yaml'), 'utf8'), /LEAF-NORMAL|alias: app/);
    for (let launch = 0; launch < 2; launch++) {
      const id = runAs(user, ['redwrap', '--redpath', app, '--', 'id', '-u'], { env });
      assert.equal(id.status, 0, id.stderr);
      assert.equal(id.stdout.trim(), String(user.uid));
    }
    const dnf = runAs(user, ['redwrap-dnf', '--version'], { env });
    assert.equal(dnf.status, 0, dnf.stderr);
    assert.match(dnf.stdout, /redpak-ts\/0\./);
  });
});
