/**
 * Package groups: the comps reader (strict: a repository is untrusted), merging, matching, what
 * `group install` asks for, and the node's group record (read as untrusted, updated by transactions).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { groupInstallNames, matchGroups, mergeComps, parseComps } from '../../src/pkg/comps.js';
import { GROUPS_FILE, nextGroupRecord, readGroupRecord, type GroupRecord } from '../../src/pkg/group-record.js';
import type { TransactionStep } from '../../src/pkg/solver.js';
import { RedpakError } from '../../src/errors.js';
import { FIXTURE_COMPS } from '../pkg/helpers/comps-repo.js';
import { tempDir } from '../helpers/family.js';

const comps = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<comps>\n${body}\n</comps>\n`;
const group = (id: string, packages: string, extra = '') =>
  `<group><id>${id}</id><name>${id} name</name>${extra}<packagelist>${packages}</packagelist></group>`;

function refused(text: string, message: RegExp): void {
  assert.throws(
    () => parseComps(text, 'hostile'),
    (e: unknown) => e instanceof RedpakError && e.code === 'package' && message.test(e.message),
  );
}

describe('parseComps', () => {
  it('reads groups as createrepo_c publishes them: ids, untranslated names, flags, typed packages', () => {
    const groups = parseComps(FIXTURE_COMPS, 'comps');
    assert.deepEqual(
      groups.map((g) => [g.id, g.name, g.uservisible, g.default]),
      [
        ['redapps', 'Red apps', true, true],
        ['redtools', 'Red tools', false, false],
        ['redconf', 'Red configuration', true, false],
        ['redbroken', 'Red broken', true, false],
      ],
    );
    assert.deepEqual(groups[0]?.packages, [
      { name: 'redhello', type: 'mandatory' },
      { name: 'redscript', type: 'default' },
      { name: 'redlegacy', type: 'optional' },
      { name: 'redfoo-conf', type: 'conditional', requires: 'redhello' },
    ]);
    assert.equal(groups[1]?.description, 'Hidden helpers & compatibility', 'entities decoded');
    assert.equal(groups[3]?.packages[0]?.type, 'mandatory', 'a packagereq without type is mandatory');
    assert.deepEqual(groups[0]?.repos, ['comps']);
  });

  it('refuses what a hostile repository could use: DOCTYPE, entities, globs and paths as names', () => {
    refused(`<?xml version="1.0"?>\n<!DOCTYPE comps [<!ENTITY x "redhello">]>\n<comps/>`, /line 2: .*DOCTYPE/);
    refused(comps(group('g', '<packagereq>&x;</packagereq>')), /unknown or forbidden entity "&x;"/);
    refused(comps(group('g', '<packagereq>*</packagereq>')), /package "\*" of group g is not a package name/);
    refused(comps(group('g', '<packagereq>/bin/sh</packagereq>')), /not a package name/);
    refused(comps(group('g', '<packagereq>foo &gt;= 1</packagereq>')), /not a package name/);
    refused(comps(group('../x', '')), /group id "..\/x" is not a plain id/);
    refused(comps(group('g', '<packagereq type="always">a</packagereq>')), /has type "always"/);
    refused(comps(group('g', '<packagereq type="conditional">a</packagereq>')), /has no requires=/);
    refused(comps(group('g', '<packagereq type="conditional" requires="b*">a</packagereq>')), /requires "b\*"/);
    refused(comps(group('g', '') + group('g', '')), /group g is defined twice/);
    refused(comps(group('g', '', '<uservisible>maybe</uservisible>')), /<uservisible> is "maybe"/);
    refused(comps(group('g', '<packagereq>a</packagereq')), /malformed|never closed|unterminated/);
    refused(`<comps>${group('g', '')}`, /<comps> of line 1 is never closed/);
    refused('<groups/>', /root element is <groups>/);
    refused(`${comps('')}<comps/>`, /a second root element/);
    refused(comps(`${'<x>'.repeat(40)}${'</x>'.repeat(40)}`), /nested deeper/);
  });

  it('reads what XML allows and createrepo_c passes on: comments, CDATA, single quotes, character references', () => {
    const [g] = parseComps(
      comps(
        `<!-- a comment --><group><id>g</id><name><![CDATA[G & co]]></name><description>caf&#xe9;&#46;</description><packagelist><packagereq type='optional'>a</packagereq></packagelist></group>`,
      ),
      'r',
    );
    assert.deepEqual([g?.name, g?.description, g?.packages], ['G & co', 'café.', [{ name: 'a', type: 'optional' }]]);
    refused(comps('<!ENTITY x "y">'), /DOCTYPE or an entity declaration/);
    refused(comps(group('g', '<packagereq>a&b</packagereq>')), /a bare "&"/);
    refused(comps(group('g', '<packagereq>a&#1;</packagereq>')), /forbidden entity "&#1;"/);
    refused(comps(group('g', '<packagereq type="mandatory" type="optional">a</packagereq>')), /given twice/);
  });

  it('names the line of the fault', () => {
    refused(comps(`${group('a', '')}\n\n${group('b', '<packagereq>a b</packagereq>')}`), /hostile line 5:/);
  });
});

describe('groups across repositories', () => {
  const [a, b] = [
    parseComps(comps(group('core', '<packagereq>one</packagereq>')), 'first'),
    parseComps(comps(group('core', '<packagereq>two</packagereq><packagereq>one</packagereq>')), 'second'),
  ];

  it('one group per id: named by the first repository, with every package of each', () => {
    const merged = mergeComps([a, b]);
    assert.equal(merged.length, 1);
    assert.deepEqual(
      merged[0]?.packages.map((p) => p.name),
      ['one', 'two'],
    );
    assert.deepEqual(merged[0]?.repos, ['first', 'second']);
    assert.deepEqual(a[0]?.repos, ['first'], 'the inputs are left as they were');
  });

  it('a pattern matches an id or a name, case-insensitive, with globs', () => {
    const groups = parseComps(FIXTURE_COMPS, 'comps');
    const ids = (p: string) => matchGroups(groups, p).map((g) => g.id);
    assert.deepEqual(ids('redapps'), ['redapps']);
    assert.deepEqual(ids('RED APPS'), ['redapps']);
    assert.deepEqual(ids('red t*'), ['redtools']);
    assert.deepEqual(ids('red?roken'), ['redbroken']);
    assert.deepEqual(ids('redap'), []);
  });

  it('group install asks for mandatory and default packages, optional ones on request, conditional ones with their package', () => {
    const [apps] = parseComps(FIXTURE_COMPS, 'comps');
    assert.ok(apps);
    assert.deepEqual(groupInstallNames(apps), ['redhello', 'redscript', 'redfoo-conf']);
    assert.deepEqual(groupInstallNames(apps, { withOptional: true }), [
      'redhello',
      'redscript',
      'redlegacy',
      'redfoo-conf',
    ]);
    const onlyConditional = { ...apps, packages: apps.packages.filter((p) => p.type === 'conditional') };
    assert.deepEqual(groupInstallNames(onlyConditional), [], 'redhello neither present nor coming');
    assert.deepEqual(groupInstallNames(onlyConditional, { present: new Set(['redhello']) }), ['redfoo-conf']);
  });
});

describe('the group record', () => {
  const write = (dir: string, text: string) => {
    mkdirSync(join(dir, 'var/lib/dnf'), { recursive: true });
    writeFileSync(join(dir, GROUPS_FILE), text);
  };
  const record: GroupRecord = {
    apps: {
      id: 'apps',
      name: 'Apps',
      time: '2026-01-01T00:00:00.000Z',
      packages: ['a', 'b', 'old'],
      members: ['a', 'b', 'old'],
    },
    tools: {
      id: 'tools',
      name: 'Tools',
      time: '2026-01-01T00:00:00.000Z',
      packages: ['b', 't'],
      members: ['b', 't', 'u'],
    },
  };
  const step = (action: TransactionStep['action'], name: string, extra: Partial<TransactionStep> = {}) =>
    ({
      action,
      name,
      nevra: `${name}-1-1.noarch`,
      evr: '1-1',
      arch: 'noarch',
      node: '/n',
      ...extra,
    }) as TransactionStep;

  it('no file: no group; a written record reads back', (t) => {
    const dir = tempDir(t);
    assert.deepEqual(readGroupRecord(dir), {});
    write(dir, JSON.stringify({ version: 1, groups: record }));
    assert.deepEqual(readGroupRecord(dir), record);
  });

  it('a garbled or hostile record is an error naming the file', (t) => {
    const dir = tempDir(t);
    const file = join(dir, GROUPS_FILE);
    const hostile = (groups: unknown, why: RegExp, version: unknown = 1) => {
      write(dir, JSON.stringify({ version, groups }));
      assert.throws(
        () => readGroupRecord(dir),
        (e: unknown) =>
          e instanceof RedpakError && e.code === 'io' && e.message.startsWith(`${file}: `) && why.test(e.message),
      );
    };
    hostile({ apps: { ...record.apps, packages: ['*'] } }, /packages of group apps are not a list of package names/);
    hostile({ apps: { ...record.apps, packages: ['/etc/passwd'] } }, /package names/);
    hostile({ apps: { ...record.apps, packages: 'a' } }, /package names/);
    hostile(
      { apps: { ...record.apps, members: ['a', 'b c'] } },
      /the members of group apps are not a list of package names/,
    );
    hostile({ 'a b': { ...record.apps, id: 'a b' } }, /group id "a b"/);
    hostile({ apps: { ...record.apps, id: 'tools' } }, /no matching id/);
    hostile([], /"groups" is not an object/);
    hostile({}, /version 2/, 2);
    write(dir, '{"version": 1, "groups": {');
    assert.throws(() => readGroupRecord(dir), /invalid JSON/);
  });

  it('a transaction: erased packages leave every group, obsoleted ones are followed, user-named ones are theirs', () => {
    const after = nextGroupRecord(
      record,
      [
        step('erase', 't'),
        step('obsolete', 'new', { replaces: ['old-1-1.noarch'] }),
        step('install', 'a', { reason: 'user' }),
      ],
      { userNamed: ['a'] },
    );
    assert.deepEqual(after.apps?.packages, ['b', 'new']);
    assert.deepEqual(after.tools?.packages, ['b']);
    const upgraded = nextGroupRecord(record, [step('erase', 'b'), step('install', 'b')]);
    assert.deepEqual(upgraded.tools?.packages, ['b', 't'], 'a package replaced by its own name stays');
  });

  it('a group installed records what it brought in or adopted; a group removed leaves', () => {
    const after = nextGroupRecord(record, [step('install', 'x'), step('install', 'dep', { reason: 'dependency' })], {
      change: { kind: 'install', groups: [{ id: 'new', name: 'New', members: ['x', 'y', 'z'] }] },
      adopted: ['z'],
      time: 'T',
    });
    assert.deepEqual(after.new, { id: 'new', name: 'New', time: 'T', packages: ['x', 'z'], members: ['x', 'y', 'z'] });
    const removed = nextGroupRecord(record, [], { change: { kind: 'remove', ids: ['apps'] } });
    assert.deepEqual(Object.keys(removed), ['tools']);
  });
});
