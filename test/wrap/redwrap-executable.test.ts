/**
 * What `redwrap` is once installed: package.json `bin` (and bin/redwrap in a checkout) names
 * dist/bin/redwrap-launch, the C fast launcher itself, so that a launch starts no shell; where no
 * C compiler was found, the build puts a script running the full CLI at the same path.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LAUNCHER, PACKAGE_ROOT, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';

describe('the redwrap executable', () => {
  it('package.json bin and bin/redwrap name the launcher', () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(join(PACKAGE_ROOT, pkg.bin.redwrap), LAUNCHER);
    assert.equal(realpathSync(join(PACKAGE_ROOT, 'bin/redwrap')), realpathSync(LAUNCHER));
  });

  it('is the compiled launcher, not a script', { skip: WITHOUT_FAST_LAUNCHER }, () => {
    assert.notEqual(readFileSync(LAUNCHER).subarray(0, 2).toString(), '#!');
  });

  describe('built without a C compiler', () => {
    const root = mkdtempSync(join(tmpdir(), 'redpak-nocc-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    const copied = [
      'package.json',
      'scripts/build-launcher.sh',
      'scripts/redwrap-full-cli.sh',
      'src/launcher/redwrap-launch.c',
      'dist/src/cli/start.cjs',
      'dist/src/cli/bundle-loader.cjs',
      'dist/cli/redwrap.cjs',
      'dist/oclif/redwrap',
    ];
    for (const path of copied) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      cpSync(join(PACKAGE_ROOT, path), join(root, path), { recursive: true });
    }

    it('puts a script running the full CLI in its place', () => {
      const build = spawnSync('sh', [join(root, 'scripts/build-launcher.sh')], {
        encoding: 'utf8',
        env: { ...process.env, CC: 'no-such-cc' },
      });
      assert.equal(build.status, 0, build.stderr);
      assert.match(build.stderr, /no C compiler/);
      const launcher = join(root, 'dist/bin/redwrap-launch');
      assert.equal(readFileSync(launcher, 'utf8').slice(0, 2), '#!');
      const help = spawnSync(launcher, ['--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /--redpath/);
    });
  });
});
