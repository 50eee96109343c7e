/** The one table of bwrap option operands, as the dump, the explanation and the launch proof read plans. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bwrapOptions, hasBwrapOption } from '../../src/wrap/bwrap-options.js';

describe('bwrap options', () => {
  const args = ['--ro-bind', '/usr', '/usr', '--setenv', 'OPT', '--unshare-user', '--unshare-pid', '--dir', '/tmp/x'];

  it('cuts an argument list into options with their operands', () => {
    assert.deepEqual(bwrapOptions(args), [
      ['--ro-bind', '/usr', '/usr'],
      ['--setenv', 'OPT', '--unshare-user'],
      ['--unshare-pid'],
      ['--dir', '/tmp/x'],
    ]);
  });

  it('tells an option from an operand that looks like one', () => {
    assert.equal(hasBwrapOption(args, '--unshare-user'), false);
    assert.equal(hasBwrapOption(args, '--unshare-pid'), true);
  });
});
