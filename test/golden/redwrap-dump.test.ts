/**
 * Golden launch plans of the built executable: `redwrap --redpath LEAF [--admin] --dump-only
 * --json -- /bin/true` for configuration pairs placed in redpak's five layouts (its tests/basic:
 * node, rootnn, rootna, rootan, rootaa), each in normal and admin mode, compared with reviewed
 * files in test/golden/data/redwrap-dump/CONF1__CONF2.json (temporary paths read <ROOT>, also in
 * the dashed form cgroup names use). The configurations are in data/redwrap-dump/configs/.
 *
 * A missing golden file fails. After a deliberate change, regenerate with
 * REDPAK_UPDATE_GOLDEN=1 npm test and review the diff before committing it.
 *
 * The files were recorded on x86_64 with a hybrid cgroup host (v1 pids and memory hierarchies);
 * elsewhere the host-dependent parts (cgroup steps, seccomp program lengths) are left out of the
 * comparison.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectCgroupLayout, realCgroupFs, resolveCgroupOptions } from '../../src/wrap/cgroups-apply.js';
import { buildLayout, makeNode, LAYOUTS, tempDir } from '../helpers/family.js';
import { redwrap, type RedwrapRun } from '../helpers/redwrap.js';

const DATA = new URL('../../../test/golden/data/redwrap-dump/', import.meta.url).pathname;
const update = process.env.REDPAK_UPDATE_GOLDEN === '1';

/** CONF1 (root side) and CONF2 (sub side) of each pair: see the comments in each config file. */
const PAIRS: [string, string][] = [
  ['exports-a', 'exports-b'],
  ['environ-a', 'environ-b'],
  ['isolation-a', 'isolation-b'],
  ['conflicts-a', 'conflicts-b'],
];
const MODES = ['normal', 'admin'] as const;
/** What an Inherit variable takes from redwrap's environment. */
const INHERITED = 'this is an inherited value';

const recordedHost = (() => {
  if (process.arch !== 'x64') return false;
  try {
    // The goldens were recorded on a hybrid host; the base need not exist for --dump-only.
    const anyBase = { ...realCgroupFs, exists: () => true, writable: () => true };
    const resolved = resolveCgroupOptions(detectCgroupLayout(), ['pids', 'mem'], 'redpak-golden', anyBase);
    return 'options' in resolved && resolved.options.version === 'v1';
  } catch {
    return false;
  }
})();

/** At most this many redwrap processes at once (each is a Node.js start, ~0.5 s of CPU). */
const limit = (() => {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (running >= 4) await new Promise<void>((go) => waiting.push(go));
    running += 1;
    try {
      return await job();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
})();

const config = (name: string) => ({ name, yaml: readFileSync(join(DATA, 'configs', `${name}.yaml`), 'utf8') });

/** Temporary paths → <ROOT>, in both their plain form and the dashed form of cgroup names. */
function normalise(text: string, dir: string): string {
  return text.replaceAll(dir, '<ROOT>').replaceAll(dir.replaceAll('/', '-'), '<ROOT>');
}

/** The dump, or the error and exit status redwrap gave instead. */
function outcome(run: RedwrapRun, dir: string): unknown {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    throw new Error(`redwrap printed no JSON (exit ${run.status}): ${run.stdout}${run.stderr}`);
  }
  const result = run.status === 0 ? parsed : { status: run.status, ...parsed };
  return JSON.parse(normalise(JSON.stringify(result), dir));
}

/** The parts of a recorded dump that depend on the host. */
type HostDependent = { cgroupSteps?: unknown; seccomp?: { instructions?: unknown }[] };

/** Leaves out what depends on the host when it is not like the one the files were recorded on. */
function hostIndependent(cases: Record<string, unknown>): Record<string, unknown> {
  if (recordedHost) return cases;
  const copy = structuredClone(cases) as Record<string, HostDependent>;
  for (const dump of Object.values(copy)) {
    delete dump.cgroupSteps;
    for (const filter of dump.seccomp ?? []) delete filter.instructions;
  }
  return copy;
}

/** JSON with every value that fits on one line written on one line, for reviewable files. */
function format(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== 'object' || indent.length + flat.length <= 150) return flat;
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((v) => `${inner}${format(v, inner)}`)
    : Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`);
  return Array.isArray(value) ? `[\n${items.join(',\n')}\n${indent}]` : `{\n${items.join(',\n')}\n${indent}}`;
}

describe('redwrap --dump-only --json golden files', { concurrency: true }, () => {
  // The isolation configs' cgrouproots exist on the recording host (a launch refuses a missing
  // base, and --dump-only then says so): made in each hierarchy for the run, removed after.
  const madeBases: string[] = [];
  before(() => {
    if (!recordedHost) return;
    const layout = detectCgroupLayout();
    for (const mount of [layout.v1.pids?.mount, layout.v1.memory?.mount]) {
      for (const base of mount ? ['redpak-golden', 'redpak-golden/sub'] : []) {
        const dir = join(mount as string, base);
        if (existsSync(dir)) continue;
        mkdirSync(dir);
        madeBases.push(dir);
      }
    }
  });
  after(() => {
    for (const dir of madeBases.reverse()) rmdirSync(dir);
  });
  for (const [name1, name2] of PAIRS) {
    const golden = join(DATA, `${name1}__${name2}.json`);
    it(`${name1}__${name2}`, async (t) => {
      const dir = tempDir(t, 'redpak-dump-');
      const conf1 = config(name1);
      const conf2 = config(name2);
      const jobs = LAYOUTS.flatMap((layout) => {
        const leaf = buildLayout(dir, layout, conf1, conf2);
        return MODES.map((mode) => ({
          label: `${layout} ${mode}`,
          run: limit(() =>
            redwrap(
              ['--redpath', leaf, ...(mode === 'admin' ? ['--admin'] : []), '--dump-only', '--json', '--', '/bin/true'],
              { env: { INHERITED } },
            ),
          ),
        }));
      });
      const cases: Record<string, unknown> = {};
      for (const job of jobs) cases[job.label] = outcome(await job.run, dir);
      const actual = {
        command: 'INHERITED=... redwrap --redpath LEAF [--admin] --dump-only --json -- /bin/true',
        conf1: name1,
        conf2: name2,
        cases,
      };
      const text = `${format(actual)}\n`;
      if (update) writeFileSync(golden, text);
      assert.ok(existsSync(golden), `missing golden file ${golden}: run REDPAK_UPDATE_GOLDEN=1 npm test and review it`);
      const expected = JSON.parse(readFileSync(golden, 'utf8'));
      if (!recordedHost)
        t.diagnostic(
          'host unlike the recording one (x86_64, cgroup v1): cgroup steps and seccomp lengths not compared',
        );
      assert.deepEqual(
        { ...actual, cases: hostIndependent(cases) },
        { ...expected, cases: hostIndependent(expected.cases) },
      );
      if (recordedHost) assert.equal(text, readFileSync(golden, 'utf8'), 'golden file formatted as the test writes it');
    });
  }
});

const canPlanPids = 'options' in resolveCgroupOptions(detectCgroupLayout(), ['pids']);

/** Every path below `dir` with its type, size and mode: what a run must leave as it found. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true })) {
    const stat = statSync(join(dir, String(entry)));
    out[String(entry)] = `${stat.isDirectory() ? 'dir' : 'file'} ${stat.size} ${stat.mode.toString(8)}`;
  }
  return out;
}

describe('redwrap --dump-only has no side effect', () => {
  it('runs no Execfd command, creates no export directory, no cgroup and no plan cache', async (t) => {
    const dir = tempDir(t, 'redpak-dump-');
    const node = join(dir, 'node');
    const marker = (what: string) => join(dir, `ran-${what}`);
    makeNode(
      dir,
      node,
      'dry',
      `headers:
  alias: dry
exports:
  - mode: Public
    mount: /made
    path: ${dir}/missing/dir
  - mode: Execfd
    mount: /etc/ran
    path: touch ${marker('export')}
environ:
  - key: RAN
    mode: Execfd
    value: touch ${marker('environ')}
${canPlanPids ? 'config:\n  cgroups:\n    pids:\n      max: 10\n' : ''}`,
    );
    const before = snapshot(dir);
    const plain = await redwrap(['--redpath', node, '--dump-only', '--', '/bin/true']);
    const json = await redwrap(['--redpath', node, '--dump-only', '--json', '--', '/bin/true']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(json.status, 0, json.stderr);

    // The plan does say what a launch would do…
    assert.match(plain.stdout, new RegExp(`# creates ${dir}/missing/dir`));
    const dump = JSON.parse(json.stdout);
    assert.deepEqual(dump.prepare.mkdirs, [`${dir}/missing/dir`]);
    assert.deepEqual(dump.prepare.execfd, [{ fd: 3, mount: '/etc/ran', script: `touch ${marker('export')}` }]);
    assert.equal(dump.env.RAN, `<output of: touch ${marker('environ')}>`);
    const cgroupDirs: string[] = dump.cgroupSteps
      .filter((s: string) => s.startsWith('mkdir '))
      .map((s: string) => s.slice('mkdir '.length));
    if (canPlanPids) assert.ok(cgroupDirs.length > 0, `the plan creates cgroups: ${dump.cgroupSteps}`);
    else t.diagnostic('no pids controller on this host: the cgroup part is left out');

    // …and none of it happened.
    assert.deepEqual(snapshot(dir), before, 'nothing created or changed in the family directory');
    assert.ok(!existsSync(marker('export')) && !existsSync(marker('environ')), 'no Execfd command ran');
    assert.ok(!existsSync(`${dir}/missing`), 'no export directory created');
    assert.ok(!existsSync(join(node, '.redpak')), 'no plan cache written');
    for (const cgroup of cgroupDirs) assert.ok(!existsSync(cgroup), `cgroup ${cgroup} not created`);
  });
});
