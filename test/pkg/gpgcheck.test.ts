/**
 * The family's gpgcheck is a floor under the nodes' .repo files: a repository's own gpgcheck=0
 * (written in a node, so as untrusted as the node in admin mode) does not turn signature checks
 * off where a node config of the family sets gpgcheck: true. Real families, the fixture packages
 * (redsigned signed with a throwaway key, the others unsigned), rpm's signature check.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import * as dnf from '../../src/pkg/manager.js';
import { fixtureRepo, installedNames } from './helpers/family.js';
import { makeNodeFamily, snapshotNode, writeRepoFile, type NodeFamily } from './helpers/nodes.js';

const SYSTEM_CONFIG = 'etc/redpak.yaml';

describe("gpgcheck=0 in a .repo file under the family's gpgcheck: true", () => {
  let f: NodeFamily;
  let unsigned: string;
  let skipped: string | undefined;
  before(async () => {
    const repo = await fixtureRepo();
    f = await makeNodeFamily({ repoFile: false, gpgcheck: true });
    if (!repo.signing) {
      skipped = `signing unavailable: ${repo.signingUnavailable}`;
      return;
    }
    const gpgkey = `file://${repo.signing.publicKey}`;
    // Both say gpgcheck=0 (line 4), as the hostile or careless node writes it.
    writeRepoFile(f.sys, 'signed', `file://${repo.signing.signedRepoDir}`, { gpgkey });
    unsigned = writeRepoFile(f.sys, 'unsigned', `file://${repo.repoDir}`, { gpgkey });
  });
  after(() => f.cleanup());

  it('the family requires signatures: the system node config says so', () => {
    assert.match(readFileSync(join(f.sys, SYSTEM_CONFIG), 'utf8'), /^\s+gpgcheck: true$/m);
  });

  it('repolist shows the repositories checked', (t) => {
    if (skipped) return t.skip(skipped);
    const shown = dnf.repolist({ redpath: f.app });
    assert.deepEqual(
      shown.map((r) => `${r.id} ${r.gpgcheck}`),
      ['signed true', 'unsigned true'],
    );
  });

  it('a signed package is installed', async (t) => {
    if (skipped) return t.skip(skipped);
    const r = await dnf.install({ redpath: f.app, specs: ['redsigned'] });
    assert.equal(r.status, 'done');
    assert.deepEqual(await installedNames(f.app), ['redsigned']);
  });

  it('an unsigned one is refused, naming the package and the overruled gpgcheck=0 by file and line; nothing changes', async (t) => {
    if (skipped) return t.skip(skipped);
    const before = snapshotNode(f.app);
    await assert.rejects(dnf.install({ redpath: f.app, specs: ['redscript'] }), (e: unknown) => {
      assert.ok(e instanceof RedpakError && e.code === 'package', String(e));
      assert.match(e.message, /package redscript-1\.0-1\.noarch from repository unsigned failed the signature check/);
      assert.ok(e.message.includes(`gpgcheck=0 at ${unsigned}:4 does not apply`), e.message);
      return true;
    });
    assert.deepEqual(snapshotNode(f.app), before);
  });

  it('--setopt REPO.gpgcheck=0 is overruled the same way', async (t) => {
    if (skipped) return t.skip(skipped);
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: ['redscript'], setopt: ['unsigned.gpgcheck=0'] }),
      /gpgcheck=0 at --setopt:0 does not apply/,
    );
  });

  it('without gpgkey= the error names the file and line, and the hint does not offer gpgcheck=0', async (t) => {
    if (skipped) return t.skip(skipped);
    writeFileSync(unsigned, readFileSync(unsigned, 'utf8').replace(/^gpgkey=.*\n/m, ''));
    try {
      await assert.rejects(dnf.install({ redpath: f.app, specs: ['redscript'] }), (e: unknown) => {
        assert.ok(e instanceof RedpakError, String(e));
        assert.ok(e.message.includes(`gpgcheck=0 at ${unsigned}:4 does not apply`), e.message);
        assert.match(e.message, /but no gpgkey: cannot check redscript/);
        assert.doesNotMatch(e.hint ?? '', /gpgcheck=0/);
        return true;
      });
    } finally {
      writeRepoFile(f.sys, 'unsigned', `file://${(await fixtureRepo()).repoDir}`, {
        gpgkey: `file://${(await fixtureRepo()).signing?.publicKey}`,
      });
    }
  });
});

describe("what the caller names is not the family's repositories", () => {
  it('--repo-dir: its unsigned packages are installed (as a local .rpm file would be)', async (t) => {
    const f = await makeNodeFamily({ repoFile: false, gpgcheck: true });
    t.after(() => f.cleanup());
    const r = await dnf.install({ redpath: f.app, specs: ['redscript'], repoDirs: [(await fixtureRepo()).repoDir] });
    assert.equal(r.status, 'done');
  });
});

describe('a family without gpgcheck: true', () => {
  it("takes the .repo file's gpgcheck=0: the unsigned package is installed", async (t) => {
    const f = await makeNodeFamily();
    t.after(() => f.cleanup());
    assert.match(readFileSync(join(f.sys, SYSTEM_CONFIG), 'utf8'), /^\s+gpgcheck: false$/m);
    const r = await dnf.install({ redpath: f.app, specs: ['redscript'] });
    assert.equal(r.status, 'done');
  });
});
