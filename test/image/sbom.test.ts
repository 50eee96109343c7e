/** SBOMs of real families: SPDX 2.3 and CycloneDX 1.5, validated against the official schemas. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  collectInventory,
  creationTime,
  isSpdxExpression,
  makeSbom,
  purlOf,
  spdxLicense,
  type InventoryComponent,
} from '../../src/image/sbom.js';
import { installPackages, parseQueryDump } from '../../src/pkg/rpm.js';
import type { NodeFamily } from '../pkg/helpers/nodes.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { makeInstalledFamily, rpm } from './family.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const require = createRequire(import.meta.url);
const { Ajv } = require('ajv') as typeof import('ajv');
const addFormats = require('ajv-formats') as (ajv: InstanceType<typeof Ajv>) => void;

function validator(schemaFile: string, extra: Record<string, string> = {}) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addFormat('iri-reference', true);
  ajv.addFormat('idn-email', true);
  for (const [id, file] of Object.entries(extra)) ajv.addSchema({ ...JSON.parse(readFileSync(file, 'utf8')), $id: id });
  return ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
}

const CDX = join(ROOT, 'node_modules/@cyclonedx/cyclonedx-library/res/schema');

/** The parts of an SPDX 2.3 document the assertions read (the schema checks the rest). */
type SpdxPackage = {
  name: string;
  SPDXID: string;
  versionInfo: string;
  licenseDeclared: string;
  sourceInfo: string;
  externalRefs: { referenceLocator: string }[];
  attributionTexts: string[];
};
type SpdxDocument = {
  spdxVersion: string;
  creationInfo: { created: string };
  packages: SpdxPackage[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  files: { fileName: string; checksums: { algorithm: string }[] }[];
};
/** The parts of a CycloneDX 1.5 document the assertions read. */
type CdxComponent = {
  name: string;
  type: string;
  properties: { name: string; value: string }[];
  licenses: unknown[];
  hashes: { alg: string }[];
  components: CdxComponent[];
};
type CdxDocument = { metadata: { timestamp: string; component: { name: string } }; components: CdxComponent[] };
const validateSpdx = validator(join(ROOT, 'test/fixtures/spdx-2.3-schema.json'));
const validateCdx = validator(join(CDX, 'bom-1.5.SNAPSHOT.schema.json'), {
  'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json': join(CDX, 'spdx.SNAPSHOT.schema.json'),
  'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json': join(CDX, 'jsf-0.82.SNAPSHOT.schema.json'),
});

describe('redmanager sbom', () => {
  let f: NodeFamily;
  let signedKeyId: string | undefined;
  before(async () => {
    f = await makeInstalledFamily();
    const signing = (await fixtureRepo()).signing;
    if (signing) {
      await installPackages(f.sys, [signing.signedRpm], { noscripts: true });
      signedKeyId = /Key ID ([0-9a-f]+)/.exec(rpm(f.sys, '-q', '--qf', '%{RSAHEADER:pgpsig}', 'redsigned').stdout)?.[1];
      assert.ok(signedKeyId, 'the signed fixture has a key id');
    }
  });
  after(() => f.cleanup());

  it("lists the node's packages and its ancestors', each with its node, license, source rpm and file digests", async () => {
    const inventory = await collectInventory({ redpath: f.app });
    assert.deepEqual(
      inventory.nodes.map((n) => n.alias),
      ['app', 'platform', 'system'],
    );
    const byName = new Map(inventory.components.map((c) => [c.name, c]));
    assert.ok(!byName.has('redpak-host-provides'), 'the host capabilities package is not software');
    assert.deepEqual(
      [byName.get('redhello')!.node.alias, byName.get('libredfoo')!.node.alias, byName.get('redfoo-conf')!.node.alias],
      ['app', 'platform', 'platform'],
    );
    const hello = byName.get('redhello')!;
    assert.deepEqual(
      [hello.epoch, hello.version, hello.release, hello.arch, hello.license, hello.sourceRpm],
      [0, '1.0', '1', 'x86_64', 'Apache-2.0', 'redhello-1.0-1.src.rpm'],
    );
    const digests = rpm(f.app, '-q', '--qf', '[%{FILENAMES} %{FILEDIGESTS}\n]', 'redhello')
      .stdout.trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, d]) => d);
    assert.deepEqual(
      hello.files.map((x) => [x.path, x.digest]),
      digests.sort(),
    );
    assert.ok(
      hello.files.every((x) => x.algorithm === 'SHA256' && /^[0-9a-f]{40}$/.test(x.sha1 ?? '')),
      'unchanged files also get a SHA1',
    );
    if (signedKeyId) assert.equal(byName.get('redsigned')!.signatureKeyId, signedKeyId);
    assert.equal(hello.signatureKeyId, undefined);
  });

  it('SPDX 2.3: valid against the official schema; packages contained by their node; pinned by SOURCE_DATE_EPOCH', async () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const { document } = await makeSbom({ redpath: f.app, format: 'spdx', env });
    assert.ok(validateSpdx(document), JSON.stringify(validateSpdx.errors, null, 1));
    const again = await makeSbom({ redpath: f.app, format: 'spdx', env });
    assert.deepEqual(again.document, document, 'deterministic');
    const doc = document as SpdxDocument;
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.creationInfo.created, '2023-11-14T22:13:20Z');
    const pkg = doc.packages.find((p) => p.name === 'libredfoo')!;
    assert.equal(pkg.versionInfo, '2.0-1');
    assert.equal(pkg.licenseDeclared, 'Apache-2.0');
    assert.equal(pkg.sourceInfo, 'built from source rpm libredfoo-2.0-1.src.rpm');
    assert.equal(pkg.externalRefs[0].referenceLocator, 'pkg:rpm/libredfoo@2.0-1?arch=x86_64');
    const platformNode = doc.packages.find((p) => p.name === 'platform')!;
    assert.ok(
      doc.relationships.some(
        (r) =>
          r.spdxElementId === platformNode.SPDXID &&
          r.relationshipType === 'CONTAINS' &&
          r.relatedSpdxElement === pkg.SPDXID,
      ),
    );
    const lib = doc.files.find((x) => x.fileName === './usr/lib/libredfoo.so.1')!;
    assert.deepEqual(
      lib.checksums.map((c) => c.algorithm),
      ['SHA1', 'SHA256'],
    );
    if (signedKeyId)
      assert.ok(
        doc.packages
          .find((p) => p.name === 'redsigned')!
          .attributionTexts.includes(`rpm:signature-key-id=${signedKeyId}`),
      );
  });

  it('CycloneDX 1.5: valid against the official schema; each component names its node', async () => {
    const { document } = await makeSbom({ redpath: f.app, format: 'cyclonedx', env: { SOURCE_DATE_EPOCH: '0' } });
    assert.ok(validateCdx(document), JSON.stringify(validateCdx.errors, null, 1));
    const doc = document as CdxDocument;
    assert.equal(doc.metadata.timestamp, '1970-01-01T00:00:00Z');
    assert.equal(doc.metadata.component.name, 'app');
    const hello = doc.components.find((c) => c.name === 'redhello')!;
    const prop = (c: CdxComponent | undefined, name: string) => c!.properties.find((p) => p.name === name)?.value;
    assert.equal(prop(hello, 'redpak:node'), f.app);
    assert.equal(prop(hello, 'rpm:sourcerpm'), 'redhello-1.0-1.src.rpm');
    assert.deepEqual(hello.licenses, [{ expression: 'Apache-2.0' }]);
    assert.equal(
      prop(
        doc.components.find((c) => c.name === 'libredfoo'),
        'redpak:node-alias',
      ),
      'platform',
    );
    assert.ok(hello.components.every((file) => file.type === 'file' && file.hashes.some((h) => h.alg === 'SHA-256')));
    if (signedKeyId)
      assert.equal(
        prop(
          doc.components.find((c) => c.name === 'redsigned'),
          'rpm:signature-key-id',
        ),
        signedKeyId,
      );
    const again = await makeSbom({ redpath: f.app, format: 'cyclonedx', env: { SOURCE_DATE_EPOCH: '0' } });
    assert.deepEqual(again.document, document);
  });
});

describe('sbom helpers', () => {
  it('license expressions', () => {
    for (const ok of [
      'Apache-2.0',
      'MIT OR Apache-2.0',
      '(MIT AND BSD-3-Clause) OR GPL-2.0+',
      'GPL-2.0-only WITH Classpath-exception-2.0',
      'LicenseRef-foo',
    ])
      assert.ok(isSpdxExpression(ok), ok);
    for (const bad of ['GPLv2+ and LGPL', 'Public Domain', '', 'MIT OR', '(MIT', 'MIT)'])
      assert.ok(!isSpdxExpression(bad), bad);
  });
  it('legacy Fedora license names in SPDX terms; others as written', () => {
    assert.equal(spdxLicense('GPLv2+ and ASL 2.0'), 'GPL-2.0-or-later AND Apache-2.0');
    assert.equal(spdxLicense('(LGPLv2+ or MPLv2.0) and zlib'), '(LGPL-2.0-or-later OR MPL-2.0) AND Zlib');
    assert.equal(spdxLicense('GPLv2'), 'GPL-2.0-only');
    assert.equal(spdxLicense('Apache-2.0 OR MIT'), 'Apache-2.0 OR MIT');
    assert.equal(
      spdxLicense('Public Domain'),
      'Public Domain',
      'not SPDX: stays, and becomes a LicenseRef in the document',
    );
    assert.ok(isSpdxExpression(spdxLicense('GPLv3+ and LGPLv2.1+')));
  });
  it('creation time and purls', () => {
    assert.equal(creationTime({ SOURCE_DATE_EPOCH: '86400' }), '1970-01-02T00:00:00Z');
    assert.equal(creationTime({}, new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05Z');
    assert.throws(() => creationTime({ SOURCE_DATE_EPOCH: 'yesterday' }));
    assert.equal(
      purlOf({ name: 'bash', epoch: 1, version: '5.2', release: '3.fc40', arch: 'x86_64' } as InventoryComponent),
      'pkg:rpm/bash@5.2-3.fc40?arch=x86_64&epoch=1',
    );
  });
  it('the rpm query dump keeps parsing the older format, and reads license, source rpm and signature when present', () => {
    const [old] = parseQueryDump('@PKG\ta\t0\t1\t1\tnoarch\t0\tabc\n');
    assert.equal(old!.license, undefined);
    const [now] = parseQueryDump(
      '@PKG\ta\t0\t1\t1\tnoarch\t0\tabc\tMIT\ta-1-1.src.rpm\tRSA/SHA256, Mon 01 Jan 2024, Key ID 0123456789ABCDEF\t8\n',
    );
    assert.deepEqual(
      [now!.license, now!.sourceRpm, now!.signatureKeyId, now!.fileDigestAlgo],
      ['MIT', 'a-1-1.src.rpm', '0123456789abcdef', 8],
    );
    const [unsigned] = parseQueryDump('@PKG\ta\t0\t1\t1\tnoarch\t0\tabc\t(none)\t(none)\t(none)\t(none)\n');
    assert.deepEqual(
      [unsigned!.license, unsigned!.signature, unsigned!.fileDigestAlgo],
      [undefined, undefined, undefined],
    );
  });
});
