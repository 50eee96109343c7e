import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkTree } from '../../src/audit/check.js';
import { explain } from '../../src/audit/explain.js';
import { RedpakError } from '../../src/errors.js';
import {
  describeCgroupPlan,
  nodeCgroupDirs,
  planCgroups,
  requestedControllers,
  type CgroupNode,
  type CgroupPlan,
} from '../../src/wrap/cgroups.js';
import {
  applyCgroupPlan,
  detectCgroupLayout,
  hostCgroupPlan,
  placeProcess,
  realCgroupFs,
  releaseCgroups,
  resolveCgroupOptions,
} from '../../src/wrap/cgroups-apply.js';
import { makeNode, tempDir } from '../helpers/family.js';
import { FakeCgroupV2 } from './fake-cgroupfs.js';

const scratch = mkdtempSync(join(tmpdir(), 'redpak-cgroups-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let fakeCount = 0;
const fakeRoot = () => join(scratch, `fake-${fakeCount++}`);

const family: CgroupNode[] = [
  {
    path: '/var/redpak/platform/',
    alias: 'platform',
    admin: false,
    cgroups: { mem: { max: '512M', low: '64M' }, pids: { max: '100' } },
  },
  { path: '/var/redpak/platform/middle/', alias: 'middle', admin: false },
  {
    path: '/var/redpak/platform/middle/app/',
    alias: 'app',
    admin: true,
    cgroups: { cpu: { max: '50000 100000', weight_nice: '5' }, cpuset: { cpus: '1' } },
  },
];

function writes(plan: CgroupPlan): string[] {
  return plan.steps.flatMap((step) => (step.kind === 'write' ? [`${step.file} = ${step.value}`] : []));
}

function schemaError(pattern: RegExp) {
  return (error: unknown) => error instanceof RedpakError && error.code === 'schema' && pattern.test(error.message);
}

describe('planCgroups (pure)', () => {
  test('v2: nested node cgroups, controllers enabled on the way down, the process in the leaf', () => {
    const plan = planCgroups(family, { version: 'v2', root: '/cg/user/' });
    const p = '/cg/user/-var-redpak-platform-';
    const m = `${p}/-var-redpak-platform-middle-`;
    const a = `${m}/-var-redpak-platform-middle-app-.admin`;
    assert.deepEqual(
      plan.steps.filter((step) => step.kind === 'mkdir').map((step) => step.kind === 'mkdir' && step.dir),
      ['/cg/user/redpak-pids-leaf', p, `${p}/redpak-pids-leaf`, m, `${m}/redpak-pids-leaf`, a, `${a}/redpak-pids-leaf`],
    );
    const enable = '+cpuset +cpu +memory +pids';
    assert.deepEqual(writes(plan), [
      `/cg/user/cgroup.subtree_control = ${enable}`,
      `${p}/cgroup.subtree_control = ${enable}`,
      `${p}/memory.max = 536870912`,
      `${p}/pids.max = 100`,
      `${m}/cgroup.subtree_control = ${enable}`,
      `${a}/cgroup.subtree_control = ${enable}`,
      `${a}/cpuset.cpus = 1`,
      `${a}/cpu.max = 50000 100000`,
    ]);
    assert.deepEqual(
      plan.warnings.map((w) => `${w.alias} ${w.key}`),
      ['platform mem.low', 'app cpu.weight_nice'],
      'keys redpak ignores are listed, not written',
    );
    assert.deepEqual(plan.leaves, [`${a}/redpak-pids-leaf`]);
    assert.deepEqual(plan.chains, [
      [p, `${p}/redpak-pids-leaf`, m, `${m}/redpak-pids-leaf`, a, `${a}/redpak-pids-leaf`],
    ]);
  });

  test('v1: one nested chain per hierarchy, converted values, cpusets inherit cpus/mems', () => {
    const roots = { memory: '/v1/memory/me', pids: '/v1/pids', cpu: '/v1/cpu', cpuset: '/v1/cpuset' };
    const nodes = family.map((node) => ({
      ...node,
      cgroups: node.cgroups && { ...node.cgroups, mem: node.cgroups.mem && { max: '512M', high: '256M' } },
    }));
    const plan = planCgroups(nodes, { version: 'v1', roots });
    const lines = describeCgroupPlan(plan);
    const app = '-var-redpak-platform-/-var-redpak-platform-middle-/-var-redpak-platform-middle-app-.admin';
    for (const expected of [
      'write /v1/memory/me/-var-redpak-platform-/memory.limit_in_bytes = 536870912',
      'write /v1/memory/me/-var-redpak-platform-/memory.soft_limit_in_bytes = 268435456',
      'write /v1/pids/-var-redpak-platform-/pids.max = 100',
      `write /v1/cpu/${app}/cpu.cfs_period_us = 100000`,
      `write /v1/cpu/${app}/cpu.cfs_quota_us = 50000`,
      'copy /v1/cpuset/cpuset.cpus -> /v1/cpuset/-var-redpak-platform-/cpuset.cpus',
      'copy /v1/cpuset/-var-redpak-platform-/cpuset.mems -> /v1/cpuset/-var-redpak-platform-/-var-redpak-platform-middle-/cpuset.mems',
      `write /v1/cpuset/${app}/cpuset.cpus = 1`,
      `copy /v1/cpuset/-var-redpak-platform-/-var-redpak-platform-middle-/cpuset.mems -> /v1/cpuset/${app}/cpuset.mems`,
    ]) {
      assert.ok(lines.includes(expected), `missing "${expected}" in\n${lines.join('\n')}`);
    }
    assert.ok(
      lines.indexOf(`write /v1/cpu/${app}/cpu.cfs_period_us = 100000`) <
        lines.indexOf(`write /v1/cpu/${app}/cpu.cfs_quota_us = 50000`),
      'period before quota',
    );
    assert.deepEqual(
      plan.leaves.sort(),
      ['cpu', 'cpuset', 'memory/me', 'pids'].map((h) => `/v1/${h}/${app}`),
    );
  });

  test('no cgroups anywhere in the chain: an empty plan', () => {
    const plan = planCgroups([{ path: '/n/', alias: 'n', admin: false }], { version: 'v2', root: '/cg' });
    assert.deepEqual(plan, { version: 'v2', steps: [], warnings: [], leaves: [], chains: [] });
    assert.deepEqual(
      requestedControllers([{ path: '/n/', alias: 'n', admin: false, cgroups: { io: {} } }]),
      ['io', 'pids'],
      'an empty sub-map still asks for its controller',
    );
  });

  test('values the kernel would reject are errors naming node, key and value, before anything runs', () => {
    const one = (cgroups: CgroupNode['cgroups'], version: 'v1' | 'v2' = 'v2') =>
      planCgroups(
        [{ path: '/n/', alias: 'web', admin: false, cgroups }],
        version === 'v2'
          ? { version, root: '/cg' }
          : { version, roots: { memory: '/m', pids: '/p', cpu: '/c', cpuset: '/s', blkio: '/b' } },
      );
    assert.throws(() => one({ mem: { max: '12Q' } }), schemaError(/node web: cgroups\.mem\.max "12Q" is invalid/));
    assert.throws(() => one({ pids: { max: '-3' } }), schemaError(/cgroups\.pids\.max "-3"/));
    assert.throws(() => one({ cpu: { max: '500' } }), schemaError(/quota must be at least 1000/));
    assert.throws(() => one({ cpu: { weight: '0' } }), schemaError(/cpu\.weight "0".*1\.\.10000/));
    assert.throws(() => one({ cpuset: { cpus: 'all' } }), schemaError(/cpuset\.cpus "all"/));
    assert.throws(() => one({ cpuset: { cpus_partition: 'shared' } }), schemaError(/member, root, isolated/));
    assert.throws(() => one({ io: { max: '8:0 rbps=fast' } }), schemaError(/io\.max/));
    assert.throws(() => one({ mem: { min: '1M' } }, 'v1'), schemaError(/mem\.min cannot be applied: cgroup v1 has no/));
    assert.throws(() => one({ mem: { swap_high: '1M' } }, 'v1'), schemaError(/mem\.swap_high cannot be applied/));
    assert.throws(
      () => one({ cpuset: { cpus_partition: 'root' } }, 'v1'),
      schemaError(/cpuset\.cpus_partition cannot be applied/),
    );
    assert.throws(() => one({ mem: { swap_max: '1M' } }, 'v1'), schemaError(/set mem\.max too/));
  });

  test('keys redpak ignores are accepted on v1 and v2 with a warning naming node and key, and never written', () => {
    const ignoredOnly: CgroupNode['cgroups'] = {
      mem: { low: '1M', oom_group: '1' },
      cpu: { weight: '100', weight_nice: '0' },
      io: { cost_qos: 'enable=1', cost_model: 'rbps=1' },
    };
    for (const options of [
      { version: 'v2', root: '/cg' },
      { version: 'v1', roots: { memory: '/m', pids: '/p', cpu: '/c', blkio: '/b' } },
    ] as const) {
      const plan = planCgroups([{ path: '/n/', alias: 'web', admin: false, cgroups: ignoredOnly }], options);
      assert.deepEqual(
        plan.warnings.map((w) => w.message),
        [
          'node web: cgroups.mem.low is ignored: redpak parses mem.low but never writes memory.low',
          'node web: cgroups.mem.oom_group is ignored: redpak parses mem.oom_group but never writes memory.oom.group',
          'node web: cgroups.cpu.weight_nice is ignored: redpak parses cpu.weight_nice but never applies it',
          'node web: cgroups.io.cost_qos is ignored: redpak ignores io.cost_qos; io.cost.qos exists only in the root cgroup (a host-wide setting)',
          'node web: cgroups.io.cost_model is ignored: redpak ignores io.cost_model; io.cost.model exists only in the root cgroup (a host-wide setting)',
        ],
      );
      const written = writes(plan).join('\n');
      assert.doesNotMatch(written, /low|oom|nice|cost/, options.version);
      assert.match(
        written,
        options.version === 'v2' ? /cpu\.weight = 100/ : /cpu\.shares = 1024/,
        'cpu.weight applies',
      );
    }
  });

  test('nodeCgroupDirs: the directories a launch of the node runs in, named as the plan names them', () => {
    const v2 = planCgroups(family, { version: 'v2', root: '/cg/user/' });
    const v2Dirs = nodeCgroupDirs(family, { version: 'v2', root: '/cg/user/' });
    assert.deepEqual(v2Dirs, [v2.leaves[0].replace(/\/redpak-pids-leaf$/, ''), v2.leaves[0]]);
    const roots = { memory: '/v1/memory/me', pids: '/v1/pids', cpu: '/v1/cpu', cpuset: '/v1/cpuset' };
    const v1 = planCgroups(family, { version: 'v1', roots });
    assert.deepEqual(nodeCgroupDirs(family, { version: 'v1', roots }).sort(), [...v1.leaves].sort());
    assert.deepEqual(nodeCgroupDirs(family.slice(0, 1), { version: 'v1', roots: { pids: '/v1/pids' } }), [
      '/v1/pids/-var-redpak-platform-',
    ]);
  });

  test('--dump-only: planning and describing create nothing', () => {
    const root = join(scratch, 'never-created');
    const lines = describeCgroupPlan(planCgroups(family, { version: 'v2', root }));
    assert.ok(lines.some((line) => line.startsWith(`mkdir ${root}/-var-redpak-platform-`)));
    assert.ok(lines.at(-1)!.startsWith('enter '));
    assert.equal(existsSync(root), false);
  });
});

describe('cgroup v2 writer, on a FAKE cgroupfs (this machine has no v2 controllers)', () => {
  test('applies the plan, moves the base processes out, places the pid and removes it all afterwards', async () => {
    const fake = new FakeCgroupV2(fakeRoot(), undefined, [100, 101]);
    const applied = applyCgroupPlan(planCgroups(family, { version: 'v2', root: fake.root }), fake);
    const platform = join(fake.root, '-var-redpak-platform-');
    const app = join(platform, '-var-redpak-platform-middle-', '-var-redpak-platform-middle-app-.admin');
    assert.equal(readFileSync(join(platform, 'memory.max'), 'utf8'), '536870912');
    assert.equal(readFileSync(join(app, 'cpu.max'), 'utf8'), '50000 100000');
    assert.equal(
      readFileSync(join(fake.root, 'redpak-pids-leaf', 'cgroup.procs'), 'utf8'),
      '100\n101',
      'caller processes evacuated',
    );
    assert.equal(readFileSync(join(fake.root, 'cgroup.procs'), 'utf8'), '');

    placeProcess(applied, 4242, fake);
    assert.equal(readFileSync(join(app, 'redpak-pids-leaf', 'cgroup.procs'), 'utf8'), '4242');

    const whileRunning = await releaseCgroups(applied, { retryMs: 50 }, fake);
    assert.deepEqual(whileRunning.removed, [], 'a cgroup with a live process stays');
    fake.exit(4242);
    const released = await releaseCgroups(applied, {}, fake);
    assert.equal(released.removed.length, 6);
    assert.deepEqual(fake.tree(), ['redpak-pids-leaf'], 'only the base leaf holding the caller remains');
  });

  test('release: a cgroup removed meanwhile by another (redwrap stop) is gone as asked, not an error', async () => {
    /** rmdir finds the leaf gone (ENOENT) or busy and then gone: another remover won the race. */
    class RacedFake extends FakeCgroupV2 {
      raced = new Map<string, 'ENOENT' | 'EBUSY'>();
      override rmdir(dir: string): void {
        const race = this.raced.get(dir);
        this.raced.delete(dir);
        super.rmdir(dir); // with a race: the other remover
        if (!race) return;
        const error: NodeJS.ErrnoException = new Error(`${race}: raced, '${dir}'`);
        error.code = race;
        throw error;
      }
    }
    const fake = new RacedFake(fakeRoot());
    const applied = applyCgroupPlan(planCgroups(family, { version: 'v2', root: fake.root }), fake);
    const [chain] = applied.plan.chains;
    fake.raced.set(chain.at(-1)!, 'ENOENT');
    fake.raced.set(chain.at(-2)!, 'EBUSY');
    const released = await releaseCgroups(applied, {}, fake);
    assert.deepEqual(released.kept, []);
    assert.deepEqual(released.removed, chain.slice(0, -2).reverse(), 'the others removed here, leaf-most first');
    assert.deepEqual(fake.tree(), ['redpak-pids-leaf']);
  });

  test('a value the kernel rejects is an error naming node, file and value, and nothing is left behind', () => {
    const fake = new FakeCgroupV2(fakeRoot());
    const plan = planCgroups([family[0], { ...family[2], cgroups: { cpuset: { cpus: '7' } } }], {
      version: 'v2',
      root: fake.root,
    });
    assert.throws(
      () => applyCgroupPlan(plan, fake),
      (error: unknown) =>
        error instanceof RedpakError &&
        error.code === 'launch' &&
        /node app: cannot write "7" to \S+-var-redpak-platform-middle-app-\.admin\/cpuset\.cpus \(cpuset\.cpus\): EINVAL/.test(
          error.message,
        ),
    );
    assert.deepEqual(fake.tree(), []);
  });

  test('a controller the base does not offer fails at once, with a hint', () => {
    const fake = new FakeCgroupV2(fakeRoot(), ['hugetlb']);
    assert.throws(
      () => applyCgroupPlan(planCgroups(family, { version: 'v2', root: fake.root }), fake),
      (error: unknown) =>
        error instanceof RedpakError &&
        /base cgroup: cannot write "\+cpuset \+cpu \+memory \+pids" to .*: ENOENT/.test(error.message) &&
        /controller is not enabled/.test(error.hint ?? ''),
    );
    assert.deepEqual(fake.tree(), []);
  });

  test('two launches sharing a parent node: releasing one keeps the parent for the other', async () => {
    const fake = new FakeCgroupV2(fakeRoot());
    const parent: CgroupNode = { path: '/p/', alias: 'p', admin: false, cgroups: { pids: { max: '10' } } };
    const first = applyCgroupPlan(
      planCgroups([parent, { path: '/p/a/', alias: 'a', admin: false }], { version: 'v2', root: fake.root }),
      fake,
    );
    const second = applyCgroupPlan(
      planCgroups([parent, { path: '/p/b/', alias: 'b', admin: false }], { version: 'v2', root: fake.root }),
      fake,
    );
    placeProcess(second, 7, fake);
    const released = await releaseCgroups(first, {}, fake);
    assert.deepEqual(released.kept, [join(fake.root, '-p-')]);
    assert.ok(fake.tree().includes('-p-/-p-b-/redpak-pids-leaf'));
  });

  test('picks v2 when the base offers the controllers and is writable, else the reasons', () => {
    const fake = new FakeCgroupV2(fakeRoot(), ['memory', 'pids']);
    const unifiedOnly = { unified: { mount: fake.root, path: '/' }, v1: {} };
    assert.deepEqual(resolveCgroupOptions(unifiedOnly, ['mem', 'pids'], undefined, fake, 0), {
      options: { version: 'v2', root: fake.root },
    });
    assert.deepEqual(resolveCgroupOptions(unifiedOnly, ['cpu', 'pids'], undefined, fake, 0), {
      refused: [
        "cgroup v2, the caller's own cgroup: controller(s) cpu not offered there (cgroup.controllers)",
        'cgroup v1: hierarchy not mounted: cpu, pids',
      ],
    });
  });

  test('rootless on v2: the delegated user@UID.service when the own cgroup is not writable, else a refusal', () => {
    const fake = new FakeCgroupV2(fakeRoot());
    const session = join(fake.root, 'user.slice', 'user-1000.slice', 'session-1.scope');
    const delegated = join(fake.root, 'user.slice', 'user-1000.slice', 'user@1000.service');
    for (const dir of [join(fake.root, 'user.slice'), join(fake.root, 'user.slice', 'user-1000.slice'), session]) {
      fake.write(join(dirname(dir), 'cgroup.subtree_control'), '+cpuset +cpu +io +memory +pids');
      fake.mkdir(dir);
    }
    fake.deny(session);
    const layout = { unified: { mount: fake.root, path: '/user.slice/user-1000.slice/session-1.scope' }, v1: {} };
    const refused = resolveCgroupOptions(layout, ['pids'], undefined, fake, 1000);
    assert.ok('refused' in refused);
    assert.deepEqual(refused.refused.slice(0, 2), [
      `cgroup v2, the caller's own cgroup: ${session} is not writable by this user (no cgroup delegated to it)`,
      `cgroup v2, the delegated cgroup of uid 1000: ${delegated} does not exist`,
    ]);
    assert.throws(
      () =>
        hostCgroupPlan([{ path: '/app/', alias: 'app', admin: false, cgroups: { pids: { max: '5' } } }], {
          layout,
          fs: fake,
          uid: 1000,
        }),
      (error: unknown) =>
        error instanceof RedpakError &&
        error.code === 'launch' &&
        error.message.startsWith('cgroups cannot be applied on this host (node app: cgroups.pids.max): cgroup v2, ') &&
        error.message.includes('is not writable by this user') &&
        /systemd-run --user/.test(error.hint ?? ''),
    );
    fake.mkdir(delegated);
    assert.deepEqual(resolveCgroupOptions(layout, ['pids'], undefined, fake, 1000), {
      options: { version: 'v2', root: delegated },
    });
    assert.deepEqual(
      resolveCgroupOptions(layout, ['pids'], undefined, fake, 0),
      {
        refused: [
          `cgroup v2, the caller's own cgroup: ${session} is not writable by this user (no cgroup delegated to it)`,
          'cgroup v1: hierarchy not mounted: pids',
        ],
      },
      'root never looks for a delegated cgroup',
    );
  });
});

describe('cgrouproot on each hierarchy (v1 hierarchies as plain directories here)', () => {
  /** A hybrid host's mounts, each v1 hierarchy a directory under `top`; the caller in /session/x of memory. */
  function hybrid(top: string) {
    for (const name of ['cpu,cpuacct', 'pids', 'memory/session/x']) mkdirSync(join(top, name), { recursive: true });
    for (const name of ['cpu,cpuacct', 'pids', 'memory', 'memory/session/x'])
      writeFileSync(join(top, name, 'cgroup.procs'), '');
    return detectCgroupLayout(
      [
        `cgroup ${top}/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0`,
        `cgroup ${top}/pids cgroup rw,pids 0 0`,
        `cgroup ${top}/memory cgroup rw,memory 0 0`,
        `cgroup2 ${top}/unified cgroup2 rw 0 0`,
      ].join('\n'),
      ['4:memory:/session/x', '3:pids:/', '2:cpu,cpuacct:/', '0::/'].join('\n'),
    );
  }
  const dirFs = { ...realCgroupFs, writable: (path: string) => existsSync(path) };
  const systemdRoot = '/sys/fs/cgroup/user.slice/user-0.slice/user@0.service';

  test("v1 on a hybrid host: each hierarchy at the caller's place, cgrouproot inside each hierarchy", () => {
    const top = fakeRoot();
    const layout = hybrid(top);
    assert.deepEqual(resolveCgroupOptions(layout, ['cpu', 'mem', 'pids'], undefined, dirFs, 0), {
      options: {
        version: 'v1',
        roots: { cpu: `${top}/cpu,cpuacct`, memory: `${top}/memory/session/x`, pids: `${top}/pids` },
      },
    });
    for (const name of ['pids', 'memory']) {
      const dir = join(top, name, 'user.slice/user-0.slice/user@0.service');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cgroup.procs'), '');
    }
    assert.deepEqual(
      resolveCgroupOptions(layout, ['mem', 'pids'], systemdRoot, dirFs, 0),
      {
        options: {
          version: 'v1',
          roots: {
            memory: `${top}/memory/user.slice/user-0.slice/user@0.service`,
            pids: `${top}/pids/user.slice/user-0.slice/user@0.service`,
          },
        },
      },
      'the systemd path of the templates means the same place in every hierarchy, never /memory/sys/fs/cgroup/...',
    );
    assert.deepEqual(
      resolveCgroupOptions(layout, ['pids'], '/redpak/', { ...dirFs, exists: () => true, writable: () => true }, 0),
      { options: { version: 'v1', roots: { pids: `${top}/pids/redpak` } } },
      'cgrouproot relative to the mount',
    );
  });

  test('a cgrouproot missing in a hierarchy is refused before anything runs, naming node, key and directory', () => {
    const top = fakeRoot();
    const layout = hybrid(top);
    const nodes: CgroupNode[] = [
      { path: '/sys/', alias: 'system', admin: false },
      { path: '/sys/app/', alias: 'app', admin: false, cgroups: { mem: { max: '64M' } } },
    ];
    assert.throws(
      () => hostCgroupPlan(nodes, { cgrouproot: systemdRoot, layout, fs: dirFs, uid: 0 }),
      (error: unknown) =>
        error instanceof RedpakError &&
        error.code === 'launch' &&
        error.message ===
          `cgroups cannot be applied on this host (node app: cgroups.mem.max): cgroup v2, cgrouproot ${systemdRoot}: ${top}/unified/user.slice/user-0.slice/user@0.service does not exist; cgroup v1, cgrouproot ${systemdRoot}: ${top}/memory/user.slice/user-0.slice/user@0.service does not exist` &&
        /point cgrouproot at an existing cgroup/.test(error.hint ?? ''),
    );
    assert.deepEqual(readdirSync(join(top, 'memory')).sort(), ['cgroup.procs', 'session'], 'nothing created');
  });
});

describe('check and explain list the keys redpak ignores', () => {
  test('a cgroups/ignored finding per key at the node, and a note on the setting in explain', async (t) => {
    const dir = tempDir(t, 'redpak-cgignored-');
    const node = makeNode(
      dir,
      join(dir, 'app'),
      'app',
      'headers:\n  alias: app\nconfig:\n  cgroups:\n    cpu:\n      weight_nice: 5\n    pids:\n      max: 10\n',
    );
    const checked = await checkTree({ redroot: node, packages: false, files: false, unowned: false });
    const ignored = checked.findings.filter((f) => f.rule === 'ignored');
    assert.deepEqual(
      ignored.map((f) => [f.class, f.node, f.message]),
      [
        [
          'cgroups',
          node,
          'node app: cgroups.cpu.weight_nice is ignored: redpak parses cpu.weight_nice but never applies it',
        ],
      ],
    );
    const setting = explain({ redpath: node }).settings.find((s) => s.kind === 'cgroup' && s.key === 'cpu.weight_nice');
    assert.match(setting?.note ?? '', /is ignored: redpak parses cpu\.weight_nice but never applies it/);
  });
});
