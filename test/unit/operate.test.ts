/**
 * The pure parts of `redwrap ps` / `redwrap stop`: the launch's mark in bwrap's command line
 * (wrap/sandbox-marker.ts), and the /proc readers (wrap/proc-parse.ts), with hostile inputs: a
 * mark that is not where the launch puts it, a command name that imitates stat's fields.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCmdline, parseProcCgroup, parseProcStat, parseStatusUid } from '../../src/wrap/proc-parse.js';
import { readSandboxMark, sandboxMarkerArgs } from '../../src/wrap/sandbox-marker.js';

describe('sandbox mark', () => {
  const plan = ['--ro-bind', '/usr', '/usr', '--setenv', 'A', '--', '--unshare-pid'];
  it('reads back what a launch writes, admin too, with the program after the options', () => {
    for (const admin of [false, true]) {
      const argv = [
        '/usr/bin/bwrap',
        ...sandboxMarkerArgs('/var/redpak/app', admin),
        ...plan,
        '--',
        '/bin/sh',
        '--',
        '-c',
      ];
      assert.deepEqual(readSandboxMark(argv), { node: '/var/redpak/app', admin, command: ['/bin/sh', '--', '-c'] });
    }
  });
  it('a value "--" of an option is not the end of the options', () => {
    const argv = ['/usr/bin/bwrap', ...sandboxMarkerArgs('/n', false), '--setenv', 'X', '--', '--', 'prog'];
    assert.deepEqual(readSandboxMark(argv)?.command, ['prog']);
  });
  it('an unknown option leaves the program unknown, never guessed', () => {
    const argv = ['/usr/bin/bwrap', ...sandboxMarkerArgs('/n', false), '--new-option', '--', 'prog'];
    assert.deepEqual(readSandboxMark(argv), { node: '/n', admin: false, command: [] });
  });
  it('only the exact prefix counts: a mark later in the arguments (a config environ) or a partial one does not', () => {
    const later = ['/usr/bin/bwrap', '--ro-bind', '/usr', '/usr', ...sandboxMarkerArgs('/other', false), '--', 'x'];
    assert.equal(readSandboxMark(later), undefined);
    assert.equal(readSandboxMark(['/usr/bin/bwrap', '--setenv', 'REDWRAP_NODE', '/n', '--', 'x']), undefined);
    assert.equal(
      readSandboxMark(['/usr/bin/bwrap', '--setenv', 'REDWRAP_NODE', 'relative', '--unsetenv', 'REDWRAP_NODE']),
      undefined,
    );
    // Claims admin without unsetting it: not a launch's mark.
    const half = [
      '/usr/bin/bwrap',
      '--setenv',
      'REDWRAP_NODE',
      '/n',
      '--setenv',
      'REDWRAP_ADMIN',
      '1',
      '--unsetenv',
      'REDWRAP_NODE',
    ];
    assert.equal(readSandboxMark(half), undefined);
  });
});

describe('/proc readers', () => {
  it('stat: fields after the last ")", whatever the command name holds', () => {
    const fields = ['S', '42', ...Array.from({ length: 17 }, (_, i) => String(i)), '123456', '0'];
    const text = `77 (evil) S 1 2 3) ${fields.join(' ')}\n`;
    assert.deepEqual(parseProcStat(text), { state: 'S', ppid: 42, startTicks: 123456 });
    assert.equal(parseProcStat('garbage'), undefined);
  });
  it('cmdline, status uid, cgroup membership', () => {
    assert.deepEqual(parseCmdline(Buffer.from('a\0b c\0\0')), ['a', 'b c', '']);
    assert.deepEqual(parseCmdline(Buffer.alloc(0)), []);
    assert.equal(parseStatusUid('Name:\tx\nUid:\t1000\t0\t0\t0\n'), 1000);
    assert.deepEqual(parseProcCgroup('8:pids:/-var-app\n4:cpu,cpuacct:/\n0::/user.slice\n'), [
      { controllers: ['pids'], path: '/-var-app' },
      { controllers: ['cpu', 'cpuacct'], path: '/' },
      { controllers: [], path: '/user.slice' },
    ]);
  });
});
