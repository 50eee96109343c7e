/**
 * Where create-node finds its templates: redpak's own directory (`$NODE_PREFIX/etc/redpak/templates.d`)
 * before the shipped ones, redpak's `root-*` names for the system templates, and the shipped
 * templates for what that directory lacks.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BUILTIN_TEMPLATE_DIR, createNode, resolveTemplate, templateDirs } from '../../src/node/factory.js';
import { pinnedHost, tempDir } from '../helpers/family.js';

describe('template directories', () => {
  it("looks in redpak's templates.d first, takes root-* for the system templates, and falls back to the shipped ones", (t) => {
    const prefix = tempDir(t);
    const upstream = join(prefix, 'etc/redpak/templates.d');
    mkdirSync(upstream, { recursive: true });
    // redpak's names: root-normal/root-admin; a leaf-normal of the site's own.
    for (const kind of ['normal', 'admin'])
      cpSync(join(BUILTIN_TEMPLATE_DIR, `system-${kind}.yaml`), join(upstream, `root-${kind}.yaml`));
    const siteLeaf = readFileSync(join(BUILTIN_TEMPLATE_DIR, 'leaf-normal.yaml'), 'utf8').replace(
      /^config:\n/m,
      'config:\n  hostname: site-template\n',
    );
    writeFileSync(join(upstream, 'leaf-normal.yaml'), siteLeaf);
    const host = pinnedHost({ env: { ...pinnedHost().env, NODE_PREFIX: prefix } });
    assert.deepEqual(templateDirs({ host }), [upstream, BUILTIN_TEMPLATE_DIR]);
    assert.deepEqual(templateDirs({ host: pinnedHost() }).slice(-1), [BUILTIN_TEMPLATE_DIR]);

    assert.equal(
      resolveTemplate('system', 'normal', [upstream, BUILTIN_TEMPLATE_DIR]),
      join(upstream, 'root-normal.yaml'),
    );
    assert.equal(
      resolveTemplate('root-admin', 'admin', [BUILTIN_TEMPLATE_DIR]),
      join(BUILTIN_TEMPLATE_DIR, 'system-admin.yaml'),
    );
    assert.equal(
      resolveTemplate('leaf', 'admin', [upstream, BUILTIN_TEMPLATE_DIR]),
      join(BUILTIN_TEMPLATE_DIR, 'leaf-admin.yaml'),
    );

    const dir = tempDir(t);
    const created = createNode({ redpath: join(dir, 'r', 'plat', 'app'), host, systemNode: true });
    const app = created.find((n) => n.path.endsWith('/app'));
    assert.ok(app, JSON.stringify(created));
    assert.match(readFileSync(join(app.path, 'etc/redpak.yaml'), 'utf8'), /hostname: site-template/);
  });
});
