/**
 * Finding the command word before oclif: options before or after it, option values stepped over
 * as the commands declare them, `help`/`-h`, and unknown words with a suggestion.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestWord } from '../../src/closest-word.js';
import { commandWords, orderArguments } from '../../src/cli/command-words.js';

const option = (extra: { char?: string; aliases?: string[] } = {}) => ({ type: 'option', ...extra });
const flag = { type: 'boolean' };
const known = commandWords({
  install: {
    flags: {
      redpath: option({ char: 'r', aliases: ['rpath', 'rp'] }),
      'repo-dir': option(),
      'keep-generations': option(),
      assumeyes: { ...flag, char: 'y' },
    },
  },
  remove: { aliases: ['erase'], flags: { redpath: option({ char: 'r' }) } },
  list: { flags: { redpath: option({ char: 'r' }), installed: flag } },
  check: { flags: { config: flag } },
  create: { flags: { config: option({ char: 'c' }) } },
});

const usage = (message: RegExp, hint?: RegExp) => (error: Error & { code?: string; hint?: string }) =>
  error.code === 'usage' && message.test(error.message) && (!hint || hint.test(error.hint ?? ''));

describe('command words', () => {
  it('reads which options take a value from the commands, every spelling of them', () => {
    assert.deepEqual(
      [...known.valueOptions].sort(),
      ['--config', '--keep-generations', '--redpath', '--repo-dir', '--rp', '--rpath', '-c', '-r'].sort(),
    );
    assert.deepEqual([...known.words].sort(), ['check', 'create', 'erase', 'install', 'list', 'remove']);
  });

  it('moves the command word to the front, stepping over option values', () => {
    const cases: [string[], string[]][] = [
      [
        ['--redpath', 'P', 'install', 'x'],
        ['install', '--redpath', 'P', 'x'],
      ],
      [
        ['--keep-generations', '3', '-r', 'P', 'install', 'x'],
        ['install', '--keep-generations', '3', '-r', 'P', 'x'],
      ],
      // A node directory named like a command is a value, not the command.
      [
        ['--redpath', 'list', 'install', 'x'],
        ['install', '--redpath', 'list', 'x'],
      ],
      [
        ['--redpath=P', 'erase', 'x'],
        ['erase', '--redpath=P', 'x'],
      ],
      [
        ['-y', '--repo-dir', 'D', 'install', 'PKG'],
        ['install', '-y', '--repo-dir', 'D', 'PKG'],
      ],
      [
        ['install', '--redpath', 'P', 'x'],
        ['install', '--redpath', 'P', 'x'],
      ],
      // --config is a flag of check and takes a value for create: the next word decides.
      [
        ['--config', 'check'],
        ['check', '--config'],
      ],
      [
        ['--config', '-r', 'P', 'check'],
        ['check', '--config', '-r', 'P'],
      ],
      [
        ['--config', 'F.yaml', 'create', 'N'],
        ['create', '--config', 'F.yaml', 'N'],
      ],
      // Nothing after `--` is read or moved.
      [
        ['--redpath', 'P', 'list', '--', '-h', 'install'],
        ['list', '--redpath', 'P', '--', '-h', 'install'],
      ],
    ];
    for (const [argv, expected] of cases)
      assert.deepEqual(orderArguments('redwrap-dnf', argv, known), expected, argv.join(' '));
  });

  it('spells help as oclif takes it: help, help COMMAND, -h, and leaves --version alone', () => {
    assert.deepEqual(orderArguments('redwrap-dnf', ['help'], known), ['--help']);
    assert.deepEqual(orderArguments('redwrap-dnf', ['-h'], known), ['--help']);
    assert.deepEqual(orderArguments('redwrap-dnf', ['help', 'install'], known), ['install', '--help']);
    assert.deepEqual(orderArguments('redwrap-dnf', ['install', '-h'], known), ['install', '--help']);
    assert.deepEqual(orderArguments('redwrap-dnf', ['--version'], known), ['--version']);
    // -h as the value of --redpath is a node named "-h".
    assert.deepEqual(orderArguments('redwrap-dnf', ['--redpath', '-h', 'list'], known), ['list', '--redpath', '-h']);
  });

  it('refuses an unknown word, naming it and suggesting the closest command', () => {
    assert.throws(
      () => orderArguments('redwrap-dnf', ['--redpath', 'P', 'instal', 'x'], known),
      usage(/^unknown command 'instal'$/, /did you mean 'install'\? \('redwrap-dnf --help' lists the commands\)/),
    );
    assert.throws(
      () => orderArguments('redwrap-dnf', ['help', 'lsit'], known),
      usage(/unknown command 'lsit'/, /did you mean 'list'/),
    );
    assert.throws(
      () => orderArguments('redwrap-dnf', ['frobnicate'], known),
      usage(/unknown command 'frobnicate'/, /^'redwrap-dnf --help' lists the commands$/),
    );
    assert.throws(() => orderArguments('redwrap-dnf', ['--redpath', 'P'], known), usage(/no command given/));
  });

  it('suggests only words near enough to be a typo', () => {
    assert.equal(closestWord('isntall', ['install', 'list']), 'install');
    assert.equal(closestWord('repolst', ['repolist', 'repoquery']), 'repolist');
    assert.equal(closestWord('mergeconf', ['mergeconfig', 'config']), 'mergeconfig');
    assert.equal(closestWord('zz', ['install', 'list']), undefined);
  });
});
