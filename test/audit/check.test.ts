/** redmanager check as a library: every class of finding on real rpm databases, and the what-if. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CHECK_CLASSES,
  CHECK_EXIT_CODES,
  checkTree,
  summarize,
  whatIf,
  type CheckResult,
  type Finding,
} from '../../src/audit/check.js';
import { EXIT_CODES } from '../../src/errors.js';
import { createNode } from '../../src/node/factory.js';
import { initDb, installPackages } from '../../src/pkg/rpm.js';
import { pinnedHost } from '../helpers/family.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { buildTestRpm, makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';
import { coherentFamily, editConfig, lineOf, put } from './helpers.js';

const host = pinnedHost();

describe('exit codes of check', () => {
  it('are distinct, apart from the command statuses, and grow with the severity', () => {
    const codes = CHECK_CLASSES.map((c) => CHECK_EXIT_CODES[c]);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.ok(!Object.values(EXIT_CODES).includes(code), `${code} clashes`);
    assert.deepEqual(
      [...codes].sort((a, b) => a - b),
      codes,
    );
    const f = (cls: Finding['class']): Finding => ({ class: cls, rule: 'x', node: '/n', message: 'm' });
    assert.equal(summarize([]).exitCode, 0);
    assert.equal(summarize([f('files'), f('dependency'), f('cgroups')]).exitCode, CHECK_EXIT_CODES.dependency);
    assert.equal(summarize([f('files'), f('dependency'), f('cgroups')]).worst, 'dependency');
  });
});

describe('check on a coherent family', () => {
  let f: NodeFamily;
  before(async () => {
    f = await coherentFamily();
  });
  after(() => f.cleanup());

  it('finds nothing, checks every node, and changes nothing', async () => {
    const before = [f.sys, f.platform, f.app].map(snapshotNode);
    const result = await checkTree({ redroot: f.sys, host });
    assert.deepEqual(result.findings, []);
    assert.equal(result.ok, true);
    assert.equal(result.exitCode, 0);
    assert.deepEqual(
      result.nodes.map((n) => [n.alias, n.packages, n.findings]),
      [
        ['system', 1, 0],
        ['platform', 2, 0],
        ['app', 2, 0],
      ],
    );
    assert.deepEqual([f.sys, f.platform, f.app].map(snapshotNode), before);
  });

  it("--unowned: nothing but the packages' files and the node's own state on a coherent family; a file dropped into a node is listed", async () => {
    assert.deepEqual((await checkTree({ redroot: f.sys, host, unowned: true })).findings, []);
    mkdirSync(join(f.app, 'usr/local/bin'), { recursive: true });
    writeFileSync(join(f.app, 'usr/local/bin/dropped'), '#!/bin/sh\n');
    try {
      const result = await checkTree({ redroot: f.sys, host, unowned: true });
      assert.deepEqual(
        result.findings.map((x) => [x.class, x.rule, x.node, x.file]),
        [['files', 'unowned', f.app, '/usr/local/bin/dropped']],
      );
      assert.equal(result.exitCode, CHECK_EXIT_CODES.files);
      assert.deepEqual((await checkTree({ redroot: f.sys, host })).findings, [], 'only when asked');
    } finally {
      rmSync(join(f.app, 'usr/local'), { recursive: true, force: true });
    }
  });

  it('checks a subtree with the ancestors above it as providers', async () => {
    const result = await checkTree({ redroot: f.app, host });
    assert.equal(result.ok, true, JSON.stringify(result.findings));
    assert.deepEqual(
      result.nodes.map((n) => n.path),
      [f.app],
    );
  });

  it('what if: removing the library breaks both packages of app, named with the requirement', async () => {
    const before = snapshotNode(f.platform);
    const result = await whatIf({ redpath: f.platform, action: 'remove', specs: ['libredfoo'] });
    assert.equal(result.ok, false);
    assert.equal(result.exitCode, CHECK_EXIT_CODES.dependency);
    assert.deepEqual(
      result.steps.map((s) => [s.action, s.nevra]),
      [['erase', 'libredfoo-1.0-1.x86_64']],
    );
    assert.deepEqual(result.findings.map((x) => [x.class, x.node, x.package, x.requirement]).sort(), [
      ['dependency', f.app, 'redhello-1.0-1.x86_64', 'libredfoo.so.1()(64bit)'],
      ['dependency', f.app, 'redpinned-1.0-1.noarch', 'libredfoo < 2.0'],
    ]);
    assert.deepEqual(snapshotNode(f.platform), before);
  });

  it('what if: upgrading the library breaks only the pinned package', async () => {
    const result = await whatIf({
      redpath: f.platform,
      action: 'upgrade',
      specs: ['libredfoo'],
      repoDirs: [(await fixtureRepo()).repoDir],
      noRepoFiles: true,
    });
    assert.deepEqual(
      result.steps.map((s) => [s.action, s.nevra, s.replaces]),
      [['upgrade', 'libredfoo-2.0-1.x86_64', ['libredfoo-1.0-1.x86_64']]],
    );
    assert.deepEqual(
      result.findings.map((x) => [x.class, x.rule, x.package]),
      [['dependency', 'descendant-broken', 'redpinned-1.0-1.noarch']],
    );
  });

  it('what if: a removal no descendant depends on is safe', async () => {
    const result = await whatIf({ redpath: f.app, action: 'remove', specs: ['redpinned'] });
    assert.equal(result.ok, true);
    assert.equal(result.exitCode, 0);
  });

  it('what if: bad input is an error, as the real command gives it', async () => {
    await assert.rejects(whatIf({ redpath: f.platform, action: 'remove', specs: ['no-such-package'] }), {
      code: 'solver',
    });
    await assert.rejects(whatIf({ redpath: f.app, action: 'remove', specs: ['libredfoo'] }), {
      code: 'family-rule',
      message: /ancestor node/,
    });
    await assert.rejects(whatIf({ redpath: join(f.dir, 'nowhere'), action: 'remove', specs: ['x'] }), {
      code: 'not-a-node',
    });
  });
});

describe('check on a broken family', () => {
  let f: NodeFamily;
  let result: CheckResult;
  const files: Record<string, string> = {};
  before(async () => {
    f = await makeNodeFamily();
    // Packages placed with rpm alone, bypassing every family rule.
    await put(f.platform, 'libredfoo-2.0', 'redlegacy');
    await put(f.app, 'redhello', 'redcompat', 'libredfoo-1.0', 'rednew');
    // Two packages of different names with the same file, in platform and in app.
    const sharedFile = (name: string) =>
      buildTestRpm(
        name,
        `%install\nmkdir -p %{buildroot}/usr/share/redshared\necho ${name} > %{buildroot}/usr/share/redshared/file\n%files\n/usr/share/redshared/file\n`,
      );
    await installPackages(f.platform, [sharedFile('redfilea')], { noscripts: true });
    await installPackages(f.app, [sharedFile('redfileb')], { noscripts: true });
    appendFileSync(join(f.platform, 'usr/lib/libredfoo.so.1'), 'tampered');
    // platform forbids the network app asks for; cgroups app cannot have.
    files.platform = editConfig(f.platform, {
      replace: [[/share_net: enabled/, 'share_net: disabled']],
      configLines: ['cgroups:', '  mem:', '    max: 512M', '  cpuset:', '    cpus: 0-1'],
    });
    files.app = editConfig(f.app, { configLines: ['cgroups:', '  mem:', '    max: 1G', '  cpuset:', '    cpus: 0-3'] });
    // A node whose config does not validate, with a child below it.
    const broken = join(f.platform, 'broken');
    createNode({ redpath: broken, host });
    createNode({ redpath: join(broken, 'below'), host });
    files.broken = editConfig(broken, { configLines: ['no_such_key: 1'] });
    // A node whose rpm database is garbage.
    const corrupt = join(f.sys, 'corrupt');
    createNode({ redpath: corrupt, host });
    mkdirSync(join(corrupt, 'var/lib/rpm'), { recursive: true });
    writeFileSync(join(corrupt, 'var/lib/rpm/rpmdb.sqlite'), 'this is not a database'.repeat(300));
    await initDb(join(broken, 'below'));
    result = await checkTree({ redroot: f.sys, host });
  });
  after(() => f.cleanup());

  const of = (cls: string, rule?: string) =>
    result.findings.filter((x) => x.class === cls && (!rule || x.rule === rule));

  it('reports every class, and exits with the most severe one', () => {
    for (const cls of CHECK_CLASSES)
      assert.ok(of(cls).length > 0, `no ${cls} finding in ${JSON.stringify(result.findings, null, 1)}`);
    assert.equal(result.worst, 'rpmdb');
    assert.equal(result.exitCode, 27);
    assert.equal(result.nodes.length, 6);
  });

  it('names the node and package of each package finding', () => {
    assert.deepEqual(
      of('dependency').map((x) => [x.node, x.package, x.requirement]),
      [[f.app, 'redhello-1.0-1.x86_64', '/etc/redfoo.conf']],
    );
    assert.deepEqual(
      of('duplicate').map((x) => [x.node, x.package, x.other]),
      [[f.app, 'libredfoo-1.0-1.x86_64', { package: 'libredfoo-2.0-1.x86_64', node: f.platform }]],
    );
    assert.deepEqual(
      of('conflict', 'conflict').map((x) => [x.node, x.package, x.requirement, x.other?.node]),
      [[f.app, 'redcompat-1.0-1.noarch', 'libredfoo >= 2.0', f.platform]],
    );
    assert.deepEqual(
      of('conflict', 'obsoletes').map((x) => [x.node, x.package, x.other]),
      [[f.app, 'rednew-2.0-1.noarch', { package: 'redlegacy-1.0-1.noarch', node: f.platform }]],
    );
    // libredfoo 1.0 in app has platform's libredfoo file too, but as a copy of the same package it is a duplicate, not a file conflict.
    assert.deepEqual(
      of('conflict', 'file-conflict').map((x) => [x.node, x.package, x.requirement, x.other]),
      [
        [
          f.app,
          'redfileb-1.0-1.noarch',
          '/usr/share/redshared/file',
          { package: 'redfilea-1.0-1.noarch', node: f.platform },
        ],
      ],
    );
  });

  it('attributes rpm -V to the node whose database owns the file', () => {
    assert.deepEqual(
      of('files').map((x) => [x.node, x.file, x.package, x.rule]),
      [[f.platform, '/usr/lib/libredfoo.so.1', 'libredfoo-2.0-1.x86_64', 'modified']],
    );
    assert.match(of('files')[0]!.message, /digest/);
  });

  it('reports the loosening merge at the file and line of the child', () => {
    const merge = of('merge');
    assert.equal(merge.length, 1, JSON.stringify(merge));
    assert.equal(merge[0]!.node, f.app);
    assert.equal(merge[0]!.at?.file, join(f.app, 'etc/redpak.yaml'));
    assert.equal(merge[0]!.at?.line, lineOf(join(f.app, 'etc/redpak.yaml'), /share_net/));
    assert.match(merge[0]!.message, /net namespace/);
  });

  it('reports the invalid config at its line, once, and still checks the nodes below it', () => {
    const config = of('config');
    assert.deepEqual(
      config.map((x) => [x.node, x.rule, x.at?.file, x.at?.line]),
      [[join(f.platform, 'broken'), 'schema', files.broken, lineOf(files.broken!, /no_such_key/)]],
    );
    assert.ok(result.nodes.some((n) => n.path === join(f.platform, 'broken/below')));
  });

  it('reports the unreadable database', () => {
    assert.deepEqual(
      of('rpmdb').map((x) => [x.node, x.rule]),
      [[join(f.sys, 'corrupt'), 'unreadable']],
    );
  });

  it("lints the cgroup budgets at the child's lines", () => {
    const lint = of('cgroups').map((x) => [x.rule, x.node, x.at?.line]);
    assert.deepEqual(lint, [
      ['above-ancestor', f.app, lineOf(files.app!, /max: 1G/)],
      ['not-subset', f.app, lineOf(files.app!, /cpus: 0-3/)],
    ]);
  });

  it('skips what it is told to skip', async () => {
    const only = await checkTree({
      redroot: f.sys,
      host,
      files: false,
      cgroups: false,
      config: false,
      allowDuplicates: ['libredfoo'],
    });
    assert.deepEqual([...new Set(only.findings.map((x) => x.class))].sort(), ['conflict', 'dependency', 'rpmdb']);
  });
});

describe('check: bad input', () => {
  it('refuses a directory that is not a node', async (t) => {
    const f = await makeNodeFamily({ repoFile: false });
    t.after(() => f.cleanup());
    await assert.rejects(checkTree({ redroot: f.dir, host }), { code: 'not-a-node' });
    await assert.rejects(checkTree({ redroot: f.sys, sysroot: join(f.dir, 'missing'), host }), {
      code: 'sysroot-missing',
    });
  });
});
