/** redconf and redmicrodnf, the executables redpak users type, run for real (bin/redconf, bin/redmicrodnf). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/family.js';

const run = (bin: 'redconf' | 'redmicrodnf', args: string[], cwd = PACKAGE_ROOT) =>
  spawnSync(join(PACKAGE_ROOT, 'bin', bin), args, {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, REDPAK_DNF_CONF: '' },
  });

describe('redconf and redmicrodnf', () => {
  it('redconf creates, shows and merges nodes with its own argument forms', (t) => {
    const dir = tempDir(t);
    const created = spawnSync(join(PACKAGE_ROOT, 'bin/redmanager'), ['create-node', '--redpath', join(dir, 'r/plat')], {
      encoding: 'utf8',
    });
    assert.equal(created.status, 0, created.stderr);
    const app = run('redconf', ['create', '-R', join(dir, 'r'), 'plat/app', '-a', 'myapp']);
    assert.equal(app.status, 0, app.stderr);
    assert.ok(existsSync(join(dir, 'r/plat/app/etc/redpak.yaml')));
    const tree = run('redconf', ['tree', join(dir, 'r')]);
    assert.equal(tree.status, 0, tree.stderr);
    assert.match(tree.stdout, /└── plat {2}\(plat\)\n {10}└── app {2}\(myapp\)/);
    const merged = run('redconf', ['-y', 'mergeconfig', join(dir, 'r/plat/app')]);
    assert.equal(merged.status, 0, merged.stderr);
    assert.match(merged.stdout, /merged config of myapp/);
    const config = run('redconf', ['config'], join(dir, 'r/plat/app'));
    assert.equal(config.status, 0, config.stderr);
    assert.match(config.stdout, /alias: myapp/);
    const bad = run('redconf', ['tre']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^redconf: error: unknown command 'tre'/);
  });

  it('redmicrodnf is redwrap-dnf under redpak name, with its global options', (t) => {
    const dir = tempDir(t);
    const plat = join(dir, 'r/plat');
    assert.equal(spawnSync(join(PACKAGE_ROOT, 'bin/redwrap-dnf'), ['--redpath', plat, 'manager']).status, 0);
    const list = run('redmicrodnf', [`--redpath=${plat}`, '--installrootnode=/', '--noplugins', 'repolist', '--json']);
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).repos, []);
    const typo = run('redmicrodnf', [`--redpath=${plat}`, 'instal', 'x']);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^redmicrodnf: error: unknown command 'instal'\n {2}hint: did you mean 'install'/);
    const help = run('redmicrodnf', ['--help']);
    assert.match(help.stdout, /\$ redmicrodnf \[COMMAND\]/);
  });
});
