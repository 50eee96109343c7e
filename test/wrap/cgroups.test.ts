import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import {
  describeCgroupPlan,
  planCgroups,
  requestedControllers,
  type CgroupNode,
  type CgroupPlan,
} from '../../src/wrap/cgroups.js';
import {
  applyCgroupPlan,
  detectCgroupLayout,
  placeProcess,
  releaseCgroups,
  resolveCgroupOptions,
} from '../../src/wrap/cgroups-apply.js';
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
      `${p}/memory.low = 67108864`,
      `${p}/memory.max = 536870912`,
      `${p}/pids.max = 100`,
      `${m}/cgroup.subtree_control = ${enable}`,
      `${a}/cgroup.subtree_control = ${enable}`,
      `${a}/cpuset.cpus = 1`,
      `${a}/cpu.weight.nice = 5`,
      `${a}/cpu.max = 50000 100000`,
    ]);
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
      `write /v1/cpu/${app}/cpu.shares = 335`,
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
    assert.deepEqual(plan, { version: 'v2', steps: [], leaves: [], chains: [] });
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
    assert.throws(
      () => one({ io: { cost_qos: 'enable=1' } }),
      schemaError(/io\.cost_qos cannot be applied: io\.cost\.qos exists only in the root cgroup/),
    );
    assert.throws(() => one({ cpu: { weight: '100', weight_nice: '0' } }), schemaError(/same knob/));
    assert.throws(() => one({ mem: { low: '1M' } }, 'v1'), schemaError(/mem\.low cannot be applied: cgroup v1 has no/));
    assert.throws(() => one({ mem: { swap_max: '1M' } }, 'v1'), schemaError(/set mem\.max too/));
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

  test('picks v2 when the base offers the controllers, v1 on a hybrid host, and an error otherwise', () => {
    const fake = new FakeCgroupV2(fakeRoot(), ['memory', 'pids']);
    const unifiedOnly = { unified: { mount: fake.root, path: '/' }, v1: {} };
    assert.deepEqual(resolveCgroupOptions(unifiedOnly, ['mem', 'pids'], undefined, fake), {
      version: 'v2',
      root: fake.root,
    });
    assert.throws(
      () => resolveCgroupOptions(unifiedOnly, ['cpu', 'pids'], undefined, fake),
      (error: unknown) => error instanceof RedpakError && /cpu available neither/.test(error.message),
    );

    const hybrid = detectCgroupLayout(
      [
        'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0',
        'cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0',
        'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0',
        'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
      ].join('\n'),
      ['4:memory:/session/x', '3:pids:/', '2:cpu,cpuacct:/', '0::/'].join('\n'),
    );
    assert.deepEqual(resolveCgroupOptions(hybrid, ['cpu', 'mem', 'pids'], undefined, fake), {
      version: 'v1',
      roots: {
        cpu: '/sys/fs/cgroup/cpu,cpuacct',
        memory: '/sys/fs/cgroup/memory/session/x',
        pids: '/sys/fs/cgroup/pids',
      },
    });
    assert.deepEqual(
      resolveCgroupOptions(hybrid, ['pids'], '/redpak/', fake),
      { version: 'v1', roots: { pids: '/sys/fs/cgroup/pids/redpak' } },
      'cgrouproot relative to the mount',
    );
  });
});
