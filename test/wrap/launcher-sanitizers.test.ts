/**
 * The fast launcher under AddressSanitizer and UndefinedBehaviorSanitizer, fed truncated,
 * oversized, random (seeded) and hostile plans planted in the cache directory with the right
 * owner and mode, so that its parser and checks are reached. It must never crash nor be reported
 * by a sanitizer, and must never run anything but bwrap (here a fake one, fixed at build like the
 * real one) or hand over to the full CLI (REDWRAP_NO_FALLBACK turns that into exit 10).
 */
import { before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNode, tempDir } from '../helpers/family.js';
import { BASE_ENV, cachedPlanPath, forgetCachedPlans, PACKAGE_ROOT, redwrap } from '../helpers/redwrap.js';
import { FAST_PLAN_VERSION } from '../../src/wrap/fast-plan.js';

const SOURCE = join(PACKAGE_ROOT, 'src/launcher/redwrap-launch.c');
const SANITIZERS = [
  '-O1',
  '-g',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
  '-fno-omit-frame-pointer',
  '-Wall',
  '-Wextra',
  '-Werror',
];

/** Fields per record kind (src/wrap/fast-plan.ts), to take a valid plan apart and put it together again. */
const ARITY: Record<string, number> = {
  v: 1,
  redpath: 1,
  realpath: 1,
  node: 2,
  admin: 1,
  ids: 2,
  file: 8,
  absent: 1,
  probe: 2,
  env: 3,
  selfcg: 1,
  ns: 1,
  cap: 2,
  umask: 1,
  'inherit-env': 1,
  mkdir: 3,
  execfd: 2,
  fdfile: 2,
  arg: 1,
  'arg-execfd': 1,
  end: 0,
};

type PlanRecord = string[];

function fields(plan: Buffer): string[] {
  const out: string[] = [];
  for (let pos = 0; pos < plan.length; ) {
    const colon = plan.indexOf(':', pos);
    const length = Number(plan.subarray(pos, colon).toString());
    out.push(plan.subarray(colon + 1, colon + 1 + length).toString());
    pos = colon + 1 + length;
  }
  return out;
}

function records(plan: Buffer): PlanRecord[] {
  const flat = fields(plan);
  const out: PlanRecord[] = [];
  for (let i = 0; i < flat.length; ) {
    const n = ARITY[flat[i]];
    assert.ok(n !== undefined, `unknown record ${flat[i]}`);
    out.push(flat.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

const encode = (recs: PlanRecord[]): Buffer =>
  Buffer.concat(recs.flat().map((f) => Buffer.concat([Buffer.from(`${Buffer.byteLength(f)}:`), Buffer.from(f)])));

/** A small seeded generator (mulberry32): the same inputs at every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Build {
  launcher: string;
  bwrapLog: string;
  /** Where the fake bwrap writes its arguments when it is asked to run a config's command. */
  scriptLog: string;
}

function buildSanitized(t: TestContext | undefined, scratch: string): Build | string {
  const probe = join(scratch, 'probe.c');
  writeFileSync(probe, 'int main(void) { return 0; }\n');
  const cc = process.env.CC ?? 'cc';
  const probed = spawnSync(cc, ['-fsanitize=address,undefined', '-o', join(scratch, 'probe'), probe], {
    encoding: 'utf8',
  });
  if (probed.status !== 0 || spawnSync(join(scratch, 'probe')).status !== 0)
    return `${cc} cannot build with -fsanitize=address,undefined: ${probed.stderr || probed.error}`;
  const bwrapLog = join(scratch, 'bwrap-ran');
  const scriptLog = join(scratch, 'script-ran');
  const fakeBwrap = join(scratch, 'fake-bwrap');
  // Execfd commands run in a bwrap sandbox of their own (…/usr/bin/bash -r -c SCRIPT): logged apart.
  writeFileSync(
    fakeBwrap,
    `#!/bin/sh\ncase " $* " in *" /usr/bin/bash -r -c "*) printf '%s\\n' "$@" > ${scriptLog}; exit 0 ;; esac\nprintf '%s\\n' "$@" > ${bwrapLog}\nexit 0\n`,
    { mode: 0o755 },
  );
  const launcher = join(scratch, 'redwrap-launch-sanitized');
  const built = spawnSync(cc, [...SANITIZERS, `-DBWRAP_PATH="${fakeBwrap}"`, '-o', launcher, SOURCE], {
    encoding: 'utf8',
  });
  assert.equal(built.status, 0, built.stderr);
  void t;
  return { launcher, bwrapLog, scriptLog };
}

const scratch = mkdtempSync(join(tmpdir(), 'redwrap-sanitized-'));
let build: Build | string = 'not built';

describe('the fast launcher under sanitizers', () => {
  before(() => {
    build = buildSanitized(undefined, scratch);
    if (typeof build === 'string') console.log(`# skipped: ${build}`);
  });
  process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

  it('never crashes, is never reported, and runs nothing but bwrap whatever plan it finds', async (t) => {
    if (typeof build === 'string') {
      t.skip(build);
      return;
    }
    const { launcher, bwrapLog, scriptLog } = build;
    const dir = tempDir(t);
    const leaf = join(dir, 'fuzz');
    makeNode(
      dir,
      leaf,
      'fuzz',
      `headers:
  alias: fuzz
config:
  hostname: fuzz
  capabilities:
    - {cap: ALL, add: 0}
exports:
  - {mode: Restricted, mount: /usr}
  - {mode: Symlink, mount: /lib, path: usr/lib}
  - {mode: Symlink, mount: /lib64, path: usr/lib64}
  - {mode: Procfs, mount: /proc}
  - {mode: Execfd, mount: /etc/motd, path: echo fuzz}
seccomp:
  rules:
    - {syscall: [mkdir], action: errno}
`,
    );
    forgetCachedPlans(t, leaf);
    const warm = await redwrap(['--redpath', leaf, '--', '/usr/bin/true']);
    assert.equal(warm.status, 0, warm.stderr);
    const planFile = cachedPlanPath(leaf);
    const valid = readFileSync(planFile);
    const recs = records(valid);

    const env = {
      ...BASE_ENV,
      REDWRAP_NO_FALLBACK: '1',
      ASAN_OPTIONS: 'detect_leaks=0:exitcode=99',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=98',
    };
    const launch = (plan: Buffer) => {
      rmSync(bwrapLog, { force: true });
      rmSync(scriptLog, { force: true });
      writeFileSync(planFile, plan);
      chmodSync(planFile, 0o600);
      const run = spawnSync(launcher, ['--redpath', leaf, '--', 'true'], {
        env,
        encoding: 'utf8',
        cwd: '/',
        timeout: 20_000,
      });
      assert.equal(run.signal, null, `killed by ${run.signal}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /AddressSanitizer|runtime error|Sanitizer|SUMMARY:/, 'a sanitizer report');
      return { status: run.status, stderr: run.stderr, bwrap: existsSync(bwrapLog), execfd: existsSync(scriptLog) };
    };
    const refused = (name: string, plan: Buffer, reason?: RegExp) => {
      const run = launch(plan);
      assert.equal(run.status, 10, `${name}: ${run.stderr}`);
      assert.equal(run.bwrap, false, `${name}: bwrap ran`);
      assert.equal(run.execfd, false, `${name}: an Execfd command ran`);
      if (reason) assert.match(run.stderr, reason, name);
    };

    // Control: the valid plan reaches bwrap, the one fixed at build, with the program after `--`.
    const control = launch(valid);
    assert.equal(control.status, 0, control.stderr);
    const ran = readFileSync(bwrapLog, 'utf8').trim().split('\n');
    assert.deepEqual(ran.slice(-2), ['--', 'true']);
    assert.ok(ran.includes('--unshare-pid') && ran.includes('--add-seccomp-fd'));
    // The Execfd command ran in its own sandbox, through the same bwrap.
    const script = readFileSync(scriptLog, 'utf8').trim().split('\n');
    assert.deepEqual(script.slice(-4), ['/usr/bin/bash', '-r', '-c', 'echo fuzz']);
    assert.ok(
      script.includes('--unshare-all') && script.includes('--clearenv') && script.join(' ').includes('--cap-drop ALL'),
      script.join(' '),
    );

    const without = (pred: (r: PlanRecord) => boolean) => encode(recs.filter((r) => !pred(r)));
    const withArgs = (args: string[]) =>
      encode([...recs.filter((r) => r[0] !== 'arg' && r[0] !== 'end'), ...args.map((a) => ['arg', a]), ['end']]);
    const validArgs = recs.filter((r) => r[0] === 'arg').map((r) => r[1]);
    const refusedLine = /^redwrap: ignoring cached plan node-[^:]+: /;

    // The attack plan of the old cache, in both versions, and bounds.
    refused('the old attack plan', Buffer.from('1:v1:23:end'));
    refused(
      'a current-version plan with nothing else',
      Buffer.from(`1:v${FAST_PLAN_VERSION.length}:${FAST_PLAN_VERSION}3:end`),
      refusedLine,
    );
    refused('empty', Buffer.alloc(0));
    refused('huge length field', Buffer.from('99999999999999999999:x'), refusedLine);
    refused('length past the end', Buffer.from('9999999:v'), refusedLine);
    refused('length of 2^64', Buffer.from('18446744073709551616:'), refusedLine);
    refused('no digits', Buffer.from(':::'), refusedLine);
    refused('negative length', Buffer.from('-1:v'), refusedLine);
    refused('data after the end', Buffer.concat([valid, Buffer.from('3:arg7:/bin/sh')]), /data after the end/);
    refused('oversized', Buffer.concat([valid, Buffer.alloc(1024 * 1024, 0x20)]), /larger than the plan size limit/);

    // Every validation record is required.
    for (const kind of ['v', 'redpath', 'realpath', 'node', 'admin', 'ids', 'inherit-env']) {
      refused(
        `without ${kind}`,
        without((r) => r[0] === kind),
        kind === 'v' ? refusedLine : /validation record is missing/,
      );
    }
    const statusOfLeaf = join(leaf, '.rednode.yaml');
    refused(
      "without the node's status stamp",
      without((r) => r[0] === 'file' && r[1] === statusOfLeaf),
      /status of the node/,
    );
    refused(
      "without the node's config stamp",
      without((r) => r[0] === 'file' && r[1].endsWith('/etc/redpak.yaml')),
      /config of/,
    );
    refused(
      "without an ancestor's absent status",
      without((r) => r[0] === 'absent' && r[1] === join(dir, '.rednode.yaml')),
      /status file of/,
    );
    refused(
      'an Execfd command in a plan missing its ids',
      without((r) => r[0] === 'ids'),
      /validation record is missing/,
    );

    // Isolation: what the plan declares must be in bwrap's arguments, and nothing weaker.
    refused(
      'no ns records',
      without((r) => r[0] === 'ns'),
      /undeclared namespace flag/,
    );
    refused(
      'a declared namespace missing',
      withArgs(validArgs.filter((a) => a !== '--unshare-pid')),
      /declared namespace flag missing.*--unshare-pid/,
    );
    refused(
      'a declared capability drop missing',
      withArgs(validArgs.filter((a, i) => !(a === '--cap-drop' || validArgs[i - 1] === '--cap-drop'))),
      /declared capability missing/,
    );
    refused(
      'the host root bound at /',
      withArgs(['--bind', '/', '/', ...validArgs]),
      /binds a host directory over the sandbox's root/,
    );
    refused('the host root bound at //.', withArgs(['--ro-bind', '/', '//.', ...validArgs]), /sandbox's root/);
    refused('a program instead of options', withArgs(['/bin/sh', '-c', 'id']), /not allowed in a plan: \/bin\/sh/);
    refused('no arguments at all', withArgs([]), refusedLine);
    refused(
      'an option redwrap never gives',
      withArgs(['--userns', '3', ...validArgs]),
      /not allowed in a plan: --userns/,
    );
    refused('an option without its value', withArgs([...validArgs, '--hostname']), /without its value/);
    refused(
      'an undeclared capability added',
      withArgs([...validArgs, '--cap-add', 'CAP_SYS_ADMIN']),
      /undeclared capability added/,
    );
    refused('an undeclared shared network', withArgs([...validArgs, '--share-net']), /undeclared namespace flag/);
    refused(
      'a seccomp filter not given to bwrap',
      withArgs(validArgs.filter((a, i) => a !== '--add-seccomp-fd' && validArgs[i - 1] !== '--add-seccomp-fd')),
      /seccomp filter file is not given/,
    );
    const fdfile = recs.find((r) => r[0] === 'fdfile')!;
    refused(
      'a filter file outside the cache',
      encode(recs.map((r) => (r === fdfile ? ['fdfile', r[1], '../../../etc/passwd'] : r))),
      /not a file name of the cache/,
    );
    refused(
      'a descriptor over stdout',
      encode(recs.map((r) => (r[0] === 'execfd' ? ['execfd', '1', r[2]] : r))),
      /bad descriptor/,
    );
    refused(
      'a descriptor out of range',
      encode(recs.map((r) => (r[0] === 'execfd' ? ['execfd', '300', r[2]] : r))),
      /bad descriptor/,
    );
    refused(
      'a computed value as an option',
      encode([...recs.filter((r) => r[0] !== 'end'), ['arg-execfd', 'echo --bind'], ['end']]),
      /computed value/,
    );
    refused(
      'an unknown record',
      encode([...recs.slice(0, 3), ['exec', '/bin/sh'] as PlanRecord, ...recs.slice(3)]),
      /unknown record/,
    );

    // Truncated at evenly spaced points.
    for (let k = 1; k <= 24; k += 1)
      refused(`truncated at ${k}/25`, valid.subarray(0, Math.floor((valid.length * k) / 25)));

    // Random and mutated plans, seeded: any outcome but a crash, a report, or another program.
    const next = random(20261204);
    const kinds = Object.keys(ARITY);
    for (let k = 0; k < 40; k += 1) {
      const parts: string[] = [];
      const count = Math.floor(next() * 40);
      for (let j = 0; j < count; j += 1) {
        const roll = next();
        if (roll < 0.3) parts.push(`${Math.floor(next() * 30)}:`);
        else if (roll < 0.6) {
          const kind = kinds[Math.floor(next() * kinds.length)];
          parts.push(`${kind.length}:${kind}`);
        } else if (roll < 0.8) parts.push(String(Math.floor(next() * 1e12)));
        else
          parts.push(
            Buffer.from(Array.from({ length: Math.floor(next() * 16) }, () => Math.floor(next() * 256))).toString(
              'latin1',
            ),
          );
      }
      refused(`random plan ${k}`, Buffer.from(parts.join(''), 'latin1'));
    }
    for (let k = 0; k < 40; k += 1) {
      const mutated = Buffer.from(valid);
      for (let j = 0; j < 1 + Math.floor(next() * 4); j += 1)
        mutated[Math.floor(next() * mutated.length)] = Math.floor(next() * 256);
      const run = launch(mutated);
      assert.ok(
        run.status === 10 || (run.status === 0 && run.bwrap),
        `mutated plan ${k}: status ${run.status}: ${run.stderr}`,
      );
    }
  });
});
