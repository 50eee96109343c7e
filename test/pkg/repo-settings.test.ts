/**
 * What a node's repositories take from outside their .repo files, on real families of nodes
 * (createNode, real rpm databases) and the fixture repository (rpmbuild + createrepo_c): the
 * [main] section of the host's dnf.conf (REDPAK_DNF_CONF here: the suite never reads the
 * machine's) and of the nodes' etc/dnf/dnf.conf (closest wins), the variables of the URLs
 * ($releasever and its sources in order, $basearch, $YUM0-9/$DNF0-9), skip_if_unavailable, the
 * family's gpgcheck as a floor, and the command-line options --releasever, --repo, --enablerepo,
 * --disablerepo, --setopt, --nogpgcheck, and config-manager --add-repo.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { openPackageFamily } from '../../src/pkg/family-context.js';
import * as dnf from '../../src/pkg/manager.js';
import { nodeRepos, repoIdOfUrl } from '../../src/pkg/repos.js';
import { runCommand } from '../helpers/in-process.js';
import { fixtureRepo } from './helpers/family.js';
import { makeNodeFamily, serveDirectory, snapshotNode, writeRepoFile, type NodeFamily } from './helpers/nodes.js';

const ARCH = ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[process.arch] ?? process.arch;

/** Run `body` with the host's dnf.conf being `text` (and its vars/ directory `vars`), then restore. */
async function withHostDnfConf<T>(
  text: string,
  vars: Record<string, string>,
  body: (file: string) => Promise<T> | T,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-dnfconf-'));
  const saved = process.env.REDPAK_DNF_CONF;
  try {
    mkdirSync(join(dir, 'vars'));
    for (const [name, value] of Object.entries(vars)) writeFileSync(join(dir, 'vars', name), `${value}\n`);
    writeFileSync(join(dir, 'dnf.conf'), text);
    process.env.REDPAK_DNF_CONF = join(dir, 'dnf.conf');
    return await body(join(dir, 'dnf.conf'));
  } finally {
    if (saved === undefined) delete process.env.REDPAK_DNF_CONF;
    else process.env.REDPAK_DNF_CONF = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeNodeFile(node: string, rel: string, text: string): void {
  mkdirSync(join(node, rel, '..'), { recursive: true });
  writeFileSync(join(node, rel), text);
}

const repo = (redpath: string, options: Partial<dnf.CommonOptions> = {}) =>
  dnf.repolist({ redpath, all: true, ...options });

describe('dnf.conf [main]', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily({ gpgcheck: true });
  });
  after(() => f.cleanup());

  it('the suite does not read the host file: REDPAK_DNF_CONF is empty', () => {
    assert.equal(process.env.REDPAK_DNF_CONF, '');
    assert.equal(repo(f.app)[0]!.metadataExpire, 48 * 3600, "dnf's default");
  });

  it("the host's, then each node's from the root down: the closest setting wins; a repository's own setting wins over all", async () => {
    await withHostDnfConf('[main]\nmetadata_expire=1h\nskip_if_unavailable=True\ninstallonly_limit=3\n', {}, () => {
      assert.deepEqual(
        [repo(f.app)[0]!.metadataExpire, repo(f.app)[0]!.skipIfUnavailable],
        [3600, true],
        'from the host file',
      );
      writeNodeFile(f.sys, 'etc/dnf/dnf.conf', '[main]\nmetadata_expire=2h\n');
      writeNodeFile(f.app, 'etc/dnf/dnf.conf', '# the leaf\n[main]\nmetadata_expire=3h\n');
      try {
        assert.equal(repo(f.app)[0]!.metadataExpire, 3 * 3600, "the node's own");
        assert.equal(repo(f.platform)[0]!.metadataExpire, 2 * 3600, "platform has none: the system node's");
        assert.equal(repo(f.platform)[0]!.skipIfUnavailable, true, 'keys the nodes leave out stay the host');
        writeRepoFile(f.sys, 'fixtures', `file://x`, { metadata_expire: 'never' });
        assert.equal(repo(f.app)[0]!.metadataExpire, null);
      } finally {
        rmSync(join(f.sys, 'etc/dnf'), { recursive: true, force: true });
        rmSync(join(f.app, 'etc/dnf'), { recursive: true, force: true });
      }
    });
  });

  it('a bad value names the dnf.conf and its line, and the command changes nothing', async () => {
    writeNodeFile(f.platform, 'etc/dnf/dnf.conf', '[main]\n\ntimeout=soon\n');
    try {
      const before = snapshotNode(f.app);
      await assert.rejects(
        dnf.install({ redpath: f.app, specs: ['redhello'] }),
        (e: unknown) =>
          e instanceof RedpakError &&
          e.message === `${join(f.platform, 'etc/dnf/dnf.conf')}:3: timeout must be a number of seconds, got "soon"`,
      );
      assert.deepEqual(snapshotNode(f.app), before);
    } finally {
      rmSync(join(f.platform, 'etc/dnf'), { recursive: true, force: true });
    }
  });

  it("gpgcheck: no dnf.conf lowers the family's (the system template sets gpgcheck: true); --nogpgcheck is refused", async () => {
    writeRepoFile(f.sys, 'fixtures', `file://${(await fixtureRepo()).repoDir}`);
    const file = join(f.sys, 'etc/yum.repos.d/fixtures.repo');
    writeFileSync(file, readFileSync(file, 'utf8').replace('gpgcheck=0\n', ''));
    // Written by the node itself (admin mode): as untrusted as its .repo files.
    writeNodeFile(f.app, 'etc/dnf/dnf.conf', '[main]\ngpgcheck=0\n');
    try {
      await withHostDnfConf('[main]\ngpgcheck=False\n', {}, async () => {
        assert.equal(repo(f.app)[0]!.gpgcheck, true);
        const before = snapshotNode(f.app);
        await assert.rejects(
          dnf.install({ redpath: f.app, specs: ['redhello'] }),
          /repository fixtures has gpgcheck=1 but no gpgkey/,
        );
        await assert.rejects(
          dnf.install({ redpath: f.app, specs: ['redhello'], nogpgcheck: true }),
          (e: unknown) =>
            e instanceof RedpakError &&
            e.code === 'usage' &&
            e.message ===
              `--nogpgcheck refused: the family of node ${f.app} requires signature checks (gpgcheck: true in its node config)`,
        );
        assert.deepEqual(snapshotNode(f.app), before);
        const cli = await runCommand('redwrap-dnf', ['--redpath', f.app, '--nogpgcheck', 'repolist', '--json']);
        assert.notEqual(cli.status, 0);
        assert.match(cli.stdout, /--nogpgcheck refused: the family of node/);
      });
    } finally {
      rmSync(join(f.app, 'etc/dnf'), { recursive: true, force: true });
      writeRepoFile(f.sys, 'fixtures', `file://${(await fixtureRepo()).repoDir}`);
    }
  });
});

describe('variables of repository URLs', () => {
  let f: NodeFamily;
  let web: string;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
    web = mkdtempSync(join(tmpdir(), 'redpak-vars-'));
    writeRepoFile(
      f.sys,
      'vars',
      `file://${web}/$releasever/$basearch/$releasever_major-$releasever_minor/$YUM0/$DNF1/$custom`,
    );
  });
  after(() => {
    f.cleanup();
    rmSync(web, { recursive: true, force: true });
  });
  const url = (options: Partial<dnf.CommonOptions> = {}) => repo(f.app, options)[0]!.baseurl[0];

  it("$releasever: the host's os-release VERSION_ID, a vars file, [main] releasever, --releasever, in rising order", async () => {
    const osRelease = /^VERSION_ID="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
    const major = osRelease.split('.')[0];
    const minor = osRelease.includes('.') ? osRelease.slice(osRelease.indexOf('.') + 1) : '';
    assert.equal(url(), `file://${web}/${osRelease}/${ARCH}/${major}-${minor}/$YUM0/$DNF1/$custom`);
    await withHostDnfConf('', { releasever: '8.1', YUM0: 'host0', custom: 'from-host' }, async () => {
      assert.equal(url(), `file://${web}/8.1/${ARCH}/8-1/host0/$DNF1/from-host`, "the host's vars directory");
      writeNodeFile(f.platform, 'etc/dnf/vars/releasever', '9.4\n');
      writeNodeFile(f.app, 'etc/dnf/vars/custom', 'from-app\n');
      assert.equal(url(), `file://${web}/9.4/${ARCH}/9-4/host0/$DNF1/from-app`, "the nodes' vars over the host's");
      writeNodeFile(f.sys, 'etc/dnf/dnf.conf', '[main]\nreleasever=10\n');
      assert.equal(url(), `file://${web}/10/${ARCH}/10-/host0/$DNF1/from-app`, '[main] releasever over vars files');
      assert.equal(url({ releasever: '42.7' }), `file://${web}/42.7/${ARCH}/42-7/host0/$DNF1/from-app`, '--releasever');
      const saved = process.env.DNF1;
      process.env.DNF1 = 'env1';
      try {
        assert.match(url(), /\/host0\/env1\//, '$DNF0-9 from the environment');
      } finally {
        if (saved === undefined) delete process.env.DNF1;
        else process.env.DNF1 = saved;
      }
    });
    rmSync(join(f.sys, 'etc/dnf'), { recursive: true, force: true });
    rmSync(join(f.platform, 'etc/dnf'), { recursive: true, force: true });
    rmSync(join(f.app, 'etc/dnf'), { recursive: true, force: true });
  });

  it('a variable with a control character is refused naming its file; a package installs through a $releasever/$basearch URL', async () => {
    writeNodeFile(f.app, 'etc/dnf/vars/custom', 'x\u001b[2J\n');
    try {
      assert.throws(
        () => repo(f.app),
        (e: unknown) =>
          e instanceof RedpakError &&
          e.message === `${join(f.app, 'etc/dnf/vars/custom')}:1: variable custom holds a control character (\\x1b)`,
      );
    } finally {
      rmSync(join(f.app, 'etc/dnf'), { recursive: true, force: true });
    }
    mkdirSync(join(web, '7'), { recursive: true });
    symlinkSync((await fixtureRepo()).repoDir, join(web, '7', ARCH));
    writeRepoFile(f.sys, 'vars', `file://${web}/$releasever/$basearch`);
    const result = await dnf.install({ redpath: f.app, specs: ['redhello'], releasever: '7' });
    assert.equal(result.status, 'done');
    assert.ok(result.packages.every((p) => p.repo === 'vars'));
  });
});

describe('skip_if_unavailable, excludepkgs, includepkgs, cost and the command-line selection', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('a repository that fails is left out with one line saying so when skip_if_unavailable is set; else the command fails', async () => {
    const server = await serveDirectory(mkdtempSync(join(tmpdir(), 'redpak-empty-')));
    try {
      writeRepoFile(f.sys, 'gone', `${server.url}/gone`, { skip_if_unavailable: '1' });
      const warnings: string[] = [];
      const result = await dnf.install({ redpath: f.app, specs: ['redhello'], onWarning: (w) => warnings.push(w) });
      assert.equal(result.status, 'done');
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0]!,
        new RegExp(
          `^repository gone skipped \\(skip_if_unavailable\\): cannot download ${server.url}/gone/repodata/repomd\\.xml`,
        ),
      );
      writeRepoFile(f.sys, 'gone', `${server.url}/gone`);
      await assert.rejects(dnf.makecache({ redpath: f.app }), /cannot download .*\/gone\/repodata\/repomd\.xml/);
      // The command line: the warning on stderr, the result as usual.
      writeRepoFile(f.sys, 'gone', `${server.url}/gone`, { skip_if_unavailable: 'yes' });
      const cli = await runCommand('redwrap-dnf', ['--redpath', f.app, 'makecache', '--json']);
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stderr, /^warning: repository gone skipped \(skip_if_unavailable\): /m);
    } finally {
      rmSync(join(f.sys, 'etc/yum.repos.d/gone.repo'), { force: true });
      await server.close();
    }
  });

  it('excludepkgs/includepkgs hide packages from the solver; cost picks among repositories of one priority', async () => {
    const { repoDir } = await fixtureRepo();
    const plannedFrom = async (spec: string, options: Partial<dnf.TransactionOptions> = {}) =>
      (await dnf.install({ redpath: f.platform, specs: [spec], assumeno: true, ...options })).packages.find(
        (p) => p.name === spec,
      )?.repo;
    const noMatch = (spec: string) => (e: unknown) =>
      e instanceof RedpakError && e.code === 'solver' && e.message.includes(spec);
    try {
      assert.equal(await plannedFrom('rednew'), 'fixtures');
      writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`, { excludepkgs: 'rednew redl*' });
      await assert.rejects(plannedFrom('rednew'), noMatch('rednew'));
      await assert.rejects(plannedFrom('redlegacy'), noMatch('redlegacy'));
      assert.equal(await plannedFrom('redcompat'), 'fixtures');
      writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`, { includepkgs: 'redlegacy' });
      assert.equal(await plannedFrom('redlegacy'), 'fixtures');
      await assert.rejects(plannedFrom('rednew'), noMatch('rednew'));
      writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`);
      // The same packages in two repositories of one priority: the cheaper one is used, whatever the ids.
      for (const [aaa, zzz, expected] of [
        ['5000', '10', 'zzz'],
        ['10', '5000', 'aaa'],
      ] as const) {
        writeRepoFile(f.sys, 'aaa', `file://${repoDir}`, { cost: aaa });
        writeRepoFile(f.sys, 'zzz', `file://${repoDir}`, { cost: zzz });
        assert.equal(await plannedFrom('rednew', { onlyRepos: ['aaa', 'zzz'] }), expected);
      }
    } finally {
      writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`);
      rmSync(join(f.sys, 'etc/yum.repos.d/aaa.repo'), { force: true });
      rmSync(join(f.sys, 'etc/yum.repos.d/zzz.repo'), { force: true });
    }
  });

  it('repolist --json and -v show cost, skip_if_unavailable, excludepkgs and the mirrors', async () => {
    const { repoDir } = await fixtureRepo();
    writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`, {
      cost: '250',
      excludepkgs: 'redhello',
      skip_if_unavailable: 'True',
    });
    try {
      const json = await runCommand('redwrap-dnf', ['--redpath', f.app, 'repolist', '--json']);
      const shown = (JSON.parse(json.stdout) as { repos: dnf.RepoStatus[] }).repos[0]!;
      assert.deepEqual(
        [shown.cost, shown.skipIfUnavailable, shown.gpgcheck, shown.excludepkgs, shown.includepkgs],
        [250, true, false, ['redhello'], []],
      );
      const verbose = await runCommand('redwrap-dnf', ['--redpath', f.app, 'repolist', '-v']);
      assert.match(verbose.stdout, /^Repo-id +: fixtures$/m);
      assert.match(verbose.stdout, /^Repo-cost +: 250$/m);
      assert.match(verbose.stdout, /^Repo-skip-if-unavailable +: yes$/m);
      assert.match(verbose.stdout, /^Repo-exclude +: redhello$/m);
      assert.match(verbose.stdout, new RegExp(`^Repo-baseurl +: file://${repoDir}$`, 'm'));
      writeRepoFile(f.sys, 'fixtures', '', { mirrorlist: 'https://mirrors.example/list?arch=$basearch' });
      const mirrored = await runCommand('redwrap-dnf', ['--redpath', f.app, 'repolist', '-v', '--json']);
      const listed = (JSON.parse(mirrored.stdout) as { repos: dnf.RepoStatus[] }).repos[0]!;
      assert.deepEqual([listed.baseurl, listed.mirrorlist], [[], `https://mirrors.example/list?arch=${ARCH}`]);
    } finally {
      writeRepoFile(f.sys, 'fixtures', `file://${repoDir}`);
    }
  });

  it('--repo, --disablerepo, --enablerepo (globs) and --setopt on the command line', async () => {
    const { repoDir } = await fixtureRepo();
    writeRepoFile(f.sys, 'extra-a', `file://${repoDir}`, { enabled: '0' });
    writeRepoFile(f.sys, 'extra-b', `file://${repoDir}`);
    try {
      const enabled = async (...args: string[]) => {
        const run = await runCommand('redwrap-dnf', ['--redpath', f.app, ...args, 'repolist', '--json']);
        assert.equal(run.status, 0, run.stderr + run.stdout);
        return (JSON.parse(run.stdout) as { repos: dnf.RepoStatus[] }).repos.map((r) => r.id);
      };
      assert.deepEqual(await enabled(), ['extra-b', 'fixtures']);
      assert.deepEqual(await enabled('--enablerepo', 'extra-a'), ['extra-a', 'extra-b', 'fixtures']);
      assert.deepEqual(await enabled('--disablerepo=*', '--enablerepo=extra-*'), ['extra-a', 'extra-b']);
      assert.deepEqual(await enabled('--repo', 'fixtures,extra-a'), ['extra-a', 'fixtures']);
      assert.deepEqual(await enabled('--repoid', 'extra-?'), ['extra-a', 'extra-b']);
      assert.deepEqual(await enabled('--setopt=extra-*.enabled=0'), ['fixtures']);
      const setopt = await runCommand('redwrap-dnf', [
        '--redpath',
        f.app,
        '--setopt',
        'fixtures.priority=5',
        '--setopt=metadata_expire=60',
        'repolist',
        '--json',
      ]);
      const fixtures = (JSON.parse(setopt.stdout) as { repos: dnf.RepoStatus[] }).repos.find(
        (r) => r.id === 'fixtures',
      )!;
      assert.deepEqual([fixtures.priority, fixtures.metadataExpire], [5, 60]);
      const unknown = await runCommand('redwrap-dnf', [
        '--redpath',
        f.app,
        '--enablerepo',
        'nope',
        'repolist',
        '--json',
      ]);
      assert.notEqual(unknown.status, 0);
      assert.match(unknown.stdout, /--enablerepo nope: no repository of node .* matches/);
      // A transaction command takes them too: only the disabled repository, enabled for this run.
      const result = await dnf.install({
        redpath: f.app,
        specs: ['redlegacy'],
        onlyRepos: ['extra-a'],
        assumeno: true,
      });
      assert.ok(result.packages.length > 0 && result.packages.every((p) => p.repo === 'extra-a'));
      assert.deepEqual(
        nodeRepos(openPackageFamily({ redpath: f.app }), { setopt: ['extra-b.cost=7'] }).map((r) => r.cost),
        [1000, 7, 1000],
      );
    } finally {
      rmSync(join(f.sys, 'etc/yum.repos.d/extra-a.repo'), { force: true });
      rmSync(join(f.sys, 'etc/yum.repos.d/extra-b.repo'), { force: true });
    }
  });
});

describe('config-manager --add-repo', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily({ gpgcheck: true });
  });
  after(() => f.cleanup());

  it('a baseurl becomes a repository of the node, its id from the URL or --id; the ancestor repositories it hides are named', async () => {
    const { repoDir } = await fixtureRepo();
    const added = await dnf.addRepo({ redpath: f.app, url: `file://${repoDir}` });
    const id = repoIdOfUrl(`file://${repoDir}`);
    assert.deepEqual(added, { file: join(f.app, `etc/yum.repos.d/${id}.repo`), repos: [id], hidden: ['fixtures'] });
    assert.deepEqual(
      repo(f.app).map((r) => [r.id, r.baseurl, r.definedBy]),
      [[id, [`file://${repoDir}`], f.app]],
    );
    const cli = await runCommand('redwrap-dnf', [
      '--redpath',
      f.app,
      'config-manager',
      '--add-repo',
      `file://${repoDir}/`,
      '--id',
      'second',
      '--json',
    ]);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), {
      file: join(f.app, 'etc/yum.repos.d/second.repo'),
      repos: ['second'],
      hidden: [],
    });
    // Written without gpgcheck=: the family's gpgcheck (the system template's true) holds for it.
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: ['redhello'], onlyRepos: ['second'] }),
      /repository second has gpgcheck=1 but no gpgkey/,
    );
  });

  it('a .repo URL over http is fetched and written as it is; a bad one, a taken id or a control character changes nothing', async () => {
    const { repoDir } = await fixtureRepo();
    const web = mkdtempSync(join(tmpdir(), 'redpak-addrepo-'));
    const server = await serveDirectory(web);
    try {
      const text = `[corp]\nname=Corp\nbaseurl=file://${repoDir}\ngpgcheck=0\n`;
      writeFileSync(join(web, 'corp.repo'), text);
      writeFileSync(join(web, 'bad.repo'), '[corp2]\nbaseurl=ftp://x\n');
      const added = await dnf.addRepo({ redpath: f.platform, url: `${server.url}/corp.repo` });
      assert.deepEqual(added.repos, ['corp']);
      assert.equal(readFileSync(join(f.platform, 'etc/yum.repos.d/corp.repo'), 'utf8'), text);
      const before = snapshotNode(f.platform);
      await assert.rejects(
        dnf.addRepo({ redpath: f.platform, url: `${server.url}/bad.repo` }),
        (e: unknown) =>
          e instanceof RedpakError &&
          e.message.startsWith(`${server.url}/bad.repo:2: repository "corp2": unsupported baseurl`),
      );
      await assert.rejects(
        dnf.addRepo({ redpath: f.platform, url: `file://${repoDir}`, id: 'corp' }),
        /node .* already has repository corp/,
      );
      await assert.rejects(
        dnf.addRepo({ redpath: f.platform, url: 'http://x/\ngpgcheck=0' }),
        /control character \(\\x0a\)/,
      );
      assert.deepEqual(snapshotNode(f.platform), before);
    } finally {
      await server.close();
      rmSync(web, { recursive: true, force: true });
    }
  });
});
