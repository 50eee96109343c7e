import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import {
  isRepoId,
  localRepoDir,
  parseIni,
  parseRepoFile,
  repoDefaultsOf,
  substituteVariables,
} from '../../src/pkg/repofile.js';

const rejects = (text: string, pattern: RegExp, line: number) =>
  assert.throws(
    () => parseRepoFile(text, '/etc/yum.repos.d/x.repo'),
    (e: unknown) =>
      e instanceof RedpakError &&
      e.code === 'schema' &&
      pattern.test(e.message) &&
      e.at?.line === line &&
      e.message.startsWith(`/etc/yum.repos.d/x.repo:${line}:`),
  );

describe('parseRepoFile', () => {
  it('reads every supported key, with dnf defaults for the missing ones', () => {
    const repos = parseRepoFile(
      [
        '# local fixtures',
        '[local]',
        'name = Local fixtures',
        'baseurl=file:///srv/repo',
        'enabled=1',
        'gpgcheck = yes',
        'gpgkey=file:///etc/pki/key1 file:///etc/pki/key2',
        'priority=10',
        'metadata_expire=6h',
        'sslcacert=/etc/pki/tls/certs/corp-ca.pem',
        'sslverify=0',
        'timeout=5',
        'skip_if_unavailable=False',
        '',
        '[remote]',
        'baseurl=https://a.example/repo',
        '  https://b.example/repo',
        '; disabled for now',
        'enabled=off',
      ].join('\n'),
      'x.repo',
    );
    assert.equal(repos.length, 2);
    const [local, remote] = repos;
    assert.deepEqual(
      { ...local, extra: local!.extra },
      {
        id: 'local',
        name: 'Local fixtures',
        baseurl: ['file:///srv/repo'],
        enabled: true,
        gpgcheck: true,
        gpgkey: ['file:///etc/pki/key1', 'file:///etc/pki/key2'],
        priority: 10,
        cost: 1000,
        skipIfUnavailable: false,
        excludepkgs: [],
        includepkgs: [],
        metadataExpire: 6 * 3600,
        sslcacert: '/etc/pki/tls/certs/corp-ca.pem',
        sslverify: false,
        timeout: 5,
        extra: {},
        file: 'x.repo',
        line: 2,
      },
    );
    assert.deepEqual(
      remote!.baseurl,
      ['https://a.example/repo', 'https://b.example/repo'],
      'indented line continues baseurl',
    );
    assert.equal(remote!.enabled, false);
    assert.equal(remote!.gpgcheck, false);
    assert.equal(remote!.priority, 99);
    assert.equal(remote!.metadataExpire, 48 * 3600);
    assert.equal(remote!.name, 'remote');
    assert.equal(remote!.sslcacert, undefined);
    assert.equal(remote!.sslverify, true);
    assert.equal(remote!.timeout, 30);
  });

  it('understands metadata_expire=never and ignores a [main] section', () => {
    const [repo, ...rest] = parseRepoFile(
      '[main]\ngpgcheck=1\n[r]\nbaseurl=file:///r\nmetadata_expire=never\n',
      'x.repo',
    );
    assert.equal(rest.length, 0);
    assert.equal(repo!.metadataExpire, null);
  });

  it('names file and line in every error', () => {
    rejects('baseurl=file:///r\n', /before any \[repository\] section/, 1);
    rejects('[r]\nbaseurl=file:///r\nenabled=maybe\n', /enabled must be a boolean/, 3);
    rejects('[r]\nbaseurl=ftp://host/r\n', /unsupported baseurl "ftp:\/\/host\/r"/, 2);
    rejects('[r]\nname=no url\n', /repository "r" has no baseurl, mirrorlist or metalink/, 1);
    rejects('[r]\nmirrorlist=ftp://m\n', /unsupported mirrorlist "ftp:\/\/m"/, 2);
    rejects('[r]\nmetalink=rsync://m\n', /unsupported metalink "rsync:\/\/m"/, 2);
    rejects('[r]\nbaseurl=file:///r\ncost=cheap\n', /cost must be a non-negative integer/, 3);
    rejects('[r]\nbaseurl=file:///r\nskip_if_unavailable=perhaps\n', /skip_if_unavailable must be a boolean/, 3);
    rejects('[r]\nbaseurl=file:///r\npriority=high\n', /priority must be an integer/, 3);
    rejects('[r]\nbaseurl=file:///r\nmetadata_expire=soon\n', /metadata_expire must be/, 3);
    rejects('[r]\nbaseurl=file:///r\ntimeout=1m\n', /timeout must be a number of seconds/, 3);
    rejects('[r]\nbaseurl=file:///r\nsslverify=maybe\n', /sslverify must be a boolean/, 3);
    rejects('[r]\nbaseurl=file:///r\n[r]\nbaseurl=file:///s\n', /already defined at line 1/, 3);
    rejects('[r]\nbaseurl=file:///r\nbaseurl=file:///s\n', /set twice \(first at line 2\)/, 3);
    rejects('[bad id]\n', /invalid repository id/, 1);
    rejects('[r]\nthis is not an option\n', /expected "\[id\]" or "key=value"/, 2);
    rejects('  file:///r\n', /continues no option/, 1);
  });
});

describe('mirrorlist, metalink and the settings dnf reads', () => {
  it('a repository may name its mirrors by mirrorlist or metalink instead of baseurl', () => {
    const [byList, byLink] = parseRepoFile(
      '[a]\nmirrorlist=https://m.example/list?repo=a\n[b]\nmetalink=https://m.example/metalink?repo=b\nbaseurl=\n',
      'x.repo',
    );
    assert.deepEqual(
      [byList!.baseurl, byList!.mirrorlist, byList!.metalink],
      [[], 'https://m.example/list?repo=a', undefined],
    );
    assert.deepEqual([byLink!.baseurl, byLink!.metalink], [[], 'https://m.example/metalink?repo=b']);
  });

  it('cost, skip_if_unavailable, excludepkgs (also spelt exclude) and includepkgs', () => {
    const [repo] = parseRepoFile(
      '[a]\nbaseurl=file:///r\ncost=500\nskip_if_unavailable=1\nexclude=kernel* foo\nincludepkgs=bar,baz\n',
      'x.repo',
    );
    assert.equal(repo!.cost, 500);
    assert.equal(repo!.skipIfUnavailable, true);
    assert.deepEqual(repo!.excludepkgs, ['kernel*', 'foo']);
    assert.deepEqual(repo!.includepkgs, ['bar', 'baz']);
  });

  it("[main] of dnf.conf gives the defaults of the settings a repository leaves out; the repository's own win", () => {
    const [main] = parseIni(
      '[main]\ngpgcheck=True\nskip_if_unavailable=yes\nmetadata_expire=1h\ntimeout=7\nsslverify=0\nbest=False\n',
      '/etc/dnf/dnf.conf',
    );
    const defaults = repoDefaultsOf(main!.values);
    assert.deepEqual(defaults, {
      gpgcheck: true,
      skipIfUnavailable: true,
      sslverify: false,
      metadataExpire: 3600,
      timeout: 7,
    });
    const [plain, own] = parseRepoFile(
      '[plain]\nbaseurl=file:///r\n[own]\nbaseurl=file:///r\ngpgcheck=0\nskip_if_unavailable=0\nmetadata_expire=never\ntimeout=3\nsslverify=1\n',
      'x.repo',
      defaults,
    );
    assert.deepEqual(
      [plain!.gpgcheck, plain!.skipIfUnavailable, plain!.metadataExpire, plain!.timeout, plain!.sslverify],
      [true, true, 3600, 7, false],
    );
    assert.deepEqual(
      [own!.gpgcheck, own!.skipIfUnavailable, own!.metadataExpire, own!.timeout, own!.sslverify],
      [false, false, null, 3, true],
    );
    assert.throws(
      () => repoDefaultsOf(parseIni('[main]\n\ngpgcheck=sometimes\n', '/etc/dnf/dnf.conf')[0]!.values),
      /^RedpakError: \/etc\/dnf\/dnf\.conf:3: gpgcheck must be a boolean/,
    );
  });
});

describe('localRepoDir / substituteVariables', () => {
  it('maps file:// baseurls to directories and leaves remote ones alone', () => {
    assert.equal(localRepoDir({ baseurl: ['file:///srv/my%20repo'] }), '/srv/my repo');
    assert.equal(localRepoDir({ baseurl: ['https://example/r'] }), undefined);
  });

  it('replaces known dnf variables only', () => {
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dnf's ${var} spelling is the input under test
      substituteVariables('https://h/$releasever/${basearch}/$unknown', { releasever: '12', basearch: 'x86_64' }),
      'https://h/12/x86_64/$unknown',
    );
    assert.equal(
      substituteVariables('https://h/$releasever_major/$releasever/$YUM0', {
        releasever: '9.4',
        releasever_major: '9',
        YUM0: 'extra',
      }),
      'https://h/9/9.4/extra',
      'the longest name is taken: $releasever_major is not $releasever followed by _major',
    );
  });

  it('takes gpgcheck from the node config when the repository does not set it', () => {
    const text = '[a]\nbaseurl=file:///r\n[b]\nbaseurl=file:///r\ngpgcheck=0\n';
    assert.deepEqual(
      parseRepoFile(text, 'x.repo', { gpgcheck: true }).map((r) => r.gpgcheck),
      [true, false],
    );
    assert.equal(parseRepoFile(text, 'x.repo')[0].gpgcheck, false);
  });
});

describe('hostile .repo files', () => {
  const refused = (text: string, pattern: RegExp) => () =>
    assert.throws(
      () => parseRepoFile(text, '/n/etc/yum.repos.d/x.repo'),
      (e: unknown) =>
        e instanceof RedpakError &&
        e.code === 'schema' &&
        /^\/n\/etc\/yum\.repos\.d\/x\.repo:\d+: /.test(e.message) &&
        pattern.test(e.message),
    );

  it('repository ids "." and ".." (they would name the cache itself or its parent) are refused with file and line', () => {
    refused('[.]\nbaseurl=file:///r\n', /x\.repo:1: invalid repository id "\."/)();
    refused('[ok]\nbaseurl=file:///r\n[..]\nbaseurl=file:///r\n', /x\.repo:3: invalid repository id "\.\."/)();
    refused('[a/b]\nbaseurl=file:///r\n', /invalid repository id "a\/b"/)();
    assert.equal(isRepoId('fedora-updates_1.2:x'), true);
  });

  it('control characters in baseurl, mirrorlist, gpgkey (also on continuation lines) are refused with file, line and key', () => {
    refused(
      '[a]\nbaseurl=file:///r\u0000x\n',
      /x\.repo:2: baseurl of repository "a" holds a control character \(\\x00\)/,
    )();
    refused('[a]\nbaseurl=file:///r\u000bgpgcheck=0\n', /x\.repo:2: baseurl .*\\x0b/)();
    refused('[a]\nbaseurl=file:///r\ngpgkey=file:///k\u001b[2J\n', /x\.repo:3: gpgkey .*\\x1b/)();
    refused('[a]\nmirrorlist=http://m/\u0007\nbaseurl=file:///r\n', /x\.repo:2: mirrorlist/)();
    refused('[a]\nbaseurl=file:///r\n  file:///s\u0000\n', /x\.repo:3: baseurl/)();
  });
});
