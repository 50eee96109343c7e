/**
 * Mirror lists as dnf reads them: a mirrorlist (one baseurl a line) and a metalink (mirrors of
 * repomd.xml with its checksums), parsed, then served over http on 127.0.0.1 in front of the
 * fixture repository (rpmbuild + createrepo_c) for real installs. A hostile mirror whose
 * repomd.xml differs from the metalink's checksum is refused, and file:// mirrors named by a list
 * fetched over the network are dropped.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import * as dnf from '../../src/pkg/manager.js';
import { parseMirrors, strongestHashes } from '../../src/pkg/mirrors.js';
import { fixtureRepo } from './helpers/family.js';
import { makeNodeFamily, serveDirectory, type NodeFamily, type RepoServer } from './helpers/nodes.js';

const digest = (type: string, bytes: Buffer) => createHash(type).update(bytes).digest('hex');

/** A metalink for repomd.xml `bytes`, with the given mirrors (url, preference). */
function metalink(
  bytes: Buffer,
  mirrors: [string, number][],
  hashes: Record<string, string> = { sha256: digest('sha256', bytes) },
): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">',
    ' <files>',
    '  <file name="repomd.xml">',
    `   <size>${bytes.length}</size>`,
    '   <verification>',
    ...Object.entries(hashes).map(([type, value]) => `    <hash type="${type}">${value}</hash>`),
    '   </verification>',
    '   <resources maxconnections="1">',
    ...mirrors.map(
      ([url, preference]) =>
        `    <url protocol="http" type="http" location="XX" preference="${preference}">${url}repodata/repomd.xml</url>`,
    ),
    '   </resources>',
    '  </file>',
    ' </files>',
    '</metalink>',
  ].join('\n');
}

describe('parseMirrors', () => {
  it('a mirrorlist: one baseurl a line, comments and blank lines skipped, other schemes dropped', () => {
    const set = parseMirrors(
      '# mirrors\n\nhttps://a.example/r/\n  http://b.example/r/  \nftp://c.example/r/\nfile:///srv/r/\n',
      'list',
      false,
    );
    assert.deepEqual(set.baseurls, ['https://a.example/r/', 'http://b.example/r/', 'file:///srv/r/']);
    assert.deepEqual(set.dropped, [{ url: 'ftp://c.example/r/', why: 'not a file://, http:// or https:// URL' }]);
    assert.deepEqual(set.repomdHashes, []);
  });

  it('file:// mirrors of a list fetched over the network are dropped, with why', () => {
    const set = parseMirrors('file:///etc/\nhttps://a.example/r/\n', 'list', true);
    assert.deepEqual(set.baseurls, ['https://a.example/r/']);
    assert.deepEqual(set.dropped, [
      { url: 'file:///etc/', why: 'a list fetched over the network may not name files of this machine' },
    ]);
  });

  it('a metalink: mirrors by preference (highest first), repomd.xml checksums, the strongest type kept', () => {
    const repomd = Buffer.from('<repomd/>');
    const text = metalink(
      repomd,
      [
        ['http://low.example/r/', 10],
        ['http://high.example/r/', 100],
      ],
      { md5: digest('md5', repomd), sha256: digest('sha256', repomd), sha1: digest('sha1', repomd) },
    );
    const set = parseMirrors(text, 'metalink', true);
    assert.deepEqual(set.baseurls, ['http://high.example/r/', 'http://low.example/r/']);
    assert.deepEqual(strongestHashes(set.repomdHashes), [{ type: 'sha256', value: digest('sha256', repomd) }]);
    // dnf reads a metalink served at a mirrorlist= URL as a metalink.
    assert.deepEqual(parseMirrors(text, 'mirrorlist', true).repomdHashes.length, 3);
  });

  it('a metalink without checksums, with a DOCTYPE/ENTITY, or describing repomd.xml twice is refused', () => {
    const repomd = Buffer.from('<repomd/>');
    const good = metalink(repomd, [['http://a.example/r/', 1]]);
    const refused = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseMirrors(text, 'https://m.example/metalink', true),
        (e: unknown) =>
          e instanceof RedpakError &&
          e.message.startsWith('refused the mirror list https://m.example/metalink: ') &&
          pattern.test(e.message),
      );
    refused(good.replace(/<hash[^\n]*<\/hash>/, ''), /carries no checksum of repomd\.xml/);
    refused(good.replace('<metalink', '<!DOCTYPE m [<!ENTITY x "y">]><metalink'), /holds "<!DOCTYPE"/);
    refused(
      good.replace('</files>', `${/<file [\s\S]*<\/file>/.exec(good)![0]}</files>`),
      /describes repomd\.xml 2 times/,
    );
  });
});

describe('repositories named by mirrorlist and metalink, over http', () => {
  let family: NodeFamily;
  let web: string;
  let server: RepoServer;
  let repomd: Buffer;
  before(async () => {
    const { repoDir } = await fixtureRepo();
    web = mkdtempSync(join(tmpdir(), 'redpak-mirrors-'));
    symlinkSync(repoDir, join(web, 'good'));
    // A mirror whose repomd.xml differs from the real one (a stale or hostile copy).
    cpSync(repoDir, join(web, 'stale'), { recursive: true });
    writeFileSync(join(web, 'stale/repodata/repomd.xml'), `${readFileSync(join(repoDir, 'repodata/repomd.xml'))}\n`);
    repomd = readFileSync(join(repoDir, 'repodata/repomd.xml'));
    server = await serveDirectory(web);
  });
  after(async () => {
    await server.close();
    rmSync(web, { recursive: true, force: true });
  });

  const fresh = async (repoText: string) => {
    family?.cleanup();
    family = await makeNodeFamily({ repoFile: false });
    const dir = join(family.sys, 'etc/yum.repos.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'net.repo'), repoText);
  };
  after(() => family?.cleanup());

  it('mirrorlist: a dead mirror is passed over, a file:// mirror dropped with a warning; the list is not fetched again while the metadata is fresh', async () => {
    const { repoDir } = await fixtureRepo();
    writeFileSync(
      join(web, 'mirrorlist'),
      `# mirrors\n${server.url}/nowhere/\nfile://${repoDir}/\n${server.url}/good/\n`,
    );
    await fresh(`[net]\nname=net\nmirrorlist=${server.url}/mirrorlist\ngpgcheck=0\n`);
    const warnings: string[] = [];
    const result = await dnf.install({ redpath: family.app, specs: ['redhello'], onWarning: (w) => warnings.push(w) });
    assert.equal(result.status, 'done');
    assert.deepEqual([...new Set(result.packages.map((p) => p.repo))], ['net']);
    assert.deepEqual(warnings, [
      `repository net: mirror file://${repoDir}/ of ${server.url}/mirrorlist dropped: a list fetched over the network may not name files of this machine`,
    ]);
    const cacheMeta = JSON.parse(readFileSync(join(family.sys, 'var/cache/dnf/net/redpak-cache.json'), 'utf8'));
    assert.deepEqual([cacheMeta.baseurl, cacheMeta.mirrors], [`${server.url}/good/`, `${server.url}/mirrorlist`]);
    const listHits = () => server.hits.filter((h) => h === '/mirrorlist').length;
    const before = listHits();
    assert.deepEqual((await dnf.makecache({ redpath: family.app })).repos, [
      { id: 'net', baseurl: `${server.url}/good/`, fetched: false },
    ]);
    assert.equal(listHits(), before, 'fresh metadata: the mirrorlist is not fetched');
    assert.equal((await dnf.makecache({ redpath: family.app, refresh: true })).repos[0]!.fetched, true);
    assert.equal(listHits(), before + 1, '--refresh fetches the list again');
  });

  it('metalink: the preferred mirror serving a repomd.xml that does not match the checksum is refused, the next one used', async () => {
    writeFileSync(
      join(web, 'metalink'),
      metalink(repomd, [
        [`${server.url}/stale/`, 100],
        [`${server.url}/good/`, 50],
      ]),
    );
    await fresh(`[net]\nname=net\nmetalink=${server.url}/metalink\ngpgcheck=0\n`);
    const result = await dnf.install({ redpath: family.app, specs: ['redhello'] });
    assert.equal(result.status, 'done');
    const cacheMeta = JSON.parse(readFileSync(join(family.sys, 'var/cache/dnf/net/redpak-cache.json'), 'utf8'));
    assert.equal(cacheMeta.baseurl, `${server.url}/good/`);
    assert.ok(server.hits.includes('/stale/repodata/repomd.xml'), 'the preferred mirror was asked first');
    assert.ok(!server.hits.some((h) => h.startsWith('/stale/repodata/') && h !== '/stale/repodata/repomd.xml'));
  });

  it('metalink: when no mirror matches the checksum the command fails naming the repository and nothing is cached', async () => {
    writeFileSync(join(web, 'metalink'), metalink(repomd, [[`${server.url}/stale/`, 100]]));
    await fresh(`[net]\nname=net\nmetalink=${server.url}/metalink\ngpgcheck=0\n`);
    await assert.rejects(
      dnf.install({ redpath: family.app, specs: ['redhello'] }),
      (e: unknown) =>
        e instanceof RedpakError &&
        e.message ===
          `repository net: ${server.url}/stale/repodata/repomd.xml does not match the metalink's sha256 checksum (got ${digest('sha256', readFileSync(join(web, 'stale/repodata/repomd.xml')))})`,
    );
    assert.equal(existsSync(join(family.sys, 'var/cache/dnf/net')), false);
  });

  it('a metalink over http naming only file:// mirrors names no usable mirror', async () => {
    const { repoDir } = await fixtureRepo();
    writeFileSync(join(web, 'metalink'), metalink(repomd, [[`file://${repoDir}/`, 100]]));
    await fresh(`[net]\nname=net\nmetalink=${server.url}/metalink\ngpgcheck=0\n`);
    const warnings: string[] = [];
    await assert.rejects(
      dnf.makecache({ redpath: family.app, onWarning: (w) => warnings.push(w) }),
      (e: unknown) =>
        e instanceof RedpakError &&
        e.message === `repository net: metalink ${server.url}/metalink names no usable mirror`,
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /dropped: a list fetched over the network may not name files of this machine$/);
  });
});
