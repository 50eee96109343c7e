/** redmanager explain: every effective setting with its origin, and the attempts that lost. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { explain, renderExplain, type ExplainResult } from '../../src/audit/explain.js';
import { makeNode, pinnedHost, tempDir } from '../helpers/family.js';
import { lineOf } from './helpers.js';

const ROOT = `headers:
  alias: ROOT
config:
  share_net: disabled
  gpgcheck: true
  capabilities:
  - cap: cap_sys_admin
    add: 0
  cgroups:
    pids:
      max: 10
exports:
- mode: Restricted
  mount: /usr
environ:
- key: MODE
  value: root
seccomp:
  rules:
  - syscall: ptrace
    action: errno
`;
const ROOT_ADMIN = `headers:
  alias: ROOT
environ:
- key: LEVEL
  value: admin
`;
const SUB = `headers:
  alias: SUB
config:
  hostname: sub
  share_net: enabled
  gpgcheck: false
  capabilities:
  - cap: cap_sys_admin
    add: 1
  cgroups:
    pids:
      max: 50
environ:
- key: MODE
  value: sub
- key: LEVEL
  value: sub
`;

function family(dir: string): { root: string; sub: string } {
  const root = makeNode(dir, join(dir, 'root'), 'ROOT', ROOT, ROOT_ADMIN);
  const sub = makeNode(dir, join(root, 'sub'), 'SUB', SUB);
  return { root, sub };
}

const setting = (r: ExplainResult, kind: string, key: string) =>
  r.settings.find((s) => s.kind === kind && s.key === key);

describe('explain', () => {
  it('lists each setting with node, file and line, and what bwrap gets', (t) => {
    const dir = tempDir(t);
    const { root, sub } = family(dir);
    const r = explain({ redpath: sub, host: pinnedHost() });
    const [rootFile, subFile] = [join(root, 'etc/redpak.yaml'), join(sub, 'etc/redpak.yaml')];
    const usr = setting(r, 'export', '/usr')!;
    assert.deepEqual(
      [usr.from?.alias, usr.from?.file, usr.from?.line, usr.args],
      ['ROOT', rootFile, lineOf(rootFile, /mode: Restricted/), ['--ro-bind', '/usr', '/usr']],
    );
    assert.deepEqual(
      [
        setting(r, 'scalar', 'hostname')?.value,
        setting(r, 'scalar', 'hostname')?.from?.line,
        setting(r, 'scalar', 'hostname')?.args,
      ],
      ['sub', lineOf(subFile, /hostname/), ['--unshare-uts', '--hostname', 'sub']],
    );
    assert.deepEqual(
      [
        setting(r, 'namespace', 'net')?.value,
        setting(r, 'namespace', 'net')?.from?.alias,
        setting(r, 'namespace', 'net')?.args,
      ],
      ['isolated', 'ROOT', ['--unshare-net']],
    );
    assert.equal(setting(r, 'namespace', 'time')?.value, 'shared (default)');
    assert.deepEqual(
      [setting(r, 'capability', 'cap_sys_admin')?.value, setting(r, 'capability', 'cap_sys_admin')?.from?.alias],
      ['drop', 'ROOT'],
    );
    assert.deepEqual(
      [setting(r, 'seccomp', 'ptrace')?.value, setting(r, 'seccomp', 'ptrace')?.from?.line],
      ['errno EPERM', lineOf(rootFile, /syscall: ptrace/)],
    );
    const pids = r.settings.filter((s) => s.kind === 'cgroup' && s.key === 'pids.max');
    assert.deepEqual(
      pids.map((s) => [s.value, s.from?.alias, s.from?.line]),
      [
        ['10', 'ROOT', lineOf(rootFile, /max: 10/)],
        ['50', 'SUB', lineOf(subFile, /max: 50/)],
      ],
    );
    assert.match(pids[1]!.note!, /capped at 10 by ROOT/);
    // MODE: the child's wins, the ancestor's is overridden.
    const mode = setting(r, 'environ', 'MODE')!;
    assert.deepEqual(
      [mode.from?.alias, mode.overridden.map((o) => [o.from.alias, o.by, o.reason])],
      ['SUB', [['ROOT', 'ancestor', 'shadowed']]],
    );
  });

  it('lists every refused attempt of the child, and says the node cannot be launched', (t) => {
    const dir = tempDir(t);
    const { sub } = family(dir);
    const subFile = join(sub, 'etc/redpak.yaml');
    const r = explain({ redpath: sub, host: pinnedHost() });
    assert.equal(r.launchable, false);
    assert.deepEqual(r.refused.map((x) => [x.kind, x.key, x.from.alias, x.from.line]).sort(), [
      ['capability', 'cap_sys_admin', 'SUB', lineOf(subFile, /cap: cap_sys_admin/)],
      ['namespace', 'net', 'SUB', lineOf(subFile, /share_net/)],
      ['scalar', 'gpgcheck', 'SUB', lineOf(subFile, /gpgcheck/)],
    ]);
    assert.match(r.refused.find((x) => x.key === 'net')!.message, /forbids/);
    assert.equal(setting(r, 'scalar', 'gpgcheck')?.value, true);
    const text = renderExplain(r);
    assert.match(text, /NOT LAUNCHABLE/);
    assert.match(text, /refused:/);
  });

  it("with --admin: an ancestor's admin file overrides the descendant's definition", (t) => {
    const dir = tempDir(t);
    const { root, sub } = family(dir);
    const r = explain({ redpath: sub, admin: true, host: pinnedHost() });
    const level = setting(r, 'environ', 'LEVEL')!;
    assert.deepEqual(
      [level.from?.kind, level.from?.file, (level.value as { value: string }).value],
      ['admin', join(root, 'etc/redpak-admin.yaml'), 'admin'],
    );
    assert.deepEqual(
      level.overridden.map((o) => [o.from.alias, o.by, o.reason]),
      [['SUB', 'descendant', 'replaced']],
    );
    assert.equal(
      explain({ redpath: sub, host: pinnedHost() }).settings.find((s) => s.key === 'LEVEL')?.from?.alias,
      'SUB',
    );
  });

  it('lists each loosening the merge refuses (exports, share_all, scalars) with both nodes and files, and the strictest value of each setting', (t) => {
    const dir = tempDir(t);
    const root = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      `headers:
  alias: ROOT
config:
  umask: "027"
  new-session: enabled
  share_all: disabled
exports:
- mode: Restricted
  mount: /data
  path: /srv/data
`,
    );
    const sub = makeNode(
      dir,
      join(root, 'sub'),
      'SUB',
      `headers:
  alias: SUB
config:
  umask: "077"
  new-session: enabled
  share_pid: enabled
  die-with-parent: enabled
exports:
- mode: Public
  mount: /data/
  path: /srv/data
`,
    );
    const [rootFile, subFile] = [join(root, 'etc/redpak.yaml'), join(sub, 'etc/redpak.yaml')];
    const r = explain({ redpath: sub, host: pinnedHost() });
    assert.equal(r.launchable, false);
    assert.deepEqual(r.refused.map((x) => [x.kind, x.key, x.from.alias, x.from.line]).sort(), [
      ['export', '/data/', 'SUB', lineOf(subFile, /mode: Public/)],
      ['namespace', 'pid', 'SUB', lineOf(subFile, /share_pid/)],
    ]);
    const data = r.refused.find((x) => x.kind === 'export')!;
    assert.match(
      data.message,
      new RegExp(
        `SUB .* loosens its ancestor ROOT .*: export /data: Public at ${subFile}:\\d+ against export /data: Restricted at ${rootFile}:${lineOf(rootFile, /mode: Restricted/)}`,
      ),
    );
    assert.match(r.refused.find((x) => x.kind === 'namespace')!.message, /share_pid: disabled \(from share_all\)/);
    // Once refused, the ancestor's values hold, and each names where its strictest value is set.
    assert.deepEqual(
      [setting(r, 'export', '/data')?.value, setting(r, 'export', '/data')?.from?.alias],
      [{ mode: 'Restricted', mount: '/data', path: '/srv/data' }, 'ROOT'],
    );
    assert.deepEqual(
      [setting(r, 'namespace', 'pid')?.value, setting(r, 'namespace', 'pid')?.strictest?.from.alias],
      ['isolated', 'ROOT'],
    );
    assert.deepEqual(
      [setting(r, 'scalar', 'umask')?.from?.alias, setting(r, 'scalar', 'umask')?.strictest?.from.alias],
      ['SUB', 'SUB'],
    );
    // A tie names the ancestor that imposed it.
    assert.deepEqual(
      [setting(r, 'scalar', 'new-session')?.from?.alias, setting(r, 'scalar', 'new-session')?.strictest],
      [
        'SUB',
        {
          from: {
            node: root,
            alias: 'ROOT',
            kind: 'normal',
            file: rootFile,
            line: lineOf(rootFile, /new-session/),
            col: 3,
          },
          value: 'Enabled',
        },
      ],
    );
    const text = renderExplain(r);
    assert.match(text, /strictest: Enabled <- ROOT .*redpak.yaml:\d+ \(no descendant may loosen it\)/);
    assert.match(text, /refused:\n(.*\n)* {2}export \/data\/: Public \/srv\/data <- SUB/);
  });

  it('refuses bad input with a clear error', (t) => {
    const dir = tempDir(t);
    assert.throws(() => explain({ redpath: join(dir, 'none'), host: pinnedHost() }), { code: 'not-a-node' });
  });
});
