/**
 * The command-line reader of the quick starts (src/cli/quick-start.ts `plainCommandLine`): a line
 * without the arguments a command declares is taken only where oclif would not read them from
 * the standard input, a terminal; a required one missing is oclif's to report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CommandDeclaration, plainCommandLine } from '../../src/cli/quick-start.js';

const list: CommandDeclaration = {
  strict: false,
  args: { packages: { name: 'packages' } },
  flags: { installed: { name: 'installed', type: 'boolean' } },
};
const info: CommandDeclaration = { ...list, args: { packages: { name: 'packages', required: true } } };

describe('the quick starts’ command-line reader', () => {
  it('takes a line without its optional arguments only when the standard input is a terminal', () => {
    assert.deepEqual(plainCommandLine(['--installed'], list, true), { flags: { installed: true }, args: [] });
    assert.equal(plainCommandLine(['--installed'], list, false), undefined, 'oclif reads a pipe or a file for them');
    assert.deepEqual(plainCommandLine(['--installed', 'lib*'], list, false), {
      flags: { installed: true },
      args: ['lib*'],
    });
  });

  it('leaves a missing required argument to oclif, terminal or not', () => {
    assert.equal(plainCommandLine([], info, true), undefined);
    assert.equal(plainCommandLine([], info, false), undefined);
  });
});
