/** Every merge rule of docs/configuration.md, "Merge across the family", on families built on disk. */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { RedpakError } from '../../src/errors.js';
import { mergeFamily } from '../../src/merge/merge.js';
import { loadFamily } from '../../src/node/load.js';
import type { MergedConfig } from '../../src/merge/types.js';
import { makeNode, pinnedHost, tempDir } from '../helpers/family.js';

const headers = (alias = 'x') => `headers:\n  alias: ${alias}\n`;
const config = (body: string) => `${headers()}config:\n${body.replace(/^/gm, '  ')}\n`;

interface Spec {
  root?: { normal?: string; admin?: string };
  mid?: { normal?: string; admin?: string };
  leaf?: { normal?: string; admin?: string };
}

/** root → (mid) → leaf, each file headers-only unless given; returns the merge in the given mode. */
function family(
  t: TestContext,
  spec: Spec,
  admin = false,
): { merged: MergedConfig; paths: { root: string; mid: string; leaf: string } } {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  const mid = join(root, 'mid');
  const leaf = spec.mid ? join(mid, 'leaf') : join(root, 'leaf');
  makeNode(dir, root, 'ROOT', spec.root?.normal ?? headers(), spec.root?.admin ?? headers());
  if (spec.mid) makeNode(dir, mid, 'MID', spec.mid.normal ?? headers(), spec.mid.admin ?? headers());
  makeNode(dir, leaf, 'LEAF', spec.leaf?.normal ?? headers(), spec.leaf?.admin ?? headers());
  return { merged: mergeFamily(loadFamily(leaf, { admin }), { host: pinnedHost() }), paths: { root, mid, leaf } };
}

function conflict(t: TestContext, spec: Spec, admin: boolean, pattern: RegExp): void {
  assert.throws(
    () => family(t, spec, admin),
    (e: unknown) => e instanceof RedpakError && e.code === 'merge-conflict' && pattern.test(e.message),
  );
}

describe('scalars', () => {
  it('the node closest to the leaf wins, ancestors are recorded as overridden', (t) => {
    const { merged, paths } = family(t, {
      root: { normal: config('hostname: from-root') },
      leaf: { normal: config('hostname: from-leaf') },
    });
    assert.equal(merged.scalars.hostname?.value, 'from-leaf');
    assert.equal(merged.scalars.hostname?.origin.node, paths.leaf);
    assert.equal(merged.scalars.hostname?.overrides[0].origin.node, paths.root);
  });

  it('all admin files come before all normal files', (t) => {
    const spec = { root: { admin: config('chdir: /root-admin') }, leaf: { normal: config('chdir: /leaf-normal') } };
    assert.equal(family(t, spec, true).merged.scalars.chdir?.value, '/root-admin');
    assert.equal(family(t, spec, false).merged.scalars.chdir?.value, '/leaf-normal');
  });

  it('string scalars are expanded in the leaf context, wherever they are defined', (t) => {
    const { merged, paths } = family(t, { root: { normal: config('cachedir: $NODE_PATH/cache') } });
    assert.equal(merged.scalars.cachedir?.value, `${paths.leaf}/cache`);
  });

  it('die-with-parent and new-session: the first value that is not Unset wins', (t) => {
    const { merged } = family(t, {
      root: { normal: config('die-with-parent: disabled') },
      leaf: { normal: config('die-with-parent: unset') },
    });
    assert.equal(merged.scalars['die-with-parent']?.value, 'Disabled');
  });

  it('a flag set true by an ancestor cannot be set back to false', (t) => {
    const { merged } = family(t, {
      root: { normal: config('inherit-env: true') },
      leaf: { normal: config('inherit-env: false') },
    });
    assert.equal(merged.scalars['inherit-env']?.value, true);
  });
});

describe('path and ldpath', () => {
  it('accumulate child first, admin before normal, without duplicates, each in its own node context', (t) => {
    const { merged, paths } = family(
      t,
      {
        root: { normal: config('path: /bin:/usr/bin:$NODE_PATH'), admin: config('path: /sbin') },
        leaf: { normal: config('path: /usr/bin:/opt/bin:$NODE_PATH') },
      },
      true,
    );
    assert.equal(merged.path?.value, `/usr/bin:/opt/bin:${paths.leaf}:/sbin:/bin:${paths.root}`);
    assert.deepEqual(
      merged.path?.contributions.map((c) => [c.origin.alias, c.origin.kind]),
      [
        ['LEAF', 'normal'],
        ['ROOT', 'admin'],
        ['ROOT', 'normal'],
      ],
    );
  });

  it('is absent when no node defines it', (t) => {
    assert.equal(family(t, {}).merged.ldpath, undefined);
  });
});

const environ = (key: string, value: string, extra = '') =>
  `${headers()}environ:\n  - key: ${key}\n    value: ${value}\n${extra}`;

describe('environ', () => {
  it("the child keeps its value, with a warning carrying the ancestor's warn text", (t) => {
    const { merged } = family(t, {
      root: { normal: environ('V', 'root', '    warn: do not touch V\n') },
      leaf: { normal: environ('v', 'leaf') },
    });
    assert.equal(merged.environ.length, 1);
    assert.equal(merged.environ[0].value.value, 'leaf');
    const warning = merged.warnings.find((w) => w.redpak);
    assert.match(warning!.message, /Variable V of ROOT .* redefined in LEAF .*: do not touch V/);
  });

  it("an ancestor's admin definition replaces a child's normal one", (t) => {
    const { merged, paths } = family(
      t,
      { root: { admin: environ('V', 'root-admin') }, leaf: { normal: environ('V', 'leaf') } },
      true,
    );
    assert.equal(merged.environ[0].value.value, 'root-admin');
    assert.equal(merged.environ[0].overrides[0].origin.node, paths.leaf);
    assert.equal(merged.environ[0].overrides[0].reason, 'replaced');
  });

  it("a child's admin definition is kept against an ancestor's normal one", (t) => {
    const { merged } = family(
      t,
      { root: { normal: environ('V', 'root') }, leaf: { admin: environ('V', 'leaf-admin') } },
      true,
    );
    assert.equal(merged.environ[0].value.value, 'leaf-admin');
  });

  it('a variable defined twice alike in one file is a warning, differently an error', (t) => {
    const twice = (second: string) =>
      `${headers()}environ:\n  - key: V\n    value: a\n  - key: V\n    value: ${second}\n`;
    const { merged } = family(t, { leaf: { normal: twice('a') } });
    assert.match(merged.warnings[0].message, /Variable V is defined twice in LEAF/);
    conflict(t, { leaf: { normal: twice('b') } }, false, /Variable V is defined twice and differently in LEAF/);
  });
});

const exportEntry = (mode: string, mount: string, path = '/somewhere') =>
  `  - mode: ${mode}\n    mount: ${mount}\n    path: ${path}\n`;
const exportsOf = (...entries: string[]) => `${headers()}exports:\n${entries.join('')}`;

describe('exports', () => {
  it('are sorted by expanded mount, parents before their sub-paths', (t) => {
    const { merged } = family(t, {
      leaf: {
        normal: exportsOf(exportEntry('Public', '/b/c'), exportEntry('Public', '/a'), exportEntry('Public', '/b')),
      },
    });
    assert.deepEqual(
      merged.exports.map((e) => e.mount),
      ['/a', '/b', '/b/c'],
    );
  });

  it("an ancestor's Private and PrivateFile exports never reach a child", (t) => {
    const { merged } = family(t, {
      root: {
        normal: exportsOf(exportEntry('Private', '/p'), exportEntry('PrivateFile', '/f'), exportEntry('Public', '/q')),
      },
    });
    assert.deepEqual(
      merged.exports.map((e) => e.mount),
      ['/q'],
    );
  });

  it('PrivateRestricted is private too (redpak forgets it; its documented intent is private)', (t) => {
    const { merged } = family(t, { root: { normal: exportsOf(exportEntry('PrivateRestricted', '/pr')) } });
    assert.equal(merged.exports.length, 0);
    const single = family(t, { leaf: { normal: exportsOf(exportEntry('PrivateRestricted', '/pr')) } });
    assert.equal(single.merged.exports[0].value.mode, 'PrivateRestricted');
  });

  it('the key is the mount expanded in the defining node and normalised, compared without case', (t) => {
    const { merged } = family(t, {
      root: {
        normal: exportsOf(
          exportEntry('Public', '/A'),
          exportEntry('Public', '/n/$NODE_ALIAS'),
          exportEntry('Public', '/T'),
          exportEntry('Public', '/u//v/./w/'),
        ),
      },
      leaf: {
        normal: exportsOf(
          exportEntry('Restricted', '/a'),
          exportEntry('Restricted', '/n/$NODE_ALIAS'),
          exportEntry('Restricted', '/T/'),
          exportEntry('Restricted', '/u/v/w'),
        ),
      },
    });
    // `/T/` and `/T` are one mount (redpak kept both, and the writable bind won).
    assert.deepEqual(
      merged.exports.map((e) => [e.mount, e.value.mode]),
      [
        ['/T', 'Restricted'],
        ['/a', 'Restricted'],
        ['/n/LEAF', 'Restricted'],
        ['/n/ROOT', 'Public'],
        ['/u/v/w', 'Restricted'],
      ],
    );
  });

  it('the same mount twice in one file with another mode is an error naming the node', (t) => {
    conflict(
      t,
      { leaf: { normal: exportsOf(exportEntry('Public', '/A'), exportEntry('Restricted', '/A')) } },
      false,
      /Export \/A is defined twice and differently in LEAF/,
    );
  });
});

const cap = (name: string, add: number) => `    - cap: ${name}\n      add: ${add}\n`;
const capsOf = (...entries: string[]) => `${headers()}config:\n  capabilities:\n${entries.join('')}`;

describe('capabilities', () => {
  it('a child cannot add what its parent dropped: an error naming both nodes', (t) => {
    conflict(
      t,
      { root: { normal: capsOf(cap('cap_net_raw', 0)) }, leaf: { normal: capsOf(cap('CAP_NET_RAW', 1)) } },
      false,
      /LEAF .* loosens its ancestor ROOT .*: capability CAP_NET_RAW: add at .*leaf\/etc\/redpak.yaml:\d+ against capability cap_net_raw: drop at .*root\/etc\/redpak.yaml:\d+/,
    );
  });

  it("a child cannot add a capability its parent's ALL: 0 dropped (redpak let it through)", (t) => {
    conflict(
      t,
      { root: { normal: capsOf(cap('ALL', 0)) }, leaf: { normal: capsOf(cap('cap_chown', 1)) } },
      false,
      /LEAF .* loosens its ancestor ROOT .*: capability cap_chown: add .* against capability cap_chown: drop \(from ALL: 0\)/,
    );
    conflict(
      t,
      { root: { admin: capsOf(cap('ALL', 0)) }, leaf: { admin: capsOf(cap('cap_chown', 1)) } },
      true,
      /from ALL: 0/,
    );
    // A child's ALL: 1 adds back what the parent drops by name.
    conflict(
      t,
      { root: { normal: capsOf(cap('cap_chown', 0)) }, leaf: { normal: capsOf(cap('ALL', 1)) } },
      false,
      /capability cap_chown: add \(from ALL: 1\)/,
    );
    // The same node may drop ALL and add some back.
    assert.equal(
      family(t, { leaf: { normal: capsOf(cap('ALL', 0), cap('cap_chown', 1)) } }).merged.capabilities.length,
      2,
    );
  });

  it('a child may drop what its parent added', (t) => {
    const { merged } = family(t, {
      root: { normal: capsOf(cap('cap_chown', 1)) },
      leaf: { normal: capsOf(cap('cap_chown', 0)) },
    });
    assert.equal(merged.capabilities[0].value.add, 0);
  });

  it("an ancestor's admin file replaces a child's normal setting, in either direction", (t) => {
    const { merged } = family(
      t,
      { root: { admin: capsOf(cap('cap_chown', 0)) }, leaf: { normal: capsOf(cap('cap_chown', 1)) } },
      true,
    );
    assert.equal(merged.capabilities[0].value.add, 0);
  });

  it('ALL comes first', (t) => {
    const { merged } = family(t, { leaf: { normal: capsOf(cap('cap_chown', 1), cap('ALL', 0)) } });
    assert.deepEqual(
      merged.capabilities.map((c) => c.value.cap),
      ['ALL', 'cap_chown'],
    );
  });

  it('defined twice differently in one file is an error', (t) => {
    conflict(
      t,
      { leaf: { normal: capsOf(cap('cap_chown', 1), cap('cap_chown', 0)) } },
      false,
      /defined twice and differently in LEAF/,
    );
  });
});

describe('namespace sharing', () => {
  it('a child cannot share what an ancestor disabled: an error naming both nodes', (t) => {
    conflict(
      t,
      { root: { normal: config('share_net: disabled') }, leaf: { normal: config('share_net: enabled') } },
      false,
      /LEAF .* loosens its ancestor ROOT .*: namespace share_net: enabled at .* against namespace share_net: disabled at .*; the ancestor forbids sharing the net namespace/,
    );
  });

  it('nor join a namespace an ancestor disabled', (t) => {
    conflict(
      t,
      { root: { normal: config('share_pid: disabled') }, leaf: { normal: config('share_pid: /proc/1/ns/pid') } },
      false,
      /share_pid: \/proc\/1\/ns\/pid/,
    );
    conflict(
      t,
      { root: { normal: config('share_pid: /proc/1/ns/pid') }, leaf: { normal: config('share_pid: /proc/2/ns/pid') } },
      false,
      /joins another namespace than the ancestor for the pid namespace/,
    );
    conflict(
      t,
      { root: { normal: config('share_pid: /proc/1/ns/pid') }, leaf: { normal: config('share_pid: enabled') } },
      false,
      /shares more of the pid namespace than the ancestor/,
    );
  });

  it('a child may disable what an ancestor enabled', (t) => {
    const { merged } = family(t, {
      root: { normal: config('share_net: enabled') },
      leaf: { normal: config('share_net: disabled') },
    });
    assert.equal(merged.shares.net.type, 'disabled');
  });

  it('share_all fills the unset keys but time', (t) => {
    const { merged } = family(t, {
      root: { normal: config('share_all: disabled') },
      leaf: { normal: config('share_ipc: disabled\nshare_time: enabled') },
    });
    assert.equal(merged.shares.ipc.type, 'disabled');
    assert.equal(merged.shares.net.type, 'disabled');
    assert.equal(merged.shares.net.fromShareAll, true);
    assert.equal(merged.shares.time.type, 'enabled');
  });

  it("an ancestor's share_all: disabled forbids what it fills (redpak let a child share_pid: enabled through)", (t) => {
    for (const key of ['user', 'cgroup', 'ipc', 'pid', 'net']) {
      conflict(
        t,
        { root: { normal: config('share_all: disabled') }, leaf: { normal: config(`share_${key}: enabled`) } },
        false,
        new RegExp(
          `namespace share_${key}: enabled at .* against namespace share_${key}: disabled \\(from share_all\\)`,
        ),
      );
    }
    // …and a child's share_all counts for what it fills.
    conflict(
      t,
      { root: { normal: config('share_pid: disabled') }, leaf: { normal: config('share_all: enabled') } },
      false,
      /namespace share_pid: enabled \(from share_all\)/,
    );
    // The ancestor's own key wins over its share_all.
    assert.equal(
      family(t, {
        root: { normal: config('share_all: disabled\nshare_net: enabled') },
        leaf: { normal: config('share_net: enabled') },
      }).merged.shares.net.type,
      'enabled',
    );
  });

  it("an ancestor admin value replaces a child normal one; a child admin value is bounded by the ancestor's admin-mode value", (t) => {
    assert.equal(
      family(
        t,
        { root: { admin: config('share_net: disabled') }, leaf: { normal: config('share_net: enabled') } },
        true,
      ).merged.shares.net.type,
      'disabled',
    );
    // The ancestor's normal value holds in admin mode unless its own admin file says otherwise.
    conflict(
      t,
      { root: { normal: config('share_net: disabled') }, leaf: { admin: config('share_net: enabled') } },
      true,
      /LEAF .* \(admin\) loosens its ancestor ROOT .*: namespace share_net: enabled .*redpak-admin.yaml/,
    );
    const loosenedByRoot = {
      root: { normal: config('share_net: disabled'), admin: config('share_net: enabled') },
      leaf: { admin: config('share_net: enabled') },
    };
    assert.equal(family(t, loosenedByRoot, true).merged.shares.net.type, 'enabled');
  });

  it('the rule holds across a middle node', (t) => {
    conflict(
      t,
      {
        root: { normal: config('share_ipc: disabled') },
        mid: { normal: config('hostname: mid') },
        leaf: { normal: config('share_ipc: enabled') },
      },
      false,
      /LEAF .* loosens its ancestor ROOT .*: namespace share_ipc: enabled/,
    );
  });
});

describe('cgroups', () => {
  it('are kept per node, root-most first, admin values overriding normal ones key by key', (t) => {
    const { merged } = family(
      t,
      {
        root: {
          normal: config('cgroups:\n  pids:\n    max: 20\n  mem:\n    max: 1G'),
          admin: config('cgroups:\n  pids:\n    max: 10'),
        },
        leaf: { normal: config('cgroups:\n  pids:\n    max: 50') },
      },
      true,
    );
    assert.deepEqual(
      merged.cgroups.map((c) => [c.alias, c.settings]),
      [
        ['ROOT', { pids: { max: '10' }, mem: { max: '1G' } }],
        ['LEAF', { pids: { max: '50' } }],
      ],
    );
  });
});

describe('no child loosens a parent', () => {
  it('an export mode: read-only → writable, nothing → a host view, whatever the mount spelling', (t) => {
    const loosen = (parent: string, child: string, mount = '/A') =>
      conflict(
        t,
        {
          root: { normal: exportsOf(exportEntry(parent, '/A')) },
          leaf: { normal: exportsOf(exportEntry(child, mount)) },
        },
        false,
        new RegExp(
          `LEAF .* loosens its ancestor ROOT .*: export ${mount.replace(/[.]/g, '\\.')}: ${child} at .*leaf/etc/redpak.yaml:\\d+ against export /A: ${parent} at .*root/etc/redpak.yaml:\\d+`,
        ),
      );
    loosen('Restricted', 'Public');
    loosen('RestrictedFile', 'PublicFile');
    loosen('Restricted', 'Private');
    loosen('Tmpfs', 'Restricted');
    loosen('Anonymous', 'Devfs');
    // Trailing slash, `//` and `.`: the same mount.
    conflict(
      t,
      {
        root: { normal: exportsOf(exportEntry('Restricted', '/nodes/x')) },
        leaf: { normal: exportsOf(exportEntry('Public', '/nodes/x/')) },
      },
      false,
      /export \/nodes\/x: Public/,
    );
    conflict(
      t,
      {
        root: { normal: exportsOf(exportEntry('Restricted', '/nodes//x')) },
        leaf: { normal: exportsOf(exportEntry('Public', '/nodes/./x')) },
      },
      false,
      /export \/nodes\/x: Public/,
    );
  });

  it('an export may tighten, keep its rank, or reuse the mount of an ancestor private export', (t) => {
    const kept = (parent: string, child: string) =>
      family(t, {
        root: { normal: exportsOf(exportEntry(parent, '/A')) },
        leaf: { normal: exportsOf(exportEntry(child, '/A')) },
      }).merged.exports[0]!.value.mode;
    assert.equal(kept('Public', 'Restricted'), 'Restricted');
    assert.equal(kept('Restricted', 'Symlink'), 'Symlink');
    assert.equal(kept('Restricted', 'Tmpfs'), 'Tmpfs');
    assert.equal(kept('Public', 'Private'), 'Private');
    assert.equal(kept('PrivateRestricted', 'Public'), 'Public');
    assert.equal(kept('Private', 'Public'), 'Public');
  });

  it('the rule holds across a middle node that says nothing', (t) => {
    conflict(
      t,
      {
        root: { normal: exportsOf(exportEntry('Restricted', '/A')) },
        mid: { normal: config('hostname: mid') },
        leaf: { normal: exportsOf(exportEntry('Public', '/A')) },
      },
      false,
      /LEAF .* loosens its ancestor ROOT/,
    );
    // A middle node that loosens is itself the one named.
    conflict(
      t,
      {
        root: { normal: exportsOf(exportEntry('Restricted', '/A')) },
        mid: { normal: exportsOf(exportEntry('Public', '/A')) },
        leaf: { normal: exportsOf(exportEntry('Restricted', '/A')) },
      },
      false,
      /MID .* loosens its ancestor ROOT/,
    );
  });

  it('set-user and set-group: a child cannot run as another identity', (t) => {
    conflict(
      t,
      { root: { normal: config('set-user: nobody') }, leaf: { normal: config('set-user: root') } },
      false,
      /LEAF .* loosens its ancestor ROOT .*: set-user: root at .* against set-user: nobody at/,
    );
    conflict(
      t,
      { root: { normal: config('set-group: nogroup') }, leaf: { normal: config('set-group: "0"') } },
      false,
      /set-group: 0 at/,
    );
    assert.equal(
      family(t, { root: { normal: config('set-user: nobody') }, leaf: { normal: config('set-user: nobody') } }).merged
        .scalars['set-user']?.value,
      'nobody',
    );
    assert.equal(
      family(t, { leaf: { normal: config('set-user: nobody') } }).merged.scalars['set-user']?.value,
      'nobody',
    );
  });

  it("cgrouproot: a child's cgroup base is its ancestor's or below it", (t) => {
    conflict(
      t,
      {
        root: { normal: config('cgrouproot: /sys/fs/cgroup/user.slice') },
        leaf: { normal: config('cgrouproot: /sys/fs/cgroup') },
      },
      false,
      /LEAF .* loosens its ancestor ROOT .*: cgrouproot: \/sys\/fs\/cgroup at .* against cgrouproot: \/sys\/fs\/cgroup\/user.slice at .*; a child's cgroup base must be its ancestor's or below it/,
    );
    conflict(
      t,
      { root: { normal: config('cgrouproot: redpak') }, leaf: { normal: config('cgrouproot: redpak-other') } },
      false,
      /cgrouproot: redpak-other/,
    );
    assert.equal(
      family(t, {
        root: { normal: config('cgrouproot: redpak/') },
        leaf: { normal: config('cgrouproot: redpak//app') },
      }).merged.scalars.cgrouproot?.value,
      'redpak//app',
    );
  });

  it('new-session and die-with-parent: an ancestor Enabled cannot be Disabled', (t) => {
    for (const key of ['new-session', 'die-with-parent']) {
      conflict(
        t,
        { root: { normal: config(`${key}: enabled`) }, leaf: { normal: config(`${key}: disabled`) } },
        false,
        new RegExp(`${key}: Disabled at .* against ${key}: Enabled at .*; the ancestor enables it`),
      );
      assert.equal(
        family(t, { root: { normal: config(`${key}: disabled`) }, leaf: { normal: config(`${key}: enabled`) } }).merged
          .scalars[key as 'new-session']?.value,
        'Enabled',
      );
    }
  });

  it("umask: a child's mask keeps every bit of its ancestor's", (t) => {
    conflict(
      t,
      { root: { normal: config('umask: "027"') }, leaf: { normal: config('umask: "022"') } },
      false,
      /umask: 022 at .* against umask: 027 at .*; it clears permission bits the ancestor masks/,
    );
    // Through a variable too: the value compared is the expanded one.
    conflict(
      t,
      { root: { normal: config('umask: "077"') }, leaf: { normal: config('umask: $(printf 0)') } },
      false,
      /umask: 0 at/,
    );
    assert.equal(
      family(t, { root: { normal: config('umask: "027"') }, leaf: { normal: config('umask: "077"') } }).merged.scalars
        .umask?.value,
      '077',
    );
  });

  it('inherit-env and map-root-user: an ancestor that writes them off keeps them off', (t) => {
    conflict(
      t,
      { root: { normal: config('inherit-env: false') }, leaf: { normal: config('inherit-env: true') } },
      false,
      /inherit-env: true at .* against inherit-env: false at .*; the ancestor turns it off/,
    );
    conflict(
      t,
      { root: { normal: config('map-root-user: 0') }, leaf: { normal: config('map-root-user: 1') } },
      false,
      /map-root-user: 1 at/,
    );
    // Not written by the ancestor: no bound.
    assert.equal(
      family(t, { root: { normal: config('hostname: r') }, leaf: { normal: config('inherit-env: true') } }).merged
        .scalars['inherit-env']?.value,
      true,
    );
  });

  it("admin files: looser than the node's own normal file, never than an ancestor in admin mode", (t) => {
    const restricted = exportsOf(exportEntry('Restricted', '/A'));
    const pub = exportsOf(exportEntry('Public', '/A'));
    // One node: its admin file may open what its normal file restricts.
    const own = family(t, { leaf: { normal: restricted, admin: pub } }, true);
    assert.equal(own.merged.exports[0]!.value.mode, 'Public');
    // A child's admin file against an ancestor's normal file (no admin definition there): refused.
    conflict(
      t,
      { root: { normal: restricted }, leaf: { admin: pub } },
      true,
      /LEAF .* \(admin\) loosens its ancestor ROOT \(.*\): export \/A: Public at .*leaf\/etc\/redpak-admin.yaml:\d+ against export \/A: Restricted at .*root\/etc\/redpak.yaml:\d+/,
    );
    // Against an ancestor's admin file.
    conflict(
      t,
      { root: { normal: pub, admin: restricted }, leaf: { admin: pub } },
      true,
      /\(admin\) loosens its ancestor ROOT .* \(admin\)/,
    );
    // The ancestor's admin file opened it: the child's admin file may too.
    assert.equal(
      family(t, { root: { normal: restricted, admin: pub }, leaf: { admin: pub } }, true).merged.exports[0]!.value.mode,
      'Public',
    );
    // A child's normal file is bounded by the ancestors' normal files only; in admin mode an
    // ancestor's admin definition replaces it (the ancestor's choice).
    conflict(t, { root: { normal: restricted }, leaf: { normal: pub } }, true, /export \/A: Public/);
    const replaced = family(t, { root: { admin: pub }, leaf: { normal: restricted } }, true);
    assert.deepEqual(
      [replaced.merged.exports[0]!.value.mode, replaced.merged.exports[0]!.origin.alias],
      ['Public', 'ROOT'],
    );
  });

  it('seccomp: every file of the family applies, root-most first (a child can only narrow)', (t) => {
    const filter = (syscall: string) =>
      `${headers()}seccomp:\n  default: allow\n  rules:\n    - syscall: ${syscall}\n      action: errno\n`;
    const { merged } = family(
      t,
      { root: { normal: filter('ptrace'), admin: filter('mount') }, leaf: { normal: filter('reboot') } },
      true,
    );
    assert.deepEqual(
      merged.seccomp.map((s) => [s.alias, s.kind]),
      [
        ['ROOT', 'normal'],
        ['ROOT', 'admin'],
        ['LEAF', 'normal'],
      ],
    );
  });
});
