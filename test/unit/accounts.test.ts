/** uid → account name (src/system/accounts.ts): the caller's own, another's, and one no database has. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { accountLabel, userName } from '../../src/system/accounts.js';

/** The name /etc/passwd gives a uid (the files database; getent may add others). */
function passwdName(uid: number): string | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(uid));
  return line?.split(':')[0];
}

describe('account names', () => {
  it("names the caller's own uid as the user database does", (t) => {
    const uid = process.getuid?.() ?? 0;
    const expected = passwdName(uid);
    if (expected === undefined) return t.skip(`uid ${uid} is not in /etc/passwd`);
    assert.equal(userName(uid), expected);
    assert.equal(accountLabel(uid), expected);
  });

  it("names another uid through getent, and one no database has as 'uid N'", (t) => {
    const other = (process.getuid?.() ?? 0) === 0 ? 1 : 0;
    const expected = passwdName(other);
    if (expected === undefined) return t.skip(`uid ${other} is not in /etc/passwd`);
    assert.equal(userName(other), expected);
    const unknown = 3_999_999_999;
    assert.equal(passwdName(unknown), undefined);
    assert.equal(userName(unknown), undefined);
    assert.equal(accountLabel(unknown), `uid ${unknown}`);
  });
});
