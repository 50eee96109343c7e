/**
 * System tools are found without /sbin in PATH (a user's PATH on Debian), the system directories
 * come before PATH, and a relative PATH entry (the current directory, possibly a node that its
 * sandbox can write) is never searched: each test plants the tool where it must or must not be found.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findHostTool, hostTool, SYSTEM_TOOL_DIRS } from '../../src/system/host-tools.js';
import { tempDir } from '../helpers/family.js';

function plant(dir: string, name: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, '#!/bin/sh\necho planted\n');
  chmodSync(file, mode);
  return file;
}

describe('host tools', () => {
  it('ldconfig (in /usr/sbin or /sbin) is found with a user PATH that has no sbin directory', () => {
    const found = findHostTool('ldconfig', '/usr/local/bin:/usr/bin:/bin');
    assert.ok(found && ['/usr/sbin/ldconfig', '/sbin/ldconfig'].includes(found), String(found));
  });

  it('the system directories come before PATH: a planted rpm earlier in PATH is not taken', (t) => {
    const dir = tempDir(t);
    plant(dir, 'rpm');
    const found = findHostTool('rpm', `${dir}:/usr/bin`);
    assert.ok(found && SYSTEM_TOOL_DIRS.some((d) => found === join(d, 'rpm')), String(found));
  });

  it('a tool only in PATH is found there; a relative PATH entry is never searched', (t) => {
    const dir = tempDir(t);
    const name = `redpak-test-tool-${process.pid}`;
    const planted = plant(join(dir, 'bin'), name);
    assert.equal(findHostTool(name, `/usr/bin:${join(dir, 'bin')}`), planted);
    // The current directory, as `.`, `bin` or an empty entry: never.
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      plant(dir, name);
      assert.equal(findHostTool(name, '.:bin::'), undefined);
      assert.equal(hostTool(name, '.:bin::'), name);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a file that is not executable, or a directory, is not a tool', (t) => {
    const dir = tempDir(t);
    const name = `redpak-test-tool-${process.pid}`;
    plant(join(dir, 'a'), name, 0o644);
    mkdirSync(join(dir, 'b', name), { recursive: true });
    assert.equal(findHostTool(name, `${join(dir, 'a')}:${join(dir, 'b')}`), undefined);
  });

  it('a name with a slash is taken as a path', () => {
    assert.equal(hostTool('/usr/lib/rpm/elfdeps-not-there'), '/usr/lib/rpm/elfdeps-not-there');
    assert.equal(findHostTool('/bin/sh'), '/bin/sh');
  });
});
