import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { present, processIds } from '../../src/present.js';

describe('present', () => {
  it('returns the value, falsy ones included', () => {
    assert.equal(present('x', 'a name'), 'x');
    assert.equal(present(0, 'a count'), 0);
    assert.equal(present('', 'a text'), '');
    assert.equal(present(false, 'a flag'), false);
  });

  it('throws, naming what is missing, on undefined and null', () => {
    assert.throws(() => present(undefined, 'the tree entry of /a'), /internal error: the tree entry of \/a is missing/);
    assert.throws(() => present(null, 'the schema error'), /internal error: the schema error is missing/);
  });
});

describe('processIds', () => {
  it('are the process ids node reports', () => {
    assert.deepEqual(
      [processIds.uid(), processIds.gid(), processIds.euid()],
      [process.getuid?.(), process.getgid?.(), process.geteuid?.()],
    );
  });
});
