/**
 * redmanager export / import / sbom as users run them: their commands run in-process
 * (test/helpers/in-process.ts), a real family.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NodeFamily } from '../pkg/helpers/nodes.js';
import { listing, makeInstalledFamily, rpm } from '../image/family.js';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';

const redmanager = (args: string[], env: Record<string, string> = {}): Promise<BinRun> =>
  runCommand('redmanager', args, { env });

describe('redmanager export, import, sbom', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeInstalledFamily();
  });
  after(() => f.cleanup());

  it('every command explains itself in --help', async () => {
    for (const command of ['export', 'import', 'sbom']) {
      const r = await redmanager([command, '--help']);
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      assert.match(r.stdout, /USAGE/);
      assert.match(r.stdout, /--redpath/);
    }
  });

  it('export --json, then import --json with the printed sha256: a working node', async () => {
    const tar = join(f.dir, 'app.tar');
    const exported = await redmanager(['export', '--redpath', f.app, '-o', tar, '--json']);
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(exported.json.output, tar);
    assert.match(exported.json.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(exported.json.nodes, [{ path: f.app, alias: 'app', packages: 1 }]);

    const dest = join(f.platform, 'copy');
    const imported = await redmanager(['import', tar, '--redpath', dest, '--sha256', exported.json.sha256, '--json']);
    assert.equal(imported.status, 0, imported.stderr);
    assert.deepEqual(imported.json.nodes, [{ path: dest, alias: 'app', state: 'Enable', packages: 1 }]);
    assert.equal(rpm(dest, '-qa').stdout.trim(), 'redhello-1.0-1.x86_64');

    const plain = await redmanager(['export', '--redpath', dest, '-o', join(f.dir, 'copy.tar')]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /exported app \(1 packages\) to .*copy\.tar\nsha256 [0-9a-f]{64}/);
  });

  it('a tampered archive exits 1 with a JSON error; a broken family rule exits 8; nothing is created', async () => {
    const tar = join(f.dir, 'platform.tar');
    assert.equal((await redmanager(['export', '--redpath', f.platform, '-o', tar])).status, 0);
    const bytes = readFileSync(tar);
    const at = bytes.indexOf(Buffer.from('greeting=hello'));
    assert.ok(at > 0);
    bytes[at] = 'G'.charCodeAt(0);
    const bad = join(f.dir, 'bad.tar');
    writeFileSync(bad, bytes);
    const dest = join(f.sys, 'platform2');
    const tampered = await redmanager(['import', bad, '--redpath', dest, '--json']);
    assert.equal(tampered.status, 1, tampered.stdout);
    assert.equal(tampered.json.error.code, 'io');
    assert.match(tampered.json.error.message, /tampered/);

    const dup = await redmanager(['import', tar, '--redpath', join(f.platform, 'again')]);
    assert.equal(dup.status, 8, dup.stderr);
    assert.match(
      dup.stderr,
      /error: the archive cannot become node .*libredfoo-2\.0-1\.x86_64 is already installed in ancestor node platform/s,
    );
    assert.match(dup.stderr, /hint: .*--forcenode/);
    assert.ok(!existsSync(dest));
    assert.deepEqual(
      listing(f.platform).filter((n) => n.startsWith('.redpak-import') || n === 'again'),
      [],
    );
  });

  it('sbom prints SPDX by default, writes CycloneDX with -o, and is pinned by SOURCE_DATE_EPOCH', async () => {
    const spdx = await redmanager(['sbom', '--redpath', f.app], { SOURCE_DATE_EPOCH: '0' });
    assert.equal(spdx.status, 0, spdx.stderr);
    const doc = JSON.parse(spdx.stdout);
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.creationInfo.created, '1970-01-01T00:00:00Z');
    assert.deepEqual(
      JSON.parse((await redmanager(['sbom', '--redpath', f.app], { SOURCE_DATE_EPOCH: '0' })).stdout),
      doc,
    );

    const out = join(f.dir, 'app.cdx.json');
    const cdx = await redmanager(['sbom', '--redpath', f.app, '--format', 'cyclonedx', '-o', out, '--json'], {
      SOURCE_DATE_EPOCH: '0',
    });
    assert.equal(cdx.status, 0, cdx.stderr);
    assert.equal(cdx.json.output, out);
    assert.equal(cdx.json.components, 3);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(written.bomFormat, 'CycloneDX');
    assert.deepEqual(written, cdx.json.document);

    const wrong = await redmanager(['sbom', '--redpath', f.app, '--format', 'xml']);
    assert.equal(wrong.status, 2);
  });
});
