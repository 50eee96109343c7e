import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { validateSeccomp, type SeccompConfig } from '../../src/config/seccomp.js';
import { SYSCALL_NUMBERS } from '../../src/config/syscalls.js';
import {
  compileFamilySeccomp,
  compileSeccomp,
  nativeSeccompArch,
  seccompBwrapArgs,
  type SeccompArch,
} from '../../src/wrap/seccomp.js';
import { runSeccompBpf, verdictName } from './bpf-interpreter.js';
import { run, SANDBOX_ARGS } from './run-bwrap.js';

const AUDIT_ARCH = { x86_64: 0xc000003e, aarch64: 0xc00000b7 } as const;
const SYSTEM_PYTHON = '/usr/bin/python3'; // pyenv's python3 on PATH cannot import seccomp
const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const haveResolver = has('scmp_sys_resolver', ['0']);
const havePythonSeccomp = existsSync(SYSTEM_PYTHON) && has(SYSTEM_PYTHON, ['-c', 'import seccomp']);
const haveBwrap = has('bwrap', ['--version']);
const native = nativeSeccompArch();

const denyMkdir: SeccompConfig = { rules: [{ syscall: ['mkdir', 'mkdirat'], action: 'errno', errno: 'EPERM' }] };

function schemaError(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof RedpakError && error.code === 'schema' && pattern.test(`${error.message} ${error.hint ?? ''}`);
}

describe('validateSeccomp', () => {
  test('normalises case, single names and errno names', () => {
    const config = validateSeccomp({
      Default: 'ALLOW',
      rules: [
        { syscall: 'mkdir', Action: 'Errno', errno: 'eacces' },
        { syscall: ['kexec_load', 'kexec_file_load'], action: 'kill', info: 'no new kernels' },
      ],
    });
    assert.deepEqual(config, {
      default: 'allow',
      rules: [
        { syscall: ['mkdir'], action: 'errno', errno: 13 },
        { syscall: ['kexec_load', 'kexec_file_load'], action: 'kill', info: 'no new kernels' },
      ],
    });
  });

  test('an unknown syscall is an error naming the rule, the name and a likely fix', () => {
    assert.throws(
      () =>
        validateSeccomp(
          {
            rules: [
              { syscall: 'mkdir', action: 'kill' },
              { syscall: ['open', 'mkdri'], action: 'errno' },
            ],
          },
          'n/etc/redpak.yaml: seccomp',
        ),
      (error: unknown) =>
        schemaError(
          /n\/etc\/redpak\.yaml: seccomp\.rules\[1\]\.syscall: unknown syscall "mkdri".*did you mean "mkdir"/,
        )(error),
    );
  });

  test('one syscall with two different verdicts is an error', () => {
    assert.throws(
      () =>
        validateSeccomp({
          rules: [
            { syscall: 'mkdir', action: 'errno' },
            { syscall: ['mkdir'], action: 'allow' },
          ],
        }),
      schemaError(/rules\[1\]\.syscall: "mkdir" is already errno 1 in rule 0, cannot also be allow/),
    );
  });

  test('bad actions, errnos and keys are rejected with the offending value', () => {
    assert.throws(
      () => validateSeccomp({ rules: [{ syscall: 'mkdir', action: 'deny' }] }),
      schemaError(/rules\[0\]\.action: .*"deny"/),
    );
    assert.throws(
      () => validateSeccomp({ rules: [{ syscall: 'mkdir', action: 'kill', errno: 1 }] }),
      schemaError(/only meaningful with action errno/),
    );
    assert.throws(
      () => validateSeccomp({ rules: [{ syscall: 'mkdir', action: 'errno', errno: 'ENOPE' }] }),
      schemaError(/unknown errno "ENOPE"/),
    );
    assert.throws(
      () => validateSeccomp({ rules: [{ syscall: 'mkdir', action: 'errno', errno: 5000 }] }),
      schemaError(/not in 1\.\.4095/),
    );
    assert.throws(
      () => validateSeccomp({ rules: [{ syscalls: 'mkdir', action: 'kill' }] }),
      schemaError(/unknown key "syscalls"/),
    );
    assert.throws(() => validateSeccomp({ rules: [{ syscall: [], action: 'kill' }] }), schemaError(/non-empty list/));
    assert.throws(() => validateSeccomp(['mkdir']), schemaError(/must be a mapping/));
  });
});

describe('compileSeccomp', () => {
  test('rejects an unknown syscall even when the config skipped validation', () => {
    assert.throws(
      () => compileSeccomp({ rules: [{ syscall: 'frobnicate', action: 'kill' }] }, 'x86_64'),
      schemaError(/unknown syscall "frobnicate"/),
    );
  });

  test('kills other architectures and x32 syscalls, applies rules, defaults to allow', () => {
    const program = compileSeccomp(denyMkdir, 'x86_64');
    const verdict = (nr: number, arch: number = AUDIT_ARCH.x86_64) => verdictName(runSeccompBpf(program, { nr, arch }));
    assert.equal(verdict(83), 'errno 1'); // mkdir
    assert.equal(verdict(258), 'errno 1'); // mkdirat
    assert.equal(verdict(0), 'allow'); // read
    assert.equal(verdict(0x40000000 + 83), 'kill'); // x32 mkdir must not bypass the rule
    assert.equal(verdict(83, 0x40000003), 'kill'); // i386 ABI
    assert.equal(runSeccompBpf(program, { nr: 83, arch: 0x40000003 }), 0x80000000, 'whole process is killed');
  });

  test('a name that exists only on other architectures is skipped for this one', () => {
    const program = compileSeccomp({ rules: [{ syscall: 'mkdir', action: 'kill' }] }, 'aarch64');
    assert.equal(program.length / 8, 4 + 1, 'arch check + load nr + ret default, no rule');
  });

  test('each node gets its own filter and bwrap gets one --add-seccomp-fd per filter', () => {
    const filters = compileFamilySeccomp([denyMkdir, undefined, { default: 'allow', rules: [] }], 'x86_64');
    assert.equal(filters.length, 2);
    assert.deepEqual(seccompBwrapArgs(3, 2), ['--add-seccomp-fd', '3', '--add-seccomp-fd', '4']);
  });

  test('syscall numbers agree with scmp_sys_resolver', {
    skip: !haveResolver && 'scmp_sys_resolver not installed',
  }, () => {
    for (const arch of ['x86_64', 'aarch64'] as SeccompArch[]) {
      for (const name of ['read', 'mkdirat', 'openat', 'clone3', 'kexec_load', 'ptrace']) {
        const resolved = spawnSync('scmp_sys_resolver', ['-a', arch, name], { encoding: 'utf8' }).stdout.trim();
        assert.equal(SYSCALL_NUMBERS[arch][name], Number(resolved), `${arch} ${name}`);
      }
    }
  });
});

/** What libseccomp (python3-seccomp, export_bpf) builds for the same config, for one arch. */
function libseccompFilter(config: SeccompConfig, arch: SeccompArch): Buffer {
  const script = `
import errno, json, seccomp, sys
config = json.loads(sys.argv[1])
action = {'allow': lambda e: seccomp.ALLOW, 'kill': lambda e: seccomp.KILL_PROCESS, 'log': lambda e: seccomp.LOG,
          'trap': lambda e: seccomp.TRAP, 'errno': lambda e: seccomp.ERRNO(e)}
f = seccomp.SyscallFilter(defaction=action[config.get('default', 'allow')](config.get('errno', 1)))
target = seccomp.Arch.${arch === 'x86_64' ? 'X86_64' : 'AARCH64'}
if not f.exist_arch(target):  # the filter starts with the native arch only
    f.add_arch(target)
    f.remove_arch(seccomp.Arch.NATIVE)
for rule in config['rules']:
    for name in rule['syscall']:
        f.add_rule(action[rule['action']](rule.get('errno', 1)), name)
f.export_bpf(sys.stdout.buffer)
`;
  const result = spawnSync(SYSTEM_PYTHON, ['-c', script, JSON.stringify(config)]);
  assert.equal(result.status, 0, result.stderr.toString());
  return result.stdout;
}

describe('cross-check against libseccomp', { skip: !havePythonSeccomp && 'python3-seccomp not installed' }, () => {
  const configs: SeccompConfig[] = [
    validateSeccomp({
      rules: [
        { syscall: ['mkdir', 'mkdirat'], action: 'errno' },
        { syscall: ['kexec_load', 'reboot'], action: 'kill' },
      ],
    }),
    validateSeccomp({
      rules: [
        { syscall: 'ptrace', action: 'trap' },
        { syscall: 'unshare', action: 'log' },
        { syscall: 'mount', action: 'errno', errno: 'EACCES' },
      ],
    }),
    validateSeccomp({
      default: 'errno',
      errno: 'ENOSYS',
      rules: [{ syscall: ['read', 'write', 'exit_group', 'openat'], action: 'allow' }],
    }),
  ];
  for (const arch of ['x86_64', 'aarch64'] as SeccompArch[]) {
    test(`same verdict as libseccomp for every syscall number on ${arch}`, () => {
      for (const config of configs) {
        const ours = compileSeccomp(config, arch);
        const theirs = libseccompFilter(config, arch);
        for (let nr = 0; nr < 1024; nr++) {
          const data = { nr, arch: AUDIT_ARCH[arch] };
          assert.equal(
            verdictName(runSeccompBpf(ours, data)),
            verdictName(runSeccompBpf(theirs, data)),
            `${arch} nr ${nr} ${JSON.stringify(config)}`,
          );
        }
        const foreign = { nr: 34, arch: arch === 'x86_64' ? AUDIT_ARCH.aarch64 : AUDIT_ARCH.x86_64 };
        assert.equal(verdictName(runSeccompBpf(ours, foreign)), 'kill');
        assert.equal(verdictName(runSeccompBpf(theirs, foreign)), 'kill');
      }
    });
  }
});

describe('live: filters applied by bwrap', {
  skip: (!haveBwrap && 'bwrap not installed') || (!native && `no seccomp table for ${process.arch}`),
}, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-seccomp-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  let fileCount = 0;

  /** Runs `command` in bwrap with one --add-seccomp-fd per config, root-most first. */
  async function sandboxed(configs: SeccompConfig[], command: string) {
    const fds = compileFamilySeccomp(configs, native!).map((filter) => {
      const file = join(scratch, `filter-${fileCount++}.bpf`);
      writeFileSync(file, filter);
      return openSync(file, 'r');
    });
    try {
      return await run(['bwrap', ...SANDBOX_ARGS, ...seccompBwrapArgs(3, fds.length), 'sh', '-c', command], fds);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }

  test('errno: a denied mkdir fails with EPERM and the sandbox carries on', async () => {
    const result = await sandboxed([denyMkdir], 'mkdir /tmp/x; echo "rc=$?"; touch /tmp/y && echo touched');
    assert.match(result.stderr, /Operation not permitted/);
    assert.match(result.stdout, /rc=1\ntouched/);
  });

  test('kill: a killed syscall ends the process with SIGSYS (exit 159)', async () => {
    const result = await sandboxed(
      [{ rules: [{ syscall: ['mkdir', 'mkdirat'], action: 'kill' }] }],
      'exec mkdir /tmp/x',
    );
    assert.equal(result.status, 128 + 31);
  });

  test('Seccomp_filters in /proc/self/status counts one filter per node', async () => {
    const own = Number(/Seccomp_filters:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
    for (const count of [1, 3]) {
      const result = await sandboxed(Array(count).fill({ rules: [] }), 'grep Seccomp_filters /proc/self/status');
      assert.match(result.stdout, new RegExp(`Seccomp_filters:\\s*${own + count}\\b`), result.stderr);
    }
  });

  test('a child cannot re-allow what its parent denies, but can narrow further', async () => {
    const childAllows: SeccompConfig = { rules: [{ syscall: ['mkdir', 'mkdirat'], action: 'allow' }] };
    const reallowed = await sandboxed([denyMkdir, childAllows], 'mkdir /tmp/x && echo created');
    assert.match(reallowed.stderr, /Operation not permitted/);
    assert.doesNotMatch(reallowed.stdout, /created/);

    const parentPermissive: SeccompConfig = { rules: [{ syscall: 'reboot', action: 'errno' }] };
    const narrowed = await sandboxed([parentPermissive, denyMkdir], 'mkdir /tmp/x');
    assert.match(narrowed.stderr, /Operation not permitted/);

    const strictest = await sandboxed(
      [denyMkdir, { rules: [{ syscall: ['mkdir', 'mkdirat'], action: 'kill' }] }],
      'exec mkdir /tmp/x',
    );
    assert.equal(strictest.status, 159, 'kill beats errno whichever node asks for it');
  });

  test('control: without a filter the same mkdir succeeds', async () => {
    const result = await sandboxed([], 'mkdir /tmp/x && echo created');
    assert.match(result.stdout, /created/);
  });
});
