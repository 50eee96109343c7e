/** The one list of a command's repositories: install, repolist and check read it the same way. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPackageFamily } from '../../src/pkg/family-context.js';
import { familyRepos } from '../../src/pkg/repos.js';
import { makeNode, pinnedHost, tempDir } from '../helpers/family.js';

describe('familyRepos', () => {
  it("takes the family .repo files, then each given directory, a relative one from the caller's directory", (t) => {
    const dir = tempDir(t);
    const node = makeNode(dir, join(dir, 'app'), 'app', 'headers:\n  alias: app\n');
    mkdirSync(join(node, 'etc/yum.repos.d'), { recursive: true });
    writeFileSync(join(node, 'etc/yum.repos.d/main.repo'), '[base]\nbaseurl=file:///srv/main\n');
    const pf = openPackageFamily({ redpath: node, host: pinnedHost() });
    const ids = (repos: { id: string; baseurl: string[] }[]) => repos.map((r) => [r.id, r.baseurl[0]]);
    assert.deepEqual(ids(familyRepos(pf, { repoDirs: ['local', '/abs'], cwd: '/work' })), [
      ['base', 'file:///srv/main'],
      ['repo-given', 'file:///work/local'],
      ['repo1-given', 'file:///abs'],
    ]);
    const onlyGiven = familyRepos(pf, { repoDirs: ['local'], cwd: '/work', noRepoFiles: true });
    assert.deepEqual(ids(onlyGiven), [['repo-given', 'file:///work/local']]);
  });
});
