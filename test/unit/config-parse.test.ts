/**
 * The config layer's parser and canonical writer against docs/node-layout.md, "Status file", and
 * docs/configuration.md (schema, "Canonical form"): the seven upstream parser cases (tests/conf), then the rules
 * one by one, table-driven. Intended difference tested as such: PrivateRestricted is a private
 * export (docs/compatibility.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedpakError, type ErrorCode } from '../../src/errors.js';
import { isValidAlias, parseNodeConfig, parseNodeStatus } from '../../src/config/parse.js';
import { serializeConfig, serializeStatus } from '../../src/config/serialize.js';
import {
  DIR_EXPORT_MODES,
  ENVIRON_MODES,
  EXPORT_MODES,
  PRIVATE_EXPORT_MODES,
  TRI_STATES,
  type NodeConfig,
} from '../../src/config/types.js';

const FILE = '/nodes/conftest/etc/redpak.yaml';
const STATUS_FILE = '/nodes/conftest/.rednode.yaml';

const parse = (text: string, file = FILE): NodeConfig => parseNodeConfig(text, file, 'normal');
const headers = (alias = 'conftest') => `headers:\n  alias: ${alias}\n`;
/** headers + `config:` with the given body indented under it. */
const withConfig = (body: string) => `${headers()}config:\n${body.replace(/^(?=.)/gm, '  ')}`;

interface Expected {
  code: ErrorCode;
  /** Every pattern must match the message. */
  message?: RegExp[];
  line?: number;
  col?: number;
  file?: string;
}

function rejects(fn: () => unknown, e: Expected): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RedpakError, `expected a RedpakError, got ${String(error)}`);
    assert.equal(error.code, e.code, `code of "${error.message}"`);
    for (const re of e.message ?? []) assert.match(error.message, re);
    if (e.line !== undefined || e.col !== undefined || e.file !== undefined) {
      assert.ok(error.at, `no position in "${error.message}"`);
      if (e.file !== undefined) assert.equal(error.at.file, e.file);
      if (e.line !== undefined) assert.equal(error.at.line, e.line, `line of "${error.message}"`);
      if (e.col !== undefined) assert.equal(error.at.col, e.col, `column of "${error.message}"`);
    }
    return true;
  });
}

// ------------------------------------------------------------------------------------------------
// tests/conf case 2: a full configuration. Keys and sections are written out of redpak's order on purpose
// so that re-emission proves the canonical order (docs/configuration.md, "Canonical form").
const FULL_INPUT = `# A full configuration, keys written out of redpak's order on purpose.
config:
  capabilities:
    - add: 1
      cap: cap_net_raw
      info: raw sockets
    - cap: ALL
      add: 0
      warn: all capabilities dropped
  cgrouproot: /sys/fs/cgroup/user.slice/user-$UID.slice/user@$UID.service
  chdir: /home/$LEAF_ALIAS
  hostname: $LEAF_ALIAS
  cgroups:
    pids:
      max: 100
    io:
      max: "8:0 rbps=1000000"
      weight: 50
      cost_model: auto
      cost_qos: enable=1
    cpu:
      max: 10000 100000
      weight_nice: 5
      weight: 100
    mem:
      swap_max: 0
      swap_high: 0
      oom_group: 1
      low: 1M
      min: 2M
      high: 512M
      max: 1G
    cpuset:
      cpus_partition: root
      mems: 0
      cpus: 0-1
  share_time: disabled
  share_ipc: unset
  share_pid: /proc/1/ns/pid
  share_net: enabled
  share_cgroup: unset
  share_user: unset
  share_all: disabled
  new-session: disabled
  die-with-parent: enabled
  inherit-env: yes
  unsafe: no
  gpgcheck: true
  map-root-user: 1
  verbose: 2
  smack: System
  set-group: users
  set-user: nobody
  umask: 027
  ldpath: /lib64:/nodes/$NODE_ALIAS/usr/lib64
  path: /bin:/nodes/$NODE_ALIAS/usr/bin
  cachedir: $NODE_PATH/var/cache/dnf
  rpmdir: $NODE_PATH/var/lib/rpm
  persistdir: $NODE_PATH/var/lib/dnf
environ:
  - value: /run/user/$UID
    key: XDG_RUNTIME_DIR
  - key: PS1
    value: 'Rednode($LEAF_ALIAS)> '
    mode: Default
    info: the prompt
  - key: SHELL_SESSION_ID
    mode: Remove
  - key: LANG
    mode: Static
    value: C.UTF-8
    warn: do not change
  - key: TERM
    mode: Inherit
  - key: BUILD_ID
    mode: Execfd
    value: cat /etc/os-release
exports:
  - mount: /run/user/$UID
    mode: Public
  - mode: Restricted
    path: /usr/lib64
    mount: /lib64
    info: host libraries
    warn: overriding /lib64 breaks the node
  - mode: PrivateRestricted
    mount: /nodes/_private
    path: $NODE_PATH/private
  - mode: PrivateFile
    mount: /etc/machine-id
  - mode: RestrictedFile
    mount: /etc/resolv.conf
  - mode: PublicFile
    mount: /run/systemd/notify
  - mode: Private
    mount: /var/local
    path: $NODE_PATH/var/local
  - mode: Anonymous
    mount: /var
  - mode: Symlink
    mount: /home/$LEAF_ALIAS
    path: /nodes/_private
  - mode: Execfd
    mount: /etc/passwd
    path: getent passwd $UID 65534
  - mode: Internal
    mount: /run/fd
    path: "3"
  - mode: Devfs
    mount: /dev
  - mode: Tmpfs
    mount: /tmp
  - mode: Mqueue
    mount: /dev/mqueue
  - mode: Procfs
    mount: /proc
  - mode: Lock
    mount: /run/lock/node
headers:
  info: full configuration
  name: 0f8e7a66-6d3c-4c1e-9b8a-2d1f1c0e5a77
  alias: full-NODE
`;

/** What serializeConfig must write for FULL_INPUT: canonical order, canonical enum case, defaults. */
const FULL_CANONICAL = `headers:
  alias: full-NODE
  name: 0f8e7a66-6d3c-4c1e-9b8a-2d1f1c0e5a77
  info: full configuration
exports:
- mode: Public
  mount: /run/user/$UID
- mode: Restricted
  mount: /lib64
  path: /usr/lib64
  info: host libraries
  warn: overriding /lib64 breaks the node
- mode: PrivateRestricted
  mount: /nodes/_private
  path: $NODE_PATH/private
- mode: PrivateFile
  mount: /etc/machine-id
- mode: RestrictedFile
  mount: /etc/resolv.conf
- mode: PublicFile
  mount: /run/systemd/notify
- mode: Private
  mount: /var/local
  path: $NODE_PATH/var/local
- mode: Anonymous
  mount: /var
- mode: Symlink
  mount: /home/$LEAF_ALIAS
  path: /nodes/_private
- mode: Execfd
  mount: /etc/passwd
  path: getent passwd $UID 65534
- mode: Internal
  mount: /run/fd
  path: "3"
- mode: Devfs
  mount: /dev
- mode: Tmpfs
  mount: /tmp
- mode: Mqueue
  mount: /dev/mqueue
- mode: Procfs
  mount: /proc
- mode: Lock
  mount: /run/lock/node
environ:
- mode: Default
  key: XDG_RUNTIME_DIR
  value: /run/user/$UID
- mode: Default
  key: PS1
  value: "Rednode($LEAF_ALIAS)> "
  info: the prompt
- mode: Remove
  key: SHELL_SESSION_ID
- mode: Static
  key: LANG
  value: C.UTF-8
  warn: do not change
- mode: Inherit
  key: TERM
- mode: Execfd
  key: BUILD_ID
  value: cat /etc/os-release
config:
  persistdir: $NODE_PATH/var/lib/dnf
  rpmdir: $NODE_PATH/var/lib/rpm
  cachedir: $NODE_PATH/var/cache/dnf
  path: /bin:/nodes/$NODE_ALIAS/usr/bin
  ldpath: /lib64:/nodes/$NODE_ALIAS/usr/lib64
  umask: "027"
  set-user: nobody
  set-group: users
  smack: System
  verbose: 2
  map-root-user: 1
  gpgcheck: true
  unsafe: false
  inherit-env: true
  die-with-parent: Enabled
  new-session: Disabled
  share_all: disabled
  share_user: unset
  share_cgroup: unset
  share_net: enabled
  share_pid: /proc/1/ns/pid
  share_ipc: unset
  share_time: disabled
  cgroups:
    cpuset:
      cpus: 0-1
      mems: "0"
      cpus_partition: root
    mem:
      max: 1G
      high: 512M
      min: 2M
      low: 1M
      oom_group: "1"
      swap_high: "0"
      swap_max: "0"
    cpu:
      weight: "100"
      weight_nice: "5"
      max: 10000 100000
    io:
      cost_qos: enable=1
      cost_model: auto
      weight: "50"
      max: 8:0 rbps=1000000
    pids:
      max: "100"
  hostname: $LEAF_ALIAS
  chdir: /home/$LEAF_ALIAS
  cgrouproot: /sys/fs/cgroup/user.slice/user-$UID.slice/user@$UID.service
  capabilities:
  - cap: cap_net_raw
    add: 1
    info: raw sockets
  - cap: ALL
    add: 0
    warn: all capabilities dropped
`;

/** Key case and enum/boolean case mangled deterministically: `mode: Public` → `MoDe: PuBlIc`. */
function mangleCase(text: string): string {
  const weird = (s: string, flip: number) =>
    [...s].map((ch, i) => ((i + flip) % 2 === 0 ? ch.toUpperCase() : ch.toLowerCase())).join('');
  return text
    .split('\n')
    .map((line, n) => {
      const m = /^(\s*(?:- )?)([A-Za-z_-]+):(.*)$/.exec(line);
      if (!m) return line;
      const [, indent, key, rest] = m;
      let value = rest;
      if (/^(mode|die-with-parent|new-session|gpgcheck|unsafe|inherit-env)$/.test(key)) value = weird(rest, n + 1);
      return `${indent}${weird(key, n)}:${value}`;
    })
    .join('\n');
}

/** The model without source positions, to compare two parses of differently written files. */
function withoutPositions(config: NodeConfig) {
  const strip = <T extends { at: unknown }>({ at: _at, ...rest }: T) => rest;
  return {
    ...config,
    exports: config.exports.map(strip),
    environ: config.environ.map(strip),
    config: { ...config.config, capabilities: config.config.capabilities.map(strip) },
    positions: undefined,
  };
}

describe('upstream parser cases (tests/conf)', () => {
  it('1: invalid YAML is rejected with code yaml-syntax and the line of the fault', () => {
    const text = `${headers()}config:\n  hostname: a\n chdir: b\n`;
    rejects(() => parse(text), { code: 'yaml-syntax', file: FILE, line: 5, message: [/invalid YAML/] });
  });

  it('2: a full configuration is accepted and re-emitted canonically (redpak key order, defaults)', () => {
    const config = parse(FULL_INPUT);
    assert.equal(serializeConfig(config), FULL_CANONICAL);
    // The canonical text is a fixed point.
    assert.equal(serializeConfig(parse(FULL_CANONICAL)), FULL_CANONICAL);
  });

  it('2: the model of the full configuration holds the values of the file', () => {
    const config = parse(FULL_INPUT);
    assert.deepEqual(config.headers, {
      alias: 'full-NODE',
      name: '0f8e7a66-6d3c-4c1e-9b8a-2d1f1c0e5a77',
      info: 'full configuration',
    });
    assert.deepEqual(
      config.exports.map((e) => e.mode),
      [
        'Public',
        'Restricted',
        'PrivateRestricted',
        'PrivateFile',
        'RestrictedFile',
        'PublicFile',
        'Private',
        'Anonymous',
        'Symlink',
        'Execfd',
        'Internal',
        'Devfs',
        'Tmpfs',
        'Mqueue',
        'Procfs',
        'Lock',
      ],
    );
    assert.deepEqual(
      config.environ.map((e) => [e.mode, e.key]),
      [
        ['Default', 'XDG_RUNTIME_DIR'],
        ['Default', 'PS1'],
        ['Remove', 'SHELL_SESSION_ID'],
        ['Static', 'LANG'],
        ['Inherit', 'TERM'],
        ['Execfd', 'BUILD_ID'],
      ],
    );
    const c = config.config;
    assert.equal(c.verbose, 2);
    assert.equal(c['map-root-user'], 1);
    assert.equal(c.gpgcheck, true);
    assert.equal(c.unsafe, false);
    assert.equal(c['inherit-env'], true);
    assert.equal(c['die-with-parent'], 'Enabled');
    assert.equal(c['new-session'], 'Disabled');
    assert.equal(c.share_pid, '/proc/1/ns/pid');
    assert.deepEqual(
      c.capabilities.map(({ cap, add }) => ({ cap, add })),
      [
        { cap: 'cap_net_raw', add: 1 },
        { cap: 'ALL', add: 0 },
      ],
    );
  });

  it('3: the same file with random key and enum case is accepted and equal to the canonical one', () => {
    const mangled = mangleCase(FULL_INPUT);
    // The mangling really changed keys and enum values.
    const keys = [...mangled.matchAll(/^\s*(?:- )?([A-Za-z_-]+):/gm)].map((m) => m[1]);
    assert.ok(keys.length > 100);
    assert.deepEqual(
      keys.filter((k) => k === k.toLowerCase()),
      [],
    );
    const enums = [...mangled.matchAll(/^\s*(?:- )?(?:mode|die-with-parent|new-session): *(\S+)$/gim)].map((m) => m[1]);
    assert.equal(enums.length, 23);
    const canonical: readonly string[] = [...EXPORT_MODES, ...ENVIRON_MODES, 'enabled', 'disabled'];
    assert.deepEqual(
      enums.filter((v) => canonical.includes(v)),
      [],
    );
    const config = parse(mangled);
    assert.equal(serializeConfig(config), FULL_CANONICAL);
    // The models are equal too, apart from where things were written.
    assert.deepEqual(withoutPositions(config), withoutPositions(parse(FULL_INPUT)));
  });

  it('4: a missing headers.alias is rejected, naming "alias"', () => {
    rejects(() => parse('headers:\n  name: x\n  info: no alias here\n'), {
      code: 'schema',
      message: [/"alias"/, /headers/],
      file: FILE,
      line: 2,
    });
  });

  it('5: a headers-only file is accepted; the always-present scalars are emitted with their defaults', () => {
    const config = parse('headers:\n  alias: alias\n  name: name\n  info: info\n');
    assert.deepEqual(config.exports, []);
    assert.deepEqual(config.environ, []);
    assert.deepEqual(config.config, {
      verbose: 0,
      'map-root-user': 0,
      gpgcheck: false,
      unsafe: false,
      'inherit-env': false,
      'die-with-parent': 'Unset',
      'new-session': 'Unset',
      capabilities: [],
    });
    assert.equal(
      serializeConfig(config),
      [
        'headers:',
        '  alias: alias',
        '  name: name',
        '  info: info',
        'config:',
        '  verbose: 0',
        '  map-root-user: 0',
        '  gpgcheck: false',
        '  unsafe: false',
        '  inherit-env: false',
        '  die-with-parent: Unset',
        '  new-session: Unset',
        '',
      ].join('\n'),
    );
  });

  it('6: an alias with every allowed character is accepted', () => {
    const alias = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-_@:';
    assert.equal(parse(`headers:\n  alias: "${alias}"\n`).headers.alias, alias);
  });

  it('7: alias "./" is rejected with code invalid-alias', () => {
    rejects(() => parse('headers:\n  alias: ./\n'), {
      code: 'invalid-alias',
      message: [/\.\//],
      file: FILE,
      line: 2,
      col: 10,
    });
  });
});

describe('headers.alias', () => {
  const bad = ['.', '/', 'a b', 'a.b', 'a/b', '$X', 'a*', 'é', 'a=b', 'a,b', '~', '..', 'a#b', '"quoted"'];
  for (const alias of bad) {
    it(`rejects ${JSON.stringify(alias)}`, () => {
      assert.equal(isValidAlias(alias), false);
      rejects(() => parse(`headers:\n  alias: ${JSON.stringify(alias)}\n`), { code: 'invalid-alias', line: 2 });
    });
  }
  for (const alias of ['a', 'Z', '0', '+', '-', '_', '@', ':', 'node-1_a@b:c+d']) {
    it(`accepts ${JSON.stringify(alias)}`, () =>
      assert.equal(parse(`headers:\n  alias: ${JSON.stringify(alias)}\n`).headers.alias, alias));
  }
  it('an empty alias is rejected', () =>
    rejects(() => parse('headers:\n  alias: ""\n'), { code: 'schema', message: [/alias/] }));
  it('headers are required', () =>
    rejects(() => parse('config:\n  verbose: 1\n'), { code: 'schema', message: [/"headers"/] }));
});

describe('unknown keys are rejected with the position of the key', () => {
  const cases: Array<{ name: string; text: string; key: string; line: number; col: number }> = [
    { name: 'at top level', text: `${headers()}bogus: 1\n`, key: 'bogus', line: 3, col: 1 },
    { name: 'in headers', text: 'headers:\n  alias: a\n  uuid: 1\n', key: 'uuid', line: 3, col: 3 },
    { name: 'in config', text: withConfig('verbose: 1\nhostnme: h\n'), key: 'hostnme', line: 5, col: 3 },
    {
      name: 'in an export (second entry)',
      text: `${headers()}exports:\n  - mode: Public\n    mount: /a\n  - mode: Public\n    mount: /b\n    paht: /c\n`,
      key: 'paht',
      line: 8,
      col: 5,
    },
    {
      name: 'in an environ entry',
      text: `${headers()}environ:\n- key: A\n  vaule: 1\n`,
      key: 'vaule',
      line: 5,
      col: 3,
    },
    { name: 'in cgroups', text: withConfig('cgroups:\n  memory:\n    max: 1\n'), key: 'memory', line: 5, col: 5 },
    {
      name: 'in a cgroups sub-map',
      text: withConfig('cgroups:\n  mem:\n    max: 1\n    maximum: 2\n'),
      key: 'maximum',
      line: 7,
      col: 7,
    },
    {
      name: 'in a capability',
      text: withConfig('capabilities:\n- cap: cap_chown\n  add: 1\n  drop: 1\n'),
      key: 'drop',
      line: 7,
      col: 5,
    },
    { name: 'legacy key maxage outside config', text: `${headers()}maxage: 1\n`, key: 'maxage', line: 3, col: 1 },
    {
      name: 'unknown key written in upper case (reported lower-cased)',
      text: `${headers()}BOGUS: 1\n`,
      key: 'bogus',
      line: 3,
      col: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () =>
      rejects(() => parse(c.text), {
        code: 'schema',
        message: [new RegExp(`unknown key "${c.key}"`)],
        file: FILE,
        line: c.line,
        col: c.col,
      }),
    );
  }
  it('the error names the file it was given', () => {
    rejects(() => parse(`${headers()}bogus: 1\n`, '/elsewhere/etc/redpak-admin.yaml'), {
      code: 'schema',
      file: '/elsewhere/etc/redpak-admin.yaml',
      line: 3,
    });
  });
});

describe('removed or absent sections are rejected', () => {
  const sections: Array<[string, string]> = [
    ['relocations', `${headers()}relocations:\n  - old: /a\n    new: /b\n`],
    ['acl', `${headers()}acl:\n  - user: root\n`],
  ];
  // seccomp is not among them: this implementation supports it (docs/compatibility.md).
  for (const [section, text] of sections) {
    it(`${section}`, () => {
      rejects(() => parse(text), {
        code: 'schema',
        message: [new RegExp(`unknown key "${section}"`)],
        line: 3,
        col: 1,
      });
    });
  }
});

describe('legacy config keys maxage and inherit are accepted and ignored', () => {
  const cases: Array<[string, string]> = [
    ['maxage scalar', 'maxage: 3600\n'],
    ['inherit scalar', 'inherit: yes\n'],
    ['inherit sequence', 'inherit:\n  - a\n  - b\n'],
    ['both, any case', 'MaxAge: 1\nINHERIT: x\n'],
  ];
  for (const [name, body] of cases) {
    it(name, () => {
      const config = parse(withConfig(`hostname: h\n${body}`));
      assert.equal(config.config.hostname, 'h');
      assert.ok(!('maxage' in config.config) && !('inherit' in config.config));
      const out = serializeConfig(config);
      assert.doesNotMatch(out, /maxage|inherit:/i);
      assert.equal(out, serializeConfig(parse(withConfig('hostname: h\n'))));
    });
  }
});

describe('enum values', () => {
  describe('bad values are rejected naming the value and the allowed values', () => {
    const cases: Array<{ name: string; text: string; value: string; allowed: readonly string[]; line: number }> = [
      {
        name: 'export mode',
        text: `${headers()}exports:\n- mode: Pubic\n  mount: /a\n`,
        value: 'Pubic',
        allowed: EXPORT_MODES,
        line: 4,
      },
      {
        name: 'environ mode',
        text: `${headers()}environ:\n- key: A\n  mode: Dynamic\n`,
        value: 'Dynamic',
        allowed: ENVIRON_MODES,
        line: 5,
      },
      {
        name: 'die-with-parent',
        text: withConfig('die-with-parent: maybe\n'),
        value: 'maybe',
        allowed: TRI_STATES,
        line: 4,
      },
      { name: 'new-session', text: withConfig('new-session: yes\n'), value: 'yes', allowed: TRI_STATES, line: 4 },
      {
        name: 'export mode with a near miss in case and spelling',
        text: `${headers()}exports:\n- mode: private_file\n  mount: /a\n`,
        value: 'private_file',
        allowed: EXPORT_MODES,
        line: 4,
      },
    ];
    for (const c of cases) {
      it(c.name, () =>
        rejects(() => parse(c.text), {
          code: 'schema',
          message: [new RegExp(`"${c.value}"`), ...c.allowed.map((v) => new RegExp(`\\b${v}\\b`))],
          line: c.line,
        }),
      );
    }
  });

  describe('values are matched without case and stored in canonical case', () => {
    for (const mode of EXPORT_MODES) {
      for (const written of [mode.toLowerCase(), mode.toUpperCase()]) {
        it(`export mode ${written} → ${mode}`, () =>
          assert.equal(parse(`${headers()}exports:\n- mode: ${written}\n  mount: /a\n`).exports[0].mode, mode));
      }
    }
    for (const mode of ENVIRON_MODES) {
      it(`environ mode ${mode.toUpperCase()} → ${mode}`, () =>
        assert.equal(parse(`${headers()}environ:\n- key: K\n  mode: ${mode.toUpperCase()}\n`).environ[0].mode, mode));
    }
    for (const state of TRI_STATES) {
      it(`die-with-parent/new-session ${state.toLowerCase()} → ${state}`, () => {
        const c = parse(
          withConfig(`die-with-parent: ${state.toLowerCase()}\nnew-session: ${state.toUpperCase()}\n`),
        ).config;
        assert.equal(c['die-with-parent'], state);
        assert.equal(c['new-session'], state);
      });
    }
  });

  it('environ without mode gets Default (and is written Default)', () => {
    const config = parse(`${headers()}environ:\n- key: A\n  value: b\n`);
    assert.equal(config.environ[0].mode, 'Default');
    assert.match(serializeConfig(config), /^- mode: Default\n {2}key: A\n {2}value: b$/m);
  });

  it('share_* values are free strings, written as given (not canonicalised)', () => {
    const config = parse(
      withConfig('share_all: DISABLED\nshare_net: Enabled\nshare_pid: /proc/42/ns/pid\nshare_time: UnSet\n'),
    );
    assert.equal(config.config.share_all, 'DISABLED');
    assert.equal(config.config.share_net, 'Enabled');
    assert.equal(config.config.share_pid, '/proc/42/ns/pid');
    assert.match(
      serializeConfig(config),
      /share_all: DISABLED\n {2}share_net: Enabled\n {2}share_pid: \/proc\/42\/ns\/pid\n {2}share_time: UnSet\n/,
    );
  });
});

describe('PrivateRestricted is a private export (intended difference, docs/compatibility.md)', () => {
  it('is in the private mask with Private and PrivateFile, and is a directory export', () => {
    assert.deepEqual([...PRIVATE_EXPORT_MODES].sort(), ['Private', 'PrivateFile', 'PrivateRestricted']);
    assert.ok(DIR_EXPORT_MODES.has('PrivateRestricted'));
    assert.equal(
      parse(`${headers()}exports:\n- mode: privaterestricted\n  mount: /p\n`).exports[0].mode,
      'PrivateRestricted',
    );
  });
});

describe('keys are case-insensitive; duplicates that differ only by case are rejected', () => {
  it('keys in any case are accepted in every section', () => {
    const config = parse(
      'HEADERS:\n  Alias: a\n  NAME: n\nExports:\n- MOUNT: /m\n  Mode: public\nENVIRON:\n- KEY: K\n  Value: v\nConfig:\n  HostName: h\n  CGROUPS:\n    PIDS:\n      MAX: 5\n  Capabilities:\n  - CAP: cap_chown\n    ADD: 1\n',
    );
    assert.deepEqual(config.headers, { alias: 'a', name: 'n' });
    assert.deepEqual([config.exports[0].mode, config.exports[0].mount], ['Public', '/m']);
    assert.deepEqual([config.environ[0].key, config.environ[0].value], ['K', 'v']);
    assert.equal(config.config.hostname, 'h');
    assert.deepEqual(config.config.cgroups, { pids: { max: '5' } });
    assert.deepEqual([config.config.capabilities[0].cap, config.config.capabilities[0].add], ['cap_chown', 1]);
  });
  const dups: Array<{ name: string; text: string; line: number; col: number }> = [
    { name: 'in headers', text: 'headers:\n  alias: a\n  ALIAS: b\n', line: 3, col: 3 },
    { name: 'at top level', text: `${headers()}config:\n  verbose: 1\nCONFIG:\n  verbose: 2\n`, line: 5, col: 1 },
    { name: 'in config', text: withConfig('hostname: a\nHostName: b\n'), line: 5, col: 3 },
    { name: 'in an export', text: `${headers()}exports:\n- mode: Public\n  mount: /a\n  Mount: /b\n`, line: 6, col: 3 },
    { name: 'in cgroups', text: withConfig('cgroups:\n  mem:\n    max: 1\n    MAX: 2\n'), line: 7, col: 7 },
  ];
  for (const c of dups) {
    it(`duplicate differing by case ${c.name}`, () =>
      rejects(() => parse(c.text), { code: 'schema', message: [/twice/], file: FILE, line: c.line, col: c.col }));
  }
  it('an exact duplicate key is rejected as well', () => {
    assert.throws(
      () => parse('headers:\n  alias: a\n  alias: b\n'),
      (e: unknown) => e instanceof RedpakError && ['yaml-syntax', 'schema'].includes(e.code),
    );
  });
});

describe('scalars keep their source text', () => {
  const cases: Array<{ name: string; body: string; pick: (c: NodeConfig) => unknown; expected: unknown }> = [
    {
      name: 'umask 027 stays "027" (not 23, not 27)',
      body: 'umask: 027\n',
      pick: (c) => c.config.umask,
      expected: '027',
    },
    { name: 'umask 0022 stays "0022"', body: 'umask: 0022\n', pick: (c) => c.config.umask, expected: '0022' },
    {
      name: 'hostname that looks like a number',
      body: 'hostname: 1e3\n',
      pick: (c) => c.config.hostname,
      expected: '1e3',
    },
    {
      name: 'string that looks like a boolean',
      body: 'set-user: yes\n',
      pick: (c) => c.config['set-user'],
      expected: 'yes',
    },
    {
      name: 'string that looks like null is kept as text',
      body: 'smack: ~x\n',
      pick: (c) => c.config.smack,
      expected: '~x',
    },
    {
      name: 'share value that looks like a boolean',
      body: 'share_net: true\n',
      pick: (c) => c.config.share_net,
      expected: 'true',
    },
    {
      name: 'cgroups numbers are strings',
      body: 'cgroups:\n  pids:\n    max: 100\n  mem:\n    max: 1073741824\n',
      pick: (c) => c.config.cgroups,
      expected: { pids: { max: '100' }, mem: { max: '1073741824' } },
    },
    {
      name: 'cgroups cpus with leading zero',
      body: 'cgroups:\n  cpuset:\n    cpus: 00\n    mems: 0-1\n',
      pick: (c) => c.config.cgroups,
      expected: { cpuset: { cpus: '00', mems: '0-1' } },
    },
    {
      name: 'an empty cgroups sub-map is kept (it requests the controller)',
      body: 'cgroups:\n  pids: {}\n',
      pick: (c) => c.config.cgroups,
      expected: { pids: {} },
    },
    {
      name: 'quoted and plain texts are the same',
      body: 'chdir: "/home/x"\nhostname: \'h\'\n',
      pick: (c) => [c.config.chdir, c.config.hostname],
      expected: ['/home/x', 'h'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(c.pick(parse(withConfig(c.body))), c.expected));
  }
  it('umask 027 is written back as the text 027', () => {
    const out = serializeConfig(parse(withConfig('umask: 027\n')));
    assert.match(out, /umask: "?027"?\n/);
    assert.equal(parse(out).config.umask, '027');
  });
  it('cgroups numbers are written back as the same text', () => {
    const out = serializeConfig(parse(withConfig('cgroups:\n  pids:\n    max: 0100\n')));
    assert.equal(parse(out).config.cgroups?.pids?.max, '0100');
  });
});

describe('booleans (gpgcheck, unsafe, inherit-env)', () => {
  const words: Array<[string, boolean]> = [
    ['yes', true],
    ['no', false],
    ['true', true],
    ['false', false],
    ['on', true],
    ['off', false],
    ['1', true],
    ['0', false],
    ['YES', true],
    ['False', false],
    ['ON', true],
    ['Off', false],
  ];
  for (const [word, value] of words) {
    for (const key of ['gpgcheck', 'unsafe', 'inherit-env'] as const) {
      it(`${key}: ${word} → ${value}`, () => assert.equal(parse(withConfig(`${key}: ${word}\n`)).config[key], value));
    }
  }
  for (const word of ['maybe', '2', 'y', 'enabled']) {
    it(`gpgcheck: ${word} is rejected naming the value`, () =>
      rejects(() => parse(withConfig(`gpgcheck: ${word}\n`)), {
        code: 'schema',
        message: [new RegExp(`"${word}"`), /gpgcheck/, /boolean/],
        line: 4,
      }));
  }
  it('absent booleans are false', () => {
    const c = parse(headers()).config;
    assert.deepEqual([c.gpgcheck, c.unsafe, c['inherit-env']], [false, false, false]);
  });
});

describe('integers (verbose, map-root-user, capabilities[].add)', () => {
  const good: Array<[string, number]> = [
    ['0', 0],
    ['1', 1],
    ['42', 42],
    ['-1', -1],
    ['+3', 3],
  ];
  for (const [text, value] of good) {
    it(`verbose: ${text} → ${value}`, () =>
      assert.equal(parse(withConfig(`verbose: ${text}\n`)).config.verbose, value));
    it(`map-root-user: ${text} → ${value}`, () =>
      assert.equal(parse(withConfig(`map-root-user: ${text}\n`)).config['map-root-user'], value));
  }
  const bad: Array<{ name: string; text: string; value: string; where: RegExp; line: number; col: number }> = [
    {
      name: 'verbose abc',
      text: withConfig('verbose: abc\n'),
      value: 'abc',
      where: /config\.verbose/,
      line: 4,
      col: 12,
    },
    {
      name: 'map-root-user abc',
      text: withConfig('map-root-user: abc\n'),
      value: 'abc',
      where: /config\.map-root-user/,
      line: 4,
      col: 18,
    },
    {
      name: 'verbose 1.5',
      text: withConfig('verbose: 1.5\n'),
      value: '1\\.5',
      where: /config\.verbose/,
      line: 4,
      col: 12,
    },
    {
      name: 'verbose 12abc',
      text: withConfig('verbose: 12abc\n'),
      value: '12abc',
      where: /config\.verbose/,
      line: 4,
      col: 12,
    },
    {
      name: 'capability add abc',
      text: withConfig('capabilities:\n- cap: cap_chown\n  add: abc\n'),
      value: 'abc',
      where: /capabilities\[0\]\.add/,
      line: 6,
      col: 10,
    },
  ];
  for (const c of bad) {
    it(`${c.name} is rejected`, () =>
      rejects(() => parse(c.text), {
        code: 'schema',
        message: [new RegExp(`"${c.value}"`), c.where, /integer/],
        file: FILE,
        line: c.line,
        col: c.col,
      }));
  }
  it('capabilities need cap and add', () => {
    rejects(() => parse(withConfig('capabilities:\n- cap: cap_chown\n')), { code: 'schema', message: [/"add"/] });
    rejects(() => parse(withConfig('capabilities:\n- add: 1\n')), { code: 'schema', message: [/"cap"/] });
  });
});

describe('required keys and shapes of entries', () => {
  const cases: Array<{ name: string; text: string; message: RegExp[] }> = [
    {
      name: 'export without mount',
      text: `${headers()}exports:\n- mode: Public\n`,
      message: [/"mount"/, /exports\[0\]/],
    },
    { name: 'export without mode', text: `${headers()}exports:\n- mount: /a\n`, message: [/"mode"/, /exports\[0\]/] },
    { name: 'environ without key', text: `${headers()}environ:\n- value: a\n`, message: [/"key"/, /environ\[0\]/] },
    {
      name: 'exports as a mapping',
      text: `${headers()}exports:\n  mode: Public\n`,
      message: [/exports must be a list/],
    },
    { name: 'config as a list', text: `${headers()}config:\n- a\n`, message: [/config must be a mapping/] },
    { name: 'hostname as a list', text: withConfig('hostname: [a, b]\n'), message: [/config\.hostname/] },
  ];
  for (const c of cases) it(c.name, () => rejects(() => parse(c.text), { code: 'schema', message: c.message }));
  it('export path is left absent when not written (it defaults to mount at use, not at parse)', () => {
    const e = parse(`${headers()}exports:\n- mode: Public\n  mount: /a\n`).exports[0];
    assert.equal(e.mount, '/a');
    assert.ok(!('path' in e));
  });
});

describe('positions (provenance)', () => {
  const text = [
    'headers:', //                 1
    '  alias: pos', //             2
    'config:', //                  3
    '  verbose: 1', //             4
    '  HostName: $LEAF_ALIAS', //  5
    '  cgroups:', //               6
    '    mem:', //                 7
    '      max: 1G', //            8
    'exports:', //                 9
    '  - mode: Public', //        10
    '    mount: /a', //           11
    '  -   mode: Private', //     12
    '      mount: /b', //         13
    'environ:', //                14
    '- key: A', //                15
    '  value: b', //              16
    '',
  ].join('\n');
  const config = parseNodeConfig(text, FILE, 'admin');
  const cases: Array<[string, number, number]> = [
    ['headers', 1, 1],
    ['headers.alias', 2, 3],
    ['config', 3, 1],
    ['config.verbose', 4, 3],
    ['config.hostname', 5, 3],
    ['config.cgroups', 6, 3],
    ['config.cgroups.mem', 7, 5],
    ['config.cgroups.mem.max', 8, 7],
    ['exports.0.mode', 10, 5],
    ['exports.1.mount', 13, 7],
    ['environ.0.value', 16, 3],
  ];
  for (const [key, line, col] of cases) {
    it(`positions['${key}'] = ${line}:${col}`, () =>
      assert.deepEqual(config.positions[key], { file: FILE, line, col }));
  }
  it('keys are recorded lower-cased (HostName → config.hostname)', () => {
    assert.ok(!('config.HostName' in config.positions));
  });
  it('entries carry the position where they start', () => {
    assert.deepEqual(
      config.exports.map((e) => [e.at.line, e.at.col]),
      [
        [10, 5],
        [12, 7],
      ],
    );
    assert.deepEqual([config.environ[0].at.line, config.environ[0].at.col], [15, 3]);
    assert.ok(config.exports.every((e) => e.at.file === FILE));
  });
  it('absent keys have no position', () => {
    assert.equal(config.positions['config.chdir'], undefined);
  });
  it('the kind and file are kept', () => {
    assert.equal(config.kind, 'admin');
    assert.equal(config.file, FILE);
  });
});

describe('status file .rednode.yaml', () => {
  const status = (lines: Record<string, string | undefined>) =>
    `${Object.entries(lines)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n')}\n`;
  const base = {
    realpath: '/tmp/rpak-conftest',
    info: 'created by tests',
    timestamp: '1577862000000',
    state: 'Enable',
  };

  it('a full status is accepted', () => {
    assert.deepEqual(parseNodeStatus(status(base), STATUS_FILE), {
      realpath: '/tmp/rpak-conftest',
      info: 'created by tests',
      timestamp: 1577862000000,
      state: 'Enable',
    });
  });
  it('info is optional', () => {
    const s = parseNodeStatus(status({ ...base, info: undefined }), STATUS_FILE);
    assert.ok(!('info' in s));
    assert.equal(s.state, 'Enable');
  });
  it('keys are case-insensitive', () => {
    const s = parseNodeStatus('RealPath: /x\nTIMESTAMP: 5\nState: Disable\n', STATUS_FILE);
    assert.deepEqual(s, { realpath: '/x', timestamp: 5, state: 'Disable' });
  });
  for (const state of ['Disable', 'Enable', 'Unknown', 'Error']) {
    it(`state ${state} is accepted`, () =>
      assert.equal(parseNodeStatus(status({ ...base, state }), STATUS_FILE).state, state));
  }
  for (const state of ['enable', 'ENABLE', 'disable', 'Enabled', 'unknown', 'error']) {
    it(`state ${state} is rejected (enum values are case-sensitive)`, () =>
      rejects(() => parseNodeStatus(status({ ...base, state }), STATUS_FILE), {
        code: 'schema',
        message: [new RegExp(`"${state}"`), /state/],
        file: STATUS_FILE,
        line: 4,
      }));
  }
  for (const timestamp of ['abc', '12x', '1.5', 'now']) {
    it(`non-numeric timestamp ${timestamp} is rejected`, () =>
      rejects(() => parseNodeStatus(status({ ...base, timestamp }), STATUS_FILE), {
        code: 'schema',
        message: [/timestamp/],
        file: STATUS_FILE,
        line: 3,
      }));
  }
  for (const key of ['realpath', 'timestamp', 'state'] as const) {
    it(`missing ${key} is rejected`, () =>
      rejects(() => parseNodeStatus(status({ ...base, [key]: undefined }), STATUS_FILE), {
        code: 'schema',
        message: [new RegExp(`"${key}"`)],
      }));
  }
  it('an unknown key is rejected', () =>
    rejects(() => parseNodeStatus(`${status(base)}owner: me\n`, STATUS_FILE), {
      code: 'schema',
      message: [/unknown key "owner"/],
      line: 5,
      col: 1,
    }));
  it('is written in the order realpath, info, timestamp, state', () => {
    const s = parseNodeStatus('state: Enable\ntimestamp: 1577862000000\ninfo: i\nrealpath: /r\n', STATUS_FILE);
    assert.equal(serializeStatus(s), 'realpath: /r\ninfo: i\ntimestamp: 1577862000000\nstate: Enable\n');
  });
});

describe('bounded inputs (hostile node files)', () => {
  // ~300 bytes that expand to 9^9 strings when aliases are followed naively.
  const bomb = [
    headers(),
    'environ:',
    '  - &a [x, x, x, x, x, x, x, x, x]',
    '  - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
    '  - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
    '  - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    '  - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    '  - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
    '  - &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]',
    '  - &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]',
    '  - [*h, *h, *h, *h, *h, *h, *h, *h, *h]',
    '',
  ].join('\n');

  it('refuses an alias bomb quickly, naming the file and line', () => {
    const started = Date.now();
    rejects(() => parse(bomb), {
      code: 'yaml-syntax',
      message: [/more than 100 alias references/],
      file: FILE,
      line: 7,
    });
    assert.ok(Date.now() - started < 2000, 'refused before the aliases are expanded');
  });

  it('accepts a few aliases', () => {
    const config = parse(`${headers()}environ:\n  - &e {key: A, value: "1"}\n  - *e\n`);
    assert.deepEqual(
      config.environ.map((e) => e.key),
      ['A', 'A'],
    );
  });

  it('refuses a nesting deeper than 32 levels', () => {
    rejects(() => parse(`${headers()}x: ${'['.repeat(40)}${']'.repeat(40)}\n`), {
      code: 'yaml-syntax',
      message: [/nested more than 32 levels deep/],
      file: FILE,
      line: 3,
    });
  });

  it('refuses a text above the size limit', () => {
    rejects(() => parse(`${headers()}#${'x'.repeat(1 << 20)}\n`), {
      code: 'schema',
      message: [/above the limit of 1048576/],
    });
  });

  it('refuses a NUL in a value, with its line', () => {
    rejects(() => parse(`${headers()}exports:\n  - mode: Restricted\n    mount: "/usr\\0/etc"\n`), {
      code: 'schema',
      message: [/exports\[0\]\.mount holds a NUL character/],
      file: FILE,
      line: 5,
    });
  });

  it('refuses a NUL in a key and in the status file', () => {
    rejects(() => parse(`${headers()}"con\\0fig": {}\n`), { code: 'schema', message: [/NUL/], line: 3 });
    rejects(() => parseNodeStatus('realpath: "/x\\0y"\ntimestamp: 1\nstate: Enable\n', STATUS_FILE), {
      code: 'schema',
      message: [/realpath holds a NUL/],
      file: STATUS_FILE,
      line: 1,
    });
  });
});
