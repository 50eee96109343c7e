/** redconf's and redmicrodnf's argument forms, rewritten for redmanager's and redwrap-dnf's commands. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redconfArgv, redmicrodnfArgv } from '../../src/cli/redpak-spellings.js';

const usage = (message: RegExp) => (e: Error & { code?: string }) => e.code === 'usage' && message.test(e.message);

describe("redpak's executables", () => {
  it('redconf: positional paths, short and long options, global options before the command', () => {
    const cases: [string[], string[]][] = [
      [
        ['tree', '/var/redpak'],
        ['tree', '--redroot', '/var/redpak'],
      ],
      [
        ['tree', '-r', '/var/redpak'],
        ['tree', '--redroot', '/var/redpak'],
      ],
      [
        ['-v', '--yaml', 'config', '/var/redpak/app'],
        ['config', '--redpath', '/var/redpak/app'],
      ],
      [['config'], ['config', '--redpath', '.']],
      [
        ['mergeconfig', '-e', '--redpath=/n'],
        ['mergeconfig', '--expand', '--redpath', '/n'],
      ],
      [
        ['mergeconfig', '/n', '-e'],
        ['mergeconfig', '--expand', '--redpath', '/n'],
      ],
      [['-l', '3', 'tree'], ['tree']],
      [[], ['--help']],
      [['-h'], ['--help']],
    ];
    for (const [argv, expected] of cases) assert.deepEqual(redconfArgv(argv), expected, argv.join(' '));
  });

  it('redconf create: the redpath below the redroot, leaf templates unless -f/-l/-r/-m say otherwise (the last wins), never a system node', () => {
    assert.deepEqual(redconfArgv(['create', '-R', '/x', '/x/y', '-a', 'y']), [
      'create-node',
      '--redpath',
      '/x/x/y',
      '--no-system-node',
      '--template',
      'leaf',
      '--alias',
      'y',
    ]);
    assert.deepEqual(redconfArgv(['create', '-f', '-r', '/var/redpak/platform']).slice(-2), ['--template', 'root']);
    assert.deepEqual(redconfArgv(['create', '-r', '-mfull', '/n']).slice(-2), ['--template', 'full']);
    assert.deepEqual(redconfArgv(['create', '--model=mine', '-l', '/n', '/r']), [
      'create-node',
      '--redpath',
      '/r/n',
      '--no-system-node',
      '--template',
      'leaf',
    ]);
    assert.deepEqual(redconfArgv(['create', '-u', '-t', '/tpl', '-C', 'a.yaml', '/n']).slice(6), [
      '--update',
      '--template-dir',
      '/tpl',
      '--config-admin',
      'a.yaml',
    ]);
    assert.throws(() => redconfArgv(['create', '-a', 'x']), usage(/redpath is missing/));
    assert.throws(() => redconfArgv(['create', '--frob', '/n']), usage(/unknown option --frob/));
    assert.throws(() => redconfArgv(['bogus']), usage(/unknown command 'bogus'/));
  });

  it('redmicrodnf: redwrap-dnf with --installrootnode=/ and the microdnf options without meaning here dropped', () => {
    assert.deepEqual(
      redmicrodnfArgv([
        '--redpath=/n',
        '--installrootnode=/',
        '--noplugins',
        '--forcenode',
        'install',
        'x',
        '--',
        '--nodocs',
      ]),
      ['--redpath=/n', '--forcenode', 'install', 'x', '--', '--nodocs'],
    );
    assert.deepEqual(redmicrodnfArgv(['--installrootnode', '/', 'list']), ['list']);
    assert.throws(() => redmicrodnfArgv(['--installrootnode=/srv', 'list']), usage(/only \/ is supported/));
  });
});
