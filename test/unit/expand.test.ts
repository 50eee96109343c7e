/**
 * Variable expansion against docs/configuration.md, "Variables": the syntax rules, every built-in
 * (with pinned host facts), the path-list merge, and the port's intended differences
 * (no 512-byte limit; a self-referencing variable is a RedpakError 'expansion' instead of a crash;
 * `$REDNODE_VARDIR` keeps redpak's odd `var/rpm/lib`). `$(…)` runs the real restricted shell.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedpakError } from '../../src/errors.js';
import {
  appendPathList,
  expand,
  formatToday,
  type ExpandContext,
  type HostFacts,
  type NodeFacts,
} from '../../src/config/expand.js';
import { pinnedHost } from '../helpers/family.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectionHostFacts, runSandboxedCommand } from '../../src/system/host-facts.js';

const NODE: NodeFacts = { alias: 'mid', name: 'uuid-mid', path: '/var/redpak/mid', info: 'the middle node' };
const LEAF: NodeFacts = { alias: 'leaf', name: 'uuid-leaf', path: '/var/redpak/mid/leaf', info: 'the leaf node' };

interface Options {
  /** Replaces pinnedHost's environment when given. */
  env?: Record<string, string | undefined>;
  /** Added to pinnedHost's environment. */
  addEnv?: Record<string, string | undefined>;
  host?: Partial<HostFacts>;
  node?: NodeFacts | null;
  leaf?: NodeFacts | null;
  commands?: boolean;
}

function ctx(o: Options = {}): ExpandContext {
  const base = pinnedHost(o.host);
  const env = { ...(o.env ?? base.env), ...(o.addEnv ?? {}) };
  return {
    host: { ...base, env },
    node: o.node === null ? undefined : (o.node ?? NODE),
    leaf: o.leaf === null ? undefined : (o.leaf ?? LEAF),
    commands: o.commands ?? false,
  };
}

const ex = (text: string, o: Options = {}) => expand(text, ctx(o));

interface Case {
  name: string;
  text: string;
  expected: string;
  o?: Options;
}

function table(cases: Case[]): void {
  for (const c of cases) {
    it(c.name, () => assert.equal(ex(c.text, c.o), c.expected));
  }
}

function isExpansionError(pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RedpakError, `expected a RedpakError, got ${String(error)}`);
    assert.equal(error.code, 'expansion');
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('expansion syntax', () => {
  describe('escapes and plain text', () => {
    table([
      { name: 'text without $ is unchanged', text: '/usr/lib64:/x y', expected: '/usr/lib64:/x y' },
      { name: '\\$ gives a literal $ (backslash dropped, name not looked up)', text: '\\$USER', expected: '$USER' },
      { name: '\\$ in the middle of text', text: 'cost \\$5 for $USER', expected: 'cost $5 for tester' },
      { name: 'a backslash not before $ is kept', text: 'a\\nb\\tc\\', expected: 'a\\nb\\tc\\' },
      {
        name: 'a doubled backslash before $ keeps one backslash and escapes the $',
        text: '\\\\$USER',
        expected: '\\$USER',
      },
      {
        name: 'backslash before an expanded variable position is kept, variable still expands',
        text: '\\ $USER',
        expected: '\\ tester',
      },
    ]);
  });

  describe('$NAME: the name is the longest run of [0-9A-Za-z_]', () => {
    table([
      { name: 'name ends at /', text: '$USER/x', expected: 'tester/x' },
      { name: 'name ends at -', text: '$USER-x', expected: 'tester-x' },
      { name: 'name ends at .', text: '$USER.conf', expected: 'tester.conf' },
      {
        name: 'underscore and digits belong to the name ($USER_1 is not $USER + "_1")',
        text: '[$USER_1]',
        expected: '[]',
      },
      { name: 'longer name found in env is used', text: '$USER_1', expected: 'one', o: { addEnv: { USER_1: 'one' } } },
      { name: 'name may start with a digit', text: '$1abc', expected: 'digits', o: { addEnv: { '1abc': 'digits' } } },
      { name: 'two variables back to back', text: '$USER$HOSTNAME', expected: 'testertesthost' },
      { name: 'variable at end of text', text: 'u=$USER', expected: 'u=tester' },
    ]);
  });

  describe('lookup is case-sensitive (DOC≠CODE)', () => {
    table([
      { name: '$user is not the built-in USER', text: '[$user]', expected: '[]' },
      { name: '$uid is not the built-in UID', text: '[$uid]', expected: '[]' },
      { name: '$node_path is not the built-in NODE_PATH', text: '[$node_path]', expected: '[]' },
      {
        name: 'env lookup is case-sensitive too',
        text: '[$Foo][$FOO]',
        expected: '[][bar]',
        o: { addEnv: { FOO: 'bar' } },
      },
    ]);
  });

  describe('resolution order: built-in, then environment (re-expanded), then empty', () => {
    table([
      { name: 'unknown name expands to nothing', text: 'a$NO_SUCH_VARIABLE_XYZb', expected: 'a' },
      { name: 'unknown name between separators', text: 'a/$NO_SUCH_VARIABLE_XYZ/b', expected: 'a//b' },
      { name: 'environment variable is used', text: '$HOME/x', expected: '/home/tester/x' },
      {
        name: 'environment value is re-expanded',
        text: '$MYDIR/x',
        expected: '/home/tester/sub/x',
        o: { addEnv: { MYDIR: '$HOME/sub' } },
      },
      {
        name: 'environment value is re-expanded recursively (several levels)',
        text: '$A',
        expected: '<<<tester>>>',
        o: { addEnv: { A: '<$B>', B: '<$C>', C: '<$USER>' } },
      },
      {
        name: 'environment value may use built-ins and node context',
        text: '$MYDIR',
        expected: '/var/redpak/mid/data',
        o: { addEnv: { MYDIR: '$NODE_PATH/data' } },
      },
      {
        name: 'empty environment value expands to nothing',
        text: '[$EMPTY]',
        expected: '[]',
        o: { addEnv: { EMPTY: '' } },
      },
      {
        name: 'escape inside an environment value is honoured',
        text: '$PRICE',
        expected: '$5',
        o: { addEnv: { PRICE: '\\$5' } },
      },
      {
        name: 'built-in wins over an environment variable of the same name (UID)',
        text: '$UID',
        expected: '1000',
        o: { addEnv: { UID: '77' } },
      },
      {
        name: 'built-in wins over an environment variable of the same name (PID)',
        text: '$PID',
        expected: '4242',
        o: { addEnv: { PID: '1' } },
      },
      {
        name: 'built-in wins over an environment variable of the same name (NODE_PATH)',
        text: '$NODE_PATH',
        expected: '/var/redpak/mid',
        o: { addEnv: { NODE_PATH: '/env' } },
      },
      {
        name: 'built-in wins even without context (NODE_ALIAS)',
        text: '$NODE_ALIAS',
        expected: '#undef:NODE_ALIAS',
        o: { node: null, addEnv: { NODE_ALIAS: 'fromenv' } },
      },
      {
        name: 'a re-expanded environment value never runs commands',
        text: '[$CMD]',
        expected: '[]',
        o: { commands: true, addEnv: { CMD: '$(echo ran)' } },
      },
      {
        name: 'a re-expanded built-in value never runs commands',
        text: '[$REDPESK_VERSION]',
        expected: '[v-]',
        o: { commands: true, addEnv: { REDPESK_VERSION: 'v-$(echo ran)' } },
      },
    ]);
  });

  describe('$ before a non-name character produces nothing', () => {
    table([
      { name: '$ before a space', text: 'a$ b', expected: 'a b' },
      { name: '$ at end of text', text: 'cost 5$', expected: 'cost 5' },
      { name: '$ before /', text: '$/bin', expected: '/bin' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a config's literal text under test
      { name: '$ before {', text: '${USER}', expected: '{USER}' },
      { name: '$ before -', text: 'a$-b', expected: 'a-b' },
      { name: '$ before ) outside a command', text: 'a$)b', expected: 'a)b' },
      { name: '$ before $: the first is dropped, the second starts a name', text: '$$USER', expected: 'tester' },
    ]);
  });

  describe('$(command)', () => {
    table([
      {
        name: 'runs with the restricted shell; raw stdout, trailing newline kept',
        text: '$(echo hi)',
        expected: 'hi\n',
        o: { commands: true },
      },
      { name: 'output spliced into surrounding text', text: '<$(echo hi)>', expected: '<hi\n>', o: { commands: true } },
      {
        name: 'output without newline is kept as is',
        text: '[$(printf abc)]',
        expected: '[abc]',
        o: { commands: true },
      },
      { name: 'empty output', text: '[$(true)]', expected: '[]', o: { commands: true } },
      {
        name: 'commands disabled: the whole $(...) is empty',
        text: '<$(echo hi)>',
        expected: '<>',
        o: { commands: false },
      },
      {
        name: 'commands disabled: nested parentheses are skipped as a whole',
        text: '<$(echo "(a)" (b))>',
        expected: '<>',
        o: { commands: false },
      },
      {
        name: 'nested parentheses: the command ends at the balancing )',
        text: '<$(echo "(a)")>',
        expected: '<(a)\n>',
        o: { commands: true },
      },
      {
        name: 'deeper nesting',
        text: '$(echo "((x)(y))")z',
        expected: '((x)(y))\nz',
        o: { commands: true },
      },
      {
        name: 'inner text is expanded before running (node context unknown to bash)',
        text: '$(echo $NODE_ALIAS-$LEAF_ALIAS)',
        expected: 'mid-leaf\n',
        o: { commands: true },
      },
      {
        name: 'inner text expansion: \\$ reaches bash as a literal $',
        text: "$(echo '\\$NODE_ALIAS')",
        expected: '$NODE_ALIAS\n',
        o: { commands: true },
      },
      {
        name: 'inner text is expanded without commands: an inner $(...) is empty',
        text: '$(echo a$(echo b)c)',
        expected: 'ac\n',
        o: { commands: true },
      },
      { name: 'two commands in one string', text: '$(echo a)-$(echo b)', expected: 'a\n-b\n', o: { commands: true } },
      { name: 'unbalanced $( drops only the $', text: 'x$(echo hi', expected: 'x(echo hi', o: { commands: true } },
      {
        name: 'unbalanced $( with a variable after it',
        text: '$(a $USER',
        expected: '(a tester',
        o: { commands: true },
      },
      {
        name: 'unbalanced $( with commands disabled',
        text: 'x$(echo hi',
        expected: 'x(echo hi',
        o: { commands: false },
      },
      { name: '\\$( is not a command', text: '\\$(echo hi)', expected: '$(echo hi)', o: { commands: true } },
    ]);

    it('the shell is restricted bash (cd is refused)', () => {
      assert.throws(
        () => ex('$(cd /tmp && echo moved)', { commands: true }),
        (error: unknown) => {
          assert.ok(error instanceof RedpakError);
          assert.match(error.message, /restricted/);
          return true;
        },
      );
    });

    it('the command is handed the expanded text exactly', () => {
      const seen: string[] = [];
      const out = ex('$(run $USER "$(inner)" \\$HOME (x))', {
        commands: true,
        host: {
          runCommand: (s) => {
            seen.push(s);
            return 'OUT';
          },
        },
      });
      assert.equal(out, 'OUT');
      assert.deepEqual(seen, ['run tester "" $HOME (x)']);
    });

    it('commands are not run at all when disabled', () => {
      const seen: string[] = [];
      assert.equal(
        ex('a$(x)b', {
          commands: false,
          host: {
            runCommand: (s) => {
              seen.push(s);
              return 'OUT';
            },
          },
        }),
        'ab',
      );
      assert.deepEqual(seen, []);
    });
  });

  describe('no 512-byte limit (intended difference)', () => {
    it('expands a value well over 512 bytes', () => {
      const long = 'x'.repeat(2000);
      assert.equal(ex('$LONG/$LONG', { addEnv: { LONG: long } }), `${long}/${long}`);
    });
    it('keeps a long literal unchanged', () => {
      const text = '/a'.repeat(1000);
      assert.equal(ex(text), text);
    });
  });

  describe('self-reference raises RedpakError "expansion" (intended difference)', () => {
    const cases: Array<{ name: string; text: string; o: Options; names: RegExp }> = [
      {
        name: 'environment variable referring to itself',
        text: '$SELF',
        o: { addEnv: { SELF: 'a$SELF' } },
        names: /\$SELF → \$SELF/,
      },
      {
        name: 'two environment variables referring to each other',
        text: '$A',
        o: { addEnv: { A: '$B', B: '$A' } },
        names: /\$A → \$B → \$A/,
      },
      {
        name: 'header field referring to itself ($NODE_NAME in name)',
        text: '$NODE_NAME',
        o: { node: { ...NODE, name: 'n-$NODE_NAME' } },
        names: /\$NODE_NAME/,
      },
      {
        name: 'leaf info referring to itself',
        text: 'x $LEAF_INFO',
        o: { leaf: { ...LEAF, info: 'i $LEAF_INFO' } },
        names: /\$LEAF_INFO/,
      },
      {
        name: 'env-sourced built-in referring to itself (USER=$USER)',
        text: '$USER',
        o: { addEnv: { USER: '$USER' } },
        names: /\$USER/,
      },
      {
        name: 'self-reference reached through a built-in',
        text: '$REDNODE_CONF',
        o: { node: { ...NODE, path: '$REDNODE_CONF' } },
        names: /\$REDNODE_CONF → \$NODE_PATH → \$REDNODE_CONF/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.throws(() => ex(c.text, c.o), isExpansionError(c.names)));
    }

    it('a deep but finite chain of distinct variables is not mistaken for a self-reference', () => {
      const env: Record<string, string> = {};
      for (let i = 0; i < 40; i += 1) env[`V${i}`] = `${i},$V${i + 1}`;
      env.V40 = 'end';
      const expected = `${Array.from({ length: 40 }, (_, i) => `${i},`).join('')}end`;
      assert.equal(ex('$V0', { addEnv: env }), expected);
    });

    it('the same variable used twice side by side is not a self-reference', () => {
      assert.equal(ex('$A', { addEnv: { A: '$B$B', B: '$C.$C', C: 'c' } }), 'c.cc.c');
    });
  });
});

describe('built-in variables', () => {
  const noEnv = { env: {} };
  table([
    { name: 'NODE_PREFIX defaults to empty', text: '[$NODE_PREFIX]', expected: '[]', o: noEnv },
    { name: 'NODE_PREFIX from env', text: '$NODE_PREFIX', expected: '/opt', o: { addEnv: { NODE_PREFIX: '/opt' } } },
    { name: 'redpak_MAIN default', text: '$redpak_MAIN', expected: '/etc/redpak/main.yaml', o: noEnv },
    {
      name: 'redpak_MAIN default uses NODE_PREFIX',
      text: '$redpak_MAIN',
      expected: '/opt/etc/redpak/main.yaml',
      o: { env: { NODE_PREFIX: '/opt' } },
    },
    {
      name: 'redpak_MAIN from env',
      text: '$redpak_MAIN',
      expected: '/x/main.yaml',
      o: { env: { redpak_MAIN: '/x/main.yaml', NODE_PREFIX: '/opt' } },
    },
    {
      name: 'redpak_MAIN from env is re-expanded',
      text: '$redpak_MAIN',
      expected: '/opt/m.yaml',
      o: { env: { redpak_MAIN: '$NODE_PREFIX/m.yaml', NODE_PREFIX: '/opt' } },
    },
    {
      name: 'redpak_MAIN is case-sensitive ($REDPAK_MAIN is not it)',
      text: '[$REDPAK_MAIN]',
      expected: '[]',
      o: noEnv,
    },
    { name: 'redpak_TMPL default', text: '$redpak_TMPL', expected: '/etc/redpak/templates.d', o: noEnv },
    {
      name: 'redpak_TMPL default uses NODE_PREFIX',
      text: '$redpak_TMPL',
      expected: '/p/etc/redpak/templates.d',
      o: { env: { NODE_PREFIX: '/p' } },
    },
    { name: 'redpak_TMPL from env', text: '$redpak_TMPL', expected: '/t', o: { env: { redpak_TMPL: '/t' } } },
    { name: 'REDNODE_CONF', text: '$REDNODE_CONF', expected: '/var/redpak/mid/etc/redpak.yaml' },
    { name: 'REDNODE_ADMIN', text: '$REDNODE_ADMIN', expected: '/var/redpak/mid/etc/redpak-admin.yaml' },
    { name: 'REDNODE_STATUS', text: '$REDNODE_STATUS', expected: '/var/redpak/mid/.rednode.yaml' },
    {
      name: 'REDNODE_VARDIR keeps redpak\'s "var/rpm/lib" (sic)',
      text: '$REDNODE_VARDIR',
      expected: '/var/redpak/mid/var/rpm/lib',
    },
    { name: 'REDNODE_REPODIR', text: '$REDNODE_REPODIR', expected: '/var/redpak/mid/etc/yum.repos.d' },
    { name: 'REDNODE_LOCK', text: '$REDNODE_LOCK', expected: '/var/redpak/mid/.rpm.lock' },
    {
      name: 'REDNODE_* use the defining node, not the leaf',
      text: '$REDNODE_CONF',
      expected: '/n/etc/redpak.yaml',
      o: { node: { alias: 'n', path: '/n' } },
    },
    {
      name: 'REDNODE_CONF is fixed (env ignored)',
      text: '$REDNODE_CONF',
      expected: '/var/redpak/mid/etc/redpak.yaml',
      o: { addEnv: { REDNODE_CONF: '/env' } },
    },
    {
      name: 'REDNODE_CONF without node context',
      text: '$REDNODE_CONF',
      expected: '#undef:NODE_PATH/etc/redpak.yaml',
      o: { node: null },
    },
    { name: 'USER from env', text: '$USER', expected: 'tester' },
    { name: 'USER default', text: '$USER', expected: 'Unknown', o: noEnv },
    { name: 'LOGNAME from env', text: '$LOGNAME', expected: 'lg', o: { env: { LOGNAME: 'lg' } } },
    { name: 'LOGNAME default', text: '$LOGNAME', expected: 'Unknown', o: noEnv },
    { name: 'HOSTNAME from env', text: '$HOSTNAME', expected: 'testhost' },
    { name: 'HOSTNAME default', text: '$HOSTNAME', expected: 'localhost', o: noEnv },
    {
      name: 'CGROUPS_MOUNT_POINT from the host (first cgroup2 mount)',
      text: '$CGROUPS_MOUNT_POINT',
      expected: '/mnt/cg2',
      o: { host: { cgroupMountPoint: () => '/mnt/cg2' } },
    },
    {
      name: 'CGROUPS_MOUNT_POINT from env wins over the mounts',
      text: '$CGROUPS_MOUNT_POINT',
      expected: '/env/cg',
      o: { addEnv: { CGROUPS_MOUNT_POINT: '/env/cg' }, host: { cgroupMountPoint: () => '/mnt/cg2' } },
    },
    { name: 'PID', text: '$PID', expected: '4242' },
    { name: 'PID follows the host', text: '$PID', expected: '17', o: { host: { pid: 17 } } },
    { name: 'UID', text: '$UID', expected: '1000' },
    {
      name: 'UID follows the host (e.g. resolved set-user)',
      text: 'user-$UID.slice',
      expected: 'user-0.slice',
      o: { host: { uid: 0 } },
    },
    { name: 'GID', text: '$GID', expected: '1000' },
    { name: 'GID follows the host', text: '$GID', expected: '55', o: { host: { gid: 55 } } },
    { name: 'UUID', text: '$UUID', expected: '00000000-0000-4000-8000-000000000001' },
    {
      name: 'UUID is fresh at each use',
      text: '$UUID $UUID',
      expected: '00000000-0000-4000-8000-000000000001 00000000-0000-4000-8000-000000000002',
    },
    { name: 'REDPESK_VERSION default', text: '$REDPESK_VERSION', expected: 'agl-redpesk9' },
    {
      name: 'REDPESK_VERSION from env',
      text: '$REDPESK_VERSION',
      expected: 'rp10',
      o: { addEnv: { REDPESK_VERSION: 'rp10' } },
    },
    { name: 'NODE_ALIAS', text: '$NODE_ALIAS', expected: 'mid' },
    { name: 'NODE_NAME', text: '$NODE_NAME', expected: 'uuid-mid' },
    { name: 'NODE_PATH', text: '$NODE_PATH', expected: '/var/redpak/mid' },
    { name: 'NODE_INFO', text: '$NODE_INFO', expected: 'the middle node' },
    { name: 'LEAF_ALIAS', text: '$LEAF_ALIAS', expected: 'leaf' },
    { name: 'LEAF_NAME', text: '$LEAF_NAME', expected: 'uuid-leaf' },
    { name: 'LEAF_PATH', text: '$LEAF_PATH', expected: '/var/redpak/mid/leaf' },
    { name: 'LEAF_INFO', text: '$LEAF_INFO', expected: 'the leaf node' },
    {
      name: 'node header fields are re-expanded',
      text: '$NODE_INFO',
      expected: 'made by tester on testhost',
      o: { node: { ...NODE, info: 'made by $USER on $HOSTNAME' } },
    },
    {
      name: 'leaf header fields are re-expanded',
      text: '$LEAF_INFO',
      expected: 'in /var/redpak/mid',
      o: { leaf: { ...LEAF, info: 'in $NODE_PATH' } },
    },
    {
      name: 'missing optional header field (name) expands to nothing',
      text: '[$NODE_NAME][$LEAF_INFO]',
      expected: '[][]',
      o: { node: { alias: 'a', path: '/a' }, leaf: { alias: 'b', path: '/b' } },
    },
  ]);

  describe('#undef:NAME without node/leaf context', () => {
    const names = [
      'NODE_ALIAS',
      'NODE_NAME',
      'NODE_PATH',
      'NODE_INFO',
      'LEAF_ALIAS',
      'LEAF_NAME',
      'LEAF_PATH',
      'LEAF_INFO',
    ];
    for (const name of names) {
      it(`$${name} → #undef:${name}`, () =>
        assert.equal(ex(`<$${name}>`, { node: null, leaf: null }), `<#undef:${name}>`));
    }
    it('NODE_* and LEAF_* contexts are independent', () => {
      assert.equal(ex('$NODE_ALIAS/$LEAF_ALIAS', { node: null }), '#undef:NODE_ALIAS/leaf');
      assert.equal(ex('$NODE_ALIAS/$LEAF_ALIAS', { leaf: null }), 'mid/#undef:LEAF_ALIAS');
    });
  });

  describe('$TODAY: strftime("%d-%b-%Y %H:%M (%Z)") in local time', () => {
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const summer = new Date(Date.UTC(2026, 6, 9, 21, 30, 0));
    const withTz = (tz: string, fn: () => void) => {
      const saved = process.env.TZ;
      process.env.TZ = tz;
      try {
        fn();
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
    };
    const cases: Array<{ tz: string; date: Date; expected: string }> = [
      { tz: 'UTC', date: now, expected: '02-Jan-2026 03:04 (UTC)' },
      { tz: 'UTC', date: summer, expected: '09-Jul-2026 21:30 (UTC)' },
      // Local time: the day, hour and zone move with TZ.
      { tz: 'America/New_York', date: now, expected: '01-Jan-2026 22:04 (EST)' },
      { tz: 'America/New_York', date: summer, expected: '09-Jul-2026 17:30 (EDT)' },
    ];
    for (const c of cases) {
      it(`${c.date.toISOString()} in ${c.tz} → ${c.expected}`, () => {
        withTz(c.tz, () => {
          assert.equal(ex('$TODAY', { host: { now: c.date } }), c.expected);
          assert.equal(formatToday(c.date), c.expected);
        });
      });
    }
    it('day and hour are zero-padded', () => {
      withTz('UTC', () =>
        assert.equal(
          ex('created $TODAY', { host: { now: new Date(Date.UTC(2025, 2, 5, 7, 8)) } }),
          'created 05-Mar-2025 07:08 (UTC)',
        ),
      );
    });
  });
});

describe('appendPathList (tests/checks-conf.c)', () => {
  const cases: Array<[string, string, string]> = [
    // The upstream unit cases.
    ['', '', ''],
    ['', '/bin', '/bin'],
    ['', '/bin:/usr/bin', '/bin:/usr/bin'],
    ['/bin:/usr/bin', '/bin:/usr/bin', '/bin:/usr/bin'],
    ['/bin', '/bin:/usr/bin', '/bin:/usr/bin'],
    ['/usr/bin', '/bin:/usr/bin', '/usr/bin:/bin'],
    // Empty components are dropped, trailing ':' stripped.
    ['/a', '::/b::/c:', '/a:/b:/c'],
    ['/a', ':', '/a'],
    ['', ':/x:', '/x'],
    // Exact compare: neither prefix nor substring counts as present.
    ['/usr/bin', '/bin', '/usr/bin:/bin'],
    ['/bin/x', '/bin', '/bin/x:/bin'],
    ['/x/', '/x', '/x/:/x'],
    // Duplicates inside the addition are added once; order of first appearance kept.
    ['/a', '/b:/a:/b:/c', '/a:/b:/c'],
    // Appending nothing keeps the accumulated list.
    ['/a:/b', '', '/a:/b'],
  ];
  for (const [a, b, expected] of cases) {
    it(`"${a}" + "${b}" = "${expected}"`, () => assert.equal(appendPathList(a, b), expected));
  }
  it('is cumulative over a hierarchy (root → mid → leaf)', () => {
    let acc = '';
    for (const add of ['/bin', '/nodes/mid/usr/bin:/bin', '/nodes/leaf/usr/bin:/nodes/mid/usr/bin'])
      acc = appendPathList(acc, add);
    assert.equal(acc, '/bin:/nodes/mid/usr/bin:/nodes/leaf/usr/bin');
  });
});

describe('$(command): never during inspection, sandboxed at launch', () => {
  it('in "never" mode the command is shown, marked, and not run', () => {
    const seen: string[] = [];
    const host = {
      commands: 'never' as const,
      runCommand: (s: string) => {
        seen.push(s);
        return 'RAN';
      },
    };
    assert.equal(ex('<$(touch /tmp/x) $USER>', { commands: true, host }), '<<not run: $(touch /tmp/x)> tester>');
    assert.deepEqual(seen, []);
  });

  it('inspectionHostFacts never runs a command, even asked directly', () => {
    const host = inspectionHostFacts();
    assert.equal(host.commands, 'never');
    assert.throws(() => host.runCommand('true'), /not run during inspection/);
  });

  it('a command cannot write a host path (it could with restricted bash alone)', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'redpak-sandbox-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const planted = join(dir, 'pwned');
    assert.throws(
      () => runSandboxedCommand(`touch ${planted}`),
      (error: unknown) => error instanceof RedpakError && error.code === 'expansion',
    );
    assert.equal(existsSync(planted), false);
  });

  it('a command sees no network, no capability, no host secret, and a read-only /usr', () => {
    assert.deepEqual(
      runSandboxedCommand('cat /proc/net/dev')
        .split('\n')
        .filter((l) => l.includes(':'))
        .map((l) => l.trim().split(':')[0]),
      ['lo'],
    );
    assert.match(runSandboxedCommand('grep CapEff /proc/self/status'), /CapEff:\s+0+\n/);
    assert.throws(() => runSandboxedCommand('cat /etc/shadow'), /No such file/);
    assert.throws(() => runSandboxedCommand('touch /usr/pwned'), /Read-only file system/);
    assert.match(runSandboxedCommand('getent passwd 0'), /^root:/);
  });

  it('a command is killed after its time and refused above its output limit', () => {
    const started = Date.now();
    assert.throws(
      () => runSandboxedCommand('sleep 20', undefined, { timeoutMs: 500 }),
      /did not finish within 0.5 s: killed/,
    );
    assert.ok(Date.now() - started < 5000);
    assert.throws(
      () => runSandboxedCommand('head -c 5000 /dev/zero', undefined, { maxOutput: 1000 }),
      /printed more than 1000 bytes: killed/,
    );
  });
});
