/**
 * On an rpm-based host (redpesk, Fedora) the host's own database is the top of every family's
 * view: what the host has installed is never installed again into a node. The product runs in a
 * simulated rpm-based root: the machine's root filesystem seen from a private mount namespace,
 * with a /var/lib/rpm of its own (a real rpm database holding libredfoo and the host's capabilities) —
 * this host is Debian, and no database is ever written in its own /var/lib/rpm.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasRpmDb } from '../../src/pkg/rpm.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { installedNames, makeSystemNode } from './helpers/family.js';
import { makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const WITHOUT_ROOT =
  process.getuid?.() !== 0 ? 'entering a simulated root with its own /var/lib/rpm needs root' : undefined;

/**
 * redwrap-dnf run inside the simulated rpm-based root: a private mount namespace (unshare) where a
 * tmpfs covers /var/lib and the fake host database is bound at /var/lib/rpm. Plain mounts rather
 * than bubblewrap: the product's own staged overlay is then mounted as on a real host (overlayfs
 * refuses to stack under bubblewrap's bind of /).
 */
function dnfOnRpmHost(hostRoot: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /var/lib',
    'mkdir /var/lib/rpm',
    'mount --bind "$1" /var/lib/rpm',
    'shift',
    'exec "$@"',
  ].join('\n');
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      join(hostRoot, 'var/lib/rpm'),
      join(PACKAGE_ROOT, 'bin/redwrap-dnf'),
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('an rpm-based host', { skip: WITHOUT_ROOT }, () => {
  let f: NodeFamily;
  let hostRoot: string;
  before(async () => {
    f = await makeNodeFamily();
    hostRoot = mkdtempSync(join(tmpdir(), 'redpak-rpmhost-'));
    await makeSystemNode(hostRoot, ['libredfoo-1.0']);
  });
  after(() => {
    f.cleanup();
    rmSync(hostRoot, { recursive: true, force: true });
  });

  it('control: outside the simulated root, the same request pulls the library into the family', () => {
    const plan = spawnSync(
      join(PACKAGE_ROOT, 'bin/redwrap-dnf'),
      ['--redpath', f.app, '--assumeno', 'install', 'redhello', '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(plan.status, 0, plan.stderr);
    assert.ok(
      JSON.parse(plan.stdout).packages.some((p: { name: string }) => p.name === 'libredfoo'),
      plan.stdout,
    );
  });

  it("never installs into a node what the host's database has", async () => {
    const asked = dnfOnRpmHost(hostRoot, ['--redpath', f.app, '-y', 'install', 'libredfoo', '--json']);
    assert.equal(asked.status, 8, asked.stdout + asked.stderr);
    assert.match(JSON.parse(asked.stdout).error.message, /package libredfoo is already installed in ancestor node \/;/);
    const app = dnfOnRpmHost(hostRoot, ['--redpath', f.app, '-y', 'install', 'redhello', '--json']);
    assert.equal(app.status, 0, app.stdout + app.stderr);
    const names = JSON.parse(app.stdout).packages.map((p: { name: string }) => p.name);
    assert.ok(names.includes('redhello'), app.stdout);
    assert.ok(!names.includes('libredfoo'), "libredfoo.so.1 comes from the host's database");
    assert.deepEqual(await installedNames(f.app), [...names].sort());
    assert.deepEqual(await installedNames(f.platform), []);
    assert.equal(hasRpmDb('/'), false, "the real host's /var/lib/rpm holds no database");
  });
});
