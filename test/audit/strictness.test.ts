/** `redmanager check` and the no-loosening rule: each loosening is a merge finding (class 25) at the child's file and line. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkTree } from '../../src/audit/check.js';
import { makeNode, pinnedHost, tempDir } from '../helpers/family.js';
import { lineOf } from './helpers.js';

describe('check: no child loosens a parent', () => {
  it('reports a child loosening its ancestor, in normal and in admin mode, as class merge (25)', async (t) => {
    const dir = tempDir(t);
    const root = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      'headers:\n  alias: ROOT\nconfig:\n  umask: "027"\nexports:\n- mode: Restricted\n  mount: /data\n  path: /srv\n',
      'headers:\n  alias: ROOT\n',
    );
    const sub = makeNode(
      dir,
      join(root, 'sub'),
      'SUB',
      'headers:\n  alias: SUB\nconfig:\n  umask: "022"\n',
      'headers:\n  alias: SUB\nexports:\n- mode: Public\n  mount: /data/\n  path: /srv\n',
    );
    const result = await checkTree({
      redroot: root,
      host: pinnedHost(),
      packages: false,
      files: false,
      cgroups: false,
    });
    const [subNormal, subAdmin] = [join(sub, 'etc/redpak.yaml'), join(sub, 'etc/redpak-admin.yaml')];
    assert.equal(result.exitCode, 25);
    const merge = result.findings
      .filter((f) => f.class === 'merge')
      .map((f) => [f.node, f.mode ?? 'normal', f.at?.file, f.at?.line]);
    assert.deepEqual(merge, [
      [sub, 'normal', subNormal, lineOf(subNormal, /umask/)],
      [sub, 'admin', subAdmin, lineOf(subAdmin, /mode: Public/)],
    ]);
    const adminMessage = result.findings.find((f) => f.mode === 'admin')!.message;
    assert.match(
      adminMessage,
      new RegExp(
        `SUB \\(${sub}\\) \\(admin\\) loosens its ancestor ROOT \\(${root}\\): export /data: Public at ${subAdmin}:\\d+ against export /data: Restricted at ${join(root, 'etc/redpak.yaml')}:\\d+`,
      ),
    );
  });
});
